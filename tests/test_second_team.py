"""A second team's runbook, written here, works through the CLI unchanged.

Other people and pipelines, the Asia/Jerusalem zone (DST ends 2026-10-25), a Sunday-Thursday work
week, Israeli public holidays (Yom Kippur 2026-09-21), and a Sunday 10:00 handoff.
"""

from __future__ import annotations

from datetime import time, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from tests.helpers_runbook import cli_json, parse_iso, run_cli, utc

TEAM = """\
team:
  name: Platform Analytics
  timezone: Asia/Jerusalem
  work_hours: {days: [sun, mon, tue, wed, thu], start: "09:00", end: "18:00"}
  holidays: {country: IL, extra: ["2026-12-31"]}
  channels: {oncall: "#pa-oncall", alerts: "#pa-alerts"}
  admins: [Noa]

people:
  Noa: {slack_id: U01NOA0001}
  Avi: {slack_id: U01AVI0002}
  Dana: {email: dana@analytics.example}

rotations:
  platform:
    members: [Noa, Avi, Dana]
    start: 2026-09-06
    handoff: {day: sun, time: "10:00"}
    turn: 1w

overrides:
  - {person: Avi, start: 2026-10-13T18:00, end: 2026-10-14T10:00, note: covers Dana's Tuesday night}

signatures:
  - id: disk
    title: Disk full
    match: ['No space left on device']
    remediation: Clean the scratch volume.

pipelines:
  billing:
    name: Billing events
    aliases: [billing events, invoices]
    description: Invoices and payments from the billing service
    owners: {primary: Noa, secondary: Avi}
    schedule: "0 22 * * *"
    timezone: UTC
    upstream: Payments team
    downstream: [Finance]
    sla: {data_ready_by: "01:00", fix_within: 24h}
    on_call: {rotation: platform, page: [weekdays], outside_work_hours: defer}
    common_issues:
      - title: Webhook backlog
        match: ['webhook backlog', 'queue depth \\d{5,}']
        remediation: Drain the webhook queue, then rerun the day.
  clickstream:
    name: Clickstream
    description: Page views
    owners: {primary: Dana}
    schedule: "15 0 * * *"
    timezone: UTC
    sla: {data_ready_by: "06:00", fix_within: 36h}
    on_call: {rotation: platform, page: [weekdays, weekends, holidays]}
    common_issues:
      - title: Late partition
        match: ['partition .* (not found|missing)']
        remediation: Wait for the upstream partition, then rerun.
  forecast:
    name: Revenue forecast
    description: Monthly model
    owners: {primary: Avi, secondary: Dana}
    schedule: "0 3 1 * *"
    timezone: UTC
    sla: {fix_by: end_of_month}
    on_call: {outside_work_hours: quiet}
    common_issues:
      - title: Model did not converge
        match: ['ConvergenceWarning', 'did not converge']
        remediation: Refit with the previous month's hyperparameters.
"""

TZ = ZoneInfo("Asia/Jerusalem")


@pytest.fixture
def team(tmp_path):
    path = tmp_path / "analytics.yaml"
    path.write_text(TEAM, encoding="utf-8")
    return path


def cli(team, *args):
    return cli_json("--runbook", str(team), *args)


def test_validates(team):
    done = run_cli("validate", str(team))
    assert done.returncode == 0, done.stderr
    assert "3 people" in done.stdout and "3 pipelines" in done.stdout
    assert "warning" not in done.stdout


def test_runbooks_path_env_selects_the_team(team):
    done = run_cli("who", "--json", "--at", "2026-09-13T08:00Z", env={"RUNBOOKS_PATH": str(team)})
    assert done.returncode == 0, done.stderr
    assert '"billing"' in done.stdout


def test_who_on_a_working_sunday(team):
    # Sunday 2026-09-27 11:00 IDT: a working day; Noa took over at 10:00 IDT (07:00Z) for week 4.
    out = cli(team, "who", "--json", "--at", "2026-09-27T08:00Z")
    assert out["at"] == "2026-09-27T08:00:00Z"
    assert out["oncall"] == {**out["oncall"], "person": "Noa", "since": "2026-09-27T07:00:00Z",
                             "until": "2026-10-04T07:00:00Z", "next": "Avi"}
    assert out["pipelines"]["billing"] == {**out["pipelines"]["billing"], "mode": "page", "notify": ["Noa", "Avi"],
                                           "paged": ["Noa"], "deferred_until": None}
    assert out["pipelines"]["forecast"]["mode"] == "notify"  # work hours: the owners are mentioned
    assert out["pipelines"]["forecast"]["notify"] == ["Avi", "Dana"]


def test_rosh_hashanah_sunday_is_a_holiday(team):
    out = cli(team, "who", "--json", "--at", "2026-09-13T08:00Z")  # Sunday, but Rosh Hashanah
    assert out["oncall"]["person"] == "Avi"
    assert out["pipelines"]["billing"]["mode"] == "deferred"
    # Told when paging resumes: Monday 00:00 IDT, a working day (the owners would wait for 09:00).
    assert out["pipelines"]["billing"]["deferred_until"] == "2026-09-13T21:00:00Z"
    assert out["pipelines"]["billing"]["notify"] == ["Avi"]


def test_who_on_their_weekend(team):
    # Friday 2026-09-18 15:00 IDT is the weekend: billing pages only on working days.
    out = cli(team, "who", "--json", "--at", "2026-09-18T12:00Z")
    billing = out["pipelines"]["billing"]
    assert (billing["mode"], billing["notify"]) == ("deferred", ["Avi"])
    assert billing["deferred_until"] == "2026-09-19T21:00:00Z"  # Sunday 00:00 IDT, a paging day
    clickstream = out["pipelines"]["clickstream"]
    assert (clickstream["mode"], clickstream["notify"]) == ("page", ["Avi"])  # not work hours: owners sleep
    assert out["pipelines"]["forecast"] == {**out["pipelines"]["forecast"], "mode": "quiet", "notify": []}


