"""Incident memory through `serve`, signed Slack requests and a fake Slack: a failure resolved with a
note, then the same error with other ids and hosts on another pipeline, shows the first in its thread
(what fixed it, who, how long, a link); an unrelated error shows nothing."""

from __future__ import annotations

import json

import httpx

from bot.store import Store
from bot.store import outbox as box
from tests.fakeslack import FakeSlack
from tests.slackreq import action_body, signed_headers, view_submission_body
from tests.test_policy_serve import EMAILS, IDS, drained, source_team  # noqa: F401

AUTH = {"Authorization": "Bearer alerts-secret"}
LOST_EXECUTOR = """org.apache.spark.SparkException: Job aborted due to stage failure: Task {task} in stage {stage} failed 4 times, most recent failure: Lost task {task}.3 in stage {stage} (TID {tid}) ({ip} executor {executor}): ExecutorLostFailure (executor {executor} exited caused by one of the running tasks) Reason: Remote RPC client disassociated. Likely due to containers exceeding thresholds, or network issues.
\tat org.apache.spark.scheduler.DAGScheduler.failJobAndIndependentStages(DAGScheduler.scala:{line})
\tat org.apache.spark.scheduler.DAGScheduler.$anonfun$abortStage$2(DAGScheduler.scala:2672)
Driver stacktrace: application_1764471{app}_0042 on ip-{dash}.ec2.internal"""


def failure(**ids) -> str:
    return LOST_EXECUTOR.format(**ids)


def post_alert(url: str, pipeline: str, error: str) -> int:
    response = httpx.post(url + "/alerts", headers=AUTH, json={"pipeline": pipeline, "status": "failed", "error": error})
    assert response.status_code == 202, response.text
    return response.json()["incident"]


def signed_post(url: str, body: str) -> httpx.Response:
    return httpx.post(url + "/slack/events", content=body, headers=signed_headers(body))


def test_a_resolution_note_shows_up_when_the_same_error_comes_back_with_other_ids(serve, tmp_path, source_team):
    fake = FakeSlack(users_by_email=dict(EMAILS))
    db = f"sqlite:///{tmp_path / 'memory.db'}"
    served = serve(fake, RUNBOOKS_PATH=str(source_team), DATABASE_URL=db)
    try:
        first = post_alert(served.url, "growth", failure(task=3, stage="12.0", tid=812, ip="10.0.3.17", executor=5,
                                                         line=2730, app="008812", dash="10-0-3-17"))
        fake.wait_for("chat.postMessage", wanted=lambda c: c.args.get("channel") == "#data-alerts")
        # Laura resolves it; the form asks what fixed it.
        assert signed_post(served.url, action_body("incident_resolve", str(first), user_id=IDS["Laura"])).status_code == 200
        view = fake.wait_for("views.open")[0].args["view"]
        view = json.loads(view) if isinstance(view, str) else view
        assert view["callback_id"] == "resolution_note" and view["private_metadata"] == str(first)
        values = {"fix": {"fix": {"type": "plain_text_input", "value": "Spot executors were reclaimed: moved the job "
                                                                       "to on-demand nodes and reran it."}},
                  "remediation": {"remediation": {"type": "radio_buttons", "selected_option": {"value": "none"}}},
                  "category": {"category": {"type": "static_select",
                                            "selected_option": {"value": "infrastructure"}}}}
        saved = signed_post(served.url, view_submission_body("resolution_note", values, user_id=IDS["Laura"],
                                                             private_metadata=str(first)))
        assert saved.status_code == 200 and not saved.content
        fake.wait_for("chat.postMessage", wanted=lambda c: "Resolution note" in c.texts())
        kept = fake.wait_for("chat.update", wanted=lambda c: "What fixed it" in c.texts())[0].texts()
        assert "ExecutorLostFailure" in kept and "Resolved by" in kept and "infrastructure" in kept

        # The same error on another pipeline, other task, stage, executor, host and application.
        second = post_alert(served.url, "engagement", failure(task=7, stage="4.0", tid=99, ip="10.0.9.2", executor=2,
                                                              line=2731, app="990001", dash="10-0-9-2"))
        seen = fake.wait_for("chat.postMessage", wanted=lambda c: "Seen before" in c.texts(), timeout=20)[0]
        said = seen.texts()
        assert "*Growth*" in said and "same error" in said and "resolved by *Laura*" in said
        assert "moved the job to on-demand nodes" in said and "there was no suggested remediation" in said
        assert "https://fake.slack.com/archives/" in said and "<@" not in said   # a link, and nobody pinged

        # An unrelated error: no "seen before" at all.
        third = post_alert(served.url, "profit", "Reconciliation failed: totals differ from accounts by 12.50")
        drained(db)
        assert len([c for c in fake.of("chat.postMessage") if "Seen before" in c.texts()]) == 1
        store = Store(db)
        outcome = {row.incident_id: row.result for row in box.items(store) if row.kind == "seen_before"}
        assert outcome[third] == {"nothing_alike": True} and outcome[first] == {"nothing_alike": True}
        assert outcome[second]["ts"]
        store.engine.dispose()
    finally:
        served.stop()
        fake.close()


def test_huge_binary_and_empty_errors_are_fingerprinted_without_error(tmp_path, make_app):
    """A 256 KB error (through OpenLineage, which takes 1 MiB), binary junk and an empty error: each
    is accepted, and only the empty one has no fingerprint (and so nothing to look up)."""
    import os
    import uuid
    from datetime import UTC, datetime

    from bot.store.incidents import list_incidents

    app = make_app(None, DATABASE_URL=f"sqlite:///{tmp_path / 'm.db'}")
    huge = "java.lang.IllegalStateException: checkpoint corrupt\n" + "\tat com.acme.Job.run(Job.scala:42)\n" * 7500
    event = {"eventTime": datetime.now(UTC).isoformat(), "producer": "https://t", "eventType": "FAIL",
             "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
             "run": {"runId": str(uuid.uuid4()), "facets": {"errorMessage": {
                 "_producer": "https://t", "_schemaURL": "https://t", "message": huge, "programmingLanguage": "JVM"}}},
             "job": {"namespace": "airflow", "name": "growth"}}
    assert len(huge) > 256 * 1024
    assert app.post("/api/v1/lineage", json=event, headers=AUTH).status_code == 202
    junk = os.urandom(20_000).decode("utf-8", errors="replace")
    for pipeline, error in (("engagement", junk), ("profit", "")):
        assert app.post("/alerts", headers=AUTH, json={"pipeline": pipeline, "status": "failed", "error": error}
                        ).status_code == 202
    prints = {i.pipeline: i.fingerprint for i in list_incidents(app.runtime.store)}
    assert prints["growth"] and prints["engagement"] and prints["profit"] is None
