"""Failure alerts end to end through the app and the fake Slack, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from bot.jobs import incident_clocks, scheduled_messages
from tests.conftest import ShiftedClock, fresh_database
from tests.slackreq import action_body, signed_headers
from tests.slackreq import ROTATION_EMAILS

AUTH = {"Authorization": "Bearer alerts-secret"}
SPARK_NPE = """org.apache.spark.SparkException: Job aborted due to stage failure: Task 3 in stage 7.0 failed 4 times
Caused by: java.lang.NullPointerException
\tat com.acme.growth.Subscriptions.$anonfun$run$1(Subscriptions.scala:42)
\tat org.apache.spark.sql.execution.WholeStageCodegenExec.$anonfun$doExecute$4(WholeStageCodegenExec.scala:760)"""
# Tuesday 2026-12-01 02:30 UTC: a weekday night; Danny is on call (week of 2026-11-30).
WEEKDAY_NIGHT = datetime(2026, 12, 1, 2, 30, tzinfo=UTC)


BOTH = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture(params=["sqlite"])
def database_url(request, tmp_path):
    """These tests are about what Slack is told: SQLite serves them. The store's behaviour on both
    backends is tested by the store and delivery suites; tests that lean on SQL here run on both (BOTH)."""
    yield from fresh_database(request.param, tmp_path)


@pytest.fixture
def bot(database_url, fake_slack, make_app, real_people_runbook):  # noqa: F811
    # database_url first: it is then torn down last, after the app has stopped using it.
    fake_slack.users_by_email.update(ROTATION_EMAILS)
    client = make_app(fake_slack, runbook=real_people_runbook, DATABASE_URL=database_url)
    client.clock = ShiftedClock(WEEKDAY_NIGHT)
    client.runtime.clock = client.clock
    return client


def texts(call) -> str:
    return call.args.get("text", "") + json.dumps(call.args.get("blocks", []), ensure_ascii=False)


def parent_of(fake_slack, marker: str, timeout: float = 10):
    """The incident's top-level message in its channel (scheduled messages may share the fake Slack;
    a page's direct message, which may now come first, is not it)."""
    return fake_slack.wait_for("chat.postMessage", timeout=timeout, wanted=lambda c: not c.args.get("thread_ts")
                               and not c.args["channel"].startswith("D") and marker in texts(c))[0]


def thread(fake_slack, parent, count: int, timeout: float = 10) -> list:
    """Replies in the parent's thread."""
    ts = fake_slack_ts(fake_slack, parent)
    return fake_slack.wait_for("chat.postMessage", count, timeout, lambda c: c.args.get("thread_ts") == ts)


def updates(fake_slack, parent, count: int, timeout: float = 10) -> list:
    """Edits of the parent message."""
    ts = fake_slack_ts(fake_slack, parent)
    return fake_slack.wait_for("chat.update", count, timeout, lambda c: c.args.get("ts") == ts)


def fake_slack_ts(fake_slack, parent) -> str:
    """The ts the fake Slack gave the parent: the n-th postMessage got 1800000000+n."""
    index = [c for c in fake_slack.calls if c.method == "chat.postMessage" and c.status == 200].index(parent)
    return f"{1_800_000_000 + index + 1}.000100"


