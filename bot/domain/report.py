"""How the pipelines and the rotation did over a window: SLA per run, incidents, response times, pages.

Pure: the store's facts come in (bot.store.report_reads), figures go out; `now` is an argument.
- A watched run is a cron run whose data-ready time falls in the window (and has passed), once its
  pipeline is watched (sla.watch). Its first success report between the run and the next run says
  whether the data was on time or late (and by how much); none by now, and it was missed.
- Response times count from an incident's opening: to its acknowledgement, to its resolution.
  Medians are the middle value (the mean of the two middle ones); the 90th percentile is the
  nearest rank (the value 90% of the sorted values are at or below).
- A page is a direct message that was delivered; one outside the team's work hours woke someone:
  "nights woken" counts the distinct local dates of those, per person.
"""

from __future__ import annotations

import math
import statistics
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from bot.domain.calendar import in_work_hours
from bot.domain.deadlines import DAY, first_run, next_run, ready_by
from bot.runbook.models import Runbook

ON_TIME, LATE, MISSED, NO_RUN = "on_time", "late", "missed", "no_run"


@dataclass
class IncidentCounts:
    """The incidents of one pipeline opened in the window, as the store sums them up."""

    known: bool = True
    incidents: int = 0
    folded: int = 0          # folded under an upstream incident, or into a flood summary
    repeats: int = 0         # alerts deduplicated into an open incident
    fix_met: int = 0
    fix_missed: int = 0      # resolved after its fix deadline, or still open past it


@dataclass(frozen=True)
class PageFact:
    person: str
    pipeline: str
    at: datetime


@dataclass(frozen=True)
class Spread:
    count: int
    median: timedelta | None
    p90: timedelta | None

    @classmethod
    def of(cls, values: list[timedelta]) -> "Spread":
        if not values:
            return cls(0, None, None)
        ordered = sorted(values)
        rank = max(1, math.ceil(0.9 * len(ordered)))
        return cls(len(ordered), statistics.median(ordered), ordered[rank - 1])


NO_SPREAD = Spread(0, None, None)


@dataclass
class Facts:
    """What a report reads: per pipeline its incidents' counts and response times (summed up where
    the rows are), per Slack user their acknowledgements and resolutions, pages, escalations and
    success reports as they happened."""

    incidents: dict[str, IncidentCounts] = field(default_factory=dict)
    acknowledge: dict[str, Spread] = field(default_factory=dict)             # by pipeline
    resolve: dict[str, Spread] = field(default_factory=dict)                 # by pipeline
    acknowledged_by: dict[str, Spread] = field(default_factory=dict)         # by Slack user id
    resolved_by: dict[str, int] = field(default_factory=dict)                # by Slack user id
    pages: list[PageFact] = field(default_factory=list)
    escalations: list[tuple[str, datetime]] = field(default_factory=list)   # (pipeline, at)
    successes: dict[str, list[datetime]] = field(default_factory=dict)       # pipeline → sorted instants
    first_success: dict[str, datetime] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)                      # Slack user id → runbook name
    open_incidents: int = 0
    carried_over: int = 0                                                    # open, and opened before the window


@dataclass(frozen=True)
class Run:
    pipeline: str
    run_at: datetime
    deadline: datetime
    outcome: str                 # on_time | late | missed
    late_by: timedelta | None = None


@dataclass
class PipelineFigures:
    key: str
    name: str
    runs: list[Run] = field(default_factory=list)
    incidents: int = 0
    acknowledge: Spread = NO_SPREAD
    resolve: Spread = NO_SPREAD
    fix_met: int = 0
    fix_missed: int = 0
    pages: int = 0
    pages_outside_hours: int = 0
    escalations: int = 0
    folded: int = 0
    repeats: int = 0             # alerts deduplicated into an open incident

    def count(self, outcome: str) -> int:
        return sum(run.outcome == outcome for run in self.runs)

    @property
    def late_by(self) -> Spread:
        return Spread.of([run.late_by for run in self.runs if run.late_by is not None])


@dataclass
class PersonFigures:
    name: str
    pages: int = 0
    pages_outside_hours: int = 0
    nights_woken: int = 0
    acknowledged: int = 0
    resolved: int = 0
    acknowledge: Spread = NO_SPREAD


@dataclass
class Report:
    start: datetime
    end: datetime
    pipelines: list[PipelineFigures]
    people: list[PersonFigures]
    open_incidents: int
    carried_over: int            # open now, and opened before the window


def runs_in(runbook: Runbook, key: str, successes: list[datetime], start: datetime, end: datetime,
            watched_since: datetime | None) -> list[Run]:
    """The pipeline's watched runs whose data-ready time is in [start, end), each with its outcome."""
    spec = runbook.pipelines[key]
    if not spec.schedule or not spec.sla or spec.sla.data_ready_by is None:
        return []
    if spec.sla.watch != "always" and watched_since is None:
        return []
    zone = runbook.clock_zone(key)
    found = []
    day = start.astimezone(zone).date() - DAY
    while day <= end.astimezone(zone).date():
        deadline = ready_by(runbook, key, day)
        day += DAY
        if not start <= deadline < end:
            continue
        run = first_run(spec.schedule, deadline, zone)
        if run is None or (spec.sla.watch != "always" and run < watched_since):
            continue
        until = next_run(spec.schedule, run, zone)
        index = bisect_left(successes, run)
        ready = successes[index] if index < len(successes) and successes[index] < until else None
        if ready is None:
            found.append(Run(key, run, deadline, MISSED))
        elif ready <= deadline:
            found.append(Run(key, run, deadline, ON_TIME))
        else:
            found.append(Run(key, run, deadline, LATE, ready - deadline))
    return found


