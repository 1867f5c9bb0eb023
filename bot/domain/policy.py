"""Who hears what, when and how: the one decision every message that names a person asks.

How a message reaches people:
- `page`: a person is woken: a direct message plus a mention (the people in `paged` get the DM);
- `notify`: a mention in the thread or channel, no direct message;
- `quiet`: posted, nobody mentioned;
- `deferred`: posted quietly now; `people` are told at `until`, in one message;
- `none`: there is nobody to tell.

The pipeline's hours come first (when someone may be asked to act at all); the message kind and the
incident's state then say whom: a follow-up never pages someone already paged, an escalation step
passes over everyone already reached, and acknowledgements and repeats mention nobody.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from typing import Iterable, Literal

from bot.domain.calendar import day_kind, in_work_hours, local_date, next_work_start
from bot.domain.deadlines import deadlines
from bot.domain.rotation import OverrideSpan, Roster
from bot.domain.timeutil import local_instant, local_text
from bot.runbook.models import Escalation, Pipeline, Runbook

How = Literal["page", "notify", "quiet", "deferred", "none"]

# Message kinds. An incident's own messages:
OPEN = "open"                      # the first alert of an incident (and an SLA breach with no alert)
REPEAT = "repeat"                  # the same failure again
ACK = "ack"
RESOLVE = "resolve"
SLA_BREACH = "sla_breach"          # a failed run's data is not ready by its SLA time
FIX_CHASE = "fix_chase"            # the fix deadline is near
FIX_CHASE_LAST = "fix_chase_last"  # the last chase before the fix deadline
FIX_BREACH = "fix_breach"          # the fix deadline passed
DEFERRED_PING = "deferred_ping"    # the people a deferred incident waited for are told
ESCALATION = "escalation"          # by the clock
ESCALATION_PRESSED = "escalation_pressed"  # by the Escalate button
FOLDED = "folded"                  # a failure explained by an open upstream incident, said in its thread
SEEN_BEFORE = "seen_before"        # past incidents with the same or a close error, in the new one's thread
NOTE = "note"                      # what fixed it, in the words of whoever resolved it
# Messages about a pipeline, to its owners:
MONTH_END = "month_end"
WEEKLY_CHECK = "weekly_check"
CHECK_REMINDER = "check_reminder"
# Messages about the rotation:
COVER_FOLLOWUP = "cover_followup"
SUMMARY = "summary"                # one message for many: deadlines missed while down, a flood folded

_FOLLOW_UPS = (SLA_BREACH, FIX_CHASE, FIX_CHASE_LAST, FIX_BREACH)
OWNER_MESSAGES = (MONTH_END, WEEKLY_CHECK, CHECK_REMINDER)


@dataclass(frozen=True)
class Audience:
    how: How
    people: tuple[str, ...] = ()
    reason: str = ""
    paged: tuple[str, ...] = ()        # who gets a direct message (how == "page")
    until: datetime | None = None      # when `people` are told (how == "deferred")
    oncall: str | None = None          # the on-call person the decision looked at, if any
    step: int | None = None            # escalation: the chain level this reaches

    @property
    def mentioned(self) -> tuple[str, ...]:
        """Who is mentioned in the message itself."""
        return self.people if self.how in ("page", "notify") else ()

    def told(self) -> dict[str, str]:
        """Each person this message reaches, with how: what an incident remembers."""
        return {name: ("page" if name in self.paged else "notify") for name in self.mentioned}


@dataclass(frozen=True)
class IncidentState:
    """What the decision needs to know of an incident (the store's row, named in runbook terms)."""

    status: str = "open"
    told: dict[str, str] = field(default_factory=dict)   # name → "page" | "notify"
    fix_by: datetime | None = None
    level: int = 0                                       # escalation steps taken
    acknowledged_by: str | None = None                   # runbook names, when Slack told us who
    pressed_by: str | None = None
    folded: bool = False                                 # folded under an upstream incident (lineage)


def owners_of(runbook: Runbook, pipeline: str | None) -> list[str]:
    spec = runbook.pipelines.get(pipeline) if pipeline else None
    if not spec or not spec.owners:
        return []
    return [name for name in (spec.owners.primary, spec.owners.secondary) if name]


def oncall_person(runbook: Runbook, rotation: str | None, at: datetime,
                  overrides: Iterable[OverrideSpan]) -> str | None:
    if not rotation or rotation not in runbook.rotations:
        return None
    return Roster(runbook, rotation, overrides).person_at(at)


def rotation_of(runbook: Runbook, pipeline: str | None) -> str | None:
    """The rotation whose on-call person answers for the pipeline: its own, else the team's default."""
    spec = runbook.pipelines.get(pipeline) if pipeline else None
    return (spec.on_call.rotation if spec and spec.on_call else None) or runbook.default_rotation


def escalation_of(runbook: Runbook, pipeline: str | None) -> Escalation:
    """The pipeline's own escalation, else the team's. A pipeline fixed by the month's end has weeks,
    not minutes: without its own setting it escalates only when someone presses Escalate."""
    spec = runbook.pipelines.get(pipeline) if pipeline else None
    if spec and spec.escalation:
        return spec.escalation
    if spec and spec.sla and spec.sla.fix_by == "end_of_month":
        return runbook.team.escalation.model_copy(update={"ack_within": None})
    return runbook.team.escalation


def decide(runbook: Runbook, pipeline: str | None, kind: str, at: datetime, overrides: Iterable[OverrideSpan],
           incident: IncidentState | None = None) -> Audience:
    """Who the message `kind` about `pipeline` (a runbook key; None when unknown) tells at `at`, and how."""
    overrides = tuple(overrides)
    state = incident or IncidentState()
    if kind in (REPEAT, ACK, RESOLVE):
        return Audience("quiet", reason="updates of an incident's state mention nobody")
    if kind in (SEEN_BEFORE, NOTE):
        return Audience("quiet", reason="the incident's memory: whoever is on the thread reads it, and the people "
                                        "it names (past resolvers) are named, not pinged")
    if kind == COVER_FOLLOWUP:
        return Audience("quiet", reason="a question to the whole channel: nobody in particular is mentioned")
    if kind == SUMMARY:
        return Audience("quiet", reason="it sums up what is past or folded; whom it concerned was told "
                                        "by each incident's own messages")
    if kind in OWNER_MESSAGES:
        return _owners_message(runbook, pipeline, at)
    if kind == OPEN:
        fix_by = state.fix_by if incident else deadlines(runbook, pipeline, at).fix_by
        return _standing(runbook, pipeline, at, overrides, fix_by)
    if kind == FOLDED:
        fix_by = state.fix_by if incident else deadlines(runbook, pipeline, at).fix_by
        return _folded(runbook, pipeline, _standing(runbook, pipeline, at, overrides, fix_by))
    if state.folded and kind in (*_FOLLOW_UPS, ESCALATION):
        return Audience("quiet", reason="folded under an open upstream incident: that incident's people are "
                                        "chased and escalated, and this pipeline's owners were told once")
    if kind in (ESCALATION, ESCALATION_PRESSED):
        return _escalation(runbook, pipeline, at, overrides, state, pressed=kind == ESCALATION_PRESSED)
    now = _standing(runbook, pipeline, at, overrides, None)
    if kind == DEFERRED_PING:
        return _not_again(now, state)
    if kind in _FOLLOW_UPS:
        if now.how not in ("page", "notify"):
            return now
        people = now.people[:1] if kind == FIX_CHASE else now.people
        return _not_again(replace(now, people=people, paged=tuple(p for p in now.paged if p in people)), state)
    raise ValueError(f"unknown message kind {kind!r}")


def _folded(runbook: Runbook, pipeline: str | None, standing: Audience) -> Audience:
    """A downstream failure of an open upstream incident pages nobody: the upstream's page woke whoever
    can fix the cause. When its own hours would page, its owners are mentioned in the upstream thread
    instead; otherwise its hours stand (deferred to work hours, or quiet)."""
    why = "an open upstream incident explains it, and that incident's page went out"
    if standing.how != "page":
        return replace(standing, reason=f"{standing.reason}; {why.split(', and')[0]}")
    owners = tuple(owners_of(runbook, pipeline))
    if not owners:
        return Audience("quiet", reason=f"{why}: nobody is paged, and it has no owners to mention",
                        oncall=standing.oncall)
    return Audience("notify", owners, f"{why}: nobody is paged; its owners are mentioned in that thread",
                    oncall=standing.oncall)


def _not_again(audience: Audience, state: IncidentState) -> Audience:
    """Nobody is paged twice for one incident, and nobody for one somebody acknowledged (they are on
    it): who would be paged is mentioned instead."""
    if audience.how != "page":
        return audience
    if state.status == "acknowledged":
        return replace(audience, how="notify", paged=(), reason=audience.reason + " (acknowledged: mentioned)")
    fresh = tuple(p for p in audience.paged if state.told.get(p) != "page")
    if fresh:
        return replace(audience, paged=fresh)
    return replace(audience, how="notify", paged=(), reason=audience.reason + " (already paged: mentioned)")


def _standing(runbook: Runbook, pipeline: str | None, at: datetime, overrides: tuple[OverrideSpan, ...],
              fix_by: datetime | None) -> Audience:
    """Who may be asked to act on the pipeline's failure at `at`: the pipeline's hours."""
    spec = runbook.pipelines.get(pipeline) if pipeline else None
    owners = tuple(owners_of(runbook, pipeline))
    policy = spec.on_call if spec else None
    kind = day_kind(runbook, local_date(runbook, at))
    working = in_work_hours(runbook, at)

    if policy is None:
        # Unknown or incomplete pipelines are never dropped: whoever is on call takes them.
        what = "unknown pipeline" if spec is None else "no on-call policy in the runbook"
        oncall = oncall_person(runbook, runbook.default_rotation, at, overrides)
        if oncall:
            return Audience("page", _unique([oncall, *owners]), f"{what}: {oncall} is on call and paged",
                            paged=(oncall,), oncall=oncall)
        if owners:
            return Audience("notify", owners, f"{what} and nobody is on call: the owners are mentioned")
        return Audience("none", reason=f"{what} and nobody is on call")

    if policy.rotation and kind in policy.page:
        oncall = oncall_person(runbook, policy.rotation, at, overrides)
        if oncall:
            also = owners if working else ()
            tail = "; the owners are mentioned in work hours" if also else ""
            return Audience("page", _unique([oncall, *also]), f"{_day(kind)}: {oncall} is on call and paged{tail}",
                            paged=(oncall,), oncall=oncall)
    if not owners:
        return Audience("none", reason="nobody is on call for it and it has no owners")
    if working:
        return Audience("notify", owners, "work hours: the owners are mentioned")
    name = spec.name
    if policy.outside_work_hours == "quiet":
        return Audience("quiet", reason=f"{name} is handled in work hours only; outside them nobody is told")
    until = _next_told(runbook, spec, at)
    later = _standing(runbook, pipeline, until, overrides, None)
    if later.how == "deferred" and later.until:  # a paging day with nobody on call yet: wait on
        until = later.until
        later = _standing(runbook, pipeline, until, overrides, None)
    reason = f"{_hours_word(name, policy, kind)}; {', '.join(later.people)} told {_local(runbook, until)}"
    if fix_by is not None and until >= fix_by:
        if policy.if_deferral_misses_fix_by != "defer":
            oncall = oncall_person(runbook, policy.rotation or runbook.default_rotation, at, overrides)
            if oncall:
                page = policy.if_deferral_misses_fix_by == "page_oncall"
                why = (f"waiting until {_local(runbook, until)} would miss the fix deadline "
                       f"{_local(runbook, fix_by)}: {oncall} (on call) is {'paged' if page else 'mentioned'} now")
                return Audience("page" if page else "notify", (oncall,), why, paged=(oncall,) if page else (),
                                oncall=oncall)
        return Audience("deferred", later.people, f"{reason}, after its fix deadline {_local(runbook, fix_by)}",
                        until=until)
    return Audience("deferred", later.people, reason, until=until)


def _escalation(runbook: Runbook, pipeline: str | None, at: datetime, overrides: tuple[OverrideSpan, ...],
                state: IncidentState, *, pressed: bool) -> Audience:
    """The next step of the chain that reaches someone new. The clock waits for the pipeline's hours;
    a person pressing Escalate does not, but wakes nobody outside them either."""
    chain = escalation_of(runbook, pipeline).chain
    now = _standing(runbook, pipeline, at, overrides, None)
    if not pressed and now.how not in ("page", "notify"):
        return replace(now, how="deferred" if now.until else now.how, people=(),
                       reason=f"escalates only when someone may be asked to act ({now.reason})")
    how = "page" if now.how == "page" else "notify"
    # A page reaches whoever was only mentioned so far; a mention reaches only who was not told at all.
    reached = {p for p, h in state.told.items() if how == "notify" or h == "page"}
    skip = {state.acknowledged_by, state.pressed_by}
    for level in range(state.level + 1, len(chain) + 1):
        step = chain[level - 1]
        names = tuple(n for n in _step_people(runbook, pipeline, step, at, overrides)
                      if n not in skip and n not in reached)
        if names:
            verb = "paged" if how == "page" else "mentioned"
            return Audience(how, names, f"escalation step {level} ({step}): {', '.join(names)} {verb}",
                            paged=names if how == "page" else (), step=level)
    return Audience("none", reason="the escalation chain has nobody left who was not told already",
                    step=len(chain) + 1)


def _step_people(runbook: Runbook, pipeline: str | None, step: str, at: datetime,
                 overrides: tuple[OverrideSpan, ...]) -> list[str]:
    owners = owners_of(runbook, pipeline)
    if step == "oncall":
        person = oncall_person(runbook, rotation_of(runbook, pipeline), at, overrides)
        return [person] if person else []
    if step == "primary":
        return owners[:1]
    if step == "secondary":
        return owners[1:2]
    if step == "owners":
        return owners
    return list(runbook.team.admins)


def _owners_message(runbook: Runbook, pipeline: str | None, at: datetime) -> Audience:
    """Reminders the runbook schedules for a pipeline's owners: said in work hours (its last minute
    included: a reminder at the end of the working day is still in it), else at the next start."""
    owners = tuple(owners_of(runbook, pipeline))
    if not owners:
        return Audience("quiet", reason="the pipeline has no owners to remind")
    local = at.astimezone(runbook.tz)
    hours = runbook.team.work_hours
    if day_kind(runbook, local.date()) == "weekdays" and hours.start <= local.time() <= hours.end:
        return Audience("notify", owners, "a reminder for the owners in work hours")
    until = next_work_start(runbook, at)
    return Audience("deferred", owners, f"outside work hours: posted {_local(runbook, until)}", until=until)


def _next_told(runbook: Runbook, spec: Pipeline, at: datetime) -> datetime:
    """The first instant after `at` when the pipeline's hours let someone be told: the next start of
    work hours, or the start of the next day on which its on-call person is paged."""
    first = next_work_start(runbook, at)
    policy = spec.on_call
    if policy and policy.rotation and policy.page:
        day = local_date(runbook, at)
        for offset in range(1, 15):
            candidate = day + timedelta(days=offset)
            start = local_instant(candidate, time(0), runbook.tz)
            if start >= first:
                break
            if day_kind(runbook, candidate) in policy.page:
                return start
    return first


def _hours_word(name: str, policy, kind: str) -> str:
    if policy.page:
        return f"{_day(kind)}: {name} pages its on-call person on {' and '.join(policy.page)} only"
    return f"{name} is handled in work hours only"


def _day(kind: str) -> str:
    return {"weekdays": "weekday", "weekends": "weekend", "holidays": "holiday"}[kind]


def _local(runbook: Runbook, at: datetime) -> str:
    return local_text(at, runbook.tz)


def _unique(names: Iterable[str | None]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(n for n in names if n))
