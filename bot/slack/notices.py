"""Every scheduled message and every swap message is rendered here, when it is delivered.

The jobs and the swap flow queue neutral notices (bot.domain.notices): a kind and its facts. Rendering at delivery
reads the store as it is then (open incidents, the week's shifts with the latest swaps), so a message
that waited out a Slack outage is still current. Mentions come only from the notice's audience (the
policy's decision) or from the people a notice is about (the incoming person of a handoff).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable

from bot import report_chart
from bot.describe_report import week_summary
from bot.domain.deadlines import sla_watch
from bot.domain.notices import audience_from, instant, shift_from
from bot.domain.report import build as build_report
from bot.domain.rotation import Roster
from bot.domain.suggest import WINDOW as SUGGEST_WINDOW
from bot.runbook.models import Runbook
from bot.slack.blocks import Message
from bot.slack.replies import runbook_clocks, scheduled
from bot.slack.replies import swaps as say_swaps
from bot.slack.text import escape
from bot.store import swaps
from bot.store.pass_reads import first_successes
from bot.store.report_reads import facts as report_facts
from bot.store.suggest_reads import waiting_suggestions
from bot.store.incidents import folded_count, get_incident, list_incidents

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
        roster = Roster(self.runbook, rotation, self.overrides)
        return roster.shifts(start, start + WEEK)

    def open_incidents(self) -> list:
        return list_incidents(self.store, open_only=True)


class Gone(Exception):
    """The notice names something that is no longer there (a pipeline or rotation the runbook dropped
    since): nothing true can be said, so the row is given up rather than retried for ever."""


def render(store, runbook: Runbook, people, overrides, notice: dict) -> Message:
    """A notice as Block Kit (called in the store's thread: it may read the store)."""
    try:
        return RENDER[notice["kind"]](World(store, runbook, people, overrides), notice)
    except KeyError as err:
        raise Gone(f"{notice.get('kind')}: {err} is no longer in the runbook or the store") from None


def _handoff(w: World, n: dict) -> Message:
    shift = shift_from(n["shift"])
    unwatched = [(w.runbook.pipelines[key].name, why)
                 for key, (on, why) in sla_watch(w.runbook, first_successes(w.store, w.runbook)).items() if not on]
    # Recurring errors no common issue matched, in the 90 days up to the handoff: counted in SQL, not listed.
    waiting = waiting_suggestions(w.store, shift.start - SUGGEST_WINDOW, shift.start, w.runbook)
    current = n.get("current", False)
    # The weekly picture comes with a handoff from one person to the next (bot.jobs.handoff queues it).
    picture = (None if not report_chart.pictured(w.runbook) else "missing" if not report_chart.available()
               else None if current else "thread")
    return scheduled.handoff(w.runbook, w.people, n["rotation"], shift_from(n["prev"]), shift,
                             w.week(n["rotation"], shift.start), w.open_incidents(), current=current,
                             unwatched=unwatched, suggestions=waiting, last_week=last_week(w, shift.start),
                             picture=picture)


def last_week(w: World, at: datetime) -> list[str]:
    """How the 7 days up to the handoff went (SLA per pipeline, pages, open incidents): one report read."""
    start = at - WEEK
    return week_summary(build_report(w.runbook, report_facts(w.store, w.runbook, start, at), start, at))


def _meeting(w: World, n: dict) -> Message:
    shift = shift_from(n["shift"])
    return scheduled.meeting_reminder(w.runbook, w.people, n["rotation"], n["person"], n["outgoing"], shift,
                                      instant(n["at"]), timedelta(seconds=n["duration"]), w.open_incidents(),
                                      w.week(n["rotation"], shift.start))


def _shift(w: World, n: dict) -> Message:
    return scheduled.shift_reminder(w.runbook, w.people, n["rotation"], shift_from(n["shift"]))


def _sla_breach(w: World, n: dict) -> Message:
    return runbook_clocks.sla_breach_reply(w.people, w.runbook.pipelines[n["pipeline"]], instant(n["deadline"]),
                                   audience_from(n["audience"]))


def _sla_late(w: World, n: dict) -> Message:
    return runbook_clocks.sla_late(w.runbook.pipelines[n["pipeline"]], instant(n["deadline"]), instant(n["arrived"]))


def _fix(render_one: Callable) -> Callable[[World, dict], Message]:
    return lambda w, n: render_one(w.runbook, w.people, get_incident(w.store, n["incident"]),
                                   audience_from(n["audience"]))


def _month_end(w: World, n: dict) -> Message:
    due = [i for i in (get_incident(w.store, x) for x in n["incidents"]) if i is not None]
    return runbook_clocks.month_end(w.runbook, w.people, n["pipeline"], instant(n["month_end"]), due,
                            audience_from(n["audience"]))


def _weekly_check(w: World, n: dict) -> Message:
    return runbook_clocks.weekly_check(w.runbook, w.people, n["pipeline"], instant(n["due"]), w.open_incidents(),
                               audience_from(n["audience"]))


def _check_reminder(w: World, n: dict) -> Message:
    return runbook_clocks.check_reminder(w.runbook, w.people, n["pipeline"], instant(n["due"]), audience_from(n["audience"]))


def _swap(w: World, n: dict):
    return swaps.get(w.store, n["swap"])


def _swap_accepted(w: World, n: dict) -> Message:
    req = _swap(w, n)
    pieces = [(r.start_at, r.end_at) for r in swaps.override_records(w.store) if r.swap_id == req.id]
    return say_swaps.accepted_reply(req, pieces) if pieces else say_swaps.nothing_left_reply(req)


def _override_set(w: World, n: dict) -> Message:
    return say_swaps.override_announcement(
        w.people.mention, person=n["person"], start=instant(n["start"]), end=instant(n["end"]),
        replaced=n["replaced"], by=n["by"], by_id=n["by_id"], note=n["note"], override_id=n["override_id"])


def _override_cancelled(w: World, n: dict) -> Message:
    return say_swaps.cancel_announcement(w.people.mention, person=n["person"], start=instant(n["start"]),
                                         end=instant(n["end"]), by=n["by"], by_id=n["by_id"],
                                         override_id=n["override_id"])


def _missed(w: World, n: dict) -> Message:
    ids = [item["incident"] for item in n["items"] if item["what"] == "fix"]
    incidents = {i.id: i for i in (get_incident(w.store, x) for x in ids) if i is not None}
    return runbook_clocks.missed_summary(w.runbook, n["items"], incidents, instant(n["seen"]),
                                         audience_from(n["audience"]))


def _flood(w: World, n: dict) -> Message:
    return runbook_clocks.flood_summary(w.runbook, n["pipeline"], folded_count(w.store, n["key"]), instant(n["since"]),
                                        instant(n["until"]), audience_from(n["audience"]))


def _usergroup_failed(w: World, n: dict) -> Message:
    return runbook_clocks.usergroup_failed(n["usergroup"], n["person"], n["reason"])


RENDER: dict[str, Callable[[World, dict], Message]] = {
    "handoff": _handoff, "meeting_reminder": _meeting, "shift_reminder": _shift, "sla_breach": _sla_breach,
    "sla_late": _sla_late, "fix_chase": _fix(runbook_clocks.fix_chase), "fix_breach": _fix(runbook_clocks.fix_breach),
    "month_end": _month_end, "weekly_check": _weekly_check, "check_reminder": _check_reminder,
    "usergroup_failed": _usergroup_failed, "missed": _missed, "flood": _flood,
    "swap_request": lambda w, n: say_swaps.request_post(_swap(w, n), w.people.mention),
    "swap_accepted": _swap_accepted,
    "swap_expired": lambda w, n: say_swaps.expired_reply(_swap(w, n)),
    "swap_followup": lambda w, n: say_swaps.followup(_swap(w, n), timedelta(seconds=n["left"]), n["reason"]),
    "override_set": _override_set,
    "override_cancelled": _override_cancelled,
    "shift_moved": lambda w, n: say_swaps.shift_moved(
        w.people.mention, n["person"], n["why"], shift_from(n["next"]),
        [(instant(a), instant(b)) for a, b in n.get("gained", ())], [(instant(a), instant(b)) for a, b in n.get("lost", ())]),
}