def test_growth_failure_opens_one_thread_with_people_and_remediation(bot, fake_slack):
    response = bot.post("/alerts", json={"pipeline": "growth", "status": "failed", "error": SPARK_NPE,
                                         "run_id": "scheduled__2026-12-01T01:00", "log_url": "https://airflow/log/1"},
                        headers=AUTH)
    assert response.status_code == 202
    assert response.json()["deduplicated"] is False
    incident = response.json()["incident"]
    post = parent_of(fake_slack, "Growth failed")
    body = texts(post)
    assert post.args["channel"] == "#data-alerts"
    # Tuesday 02:30: Danny (on call, also the secondary owner) is paged; the primary owner sleeps.
    assert "<@U0DANNY>" in body and "<@U0LAURA>" not in body and "*Laura* (primary)" in body
    assert "Paged by direct message: *Danny*" in body
    assert "Spark task fails with NullPointerException" in body
    assert "required column" in body
    assert "Customercare team" in body and "Data science team" in body
    assert "<!date^" in body  # deadlines as Slack date tokens
    assert "https://airflow/log/1" in json.dumps(post.args["blocks"])
    assert {"incident_ack", "incident_resolve", "incident_escalate"} <= {
        e.get("action_id") for b in post.args["blocks"] if b["type"] == "actions" for e in b["elements"]}

    again = bot.post("/alerts", json={"pipeline": "growth", "status": "failed", "error": SPARK_NPE,
                                      "run_id": "scheduled__2026-12-01T01:00"}, headers=AUTH)
    assert again.json() == {"incident": incident, "deduplicated": True}
    reply = thread(fake_slack, post, 1)[0]
    assert "<@" not in texts(reply)  # repeats are quiet
    assert "seen 2 times" in texts(updates(fake_slack, post, 1)[-1])

    done = bot.post("/alerts", json={"pipeline": "growth", "status": "succeeded",
                                     "run_id": "scheduled__2026-12-01T01:00"}, headers=AUTH)
    assert done.status_code == 202 and done.json()["incident"] == incident
    replies = thread(fake_slack, post, 2)
    assert "Resolved" in texts(replies[-1]) and "<@" not in texts(replies[-1])
    assert "within its SLA" in texts(replies[-1])
    resolved = texts(updates(fake_slack, post, 2)[-1])
    assert "Resolved" in resolved
    # The record stays: the error and the likely cause are still on the resolved message.
    assert "NullPointerException" in resolved and "required column" in resolved
    tops = [c for c in fake_slack.of("chat.postMessage") if not c.args.get("thread_ts") and "Growth failed" in texts(c)
            and c.args["channel"] == "#data-alerts"]
    assert len(tops) == 1
    # The page: one direct message to Danny, linking to the thread, with Acknowledge; edited once resolved.
    [dm] = [c for c in fake_slack.of("chat.postMessage") if c.args["channel"] == "DU0DANNY"]
    assert "Spark task fails with NullPointerException" in texts(dm) and "fake.slack.com/archives" in texts(dm)
    assert [e["action_id"] for b in dm.args["blocks"] if b["type"] == "actions" for e in b["elements"]] == \
        ["incident_ack"]
    edits = fake_slack.wait_for("chat.update", wanted=lambda c: c.args["channel"] == "DU0DANNY")
    assert "resolved" in edits[-1].args["text"] and '"actions"' not in json.dumps(edits[-1].args["blocks"])
    assert len([c for c in fake_slack.of("chat.postMessage") if c.args["channel"].startswith("D")]) == 1


def test_profit_friday_night_is_quiet_then_pings_owners_at_work_hours(bot, fake_slack):
    bot.clock.set(datetime(2026, 12, 4, 23, 0, tzinfo=UTC))  # Friday 23:00 UTC
    bot.post("/alerts", json={"pipeline": "Profit", "status": "failed",
                              "error": "Reconciliation failed: numbers don't align with accounts"}, headers=AUTH)
    parent = parent_of(fake_slack, "Profit failed")
    assert "<@" not in parent.args["text"] and "<@" not in json.dumps(parent.args["blocks"])
    assert "verified by an accountant" in texts(parent)
    assert "will be told" in texts(parent) and "handled in work hours only" in texts(parent)
    from bot.store import outbox as box

    def pings() -> list:
        return [r for r in box.items(bot.runtime.store) if r.kind == "deferred_ping"]

    bot.portal.call(incident_clocks, bot.runtime)  # Saturday: nothing is due yet
    assert not pings()  # nothing queued, so nothing can be posted
    ts = fake_slack_ts(fake_slack, parent)
    bot.clock.set(datetime(2026, 12, 7, 9, 0, 5, tzinfo=UTC))  # Monday 09:00:05
    bot.portal.call(incident_clocks, bot.runtime)
    ping = thread(fake_slack, parent, 1)[0]
    assert "<@U0DANNY>" in ping.args["text"] and "<@U0JANE>" in ping.args["text"]
    bot.portal.call(incident_clocks, bot.runtime)  # once only
    assert len(pings()) == 1 and pings()[0].state == "sent"
    assert len([c for c in fake_slack.of("chat.postMessage") if c.args.get("thread_ts") == ts]) == 1


