"""Instants are aware UTC datetimes; local wall times become instants only through `local_instant`."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo

from dateutil import tz as dateutil_tz


def utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: pass an aware instant")
    return value.astimezone(UTC)


@lru_cache(maxsize=8192)  # handoffs and work-hour starts are asked for again and again
def local_instant(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of a local wall time; a time skipped by DST moves forward, an ambiguous one takes the first."""
    wall = datetime.combine(day, clock, zone)
    if not dateutil_tz.datetime_exists(wall):
        wall = dateutil_tz.resolve_imaginary(wall)
    return wall.astimezone(UTC)


def parse_instant(text: str, zone: ZoneInfo) -> datetime:
    """ISO-8601 date or date-time; without an offset it is read in `zone`."""
    text = text.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = local_instant(value.date(), value.time(), zone) if value.time() else local_instant(value.date(), time(0), zone)
    return value.astimezone(UTC)


def utc_text(at: datetime) -> str:
    """An instant for plain text (fallbacks, logs): "2026-12-01 02:30 UTC"."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def local_text(at: datetime, zone: ZoneInfo) -> str:
    """"Tue 01 Dec 02:31 CET": an instant as people of the zone read it, its abbreviation telling which
    side of a DST change it is."""
    local = at.astimezone(zone)
    return f"{local:%a %d %b %H:%M} {local.tzname()}"
