"""Reads for the scheduled-message pass: one query each per pass, whatever the number of pipelines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select, type_coerce

from bot.domain.lookup import exact_pipeline
from bot.runbook.models import Runbook
from bot.store.db import Db, tx
from bot.store.records import Incident
from bot.store.schema import alert_events, incidents, notifications, outbox
from bot.store.types import UTCDateTime


def notification_states(db: Db, since: datetime) -> dict[str, tuple[str, datetime | None]]:
    """key -> (state, sent_at) of every scheduled message due at or after `since`."""
    query = select(notifications.c.key, notifications.c.state, notifications.c.sent_at).where(
        notifications.c.due_at >= since)
    with tx(db, read=True) as conn:
        return {row.key: (row.state, row.sent_at) for row in conn.execute(query)}


@dataclass(frozen=True)
class RunRecord:
    """What the SLA watch needs of one run's incidents, summed up in SQL: a flood of 50,000 incidents
    of one run is one row, not 50,000 incidents in memory."""

    pipeline: str
    run_at: datetime
    open_id: int | None             # the first of its incidents still open
    met: bool                       # one of them was resolved by a success report in time
    late_at: datetime | None        # the first resolve of one that missed its data-ready time


def run_records(db: Db, since: datetime) -> list[RunRecord]:
    """One record per (pipeline, run) for runs scheduled at or after `since`."""
    query = (select(incidents.c.pipeline, incidents.c.run_at,
                    func.min(case((incidents.c.status != "resolved", incidents.c.id))).label("open_id"),
                    func.max(case((incidents.c.sla_met.is_(True), 1), else_=0)).label("met"),
                    type_coerce(func.min(case((incidents.c.sla_met.is_(False), incidents.c.resolved_at))),
                                UTCDateTime).label("late_at"))
             .where(incidents.c.run_at >= since).group_by(incidents.c.pipeline, incidents.c.run_at))
    with tx(db, read=True) as conn:
        return [RunRecord(row.pipeline, row.run_at, row.open_id, bool(row.met), row.late_at)
                for row in conn.execute(query)]


def open_with_deadlines(db: Db, since: datetime) -> list[Incident]:
    """Open incidents whose fix deadline is at or after `since`: the only ones the deadline rules chase,
    so incidents without a fix deadline (however many) are never loaded."""
    query = select(incidents).where(incidents.c.status != "resolved", incidents.c.fix_by >= since) \
        .order_by(incidents.c.id)
    with tx(db, read=True) as conn:
        return [Incident.from_row(row) for row in conn.execute(query).mappings()]


def successes_since(db: Db, since: datetime) -> list[tuple[str, datetime]]:
    """(pipeline name as reported, occurred_at) of every success report that occurred at or after `since`."""
    query = select(alert_events.c.pipeline_raw, alert_events.c.occurred_at).where(
        alert_events.c.status == "succeeded", alert_events.c.occurred_at >= since)
    with tx(db, read=True) as conn:
        return [(row.pipeline_raw, row.occurred_at) for row in conn.execute(query)]


def first_successes(db: Db, runbook: Runbook) -> dict[str, datetime]:
    """When each of the runbook's pipelines first reported a success: its SLA watch starts then."""
    query = (select(alert_events.c.pipeline_raw, func.min(alert_events.c.occurred_at))
             .where(alert_events.c.status == "succeeded").group_by(alert_events.c.pipeline_raw))
    with tx(db, read=True) as conn:
        rows = conn.execute(query).all()
    first: dict[str, datetime] = {}
    for raw, at in rows:
        key = exact_pipeline(runbook, raw)
        if key and (key not in first or at < first[key]):
            first[key] = at
    return first


def delivered(db: Db, idempotency_key: str) -> tuple[str | None, str | None]:
    """(channel, ts) Slack returned for an outbox row, once it is sent; (None, None) before."""
    query = select(outbox.c.result).where(outbox.c.idempotency_key == idempotency_key, outbox.c.state == "sent")
    with tx(db, read=True) as conn:
        result = conn.execute(query).scalar_one_or_none() or {}
    return result.get("channel"), (str(result["ts"]) if result.get("ts") else None)
