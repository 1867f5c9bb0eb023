"""Partial-day cover across a DST change in a non-UTC team zone, and the span parser's rules.

Europe/Berlin leaves summer time on Sunday 2026-10-25 (03:00 CEST becomes 02:00 CET): a request
from Saturday 18:00 to Sunday 12:00 local lasts 19 hours, not 18.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.changes import changed_people, on_call_throughout, time_of
from bot.domain.rotation import Roster
from bot.domain.rotation import OverrideSpan
from bot.domain.spans import SpanError, parse_span
from bot.jobs import swap_clock
from bot.store import swaps
from tests.helpers_runbook import runbook
from tests.conftest import ShiftedClock
from tests.slackreq import action_body, command_body, signed_headers

BERLIN = ZoneInfo("Europe/Berlin")
TEAM = """\
team:
  name: Streaming
  timezone: Europe/Berlin
  channels: {oncall: "#st-oncall", alerts: "#st-alerts"}
  admins: [Mia]
people:
  Mia: {slack_id: U0MIA0001}
  Ben: {slack_id: U0BEN0002}
  Eva: {slack_id: U0EVA0003}
rotations:
  stream:
    members: [Ben, Eva, Mia]
    start: 2026-10-19
    handoff: {day: mon, time: "09:00"}
    turn: 1w
pipelines:
  clicks:
    name: Clickstream
    owners: {primary: Mia}
    on_call: {rotation: stream, page: [weekdays, weekends, holidays]}
