"""Small SQL helpers that differ by backend: insert-if-absent and row locking."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Select, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert


def insert_ignore(conn: Connection, table: Table, values: dict[str, Any], conflict: list[str],
                  returning: str) -> Any | None:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING: the new row's column, or None if it existed."""
    stmt = insert_ignoring(conn.dialect.name, table, tuple(conflict), (returning,))
    return conn.execute(stmt, values).scalar_one_or_none()


@lru_cache(maxsize=64)
def insert_ignoring(dialect: str, table: Table, conflict: tuple[str, ...], returning: tuple[str, ...]):
    """The INSERT ... ON CONFLICT DO NOTHING RETURNING statement, for one row or an executemany (which
    returns only the rows inserted). Built once: building .values() per call costs more than the SQL."""
    make = pg_insert if dialect == "postgresql" else sqlite_insert
    return make(table).on_conflict_do_nothing(index_elements=list(conflict)).returning(
        *(table.c[name] for name in returning))


def for_update(conn: Connection, stmt: Select, skip_locked: bool = False) -> Select:
    """Row locks on PostgreSQL; SQLite needs none, its transactions start with BEGIN IMMEDIATE."""
    if conn.dialect.name == "postgresql":
        return stmt.with_for_update(skip_locked=skip_locked)
    return stmt
