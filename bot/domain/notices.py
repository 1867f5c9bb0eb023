"""Neutral notices: what a scheduled message says, as plain JSON facts, before anyone renders it.

The jobs queue a notice (a kind and its facts: names, instants, incident ids and, where people are
named, the policy's audience); the Slack layer renders it when it is delivered. These functions
turn the domain's values into JSON and back, so both sides agree on the shape.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.domain.policy import Audience
from bot.domain.rotation import OverrideSpan, Shift
from bot.domain.timeutil import iso


def notice(kind: str, **facts: Any) -> dict:
    return {"kind": kind, **facts}


def instant(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def shift_json(shift: Shift | None) -> dict | None:
    if shift is None:
        return None
    return {"rotation": shift.rotation, "person": shift.person, "start": iso(shift.start), "end": iso(shift.end),
            "scheduled": shift.scheduled, "override": shift.is_override}


def shift_from(data: dict | None) -> Shift | None:
    if data is None:
        return None
    start, end = instant(data["start"]), instant(data["end"])
    cover = OverrideSpan(data["person"], start, end, data["rotation"]) if data.get("override") else None
    return Shift(data["rotation"], data["person"], start, end, data["scheduled"], cover)


def audience_json(audience: Audience) -> dict:
    return {"how": audience.how, "people": list(audience.people), "paged": list(audience.paged),
            "until": iso(audience.until), "reason": audience.reason}


def audience_from(data: dict) -> Audience:
    return Audience(data["how"], tuple(data["people"]), data.get("reason", ""), tuple(data.get("paged", ())),
                    instant(data.get("until")))
