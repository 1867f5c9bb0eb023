"""The CLI's contracts: JSON shapes outside checks read, forgiving names, iCalendar, fast imports."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

import pytest
from icalendar import Calendar

from bot.cli import main
from tests.helpers_runbook import REPO, SOURCE_RUNBOOK, SOURCE_TEXT, cli_json, parse_iso, run_cli

RB = ["--runbook", str(SOURCE_RUNBOOK)]


def test_schedule_json_contract():
    shifts = cli_json(*RB, "schedule", "--json", "--from", "2026-11-02T09:00Z", "--weeks", "8")
    assert isinstance(shifts, list) and len(shifts) == 8
    for s in shifts:
        assert {"start", "end", "person"} <= set(s)
        assert parse_iso(s["end"]) - parse_iso(s["start"]) == timedelta(weeks=1)
    assert [s["person"] for s in shifts] == ["Danny", "Anna", "Laura", "Jane"] * 2
    assert shifts[0]["start"] == "2026-11-02T09:00:00Z"
    assert all(a["end"] == b["start"] for a, b in zip(shifts, shifts[1:]))


def test_schedule_52_weeks():
    shifts = cli_json(*RB, "schedule", "--json", "--from", "2027-01-01", "--weeks", "52")
    assert len(shifts) in (52, 53)
    starts = [parse_iso(s["start"]) for s in shifts]
    assert starts == sorted(starts)


def test_who_json_contract():
    out = cli_json(*RB, "who", "--json", "--at", "2026-11-03T02:00Z")
    assert out["at"] == "2026-11-03T02:00:00Z"
    assert {"person", "since", "until", "next"} <= set(out["oncall"])
    assert (out["oncall"]["person"], out["oncall"]["next"]) == ("Danny", "Anna")
    assert (out["oncall"]["since"], out["oncall"]["until"]) == ("2026-11-02T09:00:00Z", "2026-11-09T09:00:00Z")
    assert list(out["pipelines"]) == ["profit", "growth", "engagement", "investors", "experiments"]
    for decision in out["pipelines"].values():
        assert {"notify", "mode", "deferred_until"} <= set(decision)
        assert decision["mode"] in ("page", "notify", "quiet", "deferred", "none")
        assert isinstance(decision["notify"], list)
    assert out["pipelines"]["profit"] == {**out["pipelines"]["profit"], "mode": "deferred",
                                          "notify": ["Danny", "Jane"], "deferred_until": "2026-11-03T09:00:00Z"}
    assert (out["pipelines"]["growth"]["notify"], out["pipelines"]["growth"]["paged"]) == (["Danny"], ["Danny"])
    assert out["pipelines"]["experiments"]["notify"] == ["Danny"]


def test_who_json_before_the_rotation_starts():
    out = cli_json(*RB, "who", "--json", "--at", "2026-10-01T12:00Z")
    assert out["oncall"]["person"] is None and out["oncall"]["since"] is None
    assert out["oncall"]["next"] == "Danny"
    assert out["pipelines"]["experiments"]["mode"] == "none"


def test_who_at_without_offset_is_team_time():
    assert cli_json(*RB, "who", "--json", "--at", "2026-11-09T09:00")["oncall"]["person"] == "Anna"


def test_who_now_works():
    out = cli_json(*RB, "who", "--json")
    assert out["at"].endswith("Z")


def test_triage_json_contract():
    out = cli_json(*RB, "triage", "growth", "--json", "--at", "2026-11-03T01:30Z", "--error",
                   "Lost task 3.3 in stage 7.0: java.lang.NullPointerException\n\tat org.apache.spark.Foo")
    assert out["pipeline"] == "growth"
    assert {"title", "remediation", "pattern"} <= set(out["matched"])
    assert out["matched"]["title"] == "Spark task fails with NullPointerException"
    assert (out["mode"], out["notify"], out["paged"]) == ("page", ["Danny"], ["Danny"])
    assert out["deadlines"] == {"data_ready_by": "2026-11-03T04:00:00Z", "fix_by": "2026-11-04T00:00:00Z"}


def test_triage_json_no_match_and_unknown_pipeline():
    out = cli_json(*RB, "triage", "billing", "--json", "--at", "2026-11-03T01:30Z", "--error", "KeyError: 'x'")
    assert out["pipeline"] == "billing" and out["matched"] is None
    assert (out["mode"], out["notify"]) == ("page", ["Danny"])
    assert out["deadlines"] == {"data_ready_by": None, "fix_by": None}


def test_triage_reads_the_error_from_stdin():
    done = run_cli(*RB, "triage", "Engagement", "--json", "--error", "-", "--at", "2026-11-07T03:00Z",
                   stdin="ExecutorLostFailure: Container killed by YARN for exceeding physical memory limits.\n")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert (out["pipeline"], out["matched"]["title"]) == ("engagement", "OOM issue")


def test_triage_text_output(capsys):
    assert main([*RB, "triage", "profit", "--at", "2026-11-06T23:00Z", "--error", "reconciliation failed"]) == 0
    out = capsys.readouterr().out
    assert "Numbers don't align with numbers on accounts" in out
    assert "deferred: Danny, Jane" in out and "Mon 2026-11-09 09:00 UTC" in out


@pytest.mark.parametrize("name,key", [
    (["growth"], "Growth (growth)"), (["Growth"], "Growth (growth)"), (["GROWTH"], "Growth (growth)"),
    (["investors"], "Aggregate data for investors (investors)"),
    (["Aggregate", "data", "for", "investors"], "Aggregate data for investors (investors)"),
    (["grwth"], "Growth (growth)"), (["engagment"], "Engagement (engagement)"),
])
def test_runbook_forgiving_names(capsys, name, key):
    assert main([*RB, "runbook", *name]) == 0
    assert capsys.readouterr().out.splitlines()[0] == key


def test_runbook_card_has_the_source_facts(capsys):
    assert main([*RB, "runbook", "growth"]) == 0
    out = capsys.readouterr().out
    for fact in ("Users that subscribe the license", "Laura (primary), Danny (secondary)", "daily at 01:00 UTC",
                 "Customercare team", "Data science team", "04:00 UTC", "24h from midnight UTC",
                 "NullPointerException", "Check upstream whether any required column is missing."):
        assert fact in out, fact


def test_runbook_incomplete_pipeline_says_so(capsys):
    assert main([*RB, "runbook", "experiments"]) == 0
    assert "INCOMPLETE" in capsys.readouterr().out


def test_runbook_unknown_name_lists_the_known_ones(capsys):
    assert main([*RB, "runbook", "marketing"]) == 1
    err = capsys.readouterr().err
    for key in ("profit", "growth", "engagement", "investors", "experiments"):
        assert key in err


def test_bad_at_is_a_usage_error(capsys):
    assert main([*RB, "who", "--at", "yesterday"]) == 2
    assert "ISO-8601" in capsys.readouterr().err


def test_unknown_rotation_in_schedule(capsys):
    assert main([*RB, "schedule", "--rotation", "nope"]) == 2
    assert "data-engineering" in capsys.readouterr().err


def test_ics_is_a_valid_calendar():
    done = run_cli(*RB, "ics", "--from", "2026-12-01", "--weeks", "8")
    assert done.returncode == 0, done.stderr
    for line in ("BEGIN:VCALENDAR", "PRODID:", "VERSION:2.0"):
        assert line in done.stdout
    cal = Calendar.from_ical(done.stdout)
    assert cal["VERSION"] == "2.0" and "oncall-bot" in str(cal["PRODID"])
    events = cal.walk("VEVENT")
    assert len(events) >= 8
    for event in events:
        for prop in ("UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY"):
            assert prop in event, prop
        assert event.decoded("DTEND") - event.decoded("DTSTART") == timedelta(weeks=1)
    assert len({str(e["UID"]) for e in events}) == len(events)
    assert "On call: Jane" in [str(e["SUMMARY"]) for e in events]


def test_ics_uids_are_stable_between_runs():
    args = (*RB, "ics", "--from", "2026-12-01", "--weeks", "4")
    uids = [[str(e["UID"]) for e in Calendar.from_ical(run_cli(*args).stdout).walk("VEVENT")] for _ in range(2)]
    assert uids[0] == uids[1]


def test_python_dash_m_bot_is_the_cli():
    done = subprocess.run([sys.executable, "-m", "bot", "--help"], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0
    for command in ("validate", "who", "schedule", "runbook", "triage", "ics", "schema"):
        assert command in done.stdout


HEAVY = ("slack_bolt", "slack_sdk", "starlette", "uvicorn", "aiohttp", "sqlalchemy", "httpx", "apscheduler")

PROBE = """
import contextlib, io, json, sys
from bot.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(sys.argv[1:])
heavy = sorted({m.split('.')[0] for m in sys.modules} & set(%r))
print(json.dumps({"code": code, "heavy": heavy}))
""" % (HEAVY,)


@pytest.mark.parametrize("args", [
    ["who"], ["who", "--json"], ["schedule", "--weeks", "52"], ["runbook", "growth"], ["validate"],
    ["triage", "growth", "--error", "java.lang.NullPointerException"], ["ics"], ["schema"],
])
def test_read_only_commands_import_no_slack_or_http_modules(args):
    done = subprocess.run([sys.executable, "-c", PROBE, *RB, *args], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.splitlines()[-1])
    assert out == {"code": 0, "heavy": []}


def test_holiday_cache_off_or_fresh_gives_the_same_answer(tmp_path):
    at = ("who", "--json", "--at", "2026-12-25T12:00Z")
    answers = [cli_json(*RB, *at, env={"ONCALL_BOT_CACHE_DIR": value})
               for value in ("", str(tmp_path / "cache"), str(tmp_path / "cache"))]
    assert answers[0] == answers[1] == answers[2]
    assert answers[0]["pipelines"]["growth"]["mode"] == "notify"  # Christmas: no page; its fix deadline comes first
    assert (tmp_path / "cache" / "public-holidays.json").exists()


def test_triage_shows_what_an_alert_would_do_so_a_near_miss_is_unknown():
    out = cli_json(*RB, "triage", "growth_v2", "--json", "--at", "2026-11-03T01:30Z", "--error", "boom")
    assert (out["pipeline"], out["known"]) == ("growth_v2", False)
    done = run_cli(*RB, "triage", "growth_v2", "--at", "2026-11-03T01:30Z", "--error", "boom")
    assert "did you mean 'growth'?" in done.stdout


def test_a_reader_that_goes_away_gets_no_traceback():
    done = subprocess.run(f"{sys.executable} -m bot --runbook {RB[1]} schedule --weeks 3000 | head -1",
                          shell=True, capture_output=True, text=True, cwd=REPO)
    assert done.stdout.startswith("Rotation data-engineering") and "Traceback" not in done.stderr


def test_who_takes_a_rotation():
    assert cli_json(*RB, "who", "--json", "--rotation", "data-engineering")["oncall"]["rotation"] == "data-engineering"
    done = run_cli(*RB, "who", "--rotation", "nope")
    assert done.returncode == 2 and "unknown rotation 'nope'" in done.stderr


def test_an_override_with_an_offset_on_one_end_only_works(tmp_path):
    path = tmp_path / "runbooks.yaml"
    path.write_text(SOURCE_TEXT.replace("overrides: []", "overrides:\n  - {person: Anna, start: 2027-01-15T08:00:00+00:00, "
                                                        "end: 2027-01-16T09:00, note: one offset}"))
    out = cli_json("--runbook", str(path), "who", "--json", "--at", "2027-01-15T12:00Z")
    assert out["oncall"]["person"] == "Anna" and out["oncall"]["until"] == "2027-01-16T09:00:00Z"
    path.write_text(SOURCE_TEXT.replace("overrides: []", "overrides:\n  - {person: Anna, start: 2027-01-16T10:00:00+00:00, "
                                                        "end: 2027-01-16T09:00, note: backwards}"))
    done = run_cli("validate", str(path))
    assert done.returncode == 1 and "must be after its start" in done.stderr and "Traceback" not in done.stderr


def test_ics_writes_an_instant_of_a_repeated_hour_so_calendars_read_it_right(tmp_path):
    from tests.helpers_runbook import BERLIN

    # Felix takes over at the second 02:30 of the night clocks go back in Berlin (01:30 UTC).
    path = tmp_path / "berlin.yaml"
    path.write_text(BERLIN + "overrides:\n  - {person: Felix, start: '2026-10-25T02:30:00+01:00', "
                             "end: '2026-10-25T12:00:00+01:00', rotation: shop}\n")
    done = run_cli("--runbook", str(path), "ics", "--from", "2026-10-20", "--weeks", "2")
    assert done.returncode == 0, done.stderr
    events = done.stdout.replace("\r\n ", "").split("BEGIN:VEVENT")[1:]
    [felix] = [e for e in events if "SUMMARY:On call: Felix" in e and "20261025T" in e]
    assert "DTSTART:20261025T013000Z" in felix  # not TZID=Europe/Berlin:…T023000, read as the first 02:30
    assert "DTEND;TZID=Europe/Berlin:20261025T120000" in felix


def test_runbook_card_reads_as_sentences():
    investors = run_cli(*RB, "runbook", "investors").stdout
    assert "Schedule     Mondays at 01:00 UTC" in investors
    # One note, one line: the comma inside it does not split it in two.
    assert "Issues will be fixed by the end of the month, before the report for management is generated." in investors
    assert "Otherwise" not in investors and "The owners are mentioned in work hours" in investors
    growth = run_cli(*RB, "runbook", "growth").stdout
    assert "Schedule     daily at 01:00 UTC" in growth
    assert "When waiting would pass the fix deadline, the on-call person is mentioned at once" in growth


def test_covering_labels_each_piece_not_the_whole_stretch(tmp_path):
    from tests.helpers_runbook import BERLIN

    # Felix takes over from Jonas two hours before his own turn starts (Mon 14 Dec, 10:00 Berlin).
    path = tmp_path / "berlin.yaml"
    path.write_text(BERLIN + "overrides:\n  - {person: Felix, start: '2026-12-14T08:00', end: '2026-12-14T10:00', "
                             "rotation: shop, note: early takeover}\n")
    rb = ["--runbook", str(path)]
    early = cli_json(*rb, "who", "--json", "--at", "2026-12-14T08:30")["oncall"]
    assert (early["person"], early["covering"], early["until"]) == ("Felix", "Jonas", "2026-12-21T09:00:00Z")
    own = cli_json(*rb, "who", "--json", "--at", "2026-12-16T12:00")["oncall"]
    assert (own["person"], own["covering"], own["since"]) == ("Felix", None, "2026-12-14T07:00:00Z")
    shifts = cli_json(*rb, "schedule", "--json", "--from", "2026-12-07T12:00", "--weeks", "2")
    assert [(s["person"], s["start"], s["override"]) for s in shifts] == [
        ("Jonas", "2026-12-07T09:00:00Z", False),
        ("Felix", "2026-12-14T07:00:00Z", True),
        ("Felix", "2026-12-14T09:00:00Z", False),
        ("Soeren", "2026-12-21T09:00:00Z", False),
    ]
    text = run_cli(*rb, "schedule", "--from", "2026-12-07T12:00", "--weeks", "2").stdout
    assert text.count("covering") == 1
    ics = run_cli(*rb, "ics", "--from", "2026-12-07", "--weeks", "3").stdout.replace("\n ", "")
    assert ics.count("SUMMARY:On call: Felix (covering Jonas)") == 1
    assert ics.count("SUMMARY:On call: Felix\n") >= 1
