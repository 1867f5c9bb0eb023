"""Who a pipeline failure notifies, and how, at a given instant.

Modes: `page` mentions people now; `deferred` posts without mentions and pings the owners at
`deferred_until` (the next work-hours start); `quiet` posts without mentions and pings nobody;
`none` means nobody is on call and nobody owns the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable, Literal

from bot.domain.calendar import day_kind, in_work_hours, local_date, next_work_start
from bot.domain.rotation import OverrideSpan, Roster, runbook_overrides
from bot.runbook.models import Runbook

Mode = Literal["page", "quiet", "deferred", "none"]


@dataclass(frozen=True)
class Decision:
    mode: Mode
    notify: list[str]
    reason: str
    oncall: str | None = None
    deferred_until: datetime | None = None
    owners: list[str] = field(default_factory=list)


def owners_of(runbook: Runbook, pipeline: str | None) -> list[str]:
    spec = runbook.pipelines.get(pipeline) if pipeline else None
    if not spec or not spec.owners:
        return []
    return [name for name in (spec.owners.primary, spec.owners.secondary) if name]


def oncall_person(runbook: Runbook, rotation: str | None, at: datetime,
                  overrides: Iterable[OverrideSpan] = ()) -> str | None:
    if not rotation or rotation not in runbook.rotations:
        return None
    return Roster(runbook, rotation, [*runbook_overrides(runbook), *overrides]).person_at(at)


def decide(runbook: Runbook, pipeline: str | None, at: datetime,
           overrides: Iterable[OverrideSpan] = ()) -> Decision:
    spec = runbook.pipelines.get(pipeline) if pipeline else None
    owners = owners_of(runbook, pipeline)
    policy = spec.on_call if spec else None
    kind = day_kind(runbook, local_date(runbook, at))

    if policy is None:
        # Unknown or incomplete pipelines are never dropped: whoever is on call takes them.
        oncall = oncall_person(runbook, runbook.default_rotation, at, overrides)
        notify = _unique([oncall, *owners])
        what = "unknown pipeline" if spec is None else "no on-call policy in the runbook"
        if notify:
            return Decision("page", notify, f"{what}: routed to the on-call person", oncall, owners=owners)
        return Decision("none", [], f"{what} and nobody is on call", owners=owners)

    if policy.rotation and kind in policy.page:
        oncall = oncall_person(runbook, policy.rotation, at, overrides)
        if oncall:
            return Decision("page", _unique([oncall, *owners]), f"{kind}: the on-call person is paged", oncall, owners=owners)
    if not owners:
        return Decision("none", [], "nobody is on call and the pipeline has no owners")
    if in_work_hours(runbook, at):
        return Decision("page", owners, "work hours: the owners are mentioned", owners=owners)
    if policy.outside_work_hours == "quiet":
        return Decision("quiet", [], f"outside work hours ({kind}): posted quietly", owners=owners)
    until = next_work_start(runbook, at)
    return Decision("deferred", owners, f"outside work hours ({kind}): owners pinged when work hours start",
                    deferred_until=until, owners=owners)


def _unique(names) -> list[str]:
    seen: list[str] = []
    for name in names:
        if name and name not in seen:
            seen.append(name)
    return seen
