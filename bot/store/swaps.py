"""Cover requests ("swaps"): asked in Slack, taken by the first teammate, stored with who and when.

State only moves forward (open -> accepted | cancelled | expired) through conditional UPDATEs, so two
teammates clicking Accept at once, or a click racing the expiry, leave exactly one winner.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update

from bot.store.db import Db, tx
from bot.store.records import Record
from bot.store.schema import overrides, swap_requests


@dataclass(frozen=True)
class SwapRequest(Record):
    id: int
    rotation: str
    requester: str
    requester_id: str
    start_at: datetime
    end_at: datetime
    note: str
    state: str
    channel: str
    created_at: datetime
    accepted_by: str | None
    accepted_by_id: str | None
    accepted_at: datetime | None
    cancelled_by: str | None
    cancelled_by_id: str | None
    cancelled_at: datetime | None
    expired_at: datetime | None
    asked: str | None = None  # the one teammate asked (an override proposed for them); None: anyone


@dataclass(frozen=True)
class OverrideRecord(Record):
    """A stored override with its audit trail (the domain's OverrideSpan has no who/when)."""

    id: int
    rotation: str
    person: str
    start_at: datetime
    end_at: datetime
    note: str
    created_by: str
    created_by_name: str | None
    created_at: datetime
    cancelled_at: datetime | None
    cancelled_by: str | None
    cancelled_by_name: str | None
    swap_id: int | None


def create(db: Db, *, rotation: str, requester: str, requester_id: str, start: datetime, end: datetime,
           note: str, channel: str, now: datetime, asked: str | None = None) -> SwapRequest:
    if end <= start:
        raise ValueError("a cover request must end after it starts")
    with tx(db) as conn:
        new_id = conn.execute(insert(swap_requests).values(
            rotation=rotation, requester=requester, requester_id=requester_id, start_at=start, end_at=end,
            note=note, state="open", channel=channel, created_at=now, asked=asked).returning(swap_requests.c.id)).scalar_one()
        return get(conn, new_id)


def get(db: Db, swap_id: int) -> SwapRequest | None:
    with tx(db, read=True) as conn:
        row = conn.execute(select(swap_requests).where(swap_requests.c.id == swap_id)).mappings().one_or_none()
        return SwapRequest.from_row(row) if row else None


def take(db: Db, swap_id: int, *, by: str, by_id: str, now: datetime) -> bool:
    """Mark an open request accepted, if it still is and has not started: True for one caller only."""
    with tx(db) as conn:
        return conn.execute(update(swap_requests).where(
            swap_requests.c.id == swap_id, swap_requests.c.state == "open", swap_requests.c.start_at > now,
        ).values(state="accepted", accepted_by=by, accepted_by_id=by_id, accepted_at=now)).rowcount == 1


def cancel(db: Db, swap_id: int, *, by: str, by_id: str, now: datetime) -> bool:
    with tx(db) as conn:
        return conn.execute(update(swap_requests).where(
            swap_requests.c.id == swap_id, swap_requests.c.state == "open",
        ).values(state="cancelled", cancelled_by=by, cancelled_by_id=by_id, cancelled_at=now)).rowcount == 1


def expire_due(db: Db, now: datetime) -> list[int]:
    """Open requests whose start has come: nobody took them, the original person stays on call."""
    with tx(db) as conn:
        return list(conn.execute(update(swap_requests).where(
            swap_requests.c.state == "open", swap_requests.c.start_at <= now,
        ).values(state="expired", expired_at=now).returning(swap_requests.c.id)).scalars())


def listing(db: Db, *, ending_after: datetime | None = None, states: tuple[str, ...] | None = None) -> list[SwapRequest]:
    conditions = [swap_requests.c.end_at > ending_after] if ending_after is not None else []
    if states:
        conditions.append(swap_requests.c.state.in_(states))
    return _records(db, swap_requests, SwapRequest, conditions)


def override_records(db: Db, *, ending_after: datetime | None = None, active: bool = False) -> list[OverrideRecord]:
    """Stored overrides with who set and cancelled them, oldest first (later ones win where they overlap)."""
    conditions = [overrides.c.end_at > ending_after] if ending_after is not None else []
    if active:
        conditions.append(overrides.c.cancelled_at.is_(None))
    return _records(db, overrides, OverrideRecord, conditions)


def _records(db: Db, table, record: type[Record], conditions: list) -> list:
    query = select(table).where(*conditions).order_by(table.c.id)
    with tx(db, read=True) as conn:
        return [record.from_row(row) for row in conn.execute(query).mappings()]