def test_who_on_yom_kippur(team):
    out = cli(team, "who", "--json", "--at", "2026-09-21T09:00Z")  # Monday, a public holiday in IL
    assert out["oncall"]["person"] == "Dana"
    assert out["pipelines"]["billing"]["mode"] == "deferred"
    assert out["pipelines"]["billing"]["deferred_until"] == "2026-09-21T21:00:00Z"  # Tuesday 00:00 IDT
    assert out["pipelines"]["clickstream"]["mode"] == "page"


def test_who_with_the_yaml_override(team):
    # Avi covers Tuesday 2026-10-13 18:00 -> Wednesday 10:00 IDT of Dana's week.
    out = cli(team, "who", "--json", "--at", "2026-10-13T20:00Z")
    assert out["oncall"] == {**out["oncall"], "person": "Avi", "since": "2026-10-13T15:00:00Z",
                             "until": "2026-10-14T07:00:00Z", "next": "Dana"}
    assert out["pipelines"]["clickstream"]["notify"] == ["Avi"]


def test_schedule_keeps_the_local_handoff_across_dst(team):
    shifts = cli(team, "schedule", "--json", "--from", "2026-10-04T12:00", "--weeks", "5")
    starts = [parse_iso(s["start"]) for s in shifts]
    assert all(parse_iso(a["end"]) == parse_iso(b["start"]) for a, b in zip(shifts, shifts[1:]))
    weekly = [(t, s["person"]) for t, s in zip(starts, shifts) if t.astimezone(TZ).weekday() == 6]
    assert [person for _, person in weekly] == ["Avi", "Dana", "Noa", "Avi", "Dana", "Noa"]
    assert all(t.astimezone(TZ).time() == time(10) for t, _ in weekly)
    weekly = [t for t, _ in weekly]
    assert {t.hour for t in weekly} == {7, 8}  # 10:00 IDT (UTC+3), then 10:00 IST (UTC+2) after 2026-10-25
    assert utc(2026, 10, 25, 8) in starts
    # The override shows as its own shift inside Noa's week.
    assert {"start": "2026-10-13T15:00:00Z", "end": "2026-10-14T07:00:00Z", "person": "Avi"} in [
        {key: s[key] for key in ("start", "end", "person")} for s in shifts]


def test_triage(team):
    out = cli(team, "triage", "invoices", "--json", "--error",
              "ERROR ingest: webhook backlog of 48211 events\nretrying in 30s", "--at", "2026-09-15T23:00Z")
    assert out["pipeline"] == "billing"
    assert out["matched"]["title"] == "Webhook backlog"
    assert out["matched"]["pattern"] == "webhook backlog"
    # Wednesday 02:00 IDT is a working day: Avi (on call) is paged; the owner Noa is not woken.
    assert (out["mode"], out["notify"], out["paged"]) == ("page", ["Avi"], ["Avi"])
    assert out["deadlines"] == {"data_ready_by": "2026-09-16T01:00:00Z", "fix_by": "2026-09-16T00:00:00Z"}


def test_triage_team_signature_and_end_of_month(team):
    out = cli(team, "triage", "forecast", "--json", "--error", "OSError: [Errno 28] No space left on device",
              "--at", "2026-10-31T22:30Z")  # 00:30 IST on Nov 1: November's month end
    assert out["matched"]["title"] == "Disk full"
    assert out["deadlines"]["fix_by"] == "2026-11-30T22:00:00Z"
    assert out["deadlines"]["data_ready_by"] is None


def test_runbook_card(team):
    done = run_cli("--runbook", str(team), "runbook", "Billing", "events")
    assert done.returncode == 0, done.stderr
    assert "Billing events (billing)" in done.stdout
    assert "Noa (primary), Avi (secondary)" in done.stdout
    assert "Webhook backlog" in done.stdout
    missing = run_cli("--runbook", str(team), "runbook", "profit")
    assert missing.returncode == 1
    assert "billing" in missing.stderr and "clickstream" in missing.stderr and "forecast" in missing.stderr


def test_ics(team):
    done = run_cli("--runbook", str(team), "ics", "--from", "2026-10-18", "--weeks", "3")
    assert done.returncode == 0, done.stderr
    cal = Calendar.from_ical(done.stdout)
    events = cal.walk("VEVENT")
    assert events
    summaries = [str(e["SUMMARY"]) for e in events]
    assert "On call: Avi (covering Dana)" in summaries
    for event in events:
        start = event.decoded("DTSTART")
        assert str(start.tzinfo) == "Asia/Jerusalem"
    handoffs = [e.decoded("DTSTART") for e in events if e.decoded("DTSTART").weekday() == 6]
    assert all(h.time() == time(10) for h in handoffs)
    assert {h.utcoffset() for h in handoffs} == {timedelta(hours=3), timedelta(hours=2)}
    uids = [str(e["UID"]) for e in events]
    assert len(set(uids)) == len(uids)
    assert any(tz["TZID"] == "Asia/Jerusalem" for tz in cal.walk("VTIMEZONE"))


def test_who_text_shows_both_zones(team):
    done = run_cli("--runbook", str(team), "who", "--at", "2026-09-27T08:00Z")
    assert done.returncode == 0, done.stderr
    assert "Sun 2026-09-27 08:00 UTC (Sun 11:00 Asia/Jerusalem)" in done.stdout
    assert "Noa" in done.stdout
