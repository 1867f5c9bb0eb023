"""Weekly checks confirmed in Slack: the first click on "Checked" wins, later clicks change nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from bot.store.db import Db, tx
from bot.store.schema import weekly_checks
from bot.store.sql import insert_ignore


@dataclass(frozen=True)
class Check:
    pipeline: str
    due_at: datetime
    checked_by: str
    checked_at: datetime


def record_check(db: Db, pipeline: str, due_at: datetime, user: str, now: datetime) -> tuple[Check, bool]:
    """Record who checked; returns the check that stands and whether this call made it."""
    with tx(db) as conn:
        made = insert_ignore(conn, weekly_checks, dict(pipeline=pipeline, due_at=due_at, checked_by=user,
                                                       checked_at=now),
                             conflict=["pipeline", "due_at"], returning="pipeline")
        return get_check(conn, pipeline, due_at), made is not None


def get_check(db: Db, pipeline: str, due_at: datetime) -> Check | None:
    with tx(db, read=True) as conn:
        row = conn.execute(select(weekly_checks).where(weekly_checks.c.pipeline == pipeline,
                                                       weekly_checks.c.due_at == due_at)).one_or_none()
        return Check(row.pipeline, row.due_at, row.checked_by, row.checked_at) if row else None


def checks_since(db: Db, since: datetime) -> dict[tuple[str, datetime], Check]:
    with tx(db, read=True) as conn:
        rows = conn.execute(select(weekly_checks).where(weekly_checks.c.due_at >= since))
        return {(r.pipeline, r.due_at): Check(r.pipeline, r.due_at, r.checked_by, r.checked_at) for r in rows}
