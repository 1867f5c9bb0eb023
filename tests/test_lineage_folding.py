"""Lineage folding and OpenLineage input, in process: who hears a downstream failure (nobody is paged
for it, its owners are told once), what happens when it outlives its root, the SLA watch of a chain
late in one pass, and hostile or broken events (a clear 4xx, nothing stored half-way)."""

from __future__ import annotations

import gzip
import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.alerts.lineage_intake import receive_events
from bot.alerts.openlineage import parse_events
from bot.store.incidents import list_incidents
from bot.store.schema import alert_events, incidents, lineage_events
from tests.conftest import ShiftedClock, fresh_database
from tests.helpers_runbook import BERLIN, runbook, source_with
from tests.jobs_helpers import at, rows, tick
from tests.slackreq import ROTATION_EMAILS
from tests.store_fixtures import backend, make_store, store  # noqa: F401

AUTH = {"Authorization": "Bearer alerts-secret"}
NAMES = {uid: name.split("@")[0].title() for name, uid in ROTATION_EMAILS.items()}
# Tuesday 2026-12-01 02:30 UTC: a weekday night; Danny is on call.
WEEKDAY_NIGHT = datetime(2026, 12, 1, 2, 30, tzinfo=UTC)


def event(kind: str, job: str, run: str | None = None, at: datetime = WEEKDAY_NIGHT, *, error: str | None = None,
          parent: tuple[str, str] | None = None, nominal: datetime | None = None, inputs=(), outputs=(),
          namespace: str = "airflow") -> dict:
    facets: dict = {}
    if error:
        facets["errorMessage"] = {"_producer": "https://t", "_schemaURL": "https://t", "message": error,
                                  "programmingLanguage": "python"}
    if parent:
        facets["parent"] = {"run": {"runId": parent[1]}, "job": {"namespace": namespace, "name": parent[0]}}
    if nominal:
        facets["nominalTime"] = {"_producer": "https://t", "_schemaURL": "https://t",
                                 "nominalStartTime": nominal.isoformat()}
    return {"eventTime": at.isoformat(), "producer": "https://t", "eventType": kind,
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "run": {"runId": run or str(uuid.uuid4()), "facets": facets}, "job": {"namespace": namespace, "name": job},
            "inputs": [{"namespace": "dw", "name": n} for n in inputs],
            "outputs": [{"namespace": "dw", "name": n} for n in outputs]}


def counts(rt) -> tuple[int, int, int]:
    with rt.store.reading() as conn:
        return tuple(conn.execute(select(func.count()).select_from(t)).scalar_one()
                     for t in (lineage_events, alert_events, incidents))


@pytest.fixture
def app(tmp_path, fake_slack, make_app):
    db = next(fresh_database("sqlite", tmp_path))
    fake_slack.users_by_email.update(ROTATION_EMAILS)
    # Engagement reads Growth's table here: its own hours would page at night, so folding shows.
    path = tmp_path / "runbooks.yaml"
    path.write_text(source_with("    name: Engagement\n", "    name: Engagement\n    depends_on: [growth]\n")
                    .replace("@example.com, placeholder: true", "@team.test"))
    client = make_app(fake_slack, runbook=path, DATABASE_URL=db)
    client.clock = ShiftedClock(WEEKDAY_NIGHT)
    client.runtime.clock = client.clock
    return client


def post(app, body, **headers):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return app.post("/api/v1/lineage", content=data, headers=AUTH | {"content-type": "application/json"} | headers)


