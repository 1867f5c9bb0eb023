"""Spans typed by people: "2026-12-07 2026-12-09", "tomorrow", "2026-12-08T09:00 2026-12-08T18:00".

`now` may start a span. Read in the team zone, because that is the zone of the rotation's handoffs. Dates are whole days
and an end date is inclusive ("7 to 9 December" covers the 9th); date-times are exact and the end
is exclusive. Words after the span are returned untouched (the note).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.domain.timeutil import local_instant
from bot.runbook.fields import WEEKDAY_NAMES

_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
# Words meant as a date or a time that do not read as one: an error, never the start of the note.
_TEMPORAL = re.compile(r"^(\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[:.h]\d{2})", re.IGNORECASE)
EXAMPLES = "`2026-12-07 2026-12-09`, `tomorrow`, `tuesday`, `2026-12-08T09:00 2026-12-08T18:00`, `now tomorrow`"


class SpanError(ValueError):
    pass


@dataclass(frozen=True)
class Span:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class _Point:
    day: date
    clock: time | None  # None: a whole day
    exact: bool = False  # "now": the instant itself


def _day_word(word: str, today: date) -> date | None:
    word = word.lower()
    if word == "today":
        return today
    if word == "tomorrow":
        return today + timedelta(days=1)
    for i, name in enumerate(WEEKDAY_NAMES):
        if len(word) >= 3 and name.startswith(word):
            return today + timedelta(days=(i - today.weekday()) % 7)
    return None


def _point(words: list[str], i: int, today: date) -> tuple[_Point, int] | None:
    """The point starting at words[i] and how many words it took (a date may be followed by HH:MM)."""
    word = words[i]
    if word.lower() == "now":
        return _Point(today, None, exact=True), 1
    day = _day_word(word, today)
    if day is None:
        try:
            if "T" in word.upper():
                value = datetime.fromisoformat(word)
                if value.tzinfo is not None:
                    raise SpanError(f"`{word}`: give local times without an offset (they are in the team zone)")
                return _Point(value.date(), value.time()), 1
            day = date.fromisoformat(word)
        except SpanError:
            raise
        except ValueError:
            if _TEMPORAL.match(word):
                raise SpanError(_unreadable(word)) from None
            return None
    following = words[i + 1] if i + 1 < len(words) else ""
    if m := _CLOCK.match(following):
        return _Point(day, time(int(m[1]), int(m[2]))), 2
    if _TEMPORAL.match(following) and not _point_or_none(words, i + 1, day):
        raise SpanError(_unreadable(following))
    return _Point(day, None), 1


def _unreadable(word: str) -> str:
    return f"`{word}` is not a date or time I can read: write dates as YYYY-MM-DD and times as HH:MM (00:00–23:59)"


def _point_or_none(words: list[str], i: int, today: date) -> _Point | None:
    """Whether words[i] reads as a point of its own (a date after a date is the end, not a time)."""
    try:
        found = _point(words, i, today)
    except SpanError:
        return None
    return found[0] if found else None


MAX_SPAN = timedelta(days=366)


def parse_span(words: list[str], zone: ZoneInfo, now: datetime) -> tuple[Span, list[str]]:
    """The span at the start of `words` and the words left over; SpanError says what to type instead."""
    try:
        span, rest = _parse_span(words, zone, now)
    except (OverflowError, ValueError) as err:  # dates at the edge of the calendar (0001-01-01, 9999-12-31)
        if isinstance(err, SpanError):
            raise
        raise SpanError(f"that date is out of range; use a date near today, e.g. {EXAMPLES}") from None
    if span.end - span.start > MAX_SPAN:
        raise SpanError("a span can be at most a year long")
    return span, rest


def _parse_span(words: list[str], zone: ZoneInfo, now: datetime) -> tuple[Span, list[str]]:
    today = now.astimezone(zone).date()
    first = _point(words, 0, today) if words else None
    if first is None:
        raise SpanError(f"start with a date or a span, e.g. {EXAMPLES}")
    start_point, used = first
    second = _point(words, used, today) if used < len(words) else None
    end_point = start_point
    if second is not None:
        end_point, more = second
        used += more
    elif start_point.clock is not None:
        raise SpanError("a start time needs an end: e.g. `2026-12-08T09:00 2026-12-08T18:00`")
    start = now if start_point.exact else local_instant(start_point.day, start_point.clock or time(0), zone)
    if start_point.exact and second is None:
        raise SpanError("`now` needs an end: e.g. `now 2026-12-08T18:00` or `now tomorrow`")
    if end_point.exact:
        raise SpanError("`now` can only start a span, e.g. `now 2026-12-08T18:00`")
    if end_point.clock is None:
        end = local_instant(end_point.day + timedelta(days=1), time(0), zone)  # an end date is inclusive
    else:
        end = local_instant(end_point.day, end_point.clock, zone)
    if end <= start:
        raise SpanError("the end must come after the start")
    return Span(start, end), words[used:]


def span_plain(start: datetime, end: datetime) -> str:
    """A span in words for plain text (logs, fallbacks, notes): UTC."""
    return f"{start:%Y-%m-%d %H:%M} UTC → {end:%Y-%m-%d %H:%M} UTC"
