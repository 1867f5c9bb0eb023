"""Who hears what, through `oncall-bot serve` as a process with its clock moved (libfaketime), a fake
Slack and signed requests: exactly who is mentioned and who gets a direct message, per pipeline, at a
weekday day, a weekday night, a weekend, a holiday and a month end, for the source team and for a
second team in Europe/Berlin."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime

import httpx
import pytest

from bot.store import Store
from bot.store import outbox as box
from tests.helpers_runbook import BERLIN
from tests.conftest import RUNBOOK
from tests.fakeslack import FakeSlack
from tests.slackreq import action_body, signed_headers

AUTH = {"Authorization": "Bearer alerts-secret"}
IDS = {"Danny": "U0DANNY", "Anna": "U0ANNA", "Laura": "U0LAURA", "Jane": "U0JANE",
       "Felix": "U0FELIX01", "Soeren": "U0SOEREN1", "Mia": "U0MIA0001", "Jonas": "U0JONAS01"}
NAMES = {v: k for k, v in IDS.items()}


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


EMAILS = {f"{name.lower()}@team.test": uid for name, uid in IDS.items()}


@pytest.fixture
def source_team(tmp_path, fake_slack):
    """The repo's runbook with real emails, known to the fake Slack, as an installed team has it."""
    fake_slack.users_by_email.update(EMAILS)
    path = tmp_path / "runbooks.yaml"
    path.write_text(RUNBOOK.read_text().replace("@example.com, placeholder: true", "@team.test"))
    return path


@pytest.fixture
def berlin_team(tmp_path):
    path = tmp_path / "berlin.yaml"
    path.write_text(BERLIN)
    return path


def mentioned(call) -> set[str]:
    return {NAMES[uid] for uid in re.findall(r"<@(U[A-Z0-9]+)>", call.texts())}


def drained(db_url: str, timeout: float = 20) -> None:
    """Every delivery the bot queued has been made: the positive proof that nothing more will come."""
    store = Store(db_url)
    deadline = time.monotonic() + timeout
    while any(row.state == "pending" for row in box.items(store)):
        assert time.monotonic() < deadline, [(r.kind, r.state, r.last_error) for r in box.items(store)]
        time.sleep(0.1)
    store.engine.dispose()


def alert(url: str, pipeline: str, at: datetime, error: str = "java.lang.NullPointerException") -> int:
    response = httpx.post(url + "/alerts", headers=AUTH, json={
        "pipeline": pipeline, "status": "failed", "error": error, "occurred_at": at.isoformat()})
    assert response.status_code == 202, response.text
    return response.json()["incident"]


def parents(fake, channel: str) -> dict[str, object]:
    """The top-level alert posts by the pipeline name they open with."""
    return {c.args["text"].split(" failed")[0]: c for c in fake.of("chat.postMessage")
            if c.args.get("channel") == channel and not c.args.get("thread_ts") and " failed (" in c.args["text"]}


def pages(fake) -> list[tuple[str, str]]:
    """(person, pipeline) of each direct message about a failure."""
    return sorted((NAMES[c.args["channel"][1:]], c.args["text"].split(" failed")[0]) for c in fake.of("chat.postMessage")
                  if c.args["channel"].startswith("D") and " failed (" in c.args["text"])


SOURCE = ["profit", "growth", "engagement", "investors", "experiments"]
TITLES = {"profit": "Profit", "growth": "Growth", "engagement": "Engagement", "investors": "Aggregate data for investors",
          "experiments": "Aggregate data for experiments team", "orders": "Orders", "ledger": "Ledger",
          "kpis": "Monthly KPIs"}

# (instant, {pipeline: who is mentioned in its alert}, [(who gets a direct message, for which pipeline)])
SOURCE_TABLE = {
    "weekday day": (utc(2026, 12, 1, 12), {
        "profit": {"Danny", "Jane"}, "growth": {"Danny", "Laura"}, "engagement": {"Danny", "Anna", "Laura"},
        "investors": {"Jane", "Anna"}, "experiments": {"Danny"}},
        ["engagement", "experiments", "growth"]),
    "weekday night": (utc(2026, 12, 2, 3), {
        "profit": set(), "growth": {"Danny"}, "engagement": {"Danny"}, "investors": set(), "experiments": {"Danny"}},
        ["engagement", "experiments", "growth"]),
    "weekend": (utc(2026, 12, 5, 2, 30), {
        "profit": set(), "growth": {"Danny"}, "engagement": {"Danny"}, "investors": set(), "experiments": {"Danny"}},
        ["engagement", "experiments", "growth"]),
    "holiday": (utc(2026, 12, 25, 3), {   # Jane's week; Growth mentions her (its fix deadline comes first)
        "profit": set(), "growth": {"Jane"}, "engagement": {"Jane"}, "investors": set(), "experiments": {"Jane"}},
        ["engagement", "experiments"]),
    "month end": (utc(2026, 12, 31, 20), {
        "profit": set(), "growth": {"Danny"}, "engagement": {"Danny"}, "investors": set(), "experiments": {"Danny"}},
        ["engagement", "experiments", "growth"]),
}