def test_injection_attempt_is_rendered_harmless(bot, fake_slack):
    evil = ("<!channel> <@U0BOSS> please <https://evil.example|click the Airflow log> @here & @everyone "
            "run \u202egpj.exe")  # a right-to-left override would show "exe.jpg"
    bot.post("/alerts", json={"pipeline": "<!here> growth", "status": "failed", "error": evil,
                              "run_id": "<@U0BOSS>"}, headers=AUTH)
    post = parent_of(fake_slack, "unknown pipeline")
    everything = texts(post)
    for forged in ("<!channel>", "<!here>", "<@U0BOSS>", "<https://evil.example"):
        assert forged not in everything
    assert "&lt;!channel&gt;" in everything
    assert "@here" not in everything and "@everyone" not in everything  # broken by a word joiner
    assert "\u202e" not in everything and "[U+202E]gpj.exe" in everything


def test_a_button_pressed_from_another_workspace_is_refused_though_it_names_ours(bot, fake_slack):
    from urllib.parse import parse_qsl, urlencode

    incident = bot.post("/alerts", json={"pipeline": "growth", "status": "failed", "error": "x"},
                        headers=AUTH).json()["incident"]
    form = dict(parse_qsl(action_body("incident_ack", str(incident), user_id="U0DANNY",
                                      response_url=fake_slack.url + "response")))
    payload = json.loads(form["payload"])
    payload["user"]["team_id"] = "T0OTHER"  # a shared channel: our team.id, a stranger's own workspace
    body = urlencode({"payload": json.dumps(payload)})
    assert bot.post("/slack/events", content=body, headers=signed_headers(body)).status_code == 200
    refused = fake_slack.wait_for("response")[0]
    assert "another workspace" in refused.args["text"]
    from bot.store.incidents import get_incident

    assert get_incident(bot.runtime.store, incident).status == "open"


def test_rate_limited_post_is_delivered_once(bot, fake_slack):
    fake_slack.fail("chat.postMessage", status=429, retry_after=1)
    bot.post("/alerts", json={"pipeline": "engagement", "status": "failed", "error": "wrote 0 rows"}, headers=AUTH)
    parent_of(fake_slack, "Engagement failed", timeout=15)
    attempts = [c.status for c in fake_slack.calls if c.method == "chat.postMessage"]
    assert attempts[0] == 429
    tops = [c for c in fake_slack.of("chat.postMessage") if "Engagement failed" in texts(c)
            and c.args["channel"] == "#data-alerts"]
    assert len(tops) == 1


@BOTH
def test_rate_limited_longer_than_the_client_retries_is_rescheduled_and_delivered_once(bot, fake_slack):
    # The Slack client retries a 429 three times itself; a longer refusal reaches the outbox, which
    # keeps the row and tries again after Retry-After.
    from bot.store import outbox

    fake_slack.fail("chat.postMessage", status=429, retry_after=1, times=8)
    accepted = bot.post("/alerts", json={"pipeline": "engagement", "status": "failed", "error": "wrote 0 rows"},
                        headers=AUTH).json()
    parent_of(fake_slack, "Engagement failed", timeout=30)
    deadline = time.monotonic() + 10
    while (row := outbox.items(bot.runtime.store, accepted["incident"])[0]).state != "sent":
        assert time.monotonic() < deadline, row
        time.sleep(0.05)  # Slack has answered; the worker records it a moment later
    assert row.attempts >= 1  # refused by the client, retried by the outbox
    assert len([c for c in fake_slack.of("chat.postMessage") if "Engagement failed" in texts(c)
                and c.args["channel"] == "#data-alerts"]) == 1


