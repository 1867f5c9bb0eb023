"""Who a failure notifies, and how: every branch of the policy for the source runbook."""

from __future__ import annotations

import pytest

from bot.domain.calendar import day_kind, holiday_name, in_work_hours, next_work_start
from bot.domain import policy as P
from bot.domain.policy import decide as _decide
from bot.domain.rotation import OverrideSpan
from tests.helpers_runbook import BERLIN, ROTATION, runbook, source, source_with, team_runbook, utc

TUE_NIGHT = utc(2026, 11, 3, 2)      # Danny's week; a working day, outside work hours
TUE_NOON = utc(2026, 11, 3, 12)
SAT_AFTERNOON = utc(2026, 11, 7, 15)
CHRISTMAS = utc(2026, 12, 25, 12)    # Friday, US public holiday; Jane's week
CHRISTMAS_EVE = utc(2026, 12, 24, 3)  # Thursday, the YAML's extra team day off


def decide(rb, pipeline, at, overrides=()):
    """What a failure's first message does (the other kinds: the tables below)."""
    return _decide(rb, pipeline, P.OPEN, at, overrides)


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


# What a failure's first message does, per pipeline ----------------------------------------------

def test_growth_weekday_night_pages_only_the_oncall_person():
    d = decide(source(), "growth", TUE_NIGHT)
    assert (d.how, d.people, d.paged, d.oncall, d.until) == ("page", ("Danny",), ("Danny",), "Danny", None)


def test_growth_in_work_hours_pages_the_oncall_person_and_mentions_the_owners():
    d = decide(source(), "growth", TUE_NOON)
    assert (d.how, d.people, d.paged) == ("page", ("Danny", "Laura"), ("Danny",))


def test_a_holiday_growth_failure_that_would_wait_past_its_fix_deadline_follows_the_runbooks_choice():
    # Christmas: Growth does not page on holidays; the next standby day (Saturday 00:00) is its fix deadline.
    d = decide(source(), "growth", CHRISTMAS)
    assert (d.how, d.people, d.paged) == ("notify", ("Jane",), ())  # if_deferral_misses_fix_by: notify_oncall
    assert "would miss the fix deadline" in d.reason
    waits = runbook(source_with("      if_deferral_misses_fix_by: notify_oncall\n", ""))
    d = decide(waits, "growth", CHRISTMAS)
    assert (d.how, d.people, d.until) == ("deferred", ("Jane",), utc(2026, 12, 26))
    assert "after its fix deadline" in d.reason
    pages = runbook(source_with("if_deferral_misses_fix_by: notify_oncall", "if_deferral_misses_fix_by: page_oncall"))
    assert decide(pages, "growth", CHRISTMAS).paged == ("Jane",)


def test_a_holiday_deferral_ends_when_paging_resumes_not_only_at_work_start():
    # Christmas Eve 03:00 (a team day off), fix deadline Christmas 00:00: told Saturday 00:00 (a weekend).
    waits = runbook(source_with("      if_deferral_misses_fix_by: notify_oncall\n", ""))
    assert decide(waits, "growth", CHRISTMAS_EVE).until == utc(2026, 12, 26)


@pytest.mark.parametrize("at,oncall", [
    (TUE_NIGHT, "Danny"), (SAT_AFTERNOON, "Danny"), (CHRISTMAS, "Jane"), (CHRISTMAS_EVE, "Jane"),
])
def test_engagement_pages_the_oncall_person_every_day(at, oncall):
    d = decide(source(), "engagement", at)
    assert (d.how, d.people, d.paged) == ("page", (oncall,), (oncall,))


def test_engagement_pages_whoever_covers_by_override():
    laura = OverrideSpan("Laura", utc(2026, 11, 3), utc(2026, 11, 4), ROTATION)
    d = decide(source(), "engagement", TUE_NIGHT, [laura])
    assert (d.how, d.oncall, d.paged) == ("page", "Laura", ("Laura",))


def test_profit_in_work_hours_mentions_the_owners_without_paging():
    d = decide(source(), "profit", TUE_NOON)
    assert (d.how, d.people, d.paged, d.until) == ("notify", ("Danny", "Jane"), (), None)


