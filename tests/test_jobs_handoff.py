"""Handoffs and rotation reminders, driven by explicit clocks: a year with restarts, DST, swaps,
transition meetings, and two replicas on one database."""

from __future__ import annotations

import json

import random

import pytest
import threading
from datetime import timedelta

from bot.domain.rotation import Roster
from bot.store.overrides import add_override
from tests.helpers_runbook import source, source_with, team_runbook
from tests.jobs_helpers import at, rows, tick
from tests.store_fixtures import backend, make_store, store  # noqa: F401

from bot.runbook import loads


def handoff_dues(store) -> list:
    return [r.idempotency_key.split(":", 2)[2].removesuffix("#0") for r in rows(store, "handoff")]


@pytest.mark.parametrize("backend", ["sqlite"])  # PostgreSQL replicas: see the two-scheduler test
def test_a_year_of_handoffs_with_restarts_sends_each_once(make_store, backend):
    rb = team_runbook("UTC", start="2026-01-05")
    rng = random.Random(5)
    start, end = at(2026, 1, 1), at(2027, 1, 1)
    store = make_store()
    now, restarts = start, 0
    while now < end:
        if rng.random() < 0.3:  # a restart: a fresh store (engine, pool) over the same database
            store = make_store(migrate=True)
            restarts += 1
        tick(store, rb, now)
        now += timedelta(minutes=rng.randint(10, 60 * 70))  # up to ~3 days down at a time
    tick(store, rb, end)
    expected = [s.start for s in Roster(rb, "main", ()).shifts(start, end) if s.start >= start]
    got = rows(store, "handoff", rb)
    assert restarts > 20
    assert [r.idempotency_key for r in got] == sorted({r.idempotency_key for r in got})  # each once, in order
    assert len(got) == len(expected) == 52
    for row, due in zip(got, expected):
        assert row.created_at >= due and row.created_at < due + timedelta(days=7)  # late at worst, never stale
        person = Roster(rb, "main", ()).person_at(due)
        assert f"→ {person}" in row.args["text"] or f"{person}, from" in row.args["text"]


def test_berlin_handoff_stays_at_nine_local_across_dst(store):
    rb = team_runbook("Europe/Berlin", start="2026-03-02")
    tick(store, rb, at(2026, 3, 20))
    tick(store, rb, at(2026, 3, 22, 12))
    # Winter: 09:00 CET is 08:00Z. Summer (from 29 March): 09:00 CEST is 07:00Z.
    assert not tick(store, rb, at(2026, 3, 23, 7, 59)).sent
    assert tick(store, rb, at(2026, 3, 23, 8, 0)).sent == ["handoff:main:2026-03-23T08:00:00Z"]
    # The personal reminder one local day before the 30 March shift: Sunday 09:00 CEST, on the DST day.
    assert tick(store, rb, at(2026, 3, 29, 7, 0)).sent == ["shift_reminder:main/Ben:2026-03-29T07:00:00Z"]
    assert not tick(store, rb, at(2026, 3, 30, 6, 59)).sent
    assert tick(store, rb, at(2026, 3, 30, 7, 0)).sent == ["handoff:main:2026-03-30T07:00:00Z"]
    # Autumn: back to 08:00Z after 25 October.
    for day in (12, 19, 26):
        tick(store, rb, at(2026, 10, day, 12))
    assert handoff_dues(store)[-3:] == ["2026-10-12T07:00:00Z", "2026-10-19T07:00:00Z", "2026-10-26T08:00:00Z"]


def test_handoff_only_when_the_person_changes(store):
    # Ada covers Ben's whole week: no handoff on 12 January; one on the 19th, to Cy.
    rb = team_runbook("UTC", start="2026-01-05",
                      overrides="[{person: Ada, start: 2026-01-12T09:00, end: 2026-01-19T09:00, rotation: main}]")
    for day in range(4, 21):
        tick(store, rb, at(2026, 1, day, 12))
    assert handoff_dues(store) == ["2026-01-05T09:00:00Z", "2026-01-19T09:00:00Z"]
    assert "Ada → Cy" in rows(store, "handoff", rb)[-1].args["text"]


def test_a_swap_made_in_slack_is_a_handoff_at_its_start_and_end(store):
    rb = team_runbook("UTC", start="2026-01-05")
    tick(store, rb, at(2026, 1, 5, 10))
    add_override(store, rotation="main", person="Cy", start=at(2026, 1, 7, 9), end=at(2026, 1, 8, 9),
                 created_by="U1", now=at(2026, 1, 6))
    for hour in range(0, 72, 3):
        tick(store, rb, at(2026, 1, 6) + timedelta(hours=hour))
    texts = [r.args["text"] for r in rows(store, "handoff", rb)]
    assert handoff_dues(store) == ["2026-01-05T09:00:00Z", "2026-01-07T09:00:00Z", "2026-01-08T09:00:00Z"]
    assert "Ada → Cy" in texts[1] and "Cy → Ada" in texts[2]
    assert any("covers" in b["text"]["text"] for b in rows(store, "handoff", rb)[1].args["blocks"]
               if b["type"] == "section")


