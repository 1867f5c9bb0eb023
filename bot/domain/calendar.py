"""The team's calendar: which days are holidays, weekends or working days, and when work hours are."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Iterator, Literal

from bot.domain.timeutil import local_instant
from bot.runbook.fields import WEEKDAYS
from bot.runbook.models import Runbook

DayKind = Literal["weekdays", "weekends", "holidays"]


@lru_cache(maxsize=64)
def _public_holidays(country: str, subdiv: str | None, year: int) -> dict[date, str]:
    # The one way out of the domain: the holiday table of a year (a pure function of its arguments,
    # kept on disk by bot.holiday_calendars only because importing `holidays` is slow).
    from bot import holiday_calendars

    return holiday_calendars.names(country, subdiv, year)


def holiday_name(runbook: Runbook, day: date) -> str | None:
    config = runbook.team.holidays
    if day in config.extra:
        return "Team day off"
    if config.country:
        return _public_holidays(config.country, config.subdiv, day.year).get(day)
    return None


def day_kind(runbook: Runbook, day: date) -> DayKind:
    if holiday_name(runbook, day):
        return "holidays"
    return "weekdays" if WEEKDAYS[day.weekday()] in runbook.team.work_hours.days else "weekends"


def local_date(runbook: Runbook, at: datetime) -> date:
    return at.astimezone(runbook.tz).date()


def in_work_hours(runbook: Runbook, at: datetime) -> bool:
    local = at.astimezone(runbook.tz)
    hours = runbook.team.work_hours
    return day_kind(runbook, local.date()) == "weekdays" and hours.start <= local.time() < hours.end


def working_days(runbook: Runbook, day: date, step: int, *, include: bool = False, within: int = 400) -> Iterator[date]:
    """Working days from `day` (`day` itself too if `include`), forward (step 1) or back (step -1),
    looking at most `within` calendar days: the one walk over the team's calendar."""
    if not include:
        day += timedelta(days=step)
    for _ in range(within):
        if day_kind(runbook, day) == "weekdays":
            yield day
        day += timedelta(days=step)


def _no_working_day() -> ValueError:
    return ValueError("no working day within 400 days: check team.work_hours and holidays")


def next_work_start(runbook: Runbook, at: datetime) -> datetime:
    """The first start of work hours strictly after `at` (holidays and non-working days skipped)."""
    for day in working_days(runbook, local_date(runbook, at), 1, include=True):
        start = local_instant(day, runbook.team.work_hours.start, runbook.tz)
        if start > at:
            return start
    raise _no_working_day()


def working_days_before(runbook: Runbook, at: datetime, count: int) -> datetime:
    """The same local wall time `count` working days before `at` (weekends and holidays skipped)."""
    local = at.astimezone(runbook.tz)
    days = working_days(runbook, local.date(), -1, within=400 * count)
    day = next(itertools.islice(days, count - 1, None), None)
    if day is None:
        raise _no_working_day()
    return local_instant(day, local.time().replace(fold=0), runbook.tz)