def test_profit_weekday_night_is_deferred_to_the_same_mornings_work_start():
    d = decide(source(), "profit", TUE_NIGHT)
    assert (d.how, d.people, d.until) == ("deferred", ("Danny", "Jane"), utc(2026, 11, 3, 9))
    assert d.reason == "Profit is handled in work hours only; Danny, Jane told Tue 03 Nov 09:00 UTC"


def test_profit_friday_night_is_deferred_until_monday_morning():
    assert decide(source(), "profit", utc(2026, 11, 6, 23)).until == utc(2026, 11, 9, 9)


def test_profit_after_work_is_deferred_to_the_next_working_day():
    assert decide(source(), "profit", utc(2026, 11, 3, 17)).until == utc(2026, 11, 4, 9)


def test_profit_before_a_holiday_skips_it():
    # Wednesday night before Thanksgiving (Thursday 2026-11-26): the next work start is Friday.
    assert decide(source(), "profit", utc(2026, 11, 25, 22)).until == utc(2026, 11, 27, 9)


def test_profit_on_a_holiday_during_office_hours_is_deferred():
    d = decide(source(), "profit", CHRISTMAS)
    assert (d.how, d.until) == ("deferred", utc(2026, 12, 28, 9))


def test_quiet_outside_work_hours_pings_nobody():
    text = source_with("      outside_work_hours: defer\n      note: Debugged", "      outside_work_hours: quiet\n      note: Debugged")
    rb = runbook(text)
    d = decide(rb, "profit", TUE_NIGHT)
    assert (d.how, list(d.people), d.until) == ("quiet", [], None)
    assert decide(rb, "profit", TUE_NOON).how == "notify"  # in work hours the owners are still mentioned


# Investors: no on-call --------------------------------------------------------------------------

def test_investors_never_page_at_night():
    d = decide(source(), "investors", SAT_AFTERNOON)
    assert (d.how, list(d.people), d.until) == ("deferred", ["Jane", "Anna"], utc(2026, 11, 9, 9))
    assert decide(source(), "investors", TUE_NOON).people == ("Jane", "Anna")


# Incomplete and unknown pipelines go to the on-call person ---------------------------------------

@pytest.mark.parametrize("pipeline", ["experiments", "no-such-pipeline", None])
def test_incomplete_or_unknown_pipeline_routes_to_the_oncall_person(pipeline):
    for at, oncall in ((TUE_NIGHT, "Danny"), (SAT_AFTERNOON, "Danny"), (CHRISTMAS, "Jane")):
        d = decide(source(), pipeline, at)
        assert (d.how, list(d.people), d.oncall) == ("page", [oncall], oncall)


def test_gap_with_no_owners_is_mode_none():
    before_start = utc(2026, 10, 1, 3)
    d = decide(source(), "experiments", before_start)
    assert (d.how, list(d.people)) == ("none", [])
    assert decide(source(), "unknown", before_start).how == "none"


def test_gap_with_owners_falls_back_to_the_owners():
    # Before the rotation starts nobody can be paged for Growth: it waits for Monday's work start, when
    # the rotation's first on-call person (Danny) is paged and the owners are mentioned.
    d = decide(source(), "growth", utc(2026, 10, 31, 12))  # a Saturday
    assert (d.how, list(d.people), d.until) == ("deferred", ["Danny", "Laura"], utc(2026, 11, 2, 9))


def test_work_hours_are_local_to_a_non_utc_team():
    rb = team_runbook("America/New_York", start="2026-11-02")
    # 13:59Z is 08:59 EST: before work; 14:00Z is 09:00 EST.
    assert not in_work_hours(rb, utc(2026, 11, 3, 13, 59))
    assert in_work_hours(rb, utc(2026, 11, 3, 14))
    assert next_work_start(rb, utc(2026, 11, 6, 23)) == utc(2026, 11, 9, 14)  # Friday night -> Monday 09:00 EST
    # Friday 2026-11-06 22:00 local is Saturday 03:00Z: the team's local date decides the kind of day.
    assert day_kind(rb, utc(2026, 11, 7, 3).astimezone(rb.tz).date()) == "weekdays"