def test_handoff_message_shows_the_week_paging_incidents_and_weekly_checks(store):
    rb = source()
    tick(store, rb, at(2026, 11, 22, 12))
    tick(store, rb, at(2026, 11, 23, 9))
    row = rows(store, "handoff", rb)[-1]
    assert row.channel == "#data-oncall"
    body = "\n".join(b["text"]["text"] for b in row.args["blocks"] if b["type"] == "section")
    assert "*Laura* hands over to *Jane*" in body
    assert "Thanksgiving" in body                                   # Thu 26 Nov: a holiday
    assert "(Thanksgiving Day): *Jane* · pages for Engagement" in body  # Growth does not page on holidays
    assert "*SLA not watched*\n• Profit: waiting for its first success report" in body  # nothing reported yet
    assert "(weekend): *Jane* · pages for Growth, Engagement" in body
    assert "Aggregate data for investors*: no on-call" in body and "every Mon 10:00" in body


def test_transition_meeting_reminders_go_to_outgoing_and_incoming_until_the_meeting(store):
    rb = source()  # meeting at the handoff (offset 0m), reminders 1d and 15m before
    tick(store, rb, at(2026, 11, 14))
    tick(store, rb, at(2026, 11, 15, 9))
    day_before = {r.idempotency_key for r in rows(store, "meeting_reminder")}
    assert day_before == {"meeting_reminder:data-engineering/Anna/1d:2026-11-15T09:00:00Z#0",
                          "meeting_reminder:data-engineering/Laura/1d:2026-11-15T09:00:00Z#0"}
    text = rows(store, "meeting_reminder", rb)[0].args
    assert f"<!date^{int(at(2026, 11, 16, 9).timestamp())}^" in text["blocks"][0]["text"]["text"]     # the meeting, 16 Nov 09:00Z
    assert "Agenda" in text["blocks"][1]["text"]["text"]
    # The bot is down from 08:40 to 09:10: the 15-minute reminders are stale, recorded as skipped.
    result = tick(store, rb, at(2026, 11, 16, 9, 10))
    assert sorted(k for k in result.skipped if k.startswith("meeting")) == [
        "meeting_reminder:data-engineering/Anna/15m:2026-11-16T08:45:00Z",
                                      "meeting_reminder:data-engineering/Laura/15m:2026-11-16T08:45:00Z"]
    assert [k for k in result.sent if k.startswith("handoff")] == ["handoff:data-engineering:2026-11-16T09:00:00Z"]
    # Laura's own shift reminder is due the working day before (Friday 13th), before this bot's first
    # pass: the catch-up never sends what was due before the bot existed.
    assert not [r for r in rows(store, "shift_reminder") if "Laura" in r.idempotency_key]


def test_meeting_offset_and_leads_come_from_the_runbook(store):
    rb = loads(source_with("transition_meeting: {duration: 30m, offset: 0m, remind: [1d, 15m]}",
                           "transition_meeting: {duration: 45m, offset: -30m, remind: [2h]}"), "<t>").runbook
    tick(store, rb, at(2026, 11, 16, 6))
    result = tick(store, rb, at(2026, 11, 16, 6, 30))
    assert sorted(k for k in result.sent if k.startswith("meeting")) == [
        "meeting_reminder:data-engineering/Anna/2h:2026-11-16T06:30:00Z",
                                   "meeting_reminder:data-engineering/Laura/2h:2026-11-16T06:30:00Z"]
    assert "(45m)" in rows(store, "meeting_reminder", rb)[0].args["blocks"][0]["text"]["text"]


def test_a_fresh_install_owes_nothing_from_before_its_first_pass(store):
    result = tick(store, source(), at(2026, 11, 12, 12))
    assert result.sent + result.skipped == ["handoff:data-engineering:2026-11-09T09:00:00Z"]  # the current shift, announced
    # ...as the current shift, not as news three days late.
    text = rows(store, "handoff", source())[0].args
    assert text["text"].startswith("On call (data-engineering): Anna since 2026-11-09 09:00 UTC")
    assert "hands over" not in json.dumps(text["blocks"]) and "*Anna* is on call since" in json.dumps(text["blocks"])
    tick(store, source(), at(2026, 11, 16, 9))  # the next handoff is news again
    assert "*Anna* hands over to *Laura*" in json.dumps(rows(store, "handoff", source())[-1].args["blocks"])


