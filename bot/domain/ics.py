"""The on-call schedule as an iCalendar feed: final shifts, overrides applied, stable UIDs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Iterable

from bot.domain.rotation import OverrideSpan, Roster
from bot.runbook.models import Runbook


def calendar(runbook: Runbook, now: datetime, overrides: Iterable[OverrideSpan], weeks: int = 12,
             past_weeks: int = 4, stamp: datetime | None = None) -> bytes:
    """Shifts from `past_weeks` before `now` to `weeks` after it; DTSTAMP is `stamp` (default `now`)."""
    from icalendar import Calendar, Event

    cal = Calendar()
    cal.add("prodid", "-//oncall-bot//on-call schedule//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"{runbook.team.name} on-call")
    for key in runbook.rotations:
        roster = Roster(runbook, key, overrides)
        for shift in roster.shifts(now - timedelta(weeks=past_weeks), now + timedelta(weeks=weeks)):
            event = Event()
            event.add("uid", f"{key}-{shift.start:%Y%m%dT%H%M%SZ}-{shift.person}@oncall-bot")
            event.add("dtstamp", stamp or now)
            event.add("dtstart", _unambiguous(shift.start, runbook))
            event.add("dtend", _unambiguous(shift.end, runbook))
            covering = f" (covering {shift.scheduled})" if shift.is_override and shift.scheduled else ""
            event.add("summary", f"On call: {shift.person}{covering}")
            event.add("description", f"{runbook.team.name}, rotation {key}")
            cal.add_component(event)
    cal.add_missing_timezones()
    return cal.to_ical()


def _unambiguous(at: datetime, runbook: Runbook) -> datetime:
    """Local time with its zone, except in an hour a DST change repeats: a calendar reads such a
    local time as the first of the two, so those instants are written in UTC."""
    from dateutil import tz as dateutil_tz

    local = at.astimezone(runbook.tz)
    return at.astimezone(UTC) if dateutil_tz.datetime_ambiguous(local.replace(tzinfo=None), runbook.tz) else local
