"""Small SQL helpers that differ by backend: insert-if-absent and row locking."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Select, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert


def insert_ignore(conn: Connection, table: Table, values: dict[str, Any], conflict: list[str],
                  returning: str) -> Any | None:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING: the new row's column, or None if it existed."""
    make = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = make(table).values(**values).on_conflict_do_nothing(index_elements=conflict)
    return conn.execute(stmt.returning(table.c[returning])).scalar_one_or_none()


def for_update(conn: Connection, stmt: Select, skip_locked: bool = False) -> Select:
    """Row locks on PostgreSQL; SQLite needs none, its transactions start with BEGIN IMMEDIATE."""
    if conn.dialect.name == "postgresql":
        return stmt.with_for_update(skip_locked=skip_locked)
    return stmt
