"""OpenLineage run events end to end: the real openlineage-python client (its HTTP transport) posting
to `oncall-bot serve`, a fake Slack, and the store: a chain of failures in one night is one page and
one thread, for the source team and for a second team in Europe/Berlin."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import error_message_run, nominal_time_run, parent_run
from openlineage.client.transport.http import ApiKeyTokenProvider, HttpConfig, HttpTransport
from sqlalchemy import select

from bot.store import Store
from bot.store.incidents import list_incidents
from bot.store.schema import lineage_events
from tests.fakeslack import FakeSlack
from tests.helpers_runbook import BERLIN
from tests.slackreq import action_body, signed_headers
from tests.test_policy_serve import EMAILS, NAMES, drained

PRODUCER = "https://github.com/apache/airflow/tree/providers-openlineage/2.0.0"
NPE = ("org.apache.spark.SparkException: Job aborted due to stage failure\n"
       "Caused by: java.lang.NullPointerException\n\tat com.acme.growth.Subscriptions.run(Subscriptions.scala:42)")


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


class Emitter:
    """The OpenLineage client as Airflow's provider configures it: the bot's URL and an API key."""

    def __init__(self, url: str, clock, namespace: str = "airflow-prod"):
        self.transport = HttpTransport(HttpConfig(url=url, auth=ApiKeyTokenProvider({"apiKey": "alerts-secret"})))
        self.client = OpenLineageClient(transport=self.transport)
        self.clock, self.namespace = clock, namespace

    def event(self, state: RunState, job: str, run_id: str, *, parent: tuple[str, str] | None = None,
              error: str | None = None, nominal: datetime | None = None, inputs=(), outputs=()) -> RunEvent:
        facets = {}
        if parent:
            facets["parent"] = parent_run.ParentRunFacet(run=parent_run.Run(runId=parent[1]),
                                                         job=parent_run.Job(namespace=self.namespace, name=parent[0]))
        if error:
            facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
                message=error.splitlines()[0], programmingLanguage="JAVA", stackTrace=error)
        if nominal:
            facets["nominalTime"] = nominal_time_run.NominalTimeRunFacet(nominalStartTime=nominal.isoformat())
        return RunEvent(eventType=state, eventTime=self.clock().isoformat(), producer=PRODUCER,
                        run=Run(runId=run_id, facets=facets), job=Job(namespace=self.namespace, name=job),
                        inputs=[InputDataset(namespace="warehouse", name=n) for n in inputs],
                        outputs=[OutputDataset(namespace="warehouse", name=n) for n in outputs])

    def emit(self, *args, **kwargs) -> dict:
        """Through the client's own transport, which raises on anything but a 2xx; the bot's answer."""
        return self.transport.emit(self.event(*args, **kwargs)).json()


def run_id() -> str:
    return str(uuid.uuid4())


def alerts_posts(fake: FakeSlack, channel: str) -> list:
    return [c for c in fake.of("chat.postMessage") if c.args.get("channel") == channel and not c.args.get("thread_ts")
            and "failed" in c.args["text"]]


def dms(fake: FakeSlack) -> list[str]:
    return sorted(NAMES[c.args["channel"][1:]] for c in fake.of("chat.postMessage") if c.args["channel"].startswith("D"))


def replies(fake: FakeSlack, ts: str) -> list:
    return [c for c in fake.of("chat.postMessage") if c.args.get("thread_ts") == ts]


def ts_of(fake: FakeSlack, call) -> str:
    index = [c for c in fake.of("chat.postMessage") if c.status == 200].index(call)
    return f"{1_800_000_000 + index + 1}.000100"


def mentioned(call) -> set[str]:
    return {NAMES[uid] for uid in re.findall(r"<@(U[A-Z0-9]+)>", call.texts())}


@pytest.fixture
def source_team(tmp_path):
    from tests.conftest import RUNBOOK

    path = tmp_path / "runbooks.yaml"
    text = RUNBOOK.read_text().replace("@example.com, placeholder: true", "@team.test")
    # Growth's DAG has its own id in Airflow; the investors' job is found by its alias.
    text = text.replace("    name: Growth\n", "    name: Growth\n    openlineage: {namespace: airflow-prod, job: growth_daily}\n")
    path.write_text(text)
    return path


def test_a_growth_failure_and_the_investors_aggregate_it_starves_give_one_page_and_one_thread(
        serve, source_team, tmp_path):
    # Monday 30 Nov 2026, 01:00 UTC: a weekday night; Jane is on call until the 09:00 handoff.
    # Investors runs on Mondays.
    fake = FakeSlack(users_by_email=dict(EMAILS))
    db = f"sqlite:///{tmp_path / 'ol.db'}"
    served = serve(fake, at=utc(2026, 11, 30, 1, 0), RUNBOOKS_PATH=str(source_team), DATABASE_URL=db)
    ol = Emitter(served.url, served.now)
    dag, load, aggregate, investors = run_id(), run_id(), run_id(), run_id()
    nominal = utc(2026, 11, 30, 1, 0)
    try:
        # Growth's DAG run starts and writes the table investors reads: the datasets draw the edge.
        assert ol.emit(RunState.START, "growth_daily", dag, nominal=nominal,
                       outputs=["analytics.growth_daily"])["events"][0]["pipeline"] == "growth"
        ol.emit(RunState.START, "growth_daily.load_subscriptions", load, parent=("growth_daily", dag))
        ol.emit(RunState.COMPLETE, "growth_daily.load_subscriptions", load, parent=("growth_daily", dag))
        failed = ol.emit(RunState.FAIL, "growth_daily.aggregate", aggregate, parent=("growth_daily", dag), error=NPE)
        growth_id = failed["events"][0]["incident"]
        ol.emit(RunState.START, "investors", investors, inputs=["analytics.growth_daily"])
        child = ol.emit(RunState.FAIL, "investors", investors, error="ZeroDivisionError: division by zero")
        child_id = child["events"][0]["incident"]
        # The transport retries and Airflow re-sends: the same run's FAIL again is a duplicate.
        again = ol.emit(RunState.FAIL, "growth_daily.aggregate", aggregate, parent=("growth_daily", dag), error=NPE)
        assert again["events"][0]["duplicate"] is True
        drained(db)

        parent = alerts_posts(fake, "#data-alerts")
        assert [c.args["text"].split(" failed")[0] for c in parent] == ["Growth"]  # one thread
        assert dms(fake) == ["Jane"]                                              # one page
        assert mentioned(parent[0]) == {"Jane"}
        assert "NullPointerException" in parent[0].texts() and "Spark task fails with NullPointerException" in \
            parent[0].texts()
        thread = replies(fake, ts_of(fake, parent[0]))
        assert len(thread) == 1
        said = thread[0].texts()
        assert "Aggregate data for investors failed too" in said and "likely because *Growth* is failing" in said
        assert "division by zero" in said and "Tell Dashboard, Data science team" in said
        # Investors is debugged in work hours: its owners are told at 09:00, nobody is mentioned now.
        assert mentioned(thread[0]) == set() and "09:00" in said

        store = Store(db)
        by_id = {i.id: i for i in list_incidents(store)}
        assert by_id[child_id].root_id == growth_id and by_id[growth_id].root_id is None
        assert by_id[growth_id].run_id == dag and by_id[growth_id].run_at == nominal
        assert by_id[growth_id].alert_count == 1  # the duplicate changed nothing
        with store.reading() as conn:
            kinds = sorted(tuple(r) for r in conn.execute(select(lineage_events.c.event_type, lineage_events.c.pipeline)))
        assert kinds == sorted([("START", "growth"), ("START", "growth"), ("COMPLETE", "growth"), ("FAIL", "growth"),
                                ("START", "investors"), ("FAIL", "investors")])
        metrics = httpx.get(served.url + "/metrics").text
        assert 'oncall_openlineage_events_total{event_type="FAIL",outcome="known"} 2.0' in metrics
        assert 'oncall_openlineage_events_total{event_type="FAIL",outcome="duplicate"} 1.0' in metrics
        assert 'oncall_alerts_total{kind="new",source="openlineage",status="failed"} 2.0' in metrics

        # A task's COMPLETE said nothing about the data; the DAG run's COMPLETE resolves Growth, and the
        # root's thread offers to resolve what it folded.
        ol.emit(RunState.COMPLETE, "growth_daily", dag)
        drained(db)
        by_id = {i.id: i for i in list_incidents(store)}
        assert by_id[growth_id].status == "resolved" and by_id[child_id].status == "open"
        resolved = replies(fake, ts_of(fake, parent[0]))[-1].texts()
        assert "the pipeline reported success" in resolved and "Still open downstream: Aggregate data for investors" in resolved
        edit = [c for c in fake.of("chat.update") if c.args.get("ts") == ts_of(fake, parent[0])][-1]
        assert "Resolve 1 downstream" in edit.texts()

        body = action_body("incident_resolve_children", str(growth_id), user_id="U0JANE")
        response = httpx.post(served.url + "/slack/events", content=body,
                              headers=signed_headers(body, timestamp=int(served.now().timestamp())))
        assert response.status_code == 200
        drained(db)
        assert {i.id: i.status for i in list_incidents(store)}[child_id] == "resolved"
        last = replies(fake, ts_of(fake, parent[0]))[-1].texts()
        assert "Aggregate data for investors (incident" in last and "Resolved by *Jane*" in last
        edit = [c for c in fake.of("chat.update") if c.args.get("ts") == ts_of(fake, parent[0])][-1]
        assert "Resolve 1 downstream" not in edit.texts()  # no button left that does nothing
        assert dms(fake) == ["Jane"]
        store.engine.dispose()
    finally:
        served.stop()
        fake.close()


def test_a_second_team_with_declared_lineage_on_the_spring_forward_night(serve, tmp_path):
    """Shop Data (Europe/Berlin) declares Ledger depends_on Orders and maps its Airflow DAGs. On
    28 Mar 2027 the clocks skip 02:00-03:00: Orders' 02:30 run is scheduled at 03:00 CEST, and its
    nominalTime says so. Sunday night: Jonas is on call and paged once; Ledger, debugged in work hours,
    joins Orders' thread and waits for Tuesday 08:00 (Easter Monday is a holiday in Berlin)."""
    path = tmp_path / "berlin.yaml"
    path.write_text(BERLIN
                    .replace("    name: Orders\n", "    name: Orders\n    timezone: team\n"
                             "    openlineage: [{namespace: shop-airflow, job: orders_dag}]\n")
                    .replace("    name: Ledger\n", "    name: Ledger\n    timezone: team\n    depends_on: [orders]\n"
                             "    openlineage: {namespace: shop-airflow, job: ledger_dag}\n"))
    fake = FakeSlack()
    db = f"sqlite:///{tmp_path / 'berlin.db'}"
    served = serve(fake, at=utc(2027, 3, 28, 1, 5), RUNBOOKS_PATH=str(path), DATABASE_URL=db)
    ol = Emitter(served.url, served.now, namespace="shop-airflow")
    orders, ledger = run_id(), run_id()
    try:
        ol.emit(RunState.START, "orders_dag", orders, nominal=utc(2027, 3, 28, 1, 0))
        root = ol.emit(RunState.FAIL, "orders_dag", orders, error="OutOfMemoryError: Java heap space")
        assert root["events"][0]["pipeline"] == "orders"
        ol.emit(RunState.FAIL, "ledger_dag", ledger, error="upstream table shop.orders is empty: 0 rows")
        drained(db)
        parent = alerts_posts(fake, "#shop-alerts")
        assert [c.args["text"].split(" failed")[0] for c in parent] == ["Orders"]
        assert dms(fake) == ["Jonas"] and mentioned(parent[0]) == {"Jonas"}
        reply = replies(fake, ts_of(fake, parent[0]))[0].texts()
        assert "Ledger failed too" in reply and mentioned(replies(fake, ts_of(fake, parent[0]))[0]) == set()
        assert "Mia, Soeren told Tue 30 Mar 08:00 CEST" in reply
        store = Store(db)
        orders_incident, ledger_incident = list_incidents(store)
        assert orders_incident.run_at == utc(2027, 3, 28, 1, 0)   # 03:00 CEST, the first minute after the gap
        assert ledger_incident.root_id == orders_incident.id
        assert ledger_incident.deferred_until == utc(2027, 3, 30, 6, 0)  # Tuesday 08:00 CEST
        store.engine.dispose()
    finally:
        served.stop()
        fake.close()
