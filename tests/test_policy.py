"""Who a failure notifies, and how: every branch of the policy for the source runbook."""

from __future__ import annotations

import pytest

from bot.domain.calendar import day_kind, holiday_name, in_work_hours, next_work_start
from bot.domain.policy import decide
from bot.domain.rotation import OverrideSpan
from helpers_runbook import ROTATION, runbook, source, source_with, team_runbook, utc

TUE_NIGHT = utc(2026, 11, 3, 2)      # Danny's week; a working day, outside work hours
TUE_NOON = utc(2026, 11, 3, 12)
SAT_AFTERNOON = utc(2026, 11, 7, 15)
CHRISTMAS = utc(2026, 12, 25, 12)    # Friday, US public holiday; Jane's week
CHRISTMAS_EVE = utc(2026, 12, 24, 3)  # Thursday, the YAML's extra team day off


def test_calendar_kinds():
    rb = source()
    assert day_kind(rb, TUE_NIGHT.date()) == "weekdays"
    assert day_kind(rb, SAT_AFTERNOON.date()) == "weekends"
    assert day_kind(rb, CHRISTMAS.date()) == "holidays"
    assert holiday_name(rb, CHRISTMAS.date()) == "Christmas Day"
    assert holiday_name(rb, CHRISTMAS_EVE.date()) == "Team day off"
    assert day_kind(rb, utc(2026, 11, 26).date()) == "holidays"  # Thanksgiving
    assert day_kind(rb, utc(2027, 1, 1).date()) == "holidays"
    assert holiday_name(rb, utc(2026, 12, 23).date()) is None


@pytest.mark.parametrize("at,inside", [
    (utc(2026, 11, 3, 8, 59), False), (utc(2026, 11, 3, 9), True), (utc(2026, 11, 3, 16, 59), True),
    (utc(2026, 11, 3, 17), False), (utc(2026, 11, 7, 12), False), (CHRISTMAS, False),
])
def test_work_hours(at, inside):
    assert in_work_hours(source(), at) is inside


# Growth: pages the on-call person on weekdays and weekends, not on holidays ----------------------

def test_growth_weekday_night_pages_the_oncall_person_and_owners():
    d = decide(source(), "growth", TUE_NIGHT)
    assert (d.mode, d.notify, d.oncall, d.deferred_until) == ("page", ["Danny", "Laura"], "Danny", None)


def test_growth_weekend_pages_the_oncall_person():
    d = decide(source(), "growth", SAT_AFTERNOON)
    assert (d.mode, d.notify[0], d.oncall) == ("page", "Danny", "Danny")


@pytest.mark.parametrize("at", [CHRISTMAS, CHRISTMAS_EVE])
def test_growth_on_a_holiday_is_not_paged_but_deferred(at):
    d = decide(source(), "growth", at)
    assert d.mode == "deferred"
    assert d.notify == ["Laura", "Danny"]
    assert d.oncall is None
    assert d.deferred_until == utc(2026, 12, 28, 9)  # Dec 24 and 25 are off, then the weekend


# Engagement: pages every day --------------------------------------------------------------------

@pytest.mark.parametrize("at,oncall", [
    (TUE_NIGHT, "Danny"), (SAT_AFTERNOON, "Danny"), (CHRISTMAS, "Jane"), (CHRISTMAS_EVE, "Jane"), (TUE_NOON, "Danny"),
])
def test_engagement_pages_the_oncall_person_every_day(at, oncall):
    d = decide(source(), "engagement", at)
    assert (d.mode, d.oncall) == ("page", oncall)
    assert d.notify == list(dict.fromkeys([oncall, "Anna", "Laura"]))


def test_engagement_pages_whoever_covers_by_override():
    laura = OverrideSpan("Laura", utc(2026, 11, 3), utc(2026, 11, 4), ROTATION)
    d = decide(source(), "engagement", TUE_NIGHT, [laura])
    assert (d.mode, d.oncall, d.notify) == ("page", "Laura", ["Laura", "Anna"])


# Profit: work hours only ------------------------------------------------------------------------

def test_profit_in_work_hours_mentions_the_owners():
    d = decide(source(), "profit", TUE_NOON)
    assert (d.mode, d.notify, d.deferred_until) == ("page", ["Danny", "Jane"], None)