# Every message kind, every pipeline, at a weekday day, a weekday night, a weekend, a holiday and a month
# end: the incident was opened at that instant (so its first message already told whom it told), and
# each later message asks the policy at the same instant. "page:A,B dm:A" mentions A and B, and sends A
# a direct message; "deferred:A" posts quietly and tells A later; "none" tells nobody.

KINDS = (P.OPEN, P.SLA_BREACH, P.FIX_CHASE, P.FIX_CHASE_LAST, P.FIX_BREACH, P.DEFERRED_PING, P.ESCALATION,
         P.ESCALATION_PRESSED, P.MONTH_END, P.WEEKLY_CHECK, P.CHECK_REMINDER, P.REPEAT, P.ACK, P.RESOLVE,
         P.COVER_FOLLOWUP, P.SUMMARY, P.SEEN_BEFORE, P.NOTE, P.FOLDED)


def _short(a: P.Audience) -> str:
    text = a.how + (":" + ",".join(a.people) if a.people else "")
    return text + (" dm:" + ",".join(a.paged) if a.paged else "")


def _row(rb, pipeline, at) -> list[str]:
    state = P.IncidentState(told=_decide(rb, pipeline, P.OPEN, at, ()).told())
    return [_short(_decide(rb, pipeline, kind, at, (), None if kind in (P.OPEN, P.FOLDED) else state))
            for kind in KINDS]


Q = ["quiet"] * 7  # repeat, ack, resolve, cover follow-up, summaries, seen before, notes: never a mention
# The last column: a failure folded under an open upstream incident (lineage) never pages; whom the
# pipeline's hours would page becomes a mention of its owners, and deferred or quiet hours stand.

