"""Reports from a week the store saw through the public surfaces: alerts, button presses, the
scheduled passes, a shifted clock. `oncall-bot report --json` and `/oncall report` give the same
figures, asserted exactly (counts, medians, 90th percentiles)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.jobs import incident_clocks, scheduled_messages
from tests.conftest import ShiftedClock, fresh_database
from tests.helpers_runbook import cli_json, source_with
from tests.slackreq import action_body, post_command, signed_headers

AUTH = {"Authorization": "Bearer alerts-secret"}
IDS = {"Danny": "U0DANNY", "Anna": "U0ANNA", "Laura": "U0LAURA", "Jane": "U0JANE"}
NPE = "org.apache.spark.SparkException: Task failed\nCaused by: java.lang.NullPointerException"
OOM = "java.lang.OutOfMemoryError: Java heap space"
MIN = timedelta(minutes=1)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


class Week:
    """The bot in process with its clock moved by hand, never back (the delivery worker paces each
    channel on it): at each instant the passes run once after what happened there, so a pass the
    scheduler makes meanwhile finds nothing more to do."""

    def __init__(self, app, fake):
        self.app, self.fake = app, fake
        self.app.clock = self.app.runtime.clock = ShiftedClock(utc(2026, 11, 30, 10))

    def at(self, when: datetime) -> "Week":
        self.app.clock.set(when)
        return self

    def passes(self) -> None:
        self.app.portal.call(incident_clocks, self.app.runtime)
        self.app.portal.call(scheduled_messages, self.app.runtime)

    def alert(self, pipeline: str, status: str = "failed", error: str = "", occurred: datetime | None = None) -> int:
        body = {"pipeline": pipeline, "status": status, "error": error}
        if occurred:
            body["occurred_at"] = occurred.isoformat()
        response = self.app.post("/alerts", json=body, headers=AUTH)
        assert response.status_code == 202, response.text
        return response.json()["incident"]

    def succeeded(self, pipeline: str, occurred: datetime) -> None:
        self.alert(pipeline, "succeeded", occurred=occurred)

    def press(self, action: str, incident: int, person: str) -> None:
        body = action_body(action, str(incident), user_id=IDS[person], response_url=self.fake.url + "response")
        assert self.app.post("/slack/events", content=body, headers=signed_headers(body)).status_code == 200

    def paged(self, person: str, count: int) -> None:
        """Wait until `person` has had `count` pages (sent at this instant of the clock); their other direct
        messages (shift reminders) are not pages."""
        self.fake.wait_for("chat.postMessage", count, wanted=lambda c: c.args["channel"] == "D" + IDS[person]
                           and c.args["text"].startswith(("Growth", "Engagement")))


@pytest.fixture(params=["sqlite", "postgresql"])  # the durations are summed in each one's own SQL
def report_db(request, tmp_path):
    yield from fresh_database(request.param, tmp_path)


@pytest.fixture
def week(report_db, tmp_path, fake_slack, make_app):
    # report_db first: it is torn down last, after the app has stopped using it.
    db = report_db
    text = source_with("Danny: {email: danny@example.com, placeholder: true}", "Danny: {slack_id: U0DANNY}")
    for name in ("Anna", "Laura", "Jane"):
        text = text.replace(f"{name}: {{email: {name.lower()}@example.com, placeholder: true}}",
                            f"{name}: {{slack_id: {IDS[name]}}}")
    path = tmp_path / "runbooks.yaml"
    path.write_text(text)
    app = make_app(fake_slack, runbook=path, DATABASE_URL=db)
    w = Week(app, fake_slack)
    w.path, w.db = path, db
    # Monday 30 Nov: both nightly pipelines report their runs; the SLA watch starts.
    w.succeeded("growth", utc(2026, 11, 30, 2))
    w.succeeded("engagement", utc(2026, 11, 30, 2))
    w.passes()
    # Tue 1 Dec: Growth fails at night (Danny paged), acknowledged 10 min later, data 1 h late.
    growth = w.at(utc(2026, 12, 1, 1, 30)).alert("growth", error=NPE)
    w.paged("Danny", 1)
    w.at(utc(2026, 12, 1, 1, 40)).press("incident_ack", growth, "Danny")
    w.succeeded("engagement", utc(2026, 12, 1, 2))
    w.passes()
    w.at(utc(2026, 12, 1, 4, 30)).passes()                  # the breach is said in Growth's thread
    w.at(utc(2026, 12, 1, 5)).succeeded("growth", utc(2026, 12, 1, 5))
    # Wed 2 Dec: Engagement fails (Danny paged), acknowledged after 29 min (a minute before it would
    # escalate), resolved by Laura at 03:10.
    w.at(utc(2026, 12, 2, 2)).succeeded("growth", utc(2026, 12, 2, 2))
    engagement = w.at(utc(2026, 12, 2, 2, 10)).alert("engagement", error=OOM)
    w.paged("Danny", 2)
    w.at(utc(2026, 12, 2, 2, 39)).press("incident_ack", engagement, "Danny")
    w.at(utc(2026, 12, 2, 3, 10)).press("incident_resolve", engagement, "Laura")
    w.at(utc(2026, 12, 2, 4)).succeeded("engagement", utc(2026, 12, 2, 4))
    w.passes()
    # Thu 3 Dec: Growth reports nothing: the watch opens a breach at 04:30 and pages Danny.
    w.at(utc(2026, 12, 3, 2)).succeeded("engagement", utc(2026, 12, 3, 2))
    w.passes()
    w.at(utc(2026, 12, 3, 4, 30)).passes()
    w.paged("Danny", 3)
    missing = max(i for i in _incident_ids(w))
    w.at(utc(2026, 12, 3, 4, 45)).press("incident_ack", missing, "Danny")
    w.at(utc(2026, 12, 3, 10)).press("incident_resolve", missing, "Danny")
    w.passes()
    # Fri 4 Dec: Profit fails at night: debugged in work hours, its owners told Monday (still open).
    for day in (4, 5):
        w.at(utc(2026, 12, day, 2)).succeeded("growth", utc(2026, 12, day, 2))
        w.succeeded("engagement", utc(2026, 12, day, 2))
        w.passes()
        if day == 4:
            w.at(utc(2026, 12, 4, 2, 30)).alert("profit", error="numbers don't align with accounts")
            w.passes()
    # Sun 6 Dec: Engagement fails at 01:30; Danny does not answer; at 02:01 Anna (primary) is paged
    # and acknowledges at 02:10; its success at 03:00 resolves it, on time.
    w.at(utc(2026, 12, 6, 1, 30)).alert("engagement", error=OOM)
    w.paged("Danny", 4)
    w.at(utc(2026, 12, 6, 1, 59)).succeeded("growth", utc(2026, 12, 6, 1, 59))
    w.at(utc(2026, 12, 6, 2, 1)).passes()
    w.paged("Anna", 1)
    sunday = max(_incident_ids(w))
    w.at(utc(2026, 12, 6, 2, 10)).press("incident_ack", sunday, "Anna")
    w.at(utc(2026, 12, 6, 3)).succeeded("engagement", utc(2026, 12, 6, 3))
    w.passes()
    w.at(utc(2026, 12, 7, 2)).succeeded("growth", utc(2026, 12, 7, 2))
    w.succeeded("engagement", utc(2026, 12, 7, 2))
    w.at(utc(2026, 12, 7, 8, 59)).passes()
    return w


def _incident_ids(w) -> list[int]:
    from bot.store.incidents import list_incidents

    return [i.id for i in list_incidents(w.app.runtime.store)]


H = 3600


def spread(count, median, p90) -> dict:
    return {"count": count, "median_seconds": median, "p90_seconds": p90}


def test_a_week_of_runs_incidents_and_pages_in_exact_figures_in_the_cli_and_in_slack(week):
    report = cli_json("--runbook", str(week.path), "report", "--weeks", "1", "--at", "2026-12-07T08:59Z", "--json",
                      env={"DATABASE_URL": week.db})
    by = {p["key"]: p for p in report["pipelines"]}
    assert {k: (p["runs_watched"], p["on_time"], p["late"], p["missed"]) for k, p in by.items()
            if p["runs_watched"]} == {"growth": (7, 5, 1, 1), "engagement": (7, 7, 0, 0)}
    assert by["growth"]["late_by"] == spread(1, H, H)
    assert by["growth"] | {"late_by": None} == by["growth"] | {
        "incidents": 2, "acknowledge": spread(2, 750, 900), "resolve": spread(2, int(4.5 * H), int(5.5 * H)),
        "fix_deadlines": {"met": 2, "missed": 0}, "pages": 2, "pages_outside_hours": 2, "escalations": 0,
        "folded": 0, "deduplicated": 0, "late_by": None}
    assert by["engagement"] | {"incidents": 2, "acknowledge": spread(2, 34 * 60 + 30, 40 * 60),
                               "resolve": spread(2, int(1.25 * H), int(1.5 * H)),
                               "fix_deadlines": {"met": 2, "missed": 0}, "pages": 3, "pages_outside_hours": 3,
                               "escalations": 1} == by["engagement"]
    assert (by["profit"]["incidents"], by["profit"]["pages"], by["profit"]["runs_watched"]) == (1, 0, 0)
    people = {p["name"]: p for p in report["people"]}
    assert [p["name"] for p in report["people"]] == ["Danny", "Anna", "Laura"]
    assert people["Danny"] | {"pages": 4, "pages_outside_hours": 4, "nights_woken": 4, "acknowledged": 3,
                              "resolved": 1, "acknowledge": spread(3, 900, 29 * 60)} == people["Danny"]
    assert people["Anna"] | {"pages": 1, "nights_woken": 1, "acknowledged": 1,
                             "acknowledge": spread(1, 2400, 2400)} == people["Anna"]
    assert (people["Laura"]["pages"], people["Laura"]["resolved"]) == (0, 1)
    assert (report["open_incidents"], report["carried_over"]) == (1, 0)

    # /oncall report: the same figures in Slack, to the asker unless `public`.
    week.app.clock.set(utc(2026, 12, 7, 8, 59))
    reply = post_command(week.app, "/oncall", "report 1").json()
    said = json.dumps(reply["blocks"])
    assert reply["response_type"] == "ephemeral"
    assert ("Growth: SLA 5/7 on time, 1 late (median 1h, worst 1h), 1 missed; 2 incident(s); acknowledged median 12m30s, "
            "p90 15m (n=2); resolved median 4h30m, p90 5h30m (n=2); fix deadlines 2 met, 0 missed; 2 page(s), "
            "2 outside work hours") in said
    assert ("Danny: 4 page(s), 4 outside work hours, 4 night(s) woken; acknowledged 3 (median 15m, p90 29m (n=3)), "
            "resolved 1") in said
    assert "Open incidents now: 1" in said
    public = post_command(week.app, "/oncall", "report 1 public").json()
    assert public["response_type"] == "in_channel"
    assert "takes a number of weeks" in json.dumps(post_command(week.app, "/oncall", "report 99").json())
