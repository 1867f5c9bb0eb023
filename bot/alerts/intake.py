"""Alert intake: dedup, persist, and enqueue what Slack must be told, in one transaction.

The HTTP layer answers 202 only after `receive` returns, so an accepted alert is committed before
anyone is told it was accepted. Nothing here calls Slack or builds blocks: the outbox rows name a
kind (open, repeat, resolve) and the incident, and the Slack layer renders from the incident row.

Dedup key: the alert's `dedup_key`; else `<pipeline>:run:<run_id>`; else `<pipeline>:day:<date>` where
the date is the scheduled run's (UTC) date, or the failure's UTC date for a pipeline without a
schedule. `<pipeline>` is the runbook key, or the unknown name in lower case with spaces collapsed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from sqlalchemy import Connection, insert, select, update

from bot.alerts.model import Alert
from bot.domain.deadlines import deadlines
from bot.domain.lookup import find_pipeline
from bot.domain.policy import decide
from bot.domain.rotation import OverrideSpan
from bot.domain.triage import triage
from bot.runbook.models import Runbook
from bot.store import outbox as box
from bot.store.db import Db, tx
from bot.store.incidents import record_action, resolve
from bot.store.overrides import active_overrides
from bot.store.schema import alert_events, incidents
from bot.store.sql import for_update, insert_ignore


@dataclass(frozen=True)
class IncidentResult:
    incident_id: int | None      # None: a success that matched no unresolved incident (recorded only)
    deduplicated: bool           # folded into an open incident
    created: bool
    resolved: bool
    known: bool = True
    event_id: int | None = None

    def as_json(self) -> dict:
        """The 202 body of the contract."""
        return {"incident": self.incident_id, "deduplicated": self.deduplicated}


def normalize_name(name: str) -> str:
    return " ".join(name.casefold().split())


def incident_key(runbook: Runbook, pipeline: str, known: bool, alert: Alert) -> str:
    if alert.dedup_key:
        return alert.dedup_key
    if alert.run_id:
        return f"{pipeline}:run:{alert.run_id}"
    run_at = deadlines(runbook, pipeline if known else None, alert.occurred_at).run_at
    return f"{pipeline}:day:{(run_at or alert.occurred_at).date().isoformat()}"


def receive(db: Db, runbook: Runbook, alert: Alert, now: datetime) -> IncidentResult:
    return receive_many(db, runbook, [alert], now)[0]


def receive_many(db: Db, runbook: Runbook, alerts: Iterable[Alert], now: datetime) -> list[IncidentResult]:
    """Every alert of one request (an Alertmanager group) in one transaction: all kept or none."""
    with tx(db) as conn:
        spans = active_overrides(conn, now)
        return [_receive(conn, runbook, alert, now, spans) for alert in alerts]


def _receive(conn: Connection, runbook: Runbook, alert: Alert, now: datetime,
             spans: list[OverrideSpan]) -> IncidentResult:
    key = find_pipeline(runbook, alert.pipeline)
    pipeline = key or normalize_name(alert.pipeline)
    dedup = incident_key(runbook, pipeline, key is not None, alert)
    if alert.status == "succeeded":
        return _succeeded(conn, alert, pipeline, dedup, now, key is not None)
    for _ in range(3):  # an open incident may be resolved between our insert and our look: look again
        current = _open_by_key(conn, dedup)
        if current is not None:
            return _repeat(conn, runbook, alert, current, dedup, now, key is not None)
        created = _open(conn, runbook, alert, key, pipeline, dedup, now, spans)
        if created is not None:
            return created
    raise RuntimeError(f"could not open or find the incident for {dedup!r}")


def _open_by_key(conn: Connection, dedup: str):
    query = select(incidents.c.id, incidents.c.alert_count).where(incidents.c.open_key == dedup)
    return conn.execute(for_update(conn, query)).one_or_none()


_INSERT_EVENT = insert(alert_events).returning(alert_events.c.id)


def _event(conn: Connection, alert: Alert, dedup: str, incident_id: int | None, now: datetime) -> int:
    return conn.execute(_INSERT_EVENT, dict(
        incident_id=incident_id, source=alert.source, pipeline_raw=alert.pipeline[:200], status=alert.status,
        dedup_key=dedup, run_id=alert.run_id, error=alert.error, log_url=alert.log_url,
        occurred_at=alert.occurred_at, received_at=now, payload=alert.raw,
    )).scalar_one()


def _open(conn: Connection, runbook: Runbook, alert: Alert, key: str | None, pipeline: str, dedup: str,
          now: datetime, spans: list[OverrideSpan]) -> IncidentResult | None:
    decision = decide(runbook, key, now, spans)
    clocks = deadlines(runbook, key, alert.occurred_at)
    match = triage(runbook, key, alert.error)
    incident_id = insert_ignore(conn, incidents, dict(
        pipeline=pipeline, pipeline_raw=alert.pipeline[:200], known=key is not None, dedup_key=dedup,
        open_key=dedup, status="open", opened_at=now, last_alert_at=now, alert_count=1, run_id=alert.run_id,
        run_at=clocks.run_at, data_ready_by=clocks.data_ready_by, fix_by=clocks.fix_by, error=alert.error,
        log_url=alert.log_url, issue_title=match.title if match else None, notify_mode=decision.mode,
        notify=decision.notify, oncall=decision.oncall, deferred_until=decision.deferred_until,
        escalation_level=0,
    ), conflict=["open_key"], returning="id")
    if incident_id is None:
        return None  # another intake opened it first: fold into theirs
    event_id = _event(conn, alert, dedup, incident_id, now)
    record_action(conn, incident_id, "open", "alert", now,
                  {"source": alert.source, "mode": decision.mode, "reason": decision.reason})
    box.enqueue(conn, kind="open", idempotency_key=f"incident:{incident_id}:open", now=now, incident_id=incident_id,
                method="chat.postMessage", channel=runbook.team.channels.alerts, args={"event_id": event_id})
    return IncidentResult(incident_id, False, True, False, key is not None, event_id)


def _repeat(conn: Connection, runbook: Runbook, alert: Alert, current, dedup: str, now: datetime,
            known: bool) -> IncidentResult:
    count = current.alert_count + 1
    conn.execute(update(incidents).where(incidents.c.id == current.id)
                 .values(alert_count=incidents.c.alert_count + 1, last_alert_at=now))
    event_id = _event(conn, alert, dedup, current.id, now)
    # Storms fold: while a repeat delivery waits unclaimed, later repeats ride on it.
    box.enqueue(conn, kind="repeat", idempotency_key=f"incident:{current.id}:repeat:{count}", now=now,
                incident_id=current.id, method="chat.postMessage", channel=runbook.team.channels.alerts,
                args={"event_id": event_id}, coalesce=True)
    return IncidentResult(current.id, True, False, False, known, event_id)


def _succeeded(conn: Connection, alert: Alert, pipeline: str, dedup: str, now: datetime,
               known: bool) -> IncidentResult:
    target = _open_by_key(conn, dedup)
    if target is None:  # e.g. a rerun with a new run_id: the latest unresolved incident of the pipeline
        query = (select(incidents.c.id).where(incidents.c.pipeline == pipeline, incidents.c.status != "resolved")
                 .order_by(incidents.c.opened_at.desc(), incidents.c.id.desc()).limit(1))
        target = conn.execute(for_update(conn, query)).one_or_none()
    incident_id = target.id if target is not None else None
    event_id = _event(conn, alert, dedup, incident_id, now)
    if incident_id is None:
        return IncidentResult(None, False, False, False, known, event_id)
    change = resolve(conn, incident_id, "alert", now, data_at=alert.occurred_at, via=alert.source)
    return IncidentResult(incident_id, False, False, change.changed, known, event_id)
