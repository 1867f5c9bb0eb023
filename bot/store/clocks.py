"""Reads for the scheduled-message pass: one query each per pass, whatever the number of pipelines."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from bot.domain.lookup import exact_pipeline
from bot.runbook.models import Runbook
from bot.store.db import Db, tx
from bot.store.records import Incident
from bot.store.schema import alert_events, incidents, notifications, outbox


def notification_states(db: Db, since: datetime) -> dict[str, tuple[str, datetime | None]]:
    """key -> (state, sent_at) of every scheduled message due at or after `since`."""
    query = select(notifications.c.key, notifications.c.state, notifications.c.sent_at).where(
        notifications.c.due_at >= since)
    with tx(db, read=True) as conn:
        return {row.key: (row.state, row.sent_at) for row in conn.execute(query)}


def incidents_for_runs(db: Db, since: datetime) -> list[Incident]:
    """Incidents of runs scheduled at or after `since`, resolved ones included (the SLA watch needs both)."""
    query = select(incidents).where(incidents.c.run_at >= since).order_by(incidents.c.id)
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
