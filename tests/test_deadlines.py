"""Runbook clocks of a failed run: data-ready SLA and fix deadline, at day, month and year ends."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain.deadlines import deadlines
from tests.helpers_runbook import runbook, source, utc


def test_growth_failure_after_its_run():
    d = deadlines(source(), "growth", utc(2026, 11, 3, 1, 30))
    assert d.run_at == utc(2026, 11, 3, 1)
    assert d.data_ready_by == utc(2026, 11, 3, 4)
    assert d.fix_by == utc(2026, 11, 4)  # 24 h from midnight UTC of the run's day
    assert d.left(utc(2026, 11, 3, 1, 30)) == {"data_ready_by": timedelta(hours=2, minutes=30),
                                                "fix_by": timedelta(hours=22, minutes=30)}


@pytest.mark.parametrize("pipeline,run_hour,ready_hour", [("growth", 1, 4), ("engagement", 1, 5), ("profit", 2, 3)])
def test_data_ready_by_per_pipeline(pipeline, run_hour, ready_hour):
    d = deadlines(source(), pipeline, utc(2026, 11, 3, 2, 30))
    assert d.run_at == utc(2026, 11, 3, run_hour)
    assert d.data_ready_by == utc(2026, 11, 3, ready_hour)


def test_profit_has_no_fix_deadline_in_the_source():
    assert deadlines(source(), "profit", utc(2026, 11, 3, 2, 30)).fix_by is None


def test_failure_at_the_exact_run_instant_belongs_to_that_run():
    assert deadlines(source(), "growth", utc(2026, 11, 3, 1)).run_at == utc(2026, 11, 3, 1)


def test_failure_before_the_days_run_belongs_to_the_previous_run():
    d = deadlines(source(), "growth", utc(2026, 11, 3, 0, 30))
    assert d.run_at == utc(2026, 11, 2, 1)
    assert d.data_ready_by == utc(2026, 11, 2, 4)
    assert d.fix_by == utc(2026, 11, 3)
    left = d.left(utc(2026, 11, 3, 0, 30))
    assert left["fix_by"] == timedelta(minutes=-30)  # already overdue


def test_failure_after_the_sla_is_already_late():
    d = deadlines(source(), "engagement", utc(2026, 11, 3, 7))
    assert d.left(utc(2026, 11, 3, 7))["data_ready_by"] == timedelta(hours=-2)


@pytest.mark.parametrize("failed,fix_by", [
    (utc(2027, 2, 28, 3), utc(2027, 3, 1)),      # February 2027 ends on the 28th
    (utc(2028, 2, 28, 3), utc(2028, 2, 29)),     # 2028 is a leap year
    (utc(2028, 2, 29, 3), utc(2028, 3, 1)),
    (utc(2026, 12, 31, 1, 30), utc(2027, 1, 1)), # December into January
    (utc(2027, 1, 1, 0, 15), utc(2027, 1, 1)),   # New Year's night belongs to the Dec 31 run
])
def test_fix_within_24h_at_month_ends(failed, fix_by):
    assert deadlines(source(), "growth", failed).fix_by == fix_by


@pytest.mark.parametrize("failed,fix_by", [
    (utc(2027, 2, 10, 1, 5), utc(2027, 3, 1)),
    (utc(2028, 2, 29, 12), utc(2028, 3, 1)),     # leap day
    (utc(2028, 2, 1), utc(2028, 3, 1)),
    (utc(2026, 12, 15, 1, 5), utc(2027, 1, 1)),  # December -> 2027-01-01
    (utc(2026, 12, 31, 23, 59), utc(2027, 1, 1)),
    (utc(2027, 1, 1), utc(2027, 2, 1)),          # the first instant of a month starts the new month
])
def test_investors_fix_by_end_of_month(failed, fix_by):
    d = deadlines(source(), "investors", failed)
    assert d.fix_by == fix_by
    assert d.data_ready_by is None


def test_investors_weekly_run_is_the_last_monday():
    d = deadlines(source(), "investors", utc(2026, 11, 4, 15))  # a Wednesday
    assert d.run_at == utc(2026, 11, 2, 1)


@pytest.mark.parametrize("pipeline", ["experiments", "no-such-pipeline", None])
def test_pipelines_without_clocks_have_no_deadlines(pipeline):
    d = deadlines(source(), pipeline, utc(2026, 11, 3, 2))
    assert (d.data_ready_by, d.fix_by) == (None, None)
    assert d.left(utc(2026, 11, 3, 2)) == {"data_ready_by": None, "fix_by": None}


NEW_YORK = """
    team:
      name: East
      timezone: America/New_York
      channels: {oncall: '#oncall', alerts: '#alerts'}
    people:
      Ada: {email: ada@example.org}
    pipelines:
      ledger:
        name: Ledger
        owners: {primary: Ada}
        schedule: "30 23 * * *"
        sla: {data_ready_by: "02:00", fix_by: end_of_month}
"""


@pytest.mark.parametrize("failed,fix_by", [
    # 2026-12-01 04:00Z is still 23:00 on Nov 30 in New York: November's deadline, local midnight = 05:00Z.
    (utc(2026, 12, 1, 4), utc(2026, 12, 1, 5)),
    (utc(2026, 12, 1, 5), utc(2027, 1, 1, 5)),
    (utc(2026, 3, 31, 12), utc(2026, 4, 1, 4)),  # EDT in April: midnight is 04:00Z
    (utc(2028, 2, 29, 12), utc(2028, 3, 1, 5)),
])
def test_end_of_month_in_a_non_utc_zone(failed, fix_by):
    assert deadlines(runbook(NEW_YORK), "ledger", failed).fix_by == fix_by


def test_data_ready_time_before_the_run_time_is_the_next_day():
    d = deadlines(runbook(NEW_YORK), "ledger", utc(2026, 11, 3, 23, 45))
    assert d.run_at == utc(2026, 11, 3, 23, 30)
    assert d.data_ready_by == utc(2026, 11, 4, 2)
    early = deadlines(runbook(NEW_YORK), "ledger", utc(2026, 11, 4, 1))  # before the 23:30 run of Nov 4
    assert (early.run_at, early.data_ready_by) == (utc(2026, 11, 3, 23, 30), utc(2026, 11, 4, 2))
