"""The incident clocks and the Escalate button, with the runbook applied to stored incidents.

The store knows levels, clocks and who was told, not YAML; this module asks the policy
(`bot.domain.policy.decide`) whom each escalation step and each deferred ping tells, and hands the
store that answer to record and deliver.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable, Iterable

from bot.domain import policy
from bot.domain.rotation import OverrideSpan
from bot.runbook.models import Runbook
from bot.store.db import Db
from bot.store.incidents import Change, escalate, fire_deferred_pings, fire_escalations
from bot.store.records import Incident


PRESS_SETTLE = timedelta(seconds=30)


def settling(incident: Incident, now: datetime) -> bool:
    """Whether a press now is absorbed by the escalation just made."""
    return incident.escalated_at is not None and now - incident.escalated_at < PRESS_SETTLE


def state_of(incident: Incident, *, acknowledged_by: str | None = None,
             pressed_by: str | None = None) -> policy.IncidentState:
    """The incident as the policy sees it. Rows from before migration 8 have no `told`: what their
    first message said stands in for it."""
    told = incident.told
    if told is None:
        reached = incident.notify if incident.notify_mode == "page" else []
        told = {name: "page" if name == incident.oncall else "notify" for name in reached}
    return policy.IncidentState(status=incident.status, told=dict(told), fix_by=incident.fix_by,
                                level=incident.escalation_level, acknowledged_by=acknowledged_by,
                                pressed_by=pressed_by, folded=incident.root_id is not None)


def pipeline_of(incident: Incident) -> str | None:
    return incident.pipeline if incident.known else None


def ack_within(runbook: Runbook, incident: Incident) -> timedelta | None:
    return policy.escalation_of(runbook, pipeline_of(incident)).ack_within


def chain_length(runbook: Runbook, incident: Incident) -> int:
    return len(policy.escalation_of(runbook, pipeline_of(incident)).chain)


def chooser(runbook: Runbook, kind: str, now: datetime, overrides: Iterable[OverrideSpan],
            **names: str | None) -> Callable[[Incident], policy.Audience]:
    overrides = tuple(overrides)
    return lambda incident: policy.decide(runbook, pipeline_of(incident), kind, now, overrides,
                                          state_of(incident, **names))


def fire_due(db: Db, runbook: Runbook, now: datetime, overrides: Iterable[OverrideSpan]) -> list[int]:
    """Escalate every unacknowledged incident whose wait is over, one step, once across replicas."""
    policies = [policy.escalation_of(runbook, key) for key in runbook.pipelines] + [runbook.team.escalation]
    waits = [p.ack_within for p in policies if p.ack_within is not None]
    if not waits:
        return []
    return fire_escalations(db, now, chooser(runbook, policy.ESCALATION, now, overrides),
                            lambda i: ack_within(runbook, i), lambda i: chain_length(runbook, i),
                            shortest_wait=min(waits), longest_chain=max(len(p.chain) for p in policies))


def fire_deferred(db: Db, runbook: Runbook, now: datetime, overrides: Iterable[OverrideSpan]) -> list[int]:
    """Tell the people deferred incidents waited for, now that the pipeline's hours allow it."""
    return fire_deferred_pings(db, now, chooser(runbook, policy.DEFERRED_PING, now, overrides))


def press(db: Db, runbook: Runbook, incident_id: int, user: str, now: datetime, overrides: Iterable[OverrideSpan],
          *, pressed_by: str | None, acknowledged_by: str | None) -> Change:
    """Someone pressed Escalate: the next step that reaches somebody new, whatever the hour. Presses
    within PRESS_SETTLE of the last escalation are that escalation (a double click, three people
    pressing at once), so each press cannot walk the whole chain."""
    return escalate(db, incident_id, user, now, chooser(runbook, policy.ESCALATION_PRESSED, now, overrides,
                                                        pressed_by=pressed_by, acknowledged_by=acknowledged_by),
                    settle=lambda incident: settling(incident, now))