SOURCE_TABLE = {
    # Tuesday 12:00 UTC, Danny's week.
    (utc(2026, 12, 1, 12), "profit"): ["notify:Danny,Jane", "notify:Danny,Jane", "notify:Danny", "notify:Danny,Jane",
                                       "notify:Danny,Jane", "notify:Danny,Jane", "none", "none", "notify:Danny,Jane",
                                       "notify:Danny,Jane", "notify:Danny,Jane", *Q, "notify:Danny,Jane"],
    (utc(2026, 12, 1, 12), "growth"): ["page:Danny,Laura dm:Danny", "notify:Danny,Laura", "notify:Danny",
                                       "notify:Danny,Laura", "notify:Danny,Laura", "notify:Danny,Laura",
                                       "page:Laura dm:Laura", "page:Laura dm:Laura", "notify:Laura,Danny",
                                       "notify:Laura,Danny", "notify:Laura,Danny", *Q, "notify:Laura,Danny"],
    (utc(2026, 12, 1, 12), "investors"): ["notify:Jane,Anna", "notify:Jane,Anna", "notify:Jane", "notify:Jane,Anna",
                                          "notify:Jane,Anna", "notify:Jane,Anna", "notify:Danny", "notify:Danny",
                                          "notify:Jane,Anna", "notify:Jane,Anna", "notify:Jane,Anna", *Q, "notify:Jane,Anna"],
    (utc(2026, 12, 1, 12), "experiments"): ["page:Danny dm:Danny", *["notify:Danny"] * 5, "none", "none",
                                            "quiet", "quiet", "quiet", *Q, "quiet"],
    # Wednesday 03:00 UTC: a working day, outside work hours.
    (utc(2026, 12, 2, 3), "profit"): [*["deferred:Danny,Jane"] * 6, "deferred", "notify:Danny",
                                      *["deferred:Danny,Jane"] * 3, *Q, "deferred:Danny,Jane"],
    (utc(2026, 12, 2, 3), "growth"): ["page:Danny dm:Danny", *["notify:Danny"] * 5, "page:Laura dm:Laura",
                                      "page:Laura dm:Laura", *["deferred:Laura,Danny"] * 3, *Q, "notify:Laura,Danny"],
    (utc(2026, 12, 2, 3), "engagement"): ["page:Danny dm:Danny", *["notify:Danny"] * 5, "page:Anna dm:Anna",
                                          "page:Anna dm:Anna", *["deferred:Anna,Laura"] * 3, *Q, "notify:Anna,Laura"],
    # Saturday 02:30 UTC.
    (utc(2026, 12, 5, 2, 30), "profit"): [*["deferred:Danny,Jane"] * 6, "deferred", "notify:Danny",
                                          *["deferred:Danny,Jane"] * 3, *Q, "deferred:Danny,Jane"],
    (utc(2026, 12, 5, 2, 30), "growth"): ["page:Danny dm:Danny", *["notify:Danny"] * 5, "page:Laura dm:Laura",
                                          "page:Laura dm:Laura", *["deferred:Laura,Danny"] * 3, *Q, "notify:Laura,Danny"],
    (utc(2026, 12, 5, 2, 30), "investors"): [*["deferred:Jane,Anna"] * 6, "deferred", "notify:Danny",
                                             *["deferred:Jane,Anna"] * 3, *Q, "deferred:Jane,Anna"],
    # Christmas 03:00 UTC, Jane's week.
    (utc(2026, 12, 25, 3), "growth"): ["notify:Jane", *["deferred:Jane"] * 5, "deferred", "notify:Laura",
                                       *["deferred:Laura,Danny"] * 3, *Q, "notify:Jane"],
    (utc(2026, 12, 25, 3), "engagement"): ["page:Jane dm:Jane", *["notify:Jane"] * 5, "page:Anna dm:Anna",
                                           "page:Anna dm:Anna", *["deferred:Anna,Laura"] * 3, *Q, "notify:Anna,Laura"],
    (utc(2026, 12, 25, 3), "profit"): [*["deferred:Danny,Jane"] * 6, "deferred", "notify:Jane",
                                       *["deferred:Danny,Jane"] * 3, *Q, "deferred:Danny,Jane"],
    # Thursday 31 December 20:00 UTC: the investors' aggregate is due fixed at midnight.
    (utc(2026, 12, 31, 20), "investors"): [*["deferred:Jane,Anna"] * 6, "deferred", "notify:Danny",
                                           *["deferred:Jane,Anna"] * 3, *Q, "deferred:Jane,Anna"],
    (utc(2026, 12, 31, 20), "growth"): ["page:Danny dm:Danny", *["notify:Danny"] * 5, "page:Laura dm:Laura",
                                        "page:Laura dm:Laura", *["deferred:Laura,Danny"] * 3, *Q, "notify:Laura,Danny"],
}


@pytest.mark.parametrize("at,pipeline", list(SOURCE_TABLE))
def test_who_hears_what_source_team(at, pipeline):
    assert _row(source(), pipeline, at) == SOURCE_TABLE[(at, pipeline)]