def test_broken_and_hostile_events_get_a_clear_4xx_and_store_nothing(app):
    good = event("FAIL", "growth", error="boom")
    cases = [
        (json.dumps(good)[:-40], 400, "body"),                                    # truncated
        (good | {"eventType": "EXPLODED"}, 400, "eventType"),                     # unknown event type
        ({**good, "run": {"facets": {}}}, 400, "run.runId"),                      # missing run id
        ({**good, "run": {"runId": "42"}}, 400, "run.runId"),                     # not a UUID
        ({k: v for k, v in good.items() if k != "job"}, 400, "job"),
        (good | {"eventTime": "2026-12-01"}, 400, "eventTime"),                   # a date, not a date-time
        (good | {"eventTime": "2024-01-01T00:00:00Z"}, 400, "eventTime"),         # years ago: a broken sender
        (event("FAIL", "growth", nominal=datetime(1, 1, 1, tzinfo=UTC)), 400,
         "run.facets.nominalTime.nominalStartTime"),                              # a schedule out of the calendar
        ([good, {**good, "run": {}}], 400, "[1].run.runId"),                      # a batch: all or nothing
        ([], 400, "body"),
        (json.dumps(good | {"producer": "x" * (5 * 1024 * 1024)}), 413, "body"),  # 5 MB
        ("[" * 100_000, 400, "body"),                                             # nested past the limit
    ]
    for body, status, field in cases:
        response = post(app, body)
        assert (response.status_code, response.json().get("field")) == (status, field), (field, response.text)
    bomb = gzip.compress(json.dumps(good | {"producer": "y" * (8 * 1024 * 1024)}).encode())
    assert post(app, bomb, **{"content-encoding": "gzip"}).status_code == 413     # 8 MB inflated from 8 KB
    assert post(app, good, **{"content-encoding": "br"}).status_code == 415
    assert app.post("/api/v1/lineage", json=good).status_code == 401             # no API key
    assert counts(app.runtime) == (0, 0, 0)
    # The next event on the same server is taken, compressed or not.
    assert post(app, gzip.compress(json.dumps(good).encode()), **{"content-encoding": "gzip"}).status_code == 202
    assert counts(app.runtime) == (1, 1, 1)


def mentioned(call) -> set[str]:
    return {NAMES[uid] for uid in re.findall(r"<@(U[A-Z0-9]+)>", call.texts())}


def test_a_downstream_failure_whose_own_hours_would_page_mentions_its_owners_once_and_pages_nobody(app, fake_slack):
    growth = post(app, event("FAIL", "growth", error="java.lang.NullPointerException")).json()["events"][0]
    app.clock.set(WEEKDAY_NIGHT + timedelta(minutes=20))
    run = str(uuid.uuid4())  # Engagement's DAG run; its tasks' events name it as their parent
    child = post(app, event("FAIL", "engagement.read_clicks", None, WEEKDAY_NIGHT + timedelta(minutes=20),
                            error="no kafka input", parent=("engagement", run))).json()["events"][0]
    reply = fake_slack.wait_for("chat.postMessage", wanted=lambda c: "Engagement failed too" in c.texts())[0]
    top = [c for c in fake_slack.of("chat.postMessage") if not c.args.get("thread_ts")
           and c.args["channel"] != "#data-oncall"]  # the handoff reminders of that night are not ours
    assert sorted(c.args["channel"] for c in top) == ["#data-alerts", "DU0DANNY"]  # one thread, one page
    assert mentioned(reply) == {"Anna", "Laura"} and "not paged" in reply.texts()
    stored = {i.id: i for i in list_incidents(app.runtime.store)}
    assert stored[child["incident"]].root_id == growth["incident"]
    assert stored[child["incident"]].notify_mode == "notify"

    # Growth succeeds; Engagement's run still fails an hour later: the upstream no longer explains it,
    # and it becomes an incident of its own that pages as its policy says.
    app.clock.set(WEEKDAY_NIGHT + timedelta(minutes=40))
    post(app, event("COMPLETE", "growth", growth["runId"], WEEKDAY_NIGHT + timedelta(minutes=40)))
    app.clock.set(WEEKDAY_NIGHT + timedelta(minutes=90))
    again = post(app, event("FAIL", "engagement.write_daily", None, WEEKDAY_NIGHT + timedelta(minutes=90),
                            error="no kafka input", parent=("engagement", run))).json()["events"][0]
    assert again["incident"] == child["incident"]  # another task of the same run: the same incident
    own = fake_slack.wait_for("chat.postMessage", wanted=lambda c: not c.args.get("thread_ts")
                              and c.args["channel"] == "#data-alerts" and c.texts().startswith("Engagement failed"))
    assert mentioned(own[0]) == {"Danny"}
    pages = fake_slack.wait_for("chat.postMessage", 2, wanted=lambda c: c.args["channel"] == "DU0DANNY")
    assert "Engagement" in pages[1].texts()
    assert list_incidents(app.runtime.store)[1].root_id is None
    # Growth's message no longer lists it or offers to resolve it.
    fake_slack.wait_for("chat.update", wanted=lambda c: "*Growth failed*" in c.texts() and ":large_green_circle:"
                        in c.texts() and "folded here" not in c.texts() and "downstream" not in c.texts())


