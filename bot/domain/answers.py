"""The two questions every surface asks: who is on call now, and what a failure would post."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from bot.domain.deadlines import Deadlines, deadlines
from bot.domain.policy import OPEN, Audience, decide
from bot.domain.rotation import OverrideSpan, Roster, Shift
from bot.domain.triage import Match, triage
from bot.runbook.models import Runbook


@dataclass(frozen=True)
class OnCallNow:
    rotation: str | None
    shift: Shift | None
    next: Shift | None


@dataclass(frozen=True)
class Assessment:
    pipeline: str | None
    match: Match | None
    decision: Audience
    deadlines: Deadlines


def oncall_now(runbook: Runbook, at: datetime, overrides: Iterable[OverrideSpan],
               rotation: str | None = None) -> OnCallNow:
    rotation = rotation or runbook.default_rotation
    if not rotation:
        return OnCallNow(None, None, None)
    r = Roster(runbook, rotation, overrides)
    shift = r.at(at)
    return OnCallNow(rotation, shift, r.after(shift, at))


def pipeline_decisions(runbook: Runbook, at: datetime, overrides: Iterable[OverrideSpan]) -> dict[str, Audience]:
    """What a failure of each pipeline at `at` would do: the policy's answer for its first message."""
    overrides = list(overrides)
    return {key: decide(runbook, key, OPEN, at, overrides) for key in runbook.pipelines}


def assess(runbook: Runbook, pipeline: str | None, error: str | None, at: datetime,
           overrides: Iterable[OverrideSpan]) -> Assessment:
    return Assessment(pipeline, triage(runbook, pipeline, error), decide(runbook, pipeline, OPEN, at, overrides),
                      deadlines(runbook, pipeline, at))
