"""On-call overrides made in Slack (swaps), stored so every replica and restart sees them.

They come back as the domain's OverrideSpan, so rotation and policy apply them like runbook ones.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update

from bot.domain.rotation import OverrideSpan
from bot.store.db import Db, tx
from bot.store.schema import overrides

log = logging.getLogger("oncall_bot.store")


def add_override(db: Db, *, rotation: str, person: str, start: datetime, end: datetime, created_by: str,
                 now: datetime, note: str = "", created_by_name: str | None = None, swap_id: int | None = None) -> int:
    """created_by: the Slack user id (or "cli"); created_by_name: their runbook name, for the audit."""
    if end <= start:
        raise ValueError("an override must end after it starts")
    with tx(db) as conn:
        return conn.execute(insert(overrides).values(
            rotation=rotation, person=person, start_at=start, end_at=end, note=note, created_by=created_by,
            created_at=now, created_by_name=created_by_name, swap_id=swap_id).returning(overrides.c.id)).scalar_one()


def cancel_override(db: Db, override_id: int, now: datetime, *, by: str | None = None,
                    by_name: str | None = None) -> bool:
    with tx(db) as conn:
        return conn.execute(update(overrides)
                            .where(overrides.c.id == override_id, overrides.c.cancelled_at.is_(None))
                            .values(cancelled_at=now, cancelled_by=by, cancelled_by_name=by_name)).rowcount == 1


def active_overrides(db: Db, ending_after: datetime | None = None) -> list[OverrideSpan]:
    """Overrides not cancelled (and, if given, still running after `ending_after`), oldest first."""
    query = select(overrides).where(overrides.c.cancelled_at.is_(None)).order_by(overrides.c.id)
    if ending_after is not None:
        query = query.where(overrides.c.end_at > ending_after)
    with tx(db, read=True) as conn:
        return [OverrideSpan(row.person, row.start_at, row.end_at, row.rotation, row.note, "slack", f"db-{row.id}")
                for row in conn.execute(query)]


class CachedOverrides:
    """The store's overrides for answers that must not query per request (/oncall answers in about a
    millisecond): this process refreshes after each change it makes; other replicas' changes show
    within `ttl` seconds."""

    def __init__(self, store, clock, ttl: float = 5.0, history: timedelta = timedelta(weeks=5)):
        self.store, self.clock, self.ttl, self.history = store, clock, ttl, history
        self._spans: list = []
        self._at = float("-inf")

    def __call__(self) -> list:
        if time.monotonic() - self._at > self.ttl:
            self.refresh()
        return self._spans

    def refresh(self) -> list:
        try:
            self._spans = active_overrides(self.store, self.clock() - self.history)
        except Exception as err:  # the database is away: keep the last list, try again after the TTL
            log.warning("cannot read overrides, keeping %d cached: %s", len(self._spans), err)
        self._at = time.monotonic()
        return self._spans