def run_table(serve, runbook_path, tmp_path, table, alerts_channel: str) -> dict:
    """One `serve` per instant, all started side by side (each paces its own channel at one post a
    second), each with its own fake Slack and database: what each instant's alerts told whom."""
    runs = {}
    for when, (at, expected, _) in table.items():
        fake = FakeSlack(users_by_email=dict(EMAILS))
        db = f"sqlite:///{tmp_path / (when.replace(' ', '-') + '.db')}"
        runs[when] = (fake, db, serve(fake, at=at, wait=False, RUNBOOKS_PATH=str(runbook_path), DATABASE_URL=db))
    try:
        for when, (fake, db, served) in runs.items():
            served.wait_ready()
            for pipeline in table[when][1]:
                alert(served.url, pipeline, table[when][0])
        seen = {}
        for when, (fake, db, served) in runs.items():
            drained(db)
            posted = parents(fake, alerts_channel)
            seen[when] = ({key: mentioned(posted[TITLES[key]]) for key in table[when][1]}, pages(fake))
        return seen
    finally:
        for fake, _, served in runs.values():
            served.stop()
            fake.close()


def test_each_pipelines_first_alert_tells_exactly_whom_its_policy_says(serve, source_team, tmp_path):
    seen = run_table(serve, source_team, tmp_path, SOURCE_TABLE, "#data-alerts")
    for when, (at, expected, paged) in SOURCE_TABLE.items():
        oncall = next(iter(expected["engagement"] - {"Anna", "Laura"}))
        assert seen[when] == (expected, sorted((oncall, TITLES[key]) for key in paged)), when


BERLIN_TABLE = {
    "weekday day": (utc(2026, 12, 1, 11), {"orders": {"Soeren", "Jonas", "Felix"}, "ledger": {"Mia", "Soeren"},
                                           "kpis": {"Soeren"}}, [("Soeren", "Orders")]),
    "weekday night": (utc(2026, 12, 2, 2), {"orders": {"Soeren"}, "ledger": set(), "kpis": set()},
                      [("Soeren", "Orders")]),
    "weekend": (utc(2026, 12, 5, 1, 30), {"orders": {"Soeren"}, "ledger": set(), "kpis": set()},
                [("Soeren", "Orders")]),
    # Christmas and the 26th are holidays in Berlin: Orders pages rather than wait past its fix deadline.
    "holiday": (utc(2026, 12, 25, 2), {"orders": {"Soeren"}, "ledger": set(), "kpis": set()}, [("Soeren", "Orders")]),
    "month end": (utc(2026, 12, 31, 19), {"orders": {"Jonas"}, "ledger": set(), "kpis": set()}, [("Jonas", "Orders")]),
}


def test_a_second_team_in_berlin_gets_the_same_treatment_without_code_changes(serve, berlin_team, tmp_path):
    seen = run_table(serve, berlin_team, tmp_path, BERLIN_TABLE, "#shop-alerts")
    for when, (at, expected, paged) in BERLIN_TABLE.items():
        assert seen[when] == (expected, paged), when


def test_profit_on_a_saturday_night_wakes_nobody_and_its_owners_hear_of_it_monday_morning(serve, fake_slack,
                                                                                          source_team, tmp_path):
    db = f"sqlite:///{tmp_path / 'bot.db'}"
    env = dict(RUNBOOKS_PATH=str(source_team), DATABASE_URL=db)

    def at(when: datetime):
        served = serve(fake_slack, at=when, **env)
        return served

    first = at(utc(2026, 12, 5, 1, 59, 58))  # installed before the night's runs: their SLA is watched
    fake_slack.wait_for("chat.postMessage", wanted=lambda c: c.args.get("channel") == "#data-oncall")
    success = {"pipeline": "profit", "status": "succeeded", "occurred_at": "2026-12-04T02:40:00Z"}
    assert httpx.post(first.url + "/alerts", headers=AUTH, json=success).status_code == 202  # Profit reports
    first.stop()
    night = at(utc(2026, 12, 5, 2, 30))
    alert(night.url, "profit", utc(2026, 12, 5, 2, 29), "Reconciliation failed: totals differ")
    drained(db)
    night.stop()
    parent = fake_slack.wait_for("chat.postMessage", wanted=lambda c: c.args["text"].startswith("Profit failed"))[0]
    assert mentioned(parent) == set() and "will be told" in parent.texts()

    sla = at(utc(2026, 12, 5, 3, 0, 1))  # Profit's data was due at 03:00
    breach = fake_slack.wait_for("chat.postMessage", wanted=lambda c: "SLA missed" in c.texts())[0]
    assert breach.args.get("thread_ts") and not breach.args.get("reply_broadcast")
    assert mentioned(breach) == set() and "Nobody is mentioned" in breach.texts()
    drained(db)
    sla.stop()

    monday = at(utc(2026, 12, 7, 9, 0, 1))
    ping = fake_slack.wait_for("chat.postMessage", wanted=lambda c: "still open" in c.texts())[0]
    assert mentioned(ping) == {"Danny", "Jane"}  # work hours: the owners, mentioned, not paged
    assert "SLA missed" in ping.texts()           # what happened meanwhile, in the same message
    monday.stop()  # (the ping is the last of Profit's rows: its incident's deliveries go out in order)
    assert [p for p in pages(fake_slack) if p[1] == "Profit"] == []
    assert len([c for c in fake_slack.of("chat.postMessage") if "still open" in c.texts()]) == 1