"""
EVA = "U0EVA0003"


@pytest.fixture
def team(database_url, tmp_path, fake_slack, make_app, monkeypatch):  # the app stops before the DB goes
    monkeypatch.setattr("bot.slack.delivery.CHANNEL_INTERVAL", 0)
    path = tmp_path / "streaming.yaml"
    path.write_text(TEAM)
    client = make_app(fake_slack, runbook=path, DATABASE_URL=database_url)
    client.clock = ShiftedClock(datetime(2026, 10, 20, 12, 0, tzinfo=UTC))
    client.runtime.clock = client.clock
    return client


def slash(client, text: str, user: str) -> dict:
    body = command_body("/oncall", text, user_id=user)
    response = client.post("/slack/events", content=body, headers=signed_headers(body))
    assert response.status_code == 200
    return response.json()


def test_a_partial_day_cover_across_the_dst_change(team, fake_slack):
    reply = slash(team, "swap 2026-10-24 18:00 2026-10-25 12:00 family visit", "U0BEN0002")
    assert "posted" in reply["text"], reply
    req = swaps.listing(team.runtime.store)[-1]
    assert req.start_at == datetime(2026, 10, 24, 16, 0, tzinfo=UTC)   # 18:00 CEST
    assert req.end_at == datetime(2026, 10, 25, 11, 0, tzinfo=UTC)     # 12:00 CET
    assert req.end_at - req.start_at == timedelta(hours=19)
    body = action_body("swap_accept", str(req.id), user_id=EVA, response_url=fake_slack.url + "response")
    assert team.post("/slack/events", content=body, headers=signed_headers(body)).status_code == 200
    assert swaps.get(team.runtime.store, req.id).accepted_by == "Eva"

    for hour, who in ((15, "Ben"), (16, "Eva"), (23, "Eva")):
        team.clock.set(datetime(2026, 10, 24, hour, 30, tzinfo=UTC))
        assert slash(team, "", EVA)["text"].startswith(f"{who} is on call"), hour
    team.clock.set(datetime(2026, 10, 25, 1, 30, tzinfo=UTC))   # 02:30 CET, the repeated hour
    assert slash(team, "", EVA)["text"].startswith("Eva is on call")
    team.clock.set(datetime(2026, 10, 25, 11, 0, tzinfo=UTC))   # 12:00 CET: Ben again
    assert slash(team, "", EVA)["text"].startswith("Ben is on call")
    ics = team.get("/oncall.ics").text
    assert "On call: Eva (covering Ben)" in ics
    assert "DTSTART;TZID=Europe/Berlin:20261024T180000" in ics and "DTEND;TZID=Europe/Berlin:20261025T120000" in ics
    team.portal.call(swap_clock, team.runtime)  # nothing left to expire: a no-op
    assert swaps.get(team.runtime.store, req.id).state == "accepted"


def test_whole_days_in_the_team_zone_and_an_inclusive_end_date():
    now = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)  # a Tuesday
    span, rest = parse_span("2026-10-24 2026-10-25 away".split(), BERLIN, now)
    assert (span.start, span.end, rest) == (datetime(2026, 10, 23, 22, tzinfo=UTC),
                                            datetime(2026, 10, 25, 23, tzinfo=UTC), ["away"])
    assert span.end - span.start == timedelta(hours=49)  # two local days, one of them 25 hours long
    tomorrow, _ = parse_span(["tomorrow"], BERLIN, now)
    assert tomorrow.start == datetime(2026, 10, 20, 22, tzinfo=UTC)
    friday, _ = parse_span(["fri"], BERLIN, now)
    assert friday.start.astimezone(BERLIN).date().isoformat() == "2026-10-23"
    exact, _ = parse_span(["2026-10-25T01:00", "2026-10-25T04:00"], BERLIN, now)
    assert exact.end - exact.start == timedelta(hours=4)
    started, _ = parse_span(["now", "2026-10-20T18:00"], BERLIN, now)
    assert started.start == now
    for bad in (["next", "week"], ["2026-10-25T09:00"], ["2026-10-25", "2026-10-24"], ["now"], []):
        with pytest.raises(SpanError):
            parse_span(bad, BERLIN, now)


def test_a_mistyped_date_or_time_is_an_error_not_the_start_of_the_note(team):
    now = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)
    for typed, said in (("mon 25:00 tue", "`25:00`"), ("2026-10-24 2026-10-32 away", "`2026-10-32`"),
                        ("2026-10-24T09:00+01:00 2026-10-24T12:00", "without an offset")):
        with pytest.raises(SpanError, match=said):
            parse_span(typed.split(), BERLIN, now)
    # The words after a readable span stay the note, times included.
    span, rest = parse_span("2026-10-24 dentist at 10:00".split(), BERLIN, now)
    assert rest == ["dentist", "at", "10:00"]
    # In Slack the person is told what to fix, and nothing is posted.
    body = command_body("/oncall", "swap mon 25:00 tue", user_id=EVA)
    reply = team.post("/slack/events", content=body, headers=signed_headers(body)).json()
    assert "`25:00`" in reply["text"] and not swaps.listing(team.runtime.store)


def test_who_changes_and_on_call_throughout():
    rb = runbook(TEAM)
    start, end = datetime(2026, 10, 24, 16, tzinfo=UTC), datetime(2026, 10, 25, 11, tzinfo=UTC)
    cover = [OverrideSpan("Eva", start, end, "stream")]
    assert changed_people(rb, "stream", [], cover, start, end) == ["Ben", "Eva"]
    r = Roster(rb, "stream", cover)
    assert time_of(r, "Eva", start - timedelta(days=1), end) == [(start, end)]
    assert on_call_throughout(r, "Eva", start, end)
    assert not on_call_throughout(r, "Ben", start - timedelta(hours=1), end)
    # A cover across the handoff only moves the part that is the requester's.
    handoff = datetime(2026, 10, 26, 8, tzinfo=UTC)  # Monday 09:00 CET: Eva's week begins
    assert time_of(Roster(rb, "stream", ()), "Ben", handoff - timedelta(hours=5), handoff + timedelta(hours=5)) == [
        (handoff - timedelta(hours=5), handoff)]
    assert r.at(start).person == "Eva" and r.at(start).scheduled == "Ben"