# Ledger reads Orders; both keep their clocks in the team's zone.
BERLIN_CHAIN = (BERLIN.replace("    name: Ledger\n", "    name: Ledger\n    depends_on: [orders]\n    timezone: team\n")
                .replace("    name: Orders\n", "    name: Orders\n    timezone: team\n"))


def test_a_chain_late_in_one_pass_opens_one_breach_and_folds_the_other_under_it(store):  # noqa: F811
    """Shop Data (Europe/Berlin): Orders is due at 05:00 and Ledger, which reads it, at 06:00 local. Both
    report nothing; Orders' run started (OpenLineage START) and never finished."""
    rb = runbook(BERLIN_CHAIN.replace('data_ready_by: "06:00"', 'data_ready_by: "05:00"'))
    # Watched from their first success, a day earlier.
    day = at(2026, 11, 30, 4)
    receive_events(store, rb, parse_events([event("COMPLETE", "orders", at=day), event("COMPLETE", "ledger", at=day)],
                                           day), day)
    tick(store, rb, day)  # the bot's first pass: runs from here on are watched
    started = at(2026, 12, 1, 1, 31)  # 02:31 in Berlin
    receive_events(store, rb, parse_events([event("START", "orders", at=started)], started), started)
    tick(store, rb, at(2026, 12, 1, 4, 0))  # 05:00 in Berlin: both due at once
    opened = {i.pipeline: i for i in list_incidents(store) if i.status != "resolved"}
    assert set(opened) == {"orders", "ledger"}
    assert opened["ledger"].root_id == opened["orders"].id and opened["orders"].root_id is None
    assert "running since 02:31 CET" in opened["orders"].error
    # Orders pages (a weekday, around the clock); Ledger is debugged in work hours: its owners wait.
    assert opened["orders"].notify_mode == "page" and opened["ledger"].notify_mode == "deferred"
    assert [r.args.get("person") for r in rows(store, "page")] == ["Soeren"]  # on call this week
    assert rows(store, "open")[1].incident_id == opened["ledger"].id


def test_a_pipeline_whose_upstream_has_no_open_incident_is_not_folded(store):  # noqa: F811
    rb = runbook(BERLIN_CHAIN)
    now = at(2026, 12, 1, 2)
    receive_events(store, rb, parse_events([event("FAIL", "ledger", at=now, error="boom")], now), now)
    assert [i.root_id for i in list_incidents(store)] == [None]
    # Folding can be switched off: then an open upstream incident changes nothing either.
    off = runbook(BERLIN_CHAIN.replace("  admins: [Mia]\n", "  admins: [Mia]\n  lineage: {fold_within: null}\n"))
    receive_events(store, off, parse_events([event("FAIL", "orders", at=now, error="x")], now), now)
    receive_events(store, off, parse_events([event("FAIL", "ledger", at=now, error="y")], now), now)
    assert [i.root_id for i in list_incidents(store)] == [None, None, None]


def test_a_breach_whose_upstream_is_late_without_an_incident_says_so(store):  # noqa: F811
    """Orders has no SLA of its own here, so nothing opened for it; Ledger's breach names it as the
    likely reason rather than only "no report"."""
    rb = runbook(BERLIN_CHAIN.replace('    sla: {data_ready_by: "05:00", fix_within: 24h}\n', ""))
    day = at(2026, 11, 30, 5)
    receive_events(store, rb, parse_events([event("COMPLETE", "ledger", at=day)], day), day)
    tick(store, rb, day)
    tick(store, rb, at(2026, 12, 1, 5, 0))  # 06:00 in Berlin
    (breach,) = list_incidents(store)
    assert breach.pipeline == "ledger" and breach.root_id is None
    assert "Upstream Orders has not reported success for its 2026-12-01 02:30 CET run either." in breach.error