@BOTH
def test_buttons_acknowledge_and_resolve_and_record_who(bot, fake_slack):
    incident = bot.post("/alerts", json={"pipeline": "engagement", "status": "failed", "error": "OOM"},
                        headers=AUTH).json()["incident"]
    parent = parent_of(fake_slack, "Engagement failed")

    def click(action, user="U0ANNA"):
        body = action_body(action, str(incident), user_id=user, response_url=fake_slack.url + "response")
        assert bot.post("/slack/events", content=body, headers=signed_headers(body)).status_code == 200

    click("incident_ack")
    assert "Acknowledged by <@U0ANNA>" in texts(updates(fake_slack, parent, 1)[-1])
    # Escalate after an acknowledgement: it says who pressed it and that Anna is on it, and passes over
    # both of them and Danny (on call and admin, already paged): nobody is left, and it says so.
    click("incident_escalate", user="U0LAURA")
    step = thread(fake_slack, parent, 1)[-1]
    assert "by *Laura* (acknowledged by *Anna*)" in step.args["text"]
    assert "everyone in the escalation chain has been told already" in step.args["text"]
    assert "<@U0ANNA>" not in step.args["text"] and "<@U0LAURA>" not in step.args["text"]
    click("incident_resolve")
    final = updates(fake_slack, parent, 3)[-1]
    assert "Resolved by <@U0ANNA>" in texts(final)
    # No log link, nothing left to change: the one button left is the incident's timeline.
    assert [e["action_id"] for b in final.args["blocks"] if b["type"] == "actions"
            for e in b["elements"]] == ["incident_timeline"]
    reply = thread(fake_slack, parent, 2)[-1]
    assert "Resolved by *Anna*" in reply.args["text"] and "<@" not in reply.args["text"]
    assert "SLA" not in reply.args["text"] and "ready" not in reply.args["text"]  # by hand: nothing about the data
    from bot.store.incidents import incident_actions

    actions = [(a.kind, a.actor) for a in incident_actions(bot.runtime.store, incident)]
    assert ("ack", "U0ANNA") in actions and ("resolve", "U0ANNA") in actions


def test_button_from_another_workspace_is_refused(bot, fake_slack):
    incident = bot.post("/alerts", json={"pipeline": "engagement", "status": "failed", "error": "OOM"},
                        headers=AUTH).json()["incident"]
    parent_of(fake_slack, "Engagement failed")
    body = action_body("incident_resolve", str(incident), team_id="T0OTHER", response_url=fake_slack.url + "response")
    bot.post("/slack/events", content=body, headers=signed_headers(body))
    from bot.store.incidents import get_incident

    assert get_incident(bot.runtime.store, incident).status == "open"


@pytest.mark.parametrize("payload, field", [
    ({"status": "failed"}, "pipeline"),
    ({"pipeline": "growth", "status": "exploded"}, "status"),
    ({"pipeline": "growth", "status": "failed", "occurred_at": "yesterday"}, "occurred_at"),
])
def test_bad_alerts_get_400_naming_the_field(bot, payload, field):
    response = bot.post("/alerts", json=payload, headers=AUTH)
    assert response.status_code == 400
    assert response.json()["field"] == field


def test_alert_auth_and_size(bot):
    assert bot.post("/alerts", json={"pipeline": "growth", "status": "failed"}).status_code == 401
    assert bot.post("/alerts", json={"pipeline": "growth", "status": "failed"},
                    headers={"Authorization": "Bearer wrong"}).status_code == 401
    big = json.dumps({"pipeline": "growth", "status": "failed", "error": "x" * 300_000})
    assert bot.post("/alerts", content=big, headers=AUTH | {"content-type": "application/json"}).status_code == 413
    assert bot.post("/alerts", content=b"{not json", headers=AUTH).status_code == 400


def test_unknown_pipeline_is_posted_and_routed_to_on_call(bot, fake_slack):
    response = bot.post("/alerts", json={"pipeline": "payroll-export", "status": "failed", "error": "boom"},
                        headers=AUTH)
    assert response.status_code == 202
    post = parent_of(fake_slack, "payroll-export (unknown pipeline)")
    assert "<@U0DANNY>" in texts(post)  # Danny is on call


def test_an_incomplete_pipelines_alert_says_what_its_runbook_lacks(bot, fake_slack):
    bot.post("/alerts", json={"pipeline": "experiments", "status": "failed", "error": "boom"}, headers=AUTH)
    post = parent_of(fake_slack, "Aggregate data for experiments team failed")
    assert "The runbook is incomplete for this pipeline: no description, owners, schedule" in texts(post)
    assert "run `" not in texts(post)  # no run id was given: none is shown