BERLIN_TABLE = {
    # Tuesday 12:00 in Berlin (11:00 UTC), Soeren's week; work hours 08:00-16:00.
    (utc(2026, 12, 1, 11), "orders"): ["page:Soeren,Jonas,Felix dm:Soeren", "notify:Soeren,Jonas,Felix",
                                       "notify:Soeren", *["notify:Soeren,Jonas,Felix"] * 3, "page:Jonas dm:Jonas",
                                       "page:Jonas dm:Jonas", "notify:Jonas,Felix", "notify:Jonas,Felix",
                                       "notify:Jonas,Felix", *Q, "notify:Jonas,Felix"],
    (utc(2026, 12, 1, 11), "ledger"): ["notify:Mia,Soeren", "notify:Mia,Soeren", "notify:Mia",
                                       *["notify:Mia,Soeren"] * 3, "none", "none", *["notify:Mia,Soeren"] * 3, *Q, "notify:Mia,Soeren"],
    # Wednesday 03:00 in Berlin.
    (utc(2026, 12, 2, 2), "ledger"): [*["deferred:Mia,Soeren"] * 6, "deferred", "notify:Soeren",
                                      *["deferred:Mia,Soeren"] * 3, *Q, "deferred:Mia,Soeren"],
    (utc(2026, 12, 2, 2), "kpis"): [*["quiet"] * 7, "notify:Soeren", *["deferred:Soeren"] * 3, *Q, "quiet"],
    # Saturday 02:30 in Berlin.
    (utc(2026, 12, 5, 1, 30), "orders"): ["page:Soeren dm:Soeren", *["notify:Soeren"] * 5, "page:Jonas dm:Jonas",
                                          "page:Jonas dm:Jonas", *["deferred:Jonas,Felix"] * 3, *Q, "notify:Jonas,Felix"],
    # Christmas 03:00 in Berlin (and the 26th is a holiday too): Orders pages rather than wait past its fix deadline.
    (utc(2026, 12, 25, 2), "orders"): ["page:Soeren dm:Soeren", *["deferred:Soeren"] * 5, "deferred",
                                       "notify:Jonas", *["deferred:Jonas,Felix"] * 3, *Q, "notify:Jonas,Felix"],
    # New Year's Eve 20:00 in Berlin, Jonas's week.
    (utc(2026, 12, 31, 19), "orders"): ["page:Jonas dm:Jonas", *["notify:Jonas"] * 5, "page:Mia dm:Mia",
                                        "page:Mia dm:Mia", *["deferred:Jonas,Felix"] * 3, *Q, "notify:Jonas,Felix"],
    (utc(2026, 12, 31, 19), "kpis"): [*["quiet"] * 7, "notify:Jonas", *["deferred:Soeren"] * 3, *Q, "quiet"],
}


@pytest.mark.parametrize("at,pipeline", list(BERLIN_TABLE))
def test_who_hears_what_second_team_in_berlin(at, pipeline):
    assert _row(runbook(BERLIN), pipeline, at) == BERLIN_TABLE[(at, pipeline)]


def test_berlin_deferral_follows_the_local_work_start_across_the_dst_change():
    rb = runbook(BERLIN)
    # Saturday 2026-03-28 night; clocks go forward on Sunday: Monday 08:00 CEST is 06:00 UTC.
    assert decide(rb, "ledger", utc(2026, 3, 28, 23)).until == utc(2026, 3, 30, 6)
    # And back in October: Monday 2026-10-26 08:00 CET is 07:00 UTC.
    assert decide(rb, "ledger", utc(2026, 10, 25, 1, 30)).until == utc(2026, 10, 26, 7)


def test_nobody_is_paged_twice_for_one_incident():
    rb = source()
    state = P.IncidentState(told={"Danny": "page"})
    assert _decide(rb, "growth", P.DEFERRED_PING, TUE_NIGHT, (), state).paged == ()
    assert _decide(rb, "growth", P.DEFERRED_PING, TUE_NIGHT, (), P.IncidentState()).paged == ("Danny",)


def test_escalation_passes_over_who_pressed_and_who_acknowledged():
    rb = source()
    told = P.IncidentState(told={"Danny": "page"}, pressed_by="Laura")
    d = _decide(rb, "growth", P.ESCALATION_PRESSED, TUE_NIGHT, (), told)
    assert (d.step, d.people) == (5, ())  # oncall Danny, primary Laura (pressed), secondary and admin Danny
    assert d.how == "none" and "nobody left" in d.reason
    d = _decide(rb, "growth", P.ESCALATION, TUE_NIGHT, (), P.IncidentState(told={"Danny": "page"}, level=2))
    assert (d.step, d.how) == (5, "none")


def test_escalation_by_the_clock_waits_for_the_pipelines_hours():
    rb = source()
    d = _decide(rb, "profit", P.ESCALATION, utc(2026, 12, 1, 17, 15), (), P.IncidentState(told={"Danny": "notify"}))
    assert (d.step, d.how, d.until) == (None, "deferred", utc(2026, 12, 2, 9))
    d = _decide(rb, "profit", P.ESCALATION, utc(2026, 12, 2, 9), (), P.IncidentState(told={"Danny": "notify"}))
    # In work hours: the on-call person and the primary owner (Danny) were told; the secondary is new.
    assert (d.step, d.how, d.people) == (3, "notify", ("Jane",))


