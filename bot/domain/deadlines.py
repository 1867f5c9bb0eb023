"""Runbook clocks for one failed run: when its data was due, and when the fix is due.

A pipeline's cron and SLA times are read in its zone (`timezone:`; UTC when not given), so a Berlin
team's "ready by 08:00" stays at 08:00 local across DST. A cron time in a DST gap runs at the first
valid minute after it; one in a repeated hour runs in both (as croniter reads it).
- The run a failure belongs to is the latest scheduled run at or before the failure.
- data_ready_by: the first SLA time of day at or after that run's scheduled start.
- fix_within: counted from the midnight that starts the run's day (a run at 01:00 on day D with 24h:
  fix by D+1 00:00); for a pipeline that runs more than once a day, from the run's scheduled start, so
  an evening run's deadline is never before it.
- fix_by end_of_month: the first instant of the next month in the team zone (exclusive), taken from the failure.
Without a schedule, the run's day is the failure's day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from bot.domain.timeutil import local_instant, utc
from bot.runbook.models import Runbook

DAY = timedelta(days=1)


@dataclass(frozen=True)
class Deadlines:
    run_at: datetime | None
    data_ready_by: datetime | None
    fix_by: datetime | None

    def left(self, now: datetime) -> dict[str, timedelta | None]:
        return {
            "data_ready_by": self.data_ready_by - now if self.data_ready_by else None,
            "fix_by": self.fix_by - now if self.fix_by else None,
        }


def scheduled_run(schedule: str, at: datetime, zone: ZoneInfo) -> datetime:
    """The latest cron fire time at or before `at`."""
    return _previous_fire(schedule, utc(at).replace(second=0, microsecond=0), zone)


@lru_cache(maxsize=4096)  # alerts of one night ask about the same few runs again and again
def _previous_fire(schedule: str, minute: datetime, zone: ZoneInfo) -> datetime:
    from croniter import croniter

    return croniter(schedule, (minute + timedelta(minutes=1)).astimezone(zone)).get_prev(datetime).astimezone(UTC)


@lru_cache(maxsize=4096)
def next_run(schedule: str, run: datetime, zone: ZoneInfo) -> datetime:
    """The cron fire time after `run`."""
    from croniter import croniter

    return croniter(schedule, run.astimezone(zone)).get_next(datetime).astimezone(UTC)


@lru_cache(maxsize=4096)
def first_run(schedule: str, deadline: datetime, zone: ZoneInfo) -> datetime | None:
    """The first cron run in the local day before `deadline` (same wall time a day earlier, exclusive,
    to `deadline`, inclusive): the run whose data the deadline is about."""
    from croniter import croniter

    local = deadline.astimezone(zone)
    since = local_instant(local.date() - DAY, local.time().replace(tzinfo=None), zone)
    run = croniter(schedule, since.astimezone(zone)).get_next(datetime).astimezone(UTC)
    return run if run <= deadline else None


@lru_cache(maxsize=256)
def runs_more_than_daily(schedule: str) -> bool:
    """Whether two runs of the schedule can be less than a day apart (hourly, twice a day...)."""
    from croniter import croniter

    fires = croniter(schedule, datetime(2026, 1, 5, tzinfo=UTC))
    runs = [fires.get_next(datetime) for _ in range(16)]
    return any(b - a < DAY for a, b in zip(runs, runs[1:]))


def ready_by(runbook: Runbook, pipeline: str, day) -> datetime:
    """The data-ready instant of a local day of the pipeline."""
    return local_instant(day, runbook.pipelines[pipeline].sla.data_ready_by, runbook.clock_zone(pipeline))


def deadlines(runbook: Runbook, pipeline: str | None, failed_at: datetime) -> Deadlines:
    failed_at = utc(failed_at)
    spec = runbook.pipelines.get(pipeline) if pipeline else None
    if spec is None:
        return Deadlines(None, None, None)
    zone = runbook.clock_zone(pipeline)
    run_at = scheduled_run(spec.schedule, failed_at, zone) if spec.schedule else None
    base = run_at or failed_at
    run_day = base.astimezone(zone).date()
    sla = spec.sla
    data_ready_by = fix_by = None
    if sla and sla.data_ready_by is not None:
        data_ready_by = ready_by(runbook, pipeline, run_day)
        if data_ready_by < base:
            data_ready_by = ready_by(runbook, pipeline, run_day + DAY)
    if sla and sla.fix_within is not None:
        if run_at and runs_more_than_daily(spec.schedule):
            fix_by = run_at + sla.fix_within
        else:
            # Wall-clock arithmetic: "24 hours from midnight" is the next midnight, on a DST day too.
            wall = datetime.combine(run_day, time(0)) + sla.fix_within
            fix_by = local_instant(wall.date(), wall.time(), zone)
    elif sla and sla.fix_by == "end_of_month":
        local = failed_at.astimezone(runbook.tz)
        first_of_next = local.date() + relativedelta(months=1, day=1)
        fix_by = local_instant(first_of_next, time(0), runbook.tz)
    return Deadlines(run_at, data_ready_by, fix_by)


def sla_watch(runbook: Runbook, reported) -> dict[str, tuple[bool, str]]:
    """For each pipeline with a data-ready time: whether the SLA watch runs, and why (or why not).
    `reported` holds (or maps, to when) the keys of pipelines that have reported a success."""
    found = {}
    for key, spec in runbook.pipelines.items():
        if not spec.sla or spec.sla.data_ready_by is None:
            continue
        if not spec.schedule:
            found[key] = (False, "no schedule in the runbook, so no run to watch")
        elif spec.sla.watch == "always":
            found[key] = (True, "watched from the start (sla.watch: always)")
        elif key in reported:
            found[key] = (True, "watched since its first success report")
        else:
            found[key] = (False, "waiting for its first success report (sla.watch: always watches it from the start)")
    return found
