"""What a swap or an override changes: whose time it takes, who gains or loses shifts, who is next.

Pure functions over rosters, so the Slack layer can tell exactly the people whose shifts moved.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterable

from bot.domain.rotation import OverrideSpan, Roster, Shift
from bot.runbook.models import Runbook

LOOKAHEAD = timedelta(weeks=26)


def time_of(r: Roster, person: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The stretches of [start, end) during which `person` is on call, clipped to the span."""
    return [(max(s.start, start), min(s.end, end)) for s in r.stretches(start, end) if s.person == person]


def changed_people(runbook: Runbook, rotation: str, before: Iterable[OverrideSpan], after: Iterable[OverrideSpan],
                   start: datetime, end: datetime) -> list[str]:
    """People whose on-call time inside [start, end) differs between the two sets of overrides."""
    old, new = Roster(runbook, rotation, before), Roster(runbook, rotation, after)
    names = {s.person for r in (old, new) for s in r.shifts(start, end)}
    return sorted(n for n in names if time_of(old, n, start, end) != time_of(new, n, start, end))


Spans = list[tuple[datetime, datetime]]


def minus(spans: Spans, taken: Spans) -> Spans:
    """The parts of `spans` that `taken` does not cover (both sorted and non-overlapping)."""
    left: Spans = []
    for start, end in spans:
        for t_start, t_end in taken:
            if t_end <= start or t_start >= end:
                continue
            if t_start > start:
                left.append((start, t_start))
            start = max(start, t_end)
        if start < end:
            left.append((start, end))
    return left


def moved(runbook: Runbook, rotation: str, before: Iterable[OverrideSpan], after: Iterable[OverrideSpan],
          person: str, start: datetime, end: datetime) -> tuple[Spans, Spans]:
    """(time gained, time given away) by `person` inside [start, end)."""
    old = time_of(Roster(runbook, rotation, before), person, start, end)
    new = time_of(Roster(runbook, rotation, after), person, start, end)
    return minus(new, old), minus(old, new)


def next_shift(r: Roster, person: str, now: datetime) -> Shift | None:
    """The person's current or next stretch on call, within half a year."""
    return next((s for s in r.stretches(now, now + LOOKAHEAD) if s.person == person and s.end > now), None)


def on_call_throughout(r: Roster, person: str, start: datetime, end: datetime) -> bool:
    return time_of(r, person, start, end) == [(start, end)]