def test_a_page_is_a_direct_message_whose_acknowledge_edits_it(serve, fake_slack, source_team, tmp_path):
    db = f"sqlite:///{tmp_path / 'bot.db'}"
    served = serve(fake_slack, at=utc(2026, 12, 5, 2, 30), RUNBOOKS_PATH=str(source_team), DATABASE_URL=db)
    incident = alert(served.url, "growth", utc(2026, 12, 5, 2, 25))
    dm = fake_slack.wait_for("chat.postMessage", wanted=lambda c: c.args["channel"] == "DU0DANNY")[0]
    assert "Spark task fails with NullPointerException" in dm.texts()  # the cause, to act from a phone
    assert "fake.slack.com/archives/%23data-alerts" in dm.texts() or "fake.slack.com/archives/#data-alerts" in dm.texts()
    [button] = [e for b in dm.args["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert (button["action_id"], button["value"]) == ("incident_ack", str(incident))
    body = action_body("incident_ack", button["value"], user_id="U0DANNY", channel="D0DANNY")
    reply = httpx.post(served.url + "/slack/events", content=body,
                       headers=signed_headers(body, timestamp=int(served.now().timestamp())))
    assert reply.status_code == 200
    edit = fake_slack.wait_for("chat.update", wanted=lambda c: c.args["channel"] == "DU0DANNY")[0]
    assert "acknowledged" in edit.args["text"] and '"actions"' not in json.dumps(edit.args["blocks"])
    metrics = httpx.get(served.url + "/metrics").text
    assert 'oncall_pages_total{kind="open",outcome="sent",pipeline="growth"} 1.0' in metrics


def test_unacknowledged_at_night_the_next_step_reaches_someone_new(serve, fake_slack, source_team, tmp_path):
    # Growth on a Saturday night: Danny (on call, secondary owner and admin) is paged; 30 minutes later
    # the chain [oncall, primary, secondary, admins] wakes Laura, the only one not paged yet.
    db = f"sqlite:///{tmp_path / 'bot.db'}"
    env = dict(RUNBOOKS_PATH=str(source_team), DATABASE_URL=db)
    first = serve(fake_slack, at=utc(2026, 12, 5, 2, 30), **env)
    alert(first.url, "growth", utc(2026, 12, 5, 2, 25))
    drained(db)
    first.stop()
    later = serve(fake_slack, at=utc(2026, 12, 5, 3, 0, 5), **env)  # half an hour later, nobody acknowledged
    step = fake_slack.wait_for("chat.postMessage", wanted=lambda c: "Escalated" in c.texts())[0]
    assert mentioned(step) == {"Laura"} and "by the clock" in step.texts()
    drained(db)
    later.stop()
    assert pages(fake_slack) == [("Danny", "Growth"), ("Laura", "Growth")]


def test_the_investors_aggregate_on_new_years_eve_is_chased_quietly_and_never_escalates(serve, fake_slack,
                                                                                        source_team, tmp_path):
    # "No on-call", fixed by the month's end: the evening's reminders and the midnight miss are posted in
    # the thread for the record, mentioning nobody; nothing escalates by the clock; nobody is paged.
    db = f"sqlite:///{tmp_path / 'bot.db'}"
    env = dict(RUNBOOKS_PATH=str(source_team), DATABASE_URL=db)
    evening = serve(fake_slack, at=utc(2026, 12, 31, 19, 55), **env)
    alert(evening.url, "investors", utc(2026, 12, 31, 19, 50), "ZeroDivisionError: division by zero")
    drained(db)
    evening.stop()
    # The reminders 4 h and 1 h before the month ends, then the miss.
    for replies, when in ((1, utc(2026, 12, 31, 20, 0, 1)), (2, utc(2026, 12, 31, 23, 0, 1)), (3, utc(2027, 1, 1, 0, 0, 1))):
        served = serve(fake_slack, at=when, **env)
        fake_slack.wait_for("chat.postMessage", count=replies, wanted=lambda c: bool(c.args.get("thread_ts")))
        drained(db)
        served.stop()
    replies = [c for c in fake_slack.of("chat.postMessage") if c.args.get("thread_ts")]
    assert [mentioned(c) for c in replies] == [set()] * 3 and "Fix deadline missed" in replies[2].texts()
    assert all("Nobody is mentioned" in c.texts() for c in replies)
    assert not any(c.args.get("reply_broadcast") for c in replies)
    assert not [c for c in replies if "Escalat" in c.texts()]  # (the parent's button is called Escalate)
    assert pages(fake_slack) == []
