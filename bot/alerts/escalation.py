"""Escalation settings from the runbook (per pipeline, else the team's), applied to stored incidents.

The store knows levels and clocks, not YAML; this module tells it how long to wait and how long
the chain is, and tells the Slack layer who a level means (`secondary`, `oncall`, `admins`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.runbook.models import Escalation, Runbook
from bot.store.db import Db
from bot.store.incidents import fire_escalations
from bot.store.records import Incident


def escalation_of(runbook: Runbook, pipeline: str | None) -> Escalation:
    spec = runbook.pipelines.get(pipeline) if pipeline else None
    return (spec.escalation if spec and spec.escalation else None) or runbook.team.escalation


def ack_within(runbook: Runbook, incident: Incident) -> timedelta:
    return escalation_of(runbook, incident.pipeline).ack_within


def chain_length(runbook: Runbook, incident: Incident) -> int:
    return len(escalation_of(runbook, incident.pipeline).chain)


def step_of(runbook: Runbook, incident: Incident) -> str | None:
    """Who the incident's current escalation level mentions: level 1 is the chain's first entry."""
    chain = escalation_of(runbook, incident.pipeline).chain
    level = incident.escalation_level
    return chain[level - 1] if 1 <= level <= len(chain) else None


def fire_due(db: Db, runbook: Runbook, now: datetime) -> list[int]:
    """Escalate every unacknowledged paged incident whose wait is over, one step, once across replicas."""
    policies = [runbook.team.escalation, *(p.escalation for p in runbook.pipelines.values() if p.escalation)]
    return fire_escalations(db, now, lambda i: ack_within(runbook, i), lambda i: chain_length(runbook, i),
                            shortest_wait=min(p.ack_within for p in policies),
                            longest_chain=max(len(p.chain) for p in policies))