def test_alertmanager_firing_then_resolved(bot, fake_slack):
    alert = {"status": "firing", "labels": {"alertname": "PipelineFailed", "pipeline": "engagement"},
             "annotations": {"summary": "Engagement wrote 0 rows", "description": "no kafka input"},
             "startsAt": "2026-12-01T02:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
             "generatorURL": "http://prometheus/graph", "fingerprint": "c6d9a1b2"}
    payload = {"version": "4", "groupKey": "{}:{alertname=\"PipelineFailed\"}", "truncatedAlerts": 0,
               "status": "firing", "receiver": "oncall-bot", "groupLabels": {"alertname": "PipelineFailed"},
               "commonLabels": alert["labels"], "commonAnnotations": alert["annotations"],
               "externalURL": "http://alertmanager:9093", "alerts": [alert]}
    first = bot.post("/alerts/alertmanager", json=payload, headers=AUTH)
    assert first.status_code == 202
    post = parent_of(fake_slack, "Engagement failed")
    assert "Kafka topics" in texts(post)
    resolved = payload | {"status": "resolved", "alerts": [alert | {"status": "resolved",
                                                                    "endsAt": "2026-12-01T03:00:00Z"}]}
    assert bot.post("/alerts/alertmanager", json=resolved, headers=AUTH).status_code == 202
    assert "Resolved" in texts(updates(fake_slack, post, 1)[-1])


def test_a_near_miss_name_is_another_pipeline_not_a_typo(bot, fake_slack):
    growth = bot.post("/alerts", json={"pipeline": "growth", "status": "failed", "error": "x"}, headers=AUTH).json()
    other = bot.post("/alerts", json={"pipeline": "growth_v2", "status": "failed", "error": "y"}, headers=AUTH).json()
    assert other["incident"] != growth["incident"] and other["deduplicated"] is False
    parent_of(fake_slack, "growth_v2 (unknown pipeline)")
    done = bot.post("/alerts", json={"pipeline": "growth_v2", "status": "succeeded"}, headers=AUTH).json()
    assert done["incident"] == other["incident"]
    from bot.store.incidents import get_incident

    assert get_incident(bot.runtime.store, growth["incident"]).status == "open"
    # Case and spacing still do not matter.
    assert bot.post("/alerts", json={"pipeline": " GROWTH ", "status": "failed"}, headers=AUTH).json() == \
        {"incident": growth["incident"], "deduplicated": True}


def test_firing_and_resolved_in_one_request_post_then_resolve(bot, fake_slack):
    alert = {"status": "firing", "labels": {"alertname": "PipelineFailed", "pipeline": "profit"},
             "annotations": {"summary": "Profit failed"}, "startsAt": "2026-12-01T02:10:00Z",
             "endsAt": "0001-01-01T00:00:00Z", "fingerprint": "ab12"}
    payload = {"version": "4", "status": "firing", "receiver": "oncall-bot", "groupLabels": {},
               "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am",
               "alerts": [alert, alert | {"status": "resolved", "endsAt": "2026-12-01T02:20:00Z"}]}
    assert bot.post("/alerts/alertmanager", json=payload, headers=AUTH).status_code == 202
    parent = parent_of(fake_slack, "Profit failed")
    assert "Resolved" in texts(updates(fake_slack, parent, 1)[-1])


@pytest.mark.parametrize("payload, field", [
    ({"pipeline": "growth", "status": "failed", "occurred_at": "9999-12-31T23:30:00Z"}, "occurred_at"),
    ({"pipeline": "growth", "status": "failed", "occurred_at": "0001-01-01T00:00:00Z"}, "occurred_at"),
])
def test_impossible_times_are_400_not_500(bot, payload, field):
    response = bot.post("/alerts", json=payload, headers=AUTH)
    assert response.status_code == 400 and response.json()["field"] == field


def test_nul_bytes_and_long_unicode_names_are_stored_on_every_backend(bot, fake_slack):
    nul = bot.post("/alerts", json={"pipeline": "growth\x00", "status": "failed", "error": "bad\x00byte",
                                    "run_id": "r\x00"}, headers=AUTH)
    assert nul.status_code == 202
    long_name = bot.post("/alerts", json={"pipeline": "ß" * 150, "status": "failed"}, headers=AUTH)
    assert long_name.status_code == 202


