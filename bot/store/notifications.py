"""Exactly-once scheduled messages (handoffs, reminders, SLA breaches) across restarts and replicas.

A job derives the occurrence from the rules, builds a key like `handoff:data-engineering:2026-11-09T09:00Z`,
and posts only if `claim` returns True. A claim left unfinished (a crash before `finish`) can be
taken over once its lease has run out; keep the lease above the Slack timeout.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from bot.store.db import Db, tx
from bot.store.outbox import WORKER
from bot.store.schema import notifications
from bot.store.sql import insert_ignore

DEFAULT_LEASE = timedelta(minutes=5)


def notification_key(kind: str, scope: str, occurrence: datetime) -> str:
    from bot.domain.timeutil import iso

    return f"{kind}:{scope}:{iso(occurrence)}"


def claim(db: Db, key: str, kind: str, due_at: datetime, now: datetime, *, worker: str = WORKER,
          lease: timedelta = DEFAULT_LEASE, detail: dict[str, Any] | None = None) -> bool:
    """True for exactly one caller per key, until that caller's claim goes stale unfinished."""
    with tx(db) as conn:
        new = insert_ignore(conn, notifications, dict(key=key, kind=kind, due_at=due_at, state="claimed",
                                                      claimed_by=worker, claimed_at=now, detail=detail),
                            conflict=["key"], returning="key")
        if new is not None:
            return True
        stale = conn.execute(update(notifications)
                             .where(notifications.c.key == key, notifications.c.state.in_(["claimed", "failed"]),
                                    notifications.c.claimed_at < now - lease)
                             .values(claimed_by=worker, claimed_at=now, state="claimed"))
        return stale.rowcount == 1


def finish(db: Db, key: str, state: str, now: datetime, *, channel: str | None = None, ts: str | None = None) -> None:
    """state: sent | skipped (stale, no longer relevant) | failed (may be reclaimed after the lease)."""
    if state not in ("sent", "skipped", "failed"):
        raise ValueError(f"unknown notification state {state!r}")
    with tx(db) as conn:
        conn.execute(update(notifications).where(notifications.c.key == key)
                     .values(state=state, sent_at=now if state == "sent" else None, channel=channel, ts=ts))


def state_of(db: Db, key: str) -> str | None:
    with tx(db, read=True) as conn:
        return conn.execute(select(notifications.c.state).where(notifications.c.key == key)).scalar_one_or_none()
