"""Every scheduled message is rendered here, when it is delivered.

The jobs queue neutral notices (bot.domain.notices): a kind and its facts. Rendering at delivery
reads the store as it is then (open incidents, the week's shifts with the latest swaps), so a message
that waited out a Slack outage is still current. Mentions come only from the notice's audience (the
policy's decision) or from the people a notice is about (the incoming person of a handoff).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Callable

from bot.domain.notices import audience_from, instant, shift_from
from bot.domain.rotation import Roster, runbook_overrides
from bot.runbook.models import Runbook
from bot.slack.blocks import Message
from bot.slack.replies import clocks, scheduled
from bot.slack.text import escape
from bot.store.incidents import get_incident, list_incidents

WEEK = timedelta(days=7)


class PlainPeople:
    """Names in bold, no Slack IDs: dry runs, tests, and people Slack does not know."""

    def mention(self, name: str | None) -> str:
        return f"*{escape(name)}*" if name else "_nobody_"

    plain = mention


class DirectoryPeople:
    """bot.slack.people.Directory after `resolve`: mentions from the IDs Slack gave us."""

    def __init__(self, directory) -> None:
        self.directory = directory

    def mention(self, name: str | None) -> str:
        return self.directory.mention(name)

    def plain(self, name: str | None) -> str:
        return self.directory.plain(name)


class World:
    """What a notice is rendered against: the runbook, the people, the store and the swaps now."""

    def __init__(self, store, runbook: Runbook, people, overrides) -> None:
        self.store, self.runbook, self.people, self.overrides = store, runbook, people, list(overrides)

    def week(self, rotation: str, start) -> list:
        roster = Roster(self.runbook, rotation, [*runbook_overrides(self.runbook), *self.overrides])
        return roster.shifts(start, start + WEEK)

    def open_incidents(self) -> list:
        return list_incidents(self.store, open_only=True)


def render(store, runbook: Runbook, people, overrides, notice: dict) -> Message:
    """A notice as Block Kit (called in the store's thread: it may read the store)."""
    return RENDER[notice["kind"]](World(store, runbook, people, overrides), notice)


def _handoff(w: World, n: dict) -> Message:
    shift = shift_from(n["shift"])
    return scheduled.handoff(w.runbook, w.people, n["rotation"], shift_from(n["prev"]), shift,
                             w.week(n["rotation"], shift.start), w.open_incidents())


def _meeting(w: World, n: dict) -> Message:
    shift = shift_from(n["shift"])
    return scheduled.meeting_reminder(w.runbook, w.people, n["rotation"], n["person"], n["outgoing"], shift,
                                      instant(n["at"]), timedelta(seconds=n["duration"]), w.open_incidents(),
                                      w.week(n["rotation"], shift.start))


def _shift(w: World, n: dict) -> Message:
    return scheduled.shift_reminder(w.runbook, w.people, n["rotation"], shift_from(n["shift"]))


def _sla_breach(w: World, n: dict) -> Message:
    return clocks.sla_breach_reply(w.people, w.runbook.pipelines[n["pipeline"]], instant(n["deadline"]),
                                   audience_from(n["audience"]))


def _sla_late(w: World, n: dict) -> Message:
    return clocks.sla_late(w.runbook.pipelines[n["pipeline"]], instant(n["deadline"]), instant(n["arrived"]))


def _fix(render_one: Callable) -> Callable[[World, dict], Message]:
    return lambda w, n: render_one(w.runbook, w.people, get_incident(w.store, n["incident"]),
                                   audience_from(n["audience"]))


def _month_end(w: World, n: dict) -> Message:
    due = [i for i in (get_incident(w.store, x) for x in n["incidents"]) if i is not None]
    return clocks.month_end(w.runbook, w.people, n["pipeline"], instant(n["month_end"]), due,
                            audience_from(n["audience"]))


def _weekly_check(w: World, n: dict) -> Message:
    return clocks.weekly_check(w.runbook, w.people, n["pipeline"], instant(n["due"]), w.open_incidents(),
                               audience_from(n["audience"]))


def _check_reminder(w: World, n: dict) -> Message:
    return clocks.check_reminder(w.runbook, w.people, n["pipeline"], instant(n["due"]), audience_from(n["audience"]))


def _usergroup_failed(w: World, n: dict) -> Message:
    return clocks.usergroup_failed(n["usergroup"], n["person"], n["reason"])


RENDER: dict[str, Callable[[World, dict], Message]] = {
    "handoff": _handoff, "meeting_reminder": _meeting, "shift_reminder": _shift, "sla_breach": _sla_breach,
    "sla_late": _sla_late, "fix_chase": _fix(clocks.fix_chase), "fix_breach": _fix(clocks.fix_breach),
    "month_end": _month_end, "weekly_check": _weekly_check, "check_reminder": _check_reminder,
    "usergroup_failed": _usergroup_failed,
}