def test_profit_weekday_night_is_deferred_to_the_same_mornings_work_start():
    d = decide(source(), "profit", TUE_NIGHT)
    assert (d.mode, d.notify, d.deferred_until) == ("deferred", ["Danny", "Jane"], utc(2026, 11, 3, 9))


def test_profit_friday_night_is_deferred_until_monday_morning():
    d = decide(source(), "profit", utc(2026, 11, 6, 23))
    assert (d.mode, d.deferred_until) == ("deferred", utc(2026, 11, 9, 9))


def test_profit_after_work_is_deferred_to_the_next_working_day():
    d = decide(source(), "profit", utc(2026, 11, 3, 17))
    assert d.deferred_until == utc(2026, 11, 4, 9)


def test_profit_before_a_holiday_skips_it():
    # Wednesday night before Thanksgiving (Thursday 2026-11-26): the next work start is Friday.
    d = decide(source(), "profit", utc(2026, 11, 25, 22))
    assert d.deferred_until == utc(2026, 11, 27, 9)


def test_profit_on_a_holiday_during_office_hours_is_deferred():
    d = decide(source(), "profit", CHRISTMAS)
    assert (d.mode, d.deferred_until) == ("deferred", utc(2026, 12, 28, 9))


def test_quiet_outside_work_hours_pings_nobody():
    text = source_with("      outside_work_hours: defer\n      note: Debugged", "      outside_work_hours: quiet\n      note: Debugged")
    rb = runbook(text)
    d = decide(rb, "profit", TUE_NIGHT)
    assert (d.mode, d.notify, d.deferred_until) == ("quiet", [], None)
    assert decide(rb, "profit", TUE_NOON).mode == "page"  # in work hours the owners are still mentioned


# Investors: no on-call --------------------------------------------------------------------------

def test_investors_never_page_at_night():
    d = decide(source(), "investors", SAT_AFTERNOON)
    assert (d.mode, d.notify, d.deferred_until) == ("deferred", ["Jane", "Anna"], utc(2026, 11, 9, 9))
    assert decide(source(), "investors", TUE_NOON).notify == ["Jane", "Anna"]


# Incomplete and unknown pipelines go to the on-call person ---------------------------------------

@pytest.mark.parametrize("pipeline", ["experiments", "no-such-pipeline", None])
def test_incomplete_or_unknown_pipeline_routes_to_the_oncall_person(pipeline):
    for at, oncall in ((TUE_NIGHT, "Danny"), (SAT_AFTERNOON, "Danny"), (CHRISTMAS, "Jane")):
        d = decide(source(), pipeline, at)
        assert (d.mode, d.notify, d.oncall) == ("page", [oncall], oncall)


def test_gap_with_no_owners_is_mode_none():
    before_start = utc(2026, 10, 1, 3)
    d = decide(source(), "experiments", before_start)
    assert (d.mode, d.notify) == ("none", [])
    assert decide(source(), "unknown", before_start).mode == "none"


def test_gap_with_owners_falls_back_to_the_owners():
    # Before the rotation starts nobody can be paged for Growth: its owners get it at work start.
    d = decide(source(), "growth", utc(2026, 10, 31, 12))  # a Saturday
    assert (d.mode, d.notify, d.deferred_until) == ("deferred", ["Laura", "Danny"], utc(2026, 11, 2, 9))


def test_work_hours_are_local_to_a_non_utc_team():
    rb = team_runbook("America/New_York", start="2026-11-02")
    # 13:59Z is 08:59 EST: before work; 14:00Z is 09:00 EST.
    assert not in_work_hours(rb, utc(2026, 11, 3, 13, 59))
    assert in_work_hours(rb, utc(2026, 11, 3, 14))
    assert next_work_start(rb, utc(2026, 11, 6, 23)) == utc(2026, 11, 9, 14)  # Friday night -> Monday 09:00 EST
    # Friday 2026-11-06 22:00 local is Saturday 03:00Z: the team's local date decides the kind of day.
    assert day_kind(rb, utc(2026, 11, 7, 3).astimezone(rb.tz).date()) == "weekdays"
