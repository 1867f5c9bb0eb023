"""The Store: one engine, migrated on open, and a transaction helper every store function shares.

Store functions take either a Store (they run in their own transaction) or a Connection (they join
the caller's transaction), so one business step, e.g. an alert plus its outbox rows, commits once.
"""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from typing import Any, ContextManager, Iterator

from sqlalchemy import Connection, Engine

from bot.store import migrations
from bot.config import database_url
from bot.store.engine import READ_ONLY, make_engine


class Store:
    def __init__(self, url: str | None = None, *, connect_args: dict[str, Any] | None = None,
                 migrate: bool = True, **engine_kwargs: Any) -> None:
        self.url = url or database_url()
        self.engine: Engine = make_engine(self.url, connect_args, **engine_kwargs)
        if migrate:
            self.migrate()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def transaction(self) -> ContextManager[Connection]:
        """Commit on leaving the block, roll back on an exception."""
        return self.engine.begin()

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A read-only transaction: on SQLite it takes no write lock, so it never waits for a writer."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(**{READ_ONLY: True})
            with conn.begin():
                yield conn

    def migrate(self, target: int | None = None) -> list[int]:
        with self.transaction() as conn:
            return migrations.migrate(conn, target)

    def version(self) -> int:
        with self.engine.connect() as conn:
            return migrations.current_version(conn)

    def close(self) -> None:
        self.engine.dispose()


Db = Store | Connection


@contextmanager
def _own(store: Store) -> Iterator[Connection]:
    with store.transaction() as conn:
        yield conn


def tx(db: Db, read: bool = False) -> ContextManager[Connection]:
    """A transaction of our own for a Store (read-only if `read`); the caller's for a Connection."""
    if isinstance(db, Store):
        return db.reading() if read else _own(db)
    return nullcontext(db)