def test_a_month_end_pipeline_escalates_only_when_pressed():
    assert P.escalation_of(source(), "investors").ack_within is None
    assert P.escalation_of(source(), "growth").ack_within is not None


def test_an_acknowledged_incident_pages_nobody_more_except_by_the_escalate_button():
    rb = source()
    state = P.IncidentState(status="acknowledged", told={"Danny": "page"})
    for kind in (P.SLA_BREACH, P.FIX_CHASE_LAST, P.FIX_BREACH):
        assert _decide(rb, "growth", kind, TUE_NIGHT, (), state).paged == ()
    pressed = _decide(rb, "growth", P.ESCALATION_PRESSED, TUE_NIGHT, (), state)
    assert (pressed.how, pressed.paged) == ("page", ("Laura",))  # someone asked for help: wake the next one


@pytest.mark.parametrize("team,at,pipeline", [("source", *k) for k in SOURCE_TABLE] + [("berlin", *k) for k in BERLIN_TABLE])
def test_a_folded_incident_is_chased_and_escalated_through_its_root_only(team, at, pipeline):
    """Its owners were told once, in the root's thread: its own follow-ups mention nobody, while the
    deferred ping (owners told when their hours begin) still reaches them."""
    rb = source() if team == "source" else runbook(BERLIN)
    told = _decide(rb, pipeline, P.FOLDED, at, ()).told()
    folded, plain = P.IncidentState(told=told, folded=True), P.IncidentState(told=told)
    for kind in (P.SLA_BREACH, P.FIX_CHASE, P.FIX_CHASE_LAST, P.FIX_BREACH, P.ESCALATION):
        assert _decide(rb, pipeline, kind, at, (), folded).how == "quiet", kind
    assert _decide(rb, pipeline, P.DEFERRED_PING, at, (), folded) == _decide(rb, pipeline, P.DEFERRED_PING, at, (), plain)


@pytest.mark.parametrize("at,expected", [
    # Sunday 28 March 2027, the clocks skip 02:00-03:00 in Berlin: 01:30 CET and 03:30 CEST.
    (utc(2027, 3, 28, 0, 30), {"orders": ("notify", ("Jonas", "Felix"), None),
                               "ledger": ("deferred", ("Mia", "Soeren"), utc(2027, 3, 30, 6)),  # Easter Monday off
                               "kpis": ("quiet", (), None)}),
    (utc(2027, 3, 28, 1, 30), {"orders": ("notify", ("Jonas", "Felix"), None),
                               "ledger": ("deferred", ("Mia", "Soeren"), utc(2027, 3, 30, 6)),
                               "kpis": ("quiet", (), None)}),
    # Sunday 25 October 2026, 02:30 happens twice (CEST, then CET): before the rotation starts.
    (utc(2026, 10, 25, 0, 30), {"orders": ("deferred", ("Jonas", "Felix"), utc(2026, 10, 26, 7)),
                                "ledger": ("deferred", ("Mia", "Soeren"), utc(2026, 10, 26, 7)),
                                "kpis": ("quiet", (), None)}),
    (utc(2026, 10, 25, 1, 30), {"orders": ("deferred", ("Jonas", "Felix"), utc(2026, 10, 26, 7)),
                                "ledger": ("deferred", ("Mia", "Soeren"), utc(2026, 10, 26, 7)),
                                "kpis": ("quiet", (), None)}),
])
def test_a_folded_failure_in_berlin_at_the_dst_changes_pages_nobody(at, expected):
    """Orders would page Jonas on the spring-forward night: folded, its owners are mentioned instead;
    Ledger waits for work hours (08:00 local, the Tuesday after Easter Monday), KPIs tells nobody."""
    rb = runbook(BERLIN)
    for pipeline, (how, people, until) in expected.items():
        folded = _decide(rb, pipeline, P.FOLDED, at, ())
        assert (folded.how, folded.people, folded.paged, folded.until) == (how, people, (), until), pipeline
