"""Typed rows handed to callers, so the Slack layer renders from attributes, not SQL rows."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Mapping


class Record:
    """A frozen dataclass of one store row."""

    @classmethod
    def from_row(cls, row: Mapping[str, Any]):
        """From a row mapping with (at least) the dataclass's field names."""
        return cls(**{f.name: row[f.name] for f in fields(cls)})


@dataclass(frozen=True)
class Incident(Record):
    id: int
    pipeline: str
    pipeline_raw: str
    known: bool
    dedup_key: str
    status: str
    opened_at: datetime
    last_alert_at: datetime
    alert_count: int
    run_id: str | None
    run_at: datetime | None
    data_ready_by: datetime | None
    fix_by: datetime | None
    error: str | None
    log_url: str | None
    issue_title: str | None
    notify_mode: str
    notify: list[str]
    oncall: str | None
    deferred_until: datetime | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    resolved_by: str | None
    resolved_at: datetime | None
    sla_met: bool | None
    slack_channel: str | None
    slack_ts: str | None
    escalation_level: int
    escalated_at: datetime | None
    deferred_pinged_at: datetime | None
    told: dict[str, str] | None
    notify_reason: str | None
    origin: str | None
    folded_into: str | None = None  # said in a flood summary (bot.alerts.flood), without a thread of its own
    root_id: int | None = None      # folded under this upstream incident (lineage): said in its thread
    fingerprint: str | None = None  # the error's shape (bot.domain.fingerprint)

    @property
    def missing_report(self) -> bool:
        """Opened by the SLA watch: no success was reported, and no failure either."""
        return self.origin == "missing_report"

    @property
    def is_open(self) -> bool:
        return self.status != "resolved"


@dataclass(frozen=True)
class OutboxItem(Record):
    id: int
    incident_id: int | None
    kind: str
    idempotency_key: str
    channel: str | None
    method: str | None
    args: dict[str, Any]
    state: str
    attempts: int
    next_attempt_at: datetime
    claimed_by: str | None
    claimed_until: datetime | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    result: dict[str, Any] | None
    priority: int = 1


@dataclass(frozen=True)
class Action(Record):
    id: int
    incident_id: int | None
    kind: str
    actor: str
    at: datetime
    detail: dict[str, Any] | None


@dataclass(frozen=True)
class Note(Record):
    """What fixed an incident, in the words of whoever resolved it."""

    incident_id: int
    fix: str
    remediation: str       # right | wrong | none (the suggested remediation was right, wrong, or there was none)
    category: str | None
    by_user: str
    by_name: str | None
    at: datetime