def test_a_request_abandoned_while_its_batch_commits_strands_no_one(bot):
    """Group commit: alerts submitted together share one commit; a waiter that goes away (its client
    disconnected) must not keep the others from their answers, and its alert is kept all the same."""
    import asyncio

    from bot.alerts.batching import Intake
    from bot.alerts.generic import parse_generic
    from bot.store.incidents import list_incidents

    async def three_requests_one_abandoned():
        intake = Intake(bot.runtime)
        alerts = [[parse_generic({"pipeline": "growth", "status": "failed", "dedup_key": f"abandoned-{n}"},
                                 WEEKDAY_NIGHT)] for n in range(3)]
        waiting = [asyncio.ensure_future(intake.submit(a)) for a in alerts]
        await asyncio.sleep(0)
        waiting[1].cancel()
        return await asyncio.wait_for(asyncio.gather(*waiting, return_exceptions=True), timeout=10)

    first, abandoned, third = bot.portal.call(three_requests_one_abandoned)
    assert first[0].created and third[0].created
    assert isinstance(abandoned, BaseException)
    keys = {i.dedup_key for i in list_incidents(bot.runtime.store)}
    assert {"abandoned-0", "abandoned-1", "abandoned-2"} <= keys


def test_an_oncall_escalation_step_mentions_who_is_on_call_now(database_url, fake_slack, make_app,
                                                               real_people_runbook, tmp_path):  # noqa: F811
    from bot.store.overrides import add_override

    path = tmp_path / "oncall-chain.yaml"
    path.write_text(real_people_runbook.read_text().replace("chain: [oncall, primary, secondary, admins]",
                                                                  "chain: [oncall, admins]"))
    fake_slack.users_by_email.update(ROTATION_EMAILS)
    bot = make_app(fake_slack, runbook=path, DATABASE_URL=database_url)
    bot.clock = bot.runtime.clock = ShiftedClock(WEEKDAY_NIGHT)
    bot.post("/alerts", json={"pipeline": "growth", "status": "failed", "error": SPARK_NPE}, headers=AUTH)
    parent = parent_of(fake_slack, "Growth failed")
    assert "<@U0DANNY>" in texts(parent)  # Danny's week
    # Laura takes over tonight after the failure came in; nobody acknowledges.
    add_override(bot.runtime.store, rotation="data-engineering", person="Laura",
                 start=WEEKDAY_NIGHT, end=WEEKDAY_NIGHT + timedelta(hours=6), created_by="U0DANNY",
                 now=WEEKDAY_NIGHT)
    bot.runtime.overrides.refresh()
    bot.clock.set(WEEKDAY_NIGHT + timedelta(minutes=31))
    bot.portal.call(incident_clocks, bot.runtime)
    reply = next(c for c in thread(fake_slack, parent, 1) if "Escalated" in texts(c))
    assert "<@U0LAURA>" in texts(reply) and "<@U0DANNY>" not in texts(reply)


def test_a_missing_success_report_is_not_called_a_failure(bot, fake_slack):
    bot.clock.set(datetime(2026, 12, 1, 0, 30, tzinfo=UTC))
    bot.post("/alerts", json={"pipeline": "growth", "status": "succeeded", "occurred_at": "2026-11-30T03:00:00Z"},
             headers=AUTH)  # Growth reports its successes: its SLA is watched
    bot.portal.call(scheduled_messages, bot.runtime)  # the bot watches the night's runs from here
    bot.clock.set(datetime(2026, 12, 1, 4, 0, 30, tzinfo=UTC))
    bot.portal.call(scheduled_messages, bot.runtime)  # Growth: nothing reported by 04:00
    post = parent_of(fake_slack, "Growth: no success report by")
    assert "Growth failed" not in texts(post) and "No known issue matched" not in texts(post)
    assert post.args["text"].startswith("Growth: no success report by 04:00 UTC (open)")


