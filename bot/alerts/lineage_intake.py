"""OpenLineage intake: each event stored once (per run and event type), its datasets remembered, and
the failures and completions it amounts to received as alerts, all in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.alerts.intake import IncidentResult, receive_in
from bot.alerts.openlineage import LineageEvent, Owned, alert_of, owner_of
from bot.domain.rotation import OverrideSpan
from bot.runbook.models import Runbook
from bot.store.db import Db, tx
from bot.store.lineage import record_datasets, record_event
from bot.store.overrides import active_overrides


@dataclass(frozen=True)
class LineageResult:
    event: LineageEvent
    owned: Owned
    duplicate: bool
    incident: IncidentResult | None = None

    def as_json(self) -> dict:
        body = {"runId": self.event.job.run_id, "eventType": self.event.event_type,
                "pipeline": self.owned.pipeline, "duplicate": self.duplicate}
        if self.incident is not None:
            body.update(self.incident.as_json())
        return body


def receive_events(db: Db, runbook: Runbook, events: list[LineageEvent], now: datetime,
                   spans: list[OverrideSpan] | None = None) -> list[LineageResult]:
    with tx(db) as conn:
        spans = active_overrides(conn, now) if spans is None else spans
        results: list[LineageResult] = []
        alerts, alerted = [], []
        for event in events:
            owned = owner_of(runbook, event)
            fresh = record_event(conn, dict(
                run_id=event.job.run_id, event_type=event.event_type, namespace=event.job.namespace[:500],
                job=event.job.name[:500], pipeline=owned.pipeline,
                parent_run_id=event.parent.run_id if event.parent else None, event_time=event.event_time,
                nominal_time=event.nominal_time, received_at=now, payload=event.raw))
            results.append(LineageResult(event, owned, duplicate=not fresh))
            if not fresh:
                continue
            if owned.pipeline:
                record_datasets(conn, owned.pipeline, event.inputs, event.outputs, now)
            if (alert := alert_of(runbook, event, owned)) is not None:
                alerts.append(alert)
                alerted.append(len(results) - 1)
        for index, incident in zip(alerted, receive_in(conn, runbook, alerts, now, spans)):
            results[index] = LineageResult(results[index].event, results[index].owned, False, incident)
        return results