def test_airflows_nominal_end_is_the_scheduled_run_and_a_resolved_root_folds_nothing_more(store):  # noqa: F811
    """Airflow's nominal times are its data interval: the run scheduled at 02:30 on 1 Dec covers 30 Nov
    02:30 to 1 Dec 02:30, and its deadlines count from the interval's end. Then: Orders fails, Ledger
    folds under it; Orders succeeds; KPIs, downstream of Ledger, fails: Orders explains nothing now."""
    rb = runbook(BERLIN_CHAIN.replace("    name: Monthly KPIs\n", "    name: Monthly KPIs\n    depends_on: [ledger]\n"))
    now = at(2026, 12, 1, 2)
    failed = event("FAIL", "orders", at=now, error="boom", nominal=at(2026, 11, 30, 1, 30))
    failed["run"]["facets"]["nominalTime"]["nominalEndTime"] = at(2026, 12, 1, 1, 30).isoformat()
    orders = receive_events(store, rb, parse_events([failed], now), now)[0]
    receive_events(store, rb, parse_events([event("FAIL", "ledger", at=now, error="no rows")], now), now)
    opened = {i.pipeline: i for i in list_incidents(store)}
    assert opened["orders"].run_at == at(2026, 12, 1, 1, 30)       # 02:30 CET, the interval's end
    assert opened["orders"].fix_by == at(2026, 12, 1, 23)          # midnight after that day, CET
    assert opened["ledger"].root_id == opened["orders"].id
    later = at(2026, 12, 1, 3)
    receive_events(store, rb, parse_events([event("COMPLETE", "orders", orders.event.job.run_id, at=later)], later),
                   later)
    receive_events(store, rb, parse_events([event("FAIL", "kpis", at=later, error="stale")], later), later)
    assert {i.pipeline: i.root_id for i in list_incidents(store)}["kpis"] is None


def test_an_unfolded_incident_does_not_wake_someone_another_incident_of_its_pipeline_just_paged(store):  # noqa: F811
    """Ledger's run A folds under Orders. Orders succeeds; Ledger's run B fails on its own and pages the
    on-call person (Ledger pages here). Run A fails again: it is its own now, and mentions them, once woken."""
    rb = runbook(BERLIN_CHAIN.replace("    on_call: {outside_work_hours: defer}\n",
                                      "    on_call: {rotation: shop, page: [weekdays, weekends]}\n", 1))
    now = at(2026, 12, 1, 2)
    orders = receive_events(store, rb, parse_events([event("FAIL", "orders", at=now, error="boom")], now), now)[0]
    dag_a, dag_b = str(uuid.uuid4()), str(uuid.uuid4())
    receive_events(store, rb, parse_events([event("FAIL", "ledger.load", at=now, parent=("ledger", dag_a),
                                                  error="no rows")], now), now)
    later = now + timedelta(minutes=30)
    receive_events(store, rb, parse_events([event("COMPLETE", "orders", orders.event.job.run_id, at=later)], later),
                   later)
    receive_events(store, rb, parse_events([event("FAIL", "ledger.load", at=later, parent=("ledger", dag_b),
                                                  error="no rows")], later), later)
    again = later + timedelta(minutes=5)
    receive_events(store, rb, parse_events([event("FAIL", "ledger.write", at=again, parent=("ledger", dag_a),
                                                  error="no rows")], again), again)
    ledger = [i for i in list_incidents(store) if i.pipeline == "ledger"]
    assert [i.root_id for i in ledger] == [None, None]           # run A unfolded, run B never folded
    pages = [(r.incident_id, r.args["person"]) for r in rows(store, "page")]
    assert pages == [(orders.incident.incident_id, "Soeren"), (ledger[1].id, "Soeren")]  # A wakes nobody again
    assert ledger[0].told == {"Soeren": "notify"}               # mentioned in its own post