def test_escalate_pressed_on_an_acknowledged_incident_does_wake_the_next_person(bot, fake_slack):
    incident = bot.post("/alerts", json={"pipeline": "growth", "status": "failed", "error": SPARK_NPE},
                        headers=AUTH).json()["incident"]
    parent_of(fake_slack, "Growth failed")
    fake_slack.wait_for("chat.postMessage", wanted=lambda c: c.args["channel"] == "DU0DANNY")  # Danny is paged
    for action in ("incident_ack", "incident_escalate"):  # Danny takes it, then asks for help
        body = action_body(action, str(incident), user_id="U0DANNY", response_url=fake_slack.url + "response")
        assert bot.post("/slack/events", content=body, headers=signed_headers(body)).status_code == 200
    dm = fake_slack.wait_for("chat.postMessage", wanted=lambda c: c.args["channel"] == "DU0LAURA")[0]
    assert "Growth failed" in dm.args["text"] and "escalation step 2 (primary)" in texts(dm)


@BOTH
def test_escalate_pressed_ten_times_in_a_row_is_one_escalation(bot, fake_slack):
    from bot.store.incidents import incident_actions

    incident = bot.post("/alerts", json={"pipeline": "growth", "status": "failed", "error": SPARK_NPE},
                        headers=AUTH).json()["incident"]
    parent_of(fake_slack, "Growth failed")
    for _ in range(10):
        body = action_body("incident_escalate", str(incident), user_id="U0ANNA", response_url=fake_slack.url + "response")
        assert bot.post("/slack/events", content=body, headers=signed_headers(body)).status_code == 200
    assert [a.kind for a in incident_actions(bot.runtime.store, incident)].count("escalate") == 1
    assert any("escalated moments ago" in c.args.get("text", "") for c in fake_slack.wait_for("response", 9))
    bot.clock.set(bot.clock() + timedelta(minutes=1))  # a press a minute later is a new press: the next step
    body = action_body("incident_escalate", str(incident), user_id="U0ANNA", response_url=fake_slack.url + "response")
    bot.post("/slack/events", content=body, headers=signed_headers(body))
    assert [a.kind for a in incident_actions(bot.runtime.store, incident)].count("escalate") == 2


@BOTH
def test_a_page_is_not_held_back_by_a_flood_in_the_alerts_channel(bot, fake_slack):
    # A weekday night: forty distinct Profit failures (work hours only: posted quietly, one post per
    # second in the alerts channel), then Growth fails and pages Danny.
    for n in range(40):
        bot.post("/alerts", json={"pipeline": "profit", "status": "failed", "error": "x", "dedup_key": f"p{n}"},
                 headers=AUTH)
    bot.post("/alerts", json={"pipeline": "growth", "status": "failed", "error": SPARK_NPE}, headers=AUTH)
    dm = fake_slack.wait_for("chat.postMessage", wanted=lambda c: c.args["channel"] == "DU0DANNY", timeout=15)[0]
    profit_posts = [c for c in fake_slack.of("chat.postMessage") if "Profit failed" in texts(c) and c.at < dm.at]
    assert len(profit_posts) < 15  # not behind all forty (forty seconds at Slack's pace)
    assert "Growth failed" in dm.args["text"] and "archives" in texts(dm)  # its thread is linked: posted first


@BOTH
def test_a_flood_of_distinct_incidents_is_ten_posts_and_one_summary(bot, fake_slack):
    from bot.store import outbox as box
    from bot.store.incidents import list_incidents
    from tests.jobs_helpers import rows

    for n in range(25):
        bot.post("/alerts", json={"pipeline": "profit", "status": "failed", "error": "x", "dedup_key": f"f{n}"},
                 headers=AUTH)
    incidents = list_incidents(bot.runtime.store)
    assert len(incidents) == 25 and sum(i.folded_into is not None for i in incidents) == 15  # all recorded
    store = bot.runtime.store
    assert len([r for r in box.items(store) if r.kind == "open"]) == 10  # ten posts (Slack's pace: 10 s)
    [summary] = rows(store, "flood", bot.runtime.runbook)
    assert summary.next_attempt_at == WEEKDAY_NIGHT.replace(second=0) + timedelta(minutes=1)  # the minute's end
    assert "15 more incidents of Profit" in summary.args["text"] and "<@" not in json.dumps(summary.args)
