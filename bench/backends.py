"""The stores a bench runs on: a fresh SQLite file, then a fresh schema on the machine's PostgreSQL
(127.0.0.1:5432/test, as the tests use it) when it answers, dropped afterwards."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from typing import Callable


def each_backend(prefix: str, run: Callable[[str, str], None]) -> None:
    """`run(url, label)` on SQLite, then on PostgreSQL (or a line saying why not)."""
    from sqlalchemy import text

    from bot.store import Store
    from tests.store_fixtures import PG_URL, pg_unreachable

    tmp = Path(tempfile.mkdtemp(prefix=f"oncall-{prefix}-bench-"))
    run(f"sqlite:///{tmp / prefix}.db", "SQLite")
    if reason := pg_unreachable():
        print(f"PostgreSQL: skipped ({reason})")
        return
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = Store(PG_URL, migrate=False)
    with admin.transaction() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        run(f"{PG_URL}?options=-csearch_path%3D{schema}", "PostgreSQL")
    finally:
        with admin.transaction() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.close()
