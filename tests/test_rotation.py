"""Who is on call: the weekly rotation of the source runbook, zones with DST, overrides, daily turns."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.answers import oncall_now
from bot.domain.rotation import OverrideSpan, Roster, runbook_overrides
from tests.helpers_runbook import MEMBERS, ROTATION, runbook, source, source_with, team_runbook, utc

FIRST_HANDOFF = utc(2026, 11, 2, 9)


def source_roster(*overrides: OverrideSpan) -> Roster:
    return Roster(source(), ROTATION, overrides)


def cover(person: str, start: datetime, end: datetime, rotation: str = ROTATION) -> OverrideSpan:
    return OverrideSpan(person, start, end, rotation)


# The source runbook: week 1 Danny, then Anna, Laura, Jane, over two years --------------------------

def test_week_one_is_danny_from_the_first_handoff():
    shift = source_roster().at(FIRST_HANDOFF)
    assert (shift.person, shift.start, shift.end) == ("Danny", FIRST_HANDOFF, utc(2026, 11, 9, 9))


@pytest.mark.parametrize("week", range(104))
def test_four_week_cycle_holds_for_two_years(week):
    r = source_roster()
    start = FIRST_HANDOFF + timedelta(weeks=week)
    for probe in (start, start + timedelta(days=3, hours=17), start + timedelta(weeks=1, seconds=-1)):
        shift = r.at(probe)
        assert shift.person == MEMBERS[week % 4], probe
        assert (shift.start, shift.end) == (start, start + timedelta(weeks=1))


def test_two_years_of_shifts_are_contiguous_and_in_order():
    shifts = source_roster().shifts(FIRST_HANDOFF, FIRST_HANDOFF + timedelta(weeks=104))
    assert len(shifts) == 104
    assert [s.person for s in shifts] == MEMBERS * 26
    assert all(a.end == b.start for a, b in zip(shifts, shifts[1:]))
    assert all(s.start.weekday() == 0 and s.start.time() == time(9) for s in shifts)


def test_the_handoff_instant_belongs_to_the_incoming_person():
    r = source_roster()
    handoff = utc(2026, 11, 9, 9)
    assert r.at(handoff - timedelta(microseconds=1)).person == "Danny"
    assert r.at(handoff).person == "Anna"


def test_before_the_rotation_starts_nobody_is_on_call():
    r = source_roster()
    assert r.at(FIRST_HANDOFF - timedelta(seconds=1)) is None
    assert r.at(utc(2026, 1, 1)) is None
    now = oncall_now(source(), utc(2026, 10, 30, 12), ())
    assert now.shift is None
    assert (now.next.person, now.next.start) == ("Danny", FIRST_HANDOFF)


def test_who_is_next():
    now = oncall_now(source(), utc(2026, 11, 4, 3), ())
    assert (now.shift.person, now.next.person, now.next.start) == ("Danny", "Anna", utc(2026, 11, 9, 9))
    last_week = oncall_now(source(), utc(2026, 11, 25), ())
    assert (last_week.shift.person, last_week.next.person) == ("Jane", "Danny")


# A team zone with DST: the handoff stays at 09:00 local ------------------------------------------

def weekly_handoffs(rb, weeks: int) -> list:
    r = Roster(rb, "main", ())
    first = r.handoff(0)
    return r.shifts(first, first + timedelta(weeks=weeks))


@pytest.mark.parametrize("zone,winter_utc_hour,summer_utc_hour", [
    ("Europe/Berlin", 8, 7),
    ("America/New_York", 14, 13),
])
def test_handoff_stays_at_local_time_across_dst_for_two_years(zone, winter_utc_hour, summer_utc_hour):
    rb = team_runbook(zone, members=("Danny", "Anna", "Laura", "Jane"))
    tz = ZoneInfo(zone)
    shifts = weekly_handoffs(rb, 104)
    assert len(shifts) == 104
    assert [s.person for s in shifts] == MEMBERS * 26
    hours = set()
    for s in shifts:
        local = s.start.astimezone(tz)
        assert (local.weekday(), local.time()) == (0, time(9)), s
        summer = bool(local.dst())
        assert s.start.hour == (summer_utc_hour if summer else winter_utc_hour)
        hours.add(s.start.hour)
        assert s.end - s.start in (timedelta(hours=167), timedelta(hours=168), timedelta(hours=169))
    assert hours == {winter_utc_hour, summer_utc_hour}  # both sides of DST were crossed
    assert all(a.end == b.start for a, b in zip(shifts, shifts[1:]))


def test_berlin_spring_forward_week():
    rb = team_runbook("Europe/Berlin", members=("Danny", "Anna", "Laura", "Jane"))  # week 1 from 2026-01-05
    r = Roster(rb, "main", ())
    # 2026-03-29 clocks go forward; Monday 2026-03-30 09:00 CEST is 07:00Z, week 13 (Danny again).
    assert r.at(utc(2026, 3, 30, 6, 59)).person == "Jane"
    shift = r.at(utc(2026, 3, 30, 7))
    assert (shift.person, shift.start, shift.end) == ("Danny", utc(2026, 3, 30, 7), utc(2026, 4, 6, 7))
    jane = r.at(utc(2026, 3, 29, 12))
    assert (jane.start, jane.end) == (utc(2026, 3, 23, 8), utc(2026, 3, 30, 7))  # a 167-hour week


def test_berlin_fall_back_week():
    rb = team_runbook("Europe/Berlin", members=("Danny", "Anna", "Laura", "Jane"))
    r = Roster(rb, "main", ())
    # 2026-10-25 clocks go back; Monday 2026-10-26 09:00 CET is 08:00Z, week 43 (Laura).
    assert r.at(utc(2026, 10, 26, 7, 30)).person == "Anna"  # 08:30 local: still before the handoff
    shift = r.at(utc(2026, 10, 26, 8))
    assert (shift.person, shift.start, shift.end) == ("Laura", utc(2026, 10, 26, 8), utc(2026, 11, 2, 8))
    anna = r.at(utc(2026, 10, 25, 1, 30))  # inside the repeated hour
    assert (anna.start, anna.end) == (utc(2026, 10, 19, 7), utc(2026, 10, 26, 8))  # a 169-hour week


def test_berlin_shift_across_the_year_boundary():
    rb = team_runbook("Europe/Berlin", members=("Danny", "Anna", "Laura", "Jane"))
    r = Roster(rb, "main", ())
    shift = r.at(datetime(2027, 1, 1, 0, 0, tzinfo=ZoneInfo("Europe/Berlin")))
    assert (shift.person, shift.start, shift.end) == ("Jane", utc(2026, 12, 28, 8), utc(2027, 1, 4, 8))
    assert r.at(utc(2027, 1, 4, 8)).person == "Danny"


def test_new_york_handoff_on_the_dst_mondays():
    rb = team_runbook("America/New_York", members=("Danny", "Anna", "Laura", "Jane"))
    r = Roster(rb, "main", ())
    assert r.at(utc(2026, 3, 9, 13)).start == utc(2026, 3, 9, 13)   # EDT since 2026-03-08
    assert r.at(utc(2026, 3, 9, 12, 59)).start == utc(2026, 3, 2, 14)
    assert r.at(utc(2026, 11, 2, 14)).start == utc(2026, 11, 2, 14)  # EST since 2026-11-01
    assert r.at(utc(2026, 11, 2, 13, 30)).end == utc(2026, 11, 2, 14)


def test_handoff_inside_the_spring_forward_gap_moves_to_the_first_real_instant():
    # Sunday 02:30 does not exist in Berlin on 2026-03-29: the handoff happens at 03:30 CEST (01:30Z).
    rb = team_runbook("Europe/Berlin", start="2026-03-01", handoff='{day: sun, time: "02:30"}')
    r = Roster(rb, "main", ())
    shift = r.at(utc(2026, 3, 29, 2))
    assert shift.start == utc(2026, 3, 29, 1, 30)
    assert shift.end == utc(2026, 4, 5, 0, 30)
    before = r.at(utc(2026, 3, 29, 1, 29))
    assert before.end == shift.start


# Overrides --------------------------------------------------------------------------------------

ANNA_WEEK = utc(2026, 11, 9, 9)  # Anna: Mon 2026-11-09 09:00 -> Mon 2026-11-16 09:00


def test_override_of_a_partial_shift():
    # Laura covers Anna's Tuesday 09:00 -> Wednesday 09:00.
    r = source_roster(cover("Laura", utc(2026, 11, 10, 9), utc(2026, 11, 11, 9)))
    monday = r.at(utc(2026, 11, 9, 12))
    assert (monday.person, monday.start, monday.end) == ("Anna", ANNA_WEEK, utc(2026, 11, 10, 9))
    tuesday = r.at(utc(2026, 11, 10, 12))
    assert (tuesday.person, tuesday.start, tuesday.end) == ("Laura", utc(2026, 11, 10, 9), utc(2026, 11, 11, 9))
    assert tuesday.is_override and tuesday.scheduled == "Anna"
    wednesday = r.at(utc(2026, 11, 11, 10))
    assert (wednesday.person, wednesday.start, wednesday.end) == ("Anna", utc(2026, 11, 11, 9), utc(2026, 11, 16, 9))
    assert not wednesday.is_override


def test_override_from_the_runbook_yaml_in_the_team_zone():
    text = source_with("overrides: []",
                       "overrides:\n  - {person: Laura, start: 2026-11-10T09:00, end: 2026-11-11T09:00, note: covers Anna}")
    rb = runbook(text)
    assert [(o.person, o.start, o.end) for o in runbook_overrides(rb)] == [
        ("Laura", utc(2026, 11, 10, 9), utc(2026, 11, 11, 9))]
    assert oncall_now(rb, utc(2026, 11, 10, 12), ()).shift.person == "Laura"
    assert oncall_now(rb, utc(2026, 11, 11, 10), ()).shift.person == "Anna"


def test_yaml_override_without_offset_is_local_time_of_a_non_utc_team():
    rb = team_runbook("Europe/Berlin", overrides="[{person: Cy, start: 2026-07-01T09:00, end: 2026-07-01T18:00}]")
    shift = Roster(rb, "main", ()).at(utc(2026, 7, 1, 12))
    assert (shift.person, shift.start, shift.end) == ("Cy", utc(2026, 7, 1, 7), utc(2026, 7, 1, 16))


def test_overlapping_overrides_the_later_one_wins():
    laura = cover("Laura", utc(2026, 11, 10, 9), utc(2026, 11, 12, 9))
    jane = cover("Jane", utc(2026, 11, 11, 0), utc(2026, 11, 11, 12))
    r = source_roster(laura, jane)
    assert r.at(utc(2026, 11, 10, 12)).person == "Laura"
    inner = r.at(utc(2026, 11, 11, 6))
    assert (inner.person, inner.start, inner.end) == ("Jane", utc(2026, 11, 11), utc(2026, 11, 11, 12))
    assert r.at(utc(2026, 11, 11, 13)).person == "Laura"
    assert r.at(utc(2026, 11, 12, 9)).person == "Anna"
    # In the other order, Laura's override came later and covers Jane's entirely.
    assert source_roster(jane, laura).at(utc(2026, 11, 11, 6)).person == "Laura"


def test_override_across_a_handoff():
    # Jane covers Sunday 09:00 to Tuesday 09:00: the end of Anna's week and the start of Laura's.
    r = source_roster(cover("Jane", utc(2026, 11, 15, 9), utc(2026, 11, 17, 9)))
    shift = r.at(utc(2026, 11, 16, 9))
    assert (shift.person, shift.start, shift.end) == ("Jane", utc(2026, 11, 15, 9), utc(2026, 11, 17, 9))
    assert r.at(utc(2026, 11, 15, 8, 59)).person == "Anna"
    after = r.at(utc(2026, 11, 17, 9))
    assert (after.person, after.start, after.end) == ("Laura", utc(2026, 11, 17, 9), utc(2026, 11, 23, 9))
    # One stretch on call, two labels: Jane covers Anna up to Monday's handoff, then Laura.
    pieces = r.shifts(utc(2026, 11, 9, 9), utc(2026, 11, 23, 9))
    assert [(s.person, s.start, s.scheduled) for s in pieces] == [
        ("Anna", utc(2026, 11, 9, 9), "Anna"), ("Jane", utc(2026, 11, 15, 9), "Anna"),
        ("Jane", utc(2026, 11, 16, 9), "Laura"), ("Laura", utc(2026, 11, 17, 9), "Laura")]
    assert [s.person for s in r.stretches(utc(2026, 11, 9, 9), utc(2026, 11, 23, 9))] == ["Anna", "Jane", "Laura"]


def test_next_person_accounts_for_an_override():
    # Laura takes the last day of Danny's week: she is next, a day before Anna's turn.
    laura = cover("Laura", utc(2026, 11, 8, 9), utc(2026, 11, 9, 9))
    now = oncall_now(source(), utc(2026, 11, 4, 12), overrides=[laura])
    assert (now.shift.person, now.shift.end) == ("Danny", utc(2026, 11, 8, 9))
    assert (now.next.person, now.next.start) == ("Laura", utc(2026, 11, 8, 9))


def test_override_for_another_rotation_is_ignored():
    r = source_roster(cover("Laura", utc(2026, 11, 10, 9), utc(2026, 11, 11, 9), rotation="other"))
    assert r.at(utc(2026, 11, 10, 12)).person == "Anna"


def test_override_before_the_rotation_starts_puts_someone_on_call():
    r = source_roster(cover("Jane", utc(2026, 11, 1), utc(2026, 11, 3)))
    early = r.at(utc(2026, 11, 1, 12))
    assert (early.person, early.start, early.end) == ("Jane", utc(2026, 11, 1), utc(2026, 11, 3))
    assert r.at(utc(2026, 10, 31, 23)) is None
    assert r.at(utc(2026, 11, 3, 0)).person == "Danny"


# Other turn lengths -----------------------------------------------------------------------------

def test_daily_rotation_keeps_its_local_handoff_across_dst():
    rb = team_runbook("Europe/Berlin", start="2026-03-27", handoff='{time: "08:00"}', turn="1d")
    r = Roster(rb, "main", ())
    first = r.handoff(0)
    shifts = r.shifts(first, r.handoff(9))
    assert [s.person for s in shifts] == ["Ada", "Ben", "Cy"] * 3
    tz = ZoneInfo("Europe/Berlin")
    assert all(s.start.astimezone(tz).time() == time(8) for s in shifts)
    assert shifts[1].end - shifts[1].start == timedelta(hours=23)  # Sat -> Sun 2026-03-29 is one hour short
    assert r.at(utc(2026, 3, 30, 6, 30)).person == "Ada"  # 08:30 CEST on day 4


def test_daily_rotation_without_handoff_defaults_to_nine():
    rb = team_runbook("UTC", start="2026-06-01", handoff="", turn="1d")
    r = Roster(rb, "main", ())
    assert r.at(utc(2026, 6, 1, 8, 59)) is None
    assert [r.at(utc(2026, 6, d, 12)).person for d in range(1, 8)] == ["Ada", "Ben", "Cy", "Ada", "Ben", "Cy", "Ada"]


def test_two_week_turns():
    rb = team_runbook("UTC", members=("Ada", "Ben"), start="2026-01-05", turn="2w")
    r = Roster(rb, "main", ())
    assert [r.at(utc(2026, 1, 5, 9) + timedelta(weeks=w)).person for w in range(6)] == [
        "Ada", "Ada", "Ben", "Ben", "Ada", "Ada"]
