"""The outbox: every Slack delivery is a row before it is a call.

A row is written in the same transaction as the change it announces, so a crash can lose a call
only until a worker picks the row up again. Workers `claim_due` rows under a lease (PostgreSQL:
SELECT ... FOR UPDATE SKIP LOCKED; SQLite: the claim happens inside BEGIN IMMEDIATE, which admits
one writer at a time), make the call, then `mark_sent` or `mark_failed` with a retry time.
Rows of one incident go out in order: a row waits while an older row of its incident is pending,
so a thread reply never races the parent message it needs.

Rows a person waits for (a page, a direct message: priority 0) are claimed before channel posts, and
a page does not wait for its incident's parent message: a flood in the alerts channel never holds
back the DM that wakes someone.

Incident rows carry a `kind` (open, repeat, resolve, ack, escalate, deferred_ping, page) and the incident
id; the Slack layer renders them from the incident row. `method` is the intended Slack method.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, update

from bot.store.db import Db, tx
from bot.store.records import OutboxItem
from bot.store.schema import incidents, outbox
from bot.store.sql import for_update, insert_ignore

DEFAULT_LEASE = timedelta(seconds=60)
WORKER = f"{socket.gethostname()}:{os.getpid()}"


def enqueue(db: Db, *, kind: str, idempotency_key: str, now: datetime, incident_id: int | None = None,
            method: str | None = None, channel: str | None = None, args: dict[str, Any] | None = None,
            not_before: datetime | None = None, coalesce: bool = False, priority: int | None = None) -> int:
    """Record a delivery once per idempotency key; returns the row id (the existing one on a repeat).

    coalesce=True reuses a pending, unclaimed row of the same incident and kind instead: storms of
    repeats become one delivery that renders the incident's latest state. `priority` defaults to
    URGENT for pages and direct messages.
    """
    if priority is None:
        priority = urgency(kind, args)
    with tx(db) as conn:
        if coalesce and incident_id is not None:
            waiting = conn.execute(
                select(outbox.c.id).where(outbox.c.incident_id == incident_id, outbox.c.kind == kind,
                                          outbox.c.state == "pending", outbox.c.claimed_until.is_(None))
                .order_by(outbox.c.id.desc()).limit(1)
            ).scalar_one_or_none()
            if waiting is not None:
                return waiting
        new_id = insert_ignore(conn, outbox, dict(
            incident_id=incident_id, kind=kind, idempotency_key=idempotency_key, channel=channel, method=method,
            args=args or {}, state="pending", attempts=0, next_attempt_at=not_before or now, created_at=now,
            priority=priority,
        ), conflict=["idempotency_key"], returning="id")
        if new_id is not None:
            return new_id
        return conn.execute(select(outbox.c.id).where(outbox.c.idempotency_key == idempotency_key)).scalar_one()


URGENT, NORMAL = 0, 1


def urgency(kind: str, args: dict[str, Any] | None) -> int:
    """A page or a direct message: someone is waiting for it personally."""
    return URGENT if kind == "page" or (args or {}).get("dm") else NORMAL


def claim_due(db: Db, now: datetime, limit: int = 10, *, lease: timedelta = DEFAULT_LEASE,
              worker: str = WORKER) -> list[OutboxItem]:
    """Rows due now, claimed for `lease`; no other worker gets them until the lease runs out."""
    older = outbox.alias("older")
    blocked = exists().where(older.c.incident_id == outbox.c.incident_id, older.c.id < outbox.c.id,
                             older.c.state == "pending")
    with tx(db) as conn:
        query = (
            select(outbox.c.id)
            .where(outbox.c.state == "pending", outbox.c.next_attempt_at <= now,
                   or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until < now),
                   or_(outbox.c.incident_id.is_(None), outbox.c.kind == "page", ~blocked))
            .order_by(outbox.c.priority, outbox.c.id).limit(limit)
        )
        ids = list(conn.execute(for_update(conn, query, skip_locked=True)).scalars())
        if not ids:
            return []
        conn.execute(update(outbox).where(outbox.c.id.in_(ids))
                     .values(claimed_by=worker, claimed_until=now + lease, attempts=outbox.c.attempts + 1))
        rows = conn.execute(select(outbox).where(outbox.c.id.in_(ids))
                            .order_by(outbox.c.priority, outbox.c.id)).mappings()
        return [OutboxItem.from_row(row) for row in rows]


def urgent_due(db: Db, now: datetime) -> bool:
    """Whether a page or a direct message is due and unclaimed: a worker pacing a batch of channel posts
    hands the rest back for it."""
    with tx(db, read=True) as conn:
        return conn.execute(select(outbox.c.id).where(
            outbox.c.state == "pending", outbox.c.priority == URGENT, outbox.c.next_attempt_at <= now,
            or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until < now)).limit(1)).first() is not None


def hand_back(db: Db, ids: list[int], *, worker: str = WORKER) -> int:
    """Unclaim rows this worker holds but has not tried: they keep their attempt count minus this one."""
    if not ids:
        return 0
    with tx(db) as conn:
        return conn.execute(update(outbox).where(outbox.c.id.in_(ids), outbox.c.claimed_by == worker,
                                                 outbox.c.state == "pending")
                            .values(claimed_by=None, claimed_until=None, attempts=outbox.c.attempts - 1)).rowcount


def renew(db: Db, item_id: int, now: datetime, *, lease: timedelta = DEFAULT_LEASE, worker: str = WORKER) -> bool:
    """Extend the lease of a row this worker still holds, just before its call: an attempt that waited
    (for its channel's slot) never runs on past its lease while another worker takes the row."""
    with tx(db) as conn:
        return conn.execute(update(outbox).where(outbox.c.id == item_id, outbox.c.claimed_by == worker,
                                                 outbox.c.state == "pending")
                            .values(claimed_until=now + lease)).rowcount == 1


def mark_sent(db: Db, item_id: int, result: dict[str, Any] | None, now: datetime, *,
              worker: str | None = None) -> bool:
    """Delivered. For an incident's `open` row, a result with channel and ts becomes its parent message
    in the same transaction, so no later attempt ever posts a second top-level message.

    With `worker`, only while that worker still holds the row: a worker whose lease ran out and was
    taken over must not overwrite the new holder's state. Returns whether the row was updated.
    """
    with tx(db) as conn:
        query = update(outbox).where(outbox.c.id == item_id)
        if worker is not None:
            query = query.where(outbox.c.claimed_by == worker)
        row = conn.execute(query.values(state="sent", sent_at=now, result=result, claimed_until=None, last_error=None)
                           .returning(outbox.c.kind, outbox.c.incident_id)).one_or_none()
        if row is None:
            if worker is not None:
                return False
            raise KeyError(f"no outbox row {item_id}")
        if row.kind == "open" and row.incident_id is not None and result and result.get("ts"):
            # A reply in an upstream incident's thread is the thread of an incident still folded under
            # it: not of one that became an incident of its own while the reply was being posted.
            folded = result.get("folded_under")
            still = incidents.c.root_id == folded if folded is not None else incidents.c.root_id.is_(None)
            conn.execute(update(incidents)
                         .where(incidents.c.id == row.incident_id, incidents.c.slack_ts.is_(None), still)
                         .values(slack_channel=result.get("channel"), slack_ts=str(result["ts"])))
        return True


def mark_failed(db: Db, item_id: int, error: str, retry_at: datetime | None, *, worker: str | None = None) -> bool:
    """Failed attempt: retried at `retry_at`, or given up for good when it is None (`worker` as above)."""
    values: dict[str, Any] = dict(last_error=error[:2000], claimed_until=None, claimed_by=None)
    values.update(next_attempt_at=retry_at) if retry_at is not None else values.update(state="failed")
    with tx(db) as conn:
        query = update(outbox).where(outbox.c.id == item_id)
        if worker is not None:
            query = query.where(outbox.c.claimed_by == worker)
        if conn.execute(query.values(**values)).rowcount != 1:
            if worker is not None:
                return False
            raise KeyError(f"no outbox row {item_id}")
        return True


def get(db: Db, item_id: int) -> OutboxItem | None:
    with tx(db, read=True) as conn:
        row = conn.execute(select(outbox).where(outbox.c.id == item_id)).mappings().one_or_none()
        return OutboxItem.from_row(row) if row else None


def items(db: Db, incident_id: int | None = None, state: str | None = None) -> list[OutboxItem]:
    """Rows in creation order, for tests, metrics and the admin's eyes."""
    query = select(outbox).order_by(outbox.c.id)
    if incident_id is not None:
        query = query.where(outbox.c.incident_id == incident_id)
    if state is not None:
        query = query.where(outbox.c.state == state)
    with tx(db, read=True) as conn:
        return [OutboxItem.from_row(row) for row in conn.execute(query).mappings()]


def backlog(db: Db, now: datetime) -> dict[str, int]:
    """Counts for /metrics: pending rows, of which due now, and failed rows."""
    with tx(db, read=True) as conn:
        counts = dict(conn.execute(select(outbox.c.state, func.count()).group_by(outbox.c.state)).all())
        due = conn.execute(select(func.count()).select_from(outbox).where(
            and_(outbox.c.state == "pending", outbox.c.next_attempt_at <= now))).scalar_one()
    return {"pending": counts.get("pending", 0), "due": due, "failed": counts.get("failed", 0),
            "sent": counts.get("sent", 0)}


def claimed_by_workers(db: Db, prefix: str) -> set[str]:
    """Workers (host:pid) holding leases on pending rows, among those whose name starts with `prefix`."""
    with tx(db, read=True) as conn:
        return set(conn.execute(select(outbox.c.claimed_by).distinct().where(
            outbox.c.state == "pending", outbox.c.claimed_until.is_not(None),
            outbox.c.claimed_by.startswith(prefix, autoescape=True))).scalars())


def release(db: Db, worker: str) -> int:
    """Hand back the rows a dead worker held, so a restart does not wait for their leases to run out."""
    with tx(db) as conn:
        return conn.execute(update(outbox).where(outbox.c.state == "pending", outbox.c.claimed_by == worker)
                            .values(claimed_by=None, claimed_until=None)).rowcount