def build(runbook: Runbook, facts: Facts, start: datetime, end: datetime) -> Report:
    """The figures of [start, end); `end` is the report's instant (no later than now)."""
    by_key = {key: PipelineFigures(key, spec.name) for key, spec in runbook.pipelines.items()}
    unknown: dict[str, PipelineFigures] = {}

    def figures(pipeline: str, known: bool) -> PipelineFigures:
        if known and pipeline in by_key:
            return by_key[pipeline]
        return unknown.setdefault(pipeline, PipelineFigures(pipeline, f"{pipeline} (unknown)"))

    for key, figure in by_key.items():
        figure.runs = runs_in(runbook, key, facts.successes.get(key, []), start, end, facts.first_success.get(key))
    people: dict[str, PersonFigures] = {}

    def person(name: str) -> PersonFigures:
        return people.setdefault(name, PersonFigures(name))

    for pipeline, counts in facts.incidents.items():
        figure = figures(pipeline, counts.known)
        figure.incidents, figure.folded, figure.repeats = counts.incidents, counts.folded, counts.repeats
        figure.fix_met, figure.fix_missed = counts.fix_met, counts.fix_missed
        figure.acknowledge = facts.acknowledge.get(pipeline, NO_SPREAD)
        figure.resolve = facts.resolve.get(pipeline, NO_SPREAD)
    for user, spread in facts.acknowledged_by.items():
        someone = person(facts.names.get(user, user))
        someone.acknowledged, someone.acknowledge = spread.count, spread
    for user, count in facts.resolved_by.items():
        if user in facts.names:  # a person, not a success report
            person(facts.names[user]).resolved += count
    nights: dict[str, set[date]] = {}
    for page in facts.pages:
        if not start <= page.at < end:
            continue
        figure = figures(page.pipeline, page.pipeline in by_key)
        outside = not in_work_hours(runbook, page.at)
        figure.pages += 1
        figure.pages_outside_hours += outside
        someone = person(page.person)
        someone.pages += 1
        someone.pages_outside_hours += outside
        if outside:
            nights.setdefault(page.person, set()).add(_night_of(runbook, page.at))
    for pipeline, at in facts.escalations:
        if start <= at < end:
            figures(pipeline, pipeline in by_key).escalations += 1
    for name, someone in people.items():
        someone.nights_woken = len(nights.get(name, ()))
    ordered_people = sorted(people.values(), key=lambda p: (-p.pages, p.name))
    return Report(start, end, [*by_key.values(), *sorted(unknown.values(), key=lambda f: f.key)], ordered_people,
                  facts.open_incidents, facts.carried_over)


def _night_of(runbook: Runbook, at: datetime) -> date:
    """A night is named by the evening it began: a page at 02:00 on Tuesday woke someone on Monday night."""
    local = at.astimezone(runbook.tz)
    return local.date() - DAY if local.time() < runbook.team.work_hours.start else local.date()


def day_cells(runbook: Runbook, facts: Facts, days: list[date], now: datetime) -> dict[str, list[str]]:
    """For the weekly picture: per pipeline with a data-ready time, one cell per local day (team zone):
    the outcome of the run due that day (the worst, if several), or no_run."""
    if not days:
        return {}
    zone = runbook.tz
    start = datetime.combine(days[0], datetime.min.time(), zone)
    end = min(now, datetime.combine(days[-1] + DAY, datetime.min.time(), zone))
    worst = {ON_TIME: 0, LATE: 1, MISSED: 2}
    cells: dict[str, list[str]] = {}
    for key, spec in runbook.pipelines.items():
        if not spec.sla or spec.sla.data_ready_by is None or not spec.schedule:
            continue
        row = {day: NO_RUN for day in days}
        for run in runs_in(runbook, key, facts.successes.get(key, []), start, end, facts.first_success.get(key)):
            day = run.deadline.astimezone(zone).date()
            if day in row and (row[day] == NO_RUN or worst[run.outcome] > worst[row[day]]):
                row[day] = run.outcome
        cells[key] = [row[day] for day in days]
    return cells


def _spread(spread: Spread) -> dict:
    seconds = (lambda d: None if d is None else round(d.total_seconds()))
    return {"count": spread.count, "median_seconds": seconds(spread.median), "p90_seconds": seconds(spread.p90)}


def as_json(report: Report) -> dict:
    """The report as `oncall-bot report --json` and the tests read it: durations in whole seconds."""
    return {
        "start": report.start.isoformat(), "end": report.end.isoformat(),
        "pipelines": [{
            "key": f.key, "name": f.name, "runs_watched": len(f.runs), "on_time": f.count(ON_TIME),
            "late": f.count(LATE), "missed": f.count(MISSED), "late_by": _spread(f.late_by),
            "incidents": f.incidents, "acknowledge": _spread(f.acknowledge), "resolve": _spread(f.resolve),
            "fix_deadlines": {"met": f.fix_met, "missed": f.fix_missed}, "pages": f.pages,
            "pages_outside_hours": f.pages_outside_hours, "escalations": f.escalations, "folded": f.folded,
            "deduplicated": f.repeats,
        } for f in report.pipelines],
        "people": [{
            "name": p.name, "pages": p.pages, "pages_outside_hours": p.pages_outside_hours,
            "nights_woken": p.nights_woken, "acknowledged": p.acknowledged, "resolved": p.resolved,
            "acknowledge": _spread(p.acknowledge),
        } for p in report.people],
        "open_incidents": report.open_incidents, "carried_over": report.carried_over,
    }
