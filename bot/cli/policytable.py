"""The runbook's paging rules as a table a team can read: `oncall-bot policy --table`.

Each cell is the policy's own answer (bot.domain.policy.decide) at a representative instant in the
team's zone, found from a starting day on the team's calendar: a working day at midday, a working
night at 03:00, a weekend night, a holiday night and the evening of the month's last working day.
The on-call person is written as a role (whoever is on call then), the owners by name.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from bot.domain import policy
from bot.domain.calendar import day_kind, working_days
from bot.domain.rotation import OverrideSpan
from bot.domain.timeutil import local_instant
from bot.runbook.models import Runbook

ONCALL = "on call"
KIND_TITLES = {
    policy.OPEN: "a failure's first alert", policy.SLA_BREACH: "SLA missed", policy.FIX_CHASE: "fix deadline near",
    policy.FIX_CHASE_LAST: "fix deadline near (last reminder)", policy.FIX_BREACH: "fix deadline missed",
    policy.DEFERRED_PING: "the deferred ping", policy.ESCALATION: "escalation by the clock (first step)",
    policy.MONTH_END: "month-end reminder", policy.WEEKLY_CHECK: "weekly check",
}


def situations(runbook: Runbook, start: date) -> dict[str, datetime]:
    """Representative instants from `start` on: each the first of its kind within a year."""
    tz, hours = runbook.tz, runbook.team.work_hours
    midday = (datetime.combine(start, hours.start) + (datetime.combine(start, hours.end)
                                                      - datetime.combine(start, hours.start)) / 2).time()
    found: dict[str, datetime] = {}
    for offset in range(400):
        day = start + timedelta(days=offset)
        kind = day_kind(runbook, day)
        if kind == "weekdays":
            found.setdefault("weekday day", local_instant(day, midday, tz))
            found.setdefault("weekday night", local_instant(day, time(3), tz))
            if _last_working_day(runbook, day):
                found.setdefault("month end", local_instant(day, time(20), tz))
        else:
            found.setdefault(kind[:-1], local_instant(day, time(3), tz))
        if len(found) == 5:
            break
    order = ["weekday day", "weekday night", "weekend", "holiday", "month end"]
    return {name: found[name] for name in order if name in found}


def _last_working_day(runbook: Runbook, day: date) -> bool:
    later = next(working_days(runbook, day, 1, within=31), None)
    return later is None or later.month != day.month


def cell(runbook: Runbook, pipeline: str, kind: str, at: datetime) -> str:
    """One answer: how, and whom, with the on-call person as a role."""
    if kind == policy.ESCALATION and policy.escalation_of(runbook, pipeline).ack_within is None:
        return "none: only the Escalate button escalates"
    spans = _everyone_on_call(runbook, at)
    state = policy.IncidentState(told=policy.decide(runbook, pipeline, policy.OPEN, at, spans).told()) \
        if kind not in (policy.OPEN, *policy.OWNER_MESSAGES) else None
    answer = policy.decide(runbook, pipeline, kind, at, spans, state)
    who = ", ".join(answer.people)
    when = f" until {answer.until.astimezone(runbook.tz):%a %H:%M}" if answer.until else ""
    dm = " (DM)" if answer.paged else ""
    return f"{answer.how}{when}" + (f": {who}{dm}" if who else "")


def _everyone_on_call(runbook: Runbook, at: datetime) -> list[OverrideSpan]:
    """Each rotation's on-call person written as the role, for a table about rules, not names."""
    return [OverrideSpan(ONCALL, at - timedelta(days=30), at + timedelta(days=30), key) for key in runbook.rotations]


def markdown(runbook: Runbook, start: date, kinds: list[str]) -> str:
    when = situations(runbook, start)
    zone = runbook.team.timezone
    lines = []
    for kind in kinds:
        head = [f"{KIND_TITLES.get(kind, kind)}", *(f"{name} ({at.astimezone(runbook.tz):%a %d %b %H:%M} {zone})"
                                                    for name, at in when.items())]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for key, spec in runbook.pipelines.items():
            lines.append("| " + " | ".join([spec.name, *(cell(runbook, key, kind, at) for at in when.values())]) + " |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