def test_two_schedulers_on_one_database_send_each_message_once(make_store):
    rb = source()
    first, second = make_store(), make_store()
    from bot.alerts.intake import receive
    from bot.alerts.model import Alert

    for name in ("profit", "growth", "engagement"):  # success reports are wired: their SLA is watched
        receive(first, rb, Alert(source="generic", pipeline=name, status="succeeded", occurred_at=at(2026, 10, 31)),
                at(2026, 10, 31))
    tick(first, rb, at(2026, 11, 1))
    moments = [at(2026, 11, 2) + timedelta(minutes=30 * i) for i in range(36)]
    barrier = threading.Barrier(2)
    errors = []

    def replica(store):
        try:
            for now in moments:
                barrier.wait()
                tick(store, rb, now)
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)
            barrier.abort()

    threads = [threading.Thread(target=replica, args=(s,)) for s in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    keys = [r.idempotency_key for r in rows(first)]
    assert len(keys) == len(set(keys))
    kinds = sorted(r.kind for r in rows(first))
    assert kinds.count("handoff") == 1 and kinds.count("weekly_check") == 1 and kinds.count("open") == 6  # 2 SLA days x 3 pipelines


def test_a_runbook_change_reschedules_without_duplicates(store):
    rb = source()
    tick(store, rb, at(2026, 11, 15, 12))
    tick(store, rb, at(2026, 11, 16, 9, 1))
    # Reloaded with a later meeting and a new lead: the sent handoff stays sent, only new reminders come.
    changed = loads(source_with("transition_meeting: {duration: 30m, offset: 0m, remind: [1d, 15m]}",
                                "transition_meeting: {duration: 30m, offset: 1h, remind: [1d, 15m, 5m]}"),
                    "<t>").runbook
    tick(store, changed, at(2026, 11, 16, 9, 2))
    tick(store, changed, at(2026, 11, 16, 9, 55))
    assert handoff_dues(store) == ["2026-11-09T09:00:00Z", "2026-11-16T09:00:00Z"]
    late = sorted(r.idempotency_key for r in rows(store, "meeting_reminder") if "T09:" in r.idempotency_key)
    assert late == ["meeting_reminder:data-engineering/Anna/15m:2026-11-16T09:45:00Z#0",
                    "meeting_reminder:data-engineering/Anna/5m:2026-11-16T09:55:00Z#0",
                    "meeting_reminder:data-engineering/Laura/15m:2026-11-16T09:45:00Z#0",
                    "meeting_reminder:data-engineering/Laura/5m:2026-11-16T09:55:00Z#0"]


@pytest.mark.parametrize("moved_to", ["08:00", "10:00"])
def test_moving_the_handoff_time_does_not_announce_the_same_change_twice(store, moved_to):
    rb = source()
    tick(store, rb, at(2026, 11, 15, 12))
    assert "handoff:data-engineering:2026-11-16T09:00:00Z" in tick(store, rb, at(2026, 11, 16, 9, 1)).sent
    moved = loads(source_with('handoff: {day: mon, time: "09:00"}', f'handoff: {{day: mon, time: "{moved_to}"}}'),
                  "<t>").runbook
    for hour in (9, 10, 11):
        tick(store, moved, at(2026, 11, 16, hour, 30))
    assert [k for k in handoff_dues(store) if k.startswith("2026-11-16")] == ["2026-11-16T09:00:00Z"]
    # The next week's handoff (a new change) comes at the new time.
    tick(store, moved, at(2026, 11, 23, 12))
    assert handoff_dues(store)[-1] == f"2026-11-23T{moved_to}:00Z"


def test_a_clock_jump_forward_catches_up_instead_of_going_silent(store):
    rb = team_runbook("UTC", start="2026-01-05")
    tick(store, rb, at(2026, 1, 5, 10))
    # The host sleeps from Sunday 8 p.m. to Monday noon: the next pass sends what is still current.
    tick(store, rb, at(2026, 1, 11, 20))
    result = tick(store, rb, at(2026, 1, 12, 12))
    assert result.sent == ["handoff:main:2026-01-12T09:00:00Z"]
    # Shift reminders due while asleep, for a shift that has started, are recorded stale, not sent.
    tick(store, rb, at(2026, 1, 17, 12))
    result = tick(store, rb, at(2026, 1, 19, 12))
    assert result.skipped == ["shift_reminder:main/Cy:2026-01-18T09:00:00Z"]
    assert result.sent == ["handoff:main:2026-01-19T09:00:00Z"]


def test_user_group_follows_the_incoming_person_and_failures_are_said_once(store):
    import asyncio
    from types import SimpleNamespace

    from bot.jobs import usergroup
    from bot.jobs.catchup import run_pass
    from bot.store.notifications import state_of

    rb = loads(source_with("    # usergroup: S0123ABCD", "    usergroup: S0ONCALL  #"), "<t>").runbook
    calls, ids = [], {"Anna": "U0ANNA"}

    class Client:
        async def usergroups_users_update(self, **kwargs):
            calls.append(kwargs)

    class Directory:
        async def resolve(self, names):
            pass

        async def slack_id(self, name):
            return ids.get(name)

    async def db(fn, *args):
        return fn(store, *args)

    rt = SimpleNamespace(runbook=rb, client=Client(), directory=Directory(), store=store, db=db,
                         clock=lambda: at(2026, 11, 9, 9, 1))
    result = run_pass(store, rb, at(2026, 11, 9, 9, 1))
    assert [o.key for o in result.calls] == ["usergroup:data-engineering:2026-11-09T09:00:00Z"]
    assert asyncio.run(usergroup.sync(rt, result.calls[0])) is True
    assert calls == [{"usergroup": "S0ONCALL", "users": ["U0ANNA"]}]
    assert state_of(store, result.calls[0].key) == "sent"
    # Laura has no Slack account the bot can find: the group keeps Anna, the channel is told once.
    rt.clock = lambda: at(2026, 11, 16, 9, 1)
    result = run_pass(store, rb, at(2026, 11, 16, 9, 1))
    for _ in range(2):
        assert asyncio.run(usergroup.sync(rt, result.calls[0])) is False
    assert len(calls) == 1
    said = rows(store, "usergroup_failed", rb)
    assert len(said) == 1 and said[0].channel == "#data-oncall" and "Laura" in said[0].args["blocks"][0]["text"]["text"]


def test_the_shift_reminder_comes_the_working_day_before(store):
    rb = source()  # shift_reminder: 1 working day; handoffs Monday 09:00 UTC

    def reminders(result) -> list[str]:
        return [k for k in result.sent if k.startswith("shift_reminder")]

    tick(store, rb, at(2026, 11, 12, 12))
    assert not reminders(tick(store, rb, at(2026, 11, 13, 8, 59)))
    assert reminders(tick(store, rb, at(2026, 11, 13, 9, 0))) == ["shift_reminder:data-engineering/Laura:2026-11-13T09:00:00Z"]
    assert not reminders(tick(store, rb, at(2026, 11, 15, 9, 0)))  # nothing on Sunday
    # Christmas Eve is a team day off and Christmas (Friday 25 December 2026) a US holiday in this
    # runbook's calendar: the shift of Monday the 28th is announced on Wednesday the 23rd.
    sent = []
    for day in range(17, 29):
        sent += reminders(tick(store, rb, at(2026, 12, day, 12)))
    assert sent == ["shift_reminder:data-engineering/Jane:2026-12-18T09:00:00Z",
                    "shift_reminder:data-engineering/Danny:2026-12-23T09:00:00Z"]


def _open_growth_incidents(store, rb, count: int) -> None:
    from bot.alerts.intake import receive
    from bot.alerts.model import Alert

    for n in range(count):  # Growth's run of 14 Nov: fix by 15 Nov 00:00, before the 16 Nov meeting
        receive(store, rb, Alert(source="generic", pipeline="growth", status="failed", occurred_at=at(2026, 11, 14, 2),
                                 dedup_key=f"run-{n}"), at(2026, 11, 14, 2))


def test_the_meeting_agenda_keeps_whole_lines_and_says_how_many_more(store):
    rb = source()
    tick(store, rb, at(2026, 11, 14))
    _open_growth_incidents(store, rb, 40)  # more than one Slack section holds
    tick(store, rb, at(2026, 11, 15, 9))
    agenda = rows(store, "meeting_reminder", rb)[0].args["blocks"][1]["text"]["text"]
    assert len(agenda) <= 3000 and "more line(s): see `/oncall` and the alert threads" in agenda.splitlines()[-1]
    assert all(line.startswith(("*Agenda*", "• ", "Open incidents:", "… and")) for line in agenda.splitlines())


def test_the_meeting_agenda_tells_missed_deadlines_from_pending_ones(store):
    rb = source()
    tick(store, rb, at(2026, 11, 14))
    _open_growth_incidents(store, rb, 1)
    tick(store, rb, at(2026, 11, 15, 9))
    agenda = rows(store, "meeting_reminder", rb)[0].args["blocks"][1]["text"]["text"]
    assert "Pending deadlines:\n• none" in agenda
    assert "Fix deadlines already missed:\n• growth #" in agenda
