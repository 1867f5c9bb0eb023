"""Engines from DATABASE_URL: SQLite tuned for one writer at a time, PostgreSQL through psycopg 3.

SQLite: WAL (readers never block the writer), a busy timeout, and every transaction opened with
BEGIN IMMEDIATE, so two writers queue on the busy timeout instead of failing with "database is
locked" when a read lock cannot be upgraded. synchronous=NORMAL in WAL keeps every committed
transaction across a killed process (only an OS crash or power loss can drop the last commits).
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

BUSY_TIMEOUT_MS = 15_000
READ_ONLY = "oncall_read_only"  # execution option of read-only transactions


def normalize_url(url: str) -> str:
    """postgres:// and postgresql:// (as Heroku hands them out) use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str, connect_args: dict[str, Any] | None = None, **kwargs: Any) -> Engine:
    url = normalize_url(url)
    backend = make_url(url).get_backend_name()
    args = dict(connect_args or {})
    if backend == "sqlite":
        args.setdefault("timeout", BUSY_TIMEOUT_MS / 1000)
        args.setdefault("check_same_thread", False)
        engine = create_engine(url, connect_args=args, **kwargs)
        _tune_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, connect_args=args, **kwargs)


def _use_wal(cursor) -> None:
    """WAL is a property of the file, set once. Switching needs an exclusive lock and SQLite does not
    wait for it (no busy handler), so replicas opening a new file at once retry for a while."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN, instead of pysqlite's implicit deferred one.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        if engine.url.database not in (None, "", ":memory:"):
            _use_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn) -> None:
        # Reads (Store.reading) need no write lock: in WAL they see the last commit and block nobody.
        # Straight to the driver: through exec_driver_sql this one statement cost a tenth of intake.
        conn.connection.driver_connection.execute(
            "BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")
