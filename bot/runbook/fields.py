"""Value types people write by hand in runbooks.yaml: durations, leads, clock times, weekdays.

They accept the short forms a person types ("30m", "09:00", "mon") and reject anything else
with a message that says what would have been accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time, timedelta
from typing import Annotated, Literal

from pydantic import BeforeValidator, PlainSerializer, PlainValidator, WithJsonSchema

_DURATION = re.compile(r"^\s*(?:(\d+)\s*w)?\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*$")
_WORKING_DAYS = re.compile(r"^(\d+)\s*(?:working\s+days?|wd)$")
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_duration(value: object) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        sign = -1 if text.startswith("-") else 1
        match = _DURATION.match(text.lstrip("+-"))
        if match and any(match.groups()):
            weeks, days, hours, minutes = (int(g or 0) for g in match.groups())
            return sign * timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes)
    raise ValueError(f"not a duration: {value!r} (write e.g. 30m, 24h, 1d, 1w, 1h30m)")


def format_duration(value: timedelta) -> str:
    minutes = int(value.total_seconds() // 60)
    sign, minutes = ("-", -minutes) if minutes < 0 else ("", minutes)
    parts = []
    for unit, size in (("w", 10080), ("d", 1440), ("h", 60), ("m", 1)):
        count, minutes = divmod(minutes, size)
        if count:
            parts.append(f"{count}{unit}")
    return sign + ("".join(parts) or "0m")


@dataclass(frozen=True)
class WorkingDays:
    """A reminder lead counted on the team's calendar: the same local time, `count` working days
    earlier, so a Monday shift is announced on Friday rather than on Sunday."""

    count: int


def parse_lead(value: object) -> timedelta | WorkingDays:
    """A lead before an event: a duration ("1d", "15m") or working days ("1 working day", "2wd")."""
    if isinstance(value, (timedelta, WorkingDays)):
        return value
    if isinstance(value, str) and (match := _WORKING_DAYS.match(value.strip().lower())):
        if int(match.group(1)) < 1:
            raise ValueError(f"not a lead: {value!r} (count at least 1 working day)")
        return WorkingDays(int(match.group(1)))
    try:
        return parse_duration(value)
    except ValueError:
        raise ValueError(f"not a lead: {value!r} (write a duration such as 1d or 15m, or 1 working day)") from None


def format_lead(value: timedelta | WorkingDays) -> str:
    """Compact, and read back by parse_lead: "1d", "15m", "1wd"."""
    return f"{value.count}wd" if isinstance(value, WorkingDays) else format_duration(value)


def parse_clock(value: object) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 09:00 as the sexagesimal integer 540.
        hours, minutes = divmod(value, 60)
        if 0 <= hours < 24:
            return time(hours, minutes)
    if isinstance(value, str) and (match := _CLOCK.match(value.strip())):
        return time(int(match.group(1)), int(match.group(2)))
    raise ValueError(f"not a time of day: {value!r} (write HH:MM between 00:00 and 23:59, e.g. \"09:00\")")


WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def parse_weekday(value: object) -> str:
    """`mon` or `monday` (any case); nothing else, so the schema can say exactly what is accepted."""
    word = value.strip().lower() if isinstance(value, str) else None
    if word in WEEKDAYS:
        return word
    if word in WEEKDAY_NAMES:
        return WEEKDAYS[WEEKDAY_NAMES.index(word)]
    raise ValueError(f"not a weekday: {value!r} (write one of {', '.join(WEEKDAYS)}, or the full name)")


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^-?(\d+w)?(\d+d)?(\d+h)?(\d+m)?$", "examples": ["30m", "24h"]}),
]
Lead = Annotated[
    timedelta | WorkingDays,
    PlainValidator(parse_lead),
    PlainSerializer(format_lead, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^(-?(\d+w)?(\d+d)?(\d+h)?(\d+m)?|\d+\s*(working\s+days?|wd))$",
                    "examples": ["1d", "15m", "1 working day"]}),
]
ClockTime = Annotated[
    time,
    BeforeValidator(parse_clock),
    PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^([01]?\d|2[0-3]):[0-5]\d$", "examples": ["09:00"]}),
]
Weekday = Annotated[
    Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
    BeforeValidator(parse_weekday),
    WithJsonSchema({"type": "string", "enum": [*WEEKDAYS, *WEEKDAY_NAMES]}),
]
