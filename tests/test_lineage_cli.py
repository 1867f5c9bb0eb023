"""Pipeline lineage as people see it: `validate` on depends_on and OpenLineage mappings (file:line),
`oncall-bot lineage` (declared edges, and edges the OpenLineage datasets in the store show), and the
"Upstream pipelines" line of the runbook card in the CLI and in Slack, for the source team and a second one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime

import pytest

from tests.helpers_runbook import (
    BERLIN,
    REPO,
    SOURCE_TEXT,
    cli_json,
    line_of,
    run_cli_here,
    source_with,
)
from tests.slackreq import post_command
from tests.test_validation import assert_error, validate

INVESTORS_DEPENDS = "    # depends_on: [growth]   #"


def with_depends(text: str, pipeline_line: str, depends: str) -> str:
    """`text` with `depends_on: …` added right after the line `pipeline_line` (a pipeline's `name:`)."""
    assert text.count(pipeline_line + "\n") == 1, pipeline_line
    return text.replace(pipeline_line + "\n", f"{pipeline_line}\n    depends_on: {depends}\n")


def write(tmp_path, text: str, name: str = "runbooks.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def no_store(monkeypatch):
    """The CLI reads the store only when DATABASE_URL says where; each test sets it when it means to."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("RUNBOOKS_PATH", raising=False)


# validate ------------------------------------------------------------------------------------------------

def test_the_shipped_runbook_keeps_its_lineage_examples_commented_out():
    assert INVESTORS_DEPENDS in SOURCE_TEXT
    assert "# openlineage: {namespace: airflow-prod, job: growth_daily}" in SOURCE_TEXT
    assert "# lineage: {fold_within: 24h}" in SOURCE_TEXT
    graph = cli_json("--runbook", str(REPO / "runbooks.yaml"), "lineage", "--json")
    assert graph["edges"] == []


def test_a_declared_dependency_validates(tmp_path):
    text = source_with(INVESTORS_DEPENDS, "    depends_on: [growth]   #")
    _, done = validate(tmp_path, text)
    assert done.returncode == 0, done.stderr
    assert "OK" in done.stdout


def test_a_two_pipeline_loop_is_reported_at_the_entry_that_closes_it(tmp_path):
    text = with_depends(source_with(INVESTORS_DEPENDS, "    depends_on: [growth]   #"), "    name: Growth",
                        "[investors]")
    # growth is walked first: growth → investors → back to growth, closed by investors' entry.
    errors = assert_error(tmp_path, text, line_of(text, "    depends_on: [growth]"),
                          "pipelines.investors.depends_on", "depends_on makes a loop", "growth → investors → growth",
                          "remove one entry of the loop")
    assert len([e for e in errors if "loop" in e]) == 1, errors


def test_a_three_pipeline_loop_is_reported_once_with_its_whole_path(tmp_path):
    text = with_depends(SOURCE_TEXT, "    name: Profit", "[engagement]")
    text = with_depends(text, "    name: Engagement", "investors")            # one key, not a list
    text = text.replace(INVESTORS_DEPENDS, "    depends_on: [growth, profit]   #")
    # profit → engagement → investors → profit: investors' second entry closes the loop.
    errors = assert_error(tmp_path, text, line_of(text, "    depends_on: [growth, profit]"),
                          "pipelines.investors.depends_on[1]", "profit → investors → engagement → profit")
    assert len([e for e in errors if "loop" in e]) == 1, errors


def test_a_pipeline_depending_on_itself_is_an_error(tmp_path):
    text = with_depends(SOURCE_TEXT, "    name: Growth", "[growth]")
    assert_error(tmp_path, text, line_of(text, "    depends_on: [growth]"), "pipelines.growth.depends_on",
                 "depends on itself")


def test_an_unknown_dependency_says_did_you_mean(tmp_path):
    text = source_with(INVESTORS_DEPENDS, "    depends_on: [grwth]   #")
    errors = assert_error(tmp_path, text, line_of(text, "depends_on: [grwth]"), "pipelines.investors.depends_on",
                          "unknown pipeline 'grwth'", "did you mean 'growth'?")
    assert len(errors) == 1, errors


def test_an_openlineage_job_mapped_to_two_pipelines_is_an_error(tmp_path):
    text = source_with("    # openlineage: {namespace: airflow-prod, job: growth_daily}",
                       "    openlineage: {namespace: airflow-prod, job: growth_daily}")
    # Job names are matched as OpenLineage events would be: case aside.
    text = text.replace(INVESTORS_DEPENDS, "    openlineage: [{namespace: airflow-prod, job: weekly}, "
                        "{namespace: Airflow-Prod, job: Growth_Daily}]   #")
    errors = assert_error(tmp_path, text, line_of(text, "job: Growth_Daily"), "pipelines.investors.openlineage[1]",
                          "OpenLineage job Airflow-Prod/Growth_Daily is also mapped to pipeline 'growth'")
    assert len(errors) == 1, errors
    # Mapped once each, the same jobs are fine.
    _, done = validate(tmp_path, text.replace("job: Growth_Daily", "job: investors_daily"))
    assert done.returncode == 0, done.stderr


# oncall-bot lineage ------------------------------------------------------------------------------------------

def test_lineage_json_from_declared_depends_on(tmp_path):
    text = source_with(INVESTORS_DEPENDS, "    depends_on: [growth, engagement]   #")
    path = write(tmp_path, text)
    graph = cli_json("--runbook", str(path), "lineage", "--json")
    assert list(graph["pipelines"]) == ["profit", "growth", "engagement", "investors", "experiments"]
    assert graph["pipelines"]["investors"] == {"name": "Aggregate data for investors",
                                               "upstream": ["engagement", "growth"], "feeds": []}
    assert graph["pipelines"]["growth"] == {"name": "Growth", "upstream": [], "feeds": ["investors"]}
    assert graph["pipelines"]["profit"] == {"name": "Profit", "upstream": [], "feeds": []}
    assert graph["edges"] == [
        {"from": "engagement", "to": "investors", "how": "declared", "datasets": []},
        {"from": "growth", "to": "investors", "how": "declared", "datasets": []},
    ]


def test_lineage_text_says_each_edge_and_why(tmp_path):
    path = write(tmp_path, source_with(INVESTORS_DEPENDS, "    depends_on: [growth]   #"))
    done = run_cli_here("--runbook", str(path), "lineage")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "1 edge(s) declared in depends_on, 0 seen in OpenLineage datasets" in out
    assert "growth (Growth)\n  upstream: -\n  feeds: investors (declared)\n" in out
    assert "investors (Aggregate data for investors)\n  upstream: growth (declared)\n  feeds: -\n" in out
    assert "profit (Profit)\n  upstream: -\n  feeds: -\n" in out


def test_lineage_without_a_database_yet_shows_the_declared_edges(tmp_path, monkeypatch):
    path = write(tmp_path, source_with(INVESTORS_DEPENDS, "    depends_on: [growth]   #"))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'not-yet.db'}")
    done = run_cli_here("--runbook", str(path), "lineage", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["edges"] == [{"from": "growth", "to": "investors", "how": "declared",
                                                 "datasets": []}]
    assert "no database at" in done.stderr and "depends_on only" in done.stderr
    assert not (tmp_path / "not-yet.db").exists()  # read-only: nothing created


def lineage_event(job: str, *, inputs=(), outputs=(), event_type: str = "START") -> dict:
    at = datetime.now(UTC).replace(microsecond=0, tzinfo=None)  # the intake takes events of the past year
    return {"eventTime": f"{at.isoformat()}Z", "producer": "https://example.test",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "eventType": event_type, "run": {"runId": str(uuid.uuid4())},
            "job": {"namespace": "airflow", "name": job},
            "inputs": [{"namespace": "warehouse", "name": n} for n in inputs],
            "outputs": [{"namespace": "warehouse", "name": n} for n in outputs]}


def post_lineage(client, event: dict) -> dict:
    response = client.post("/api/v1/lineage", json=event, headers={"Authorization": "Bearer alerts-secret"})
    assert response.status_code < 300, response.text
    return response.json()


def test_lineage_shows_edges_seen_in_openlineage_datasets(tmp_path, make_app, monkeypatch):
    # engagement → investors is declared; growth → investors only the datasets show.
    path = write(tmp_path, source_with(INVESTORS_DEPENDS, "    depends_on: [engagement]   #"))
    client = make_app(None, runbook=path)
    post_lineage(client, lineage_event("growth", outputs=["analytics.growth_daily"]))
    post_lineage(client, lineage_event("investors", inputs=["analytics.growth_daily", "analytics.clicks"]))
    post_lineage(client, lineage_event("engagement", outputs=["analytics.clicks"]))
    post_lineage(client, lineage_event("retired_job", outputs=["analytics.clicks"]))  # no pipeline: no edge
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'oncall.db'}")  # the app's store (conftest)

    graph = cli_json("--runbook", str(path), "lineage", "--json")
    assert graph["edges"] == [
        {"from": "engagement", "to": "investors", "how": "declared",
         "datasets": [{"namespace": "warehouse", "name": "analytics.clicks"}]},
        {"from": "growth", "to": "investors", "how": "datasets",
         "datasets": [{"namespace": "warehouse", "name": "analytics.growth_daily"}]},
    ]
    assert graph["pipelines"]["investors"]["upstream"] == ["engagement", "growth"]
    assert graph["pipelines"]["growth"]["feeds"] == ["investors"]
    assert graph["pipelines"]["engagement"]["feeds"] == ["investors"]

    done = run_cli_here("--runbook", str(path), "lineage")
    assert done.returncode == 0, done.stderr
    assert "1 edge(s) declared in depends_on, 1 seen in OpenLineage datasets" in done.stdout
    assert "  feeds: investors (datasets: warehouse/analytics.growth_daily)\n" in done.stdout
    assert ("  upstream: engagement (declared; datasets: warehouse/analytics.clicks), "
            "growth (datasets: warehouse/analytics.growth_daily)\n") in done.stdout
    # The cards show both: what the runbook declares and what the datasets showed.
    card = run_cli_here("--runbook", str(path), "runbook", "investors").stdout
    assert "Upstream pipelines: Engagement (engagement), Growth (growth); feeds: -" in card
    slack = all_text(post_command(client, "/runbook", "growth").json())
    assert "Upstream pipelines: -; feeds: Aggregate data for investors (investors)" in slack


def test_lineage_reads_no_slack_http_or_database_modules():
    probe = ("import contextlib, io, json, sys\nfrom bot.cli import main\n"
             "with contextlib.redirect_stdout(io.StringIO()):\n    code = main(sys.argv[1:])\n"
             "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'slack_bolt', 'slack_sdk', 'starlette', "
             "'sqlalchemy', 'httpx'})\nprint(json.dumps({'code': code, 'heavy': heavy}))\n")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "RUNBOOKS_PATH")}
    for args in (["lineage"], ["lineage", "--json"]):
        done = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, cwd=REPO,
                              env=env, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout.splitlines()[-1]) == {"code": 0, "heavy": []}


# The runbook card ------------------------------------------------------------------------------------------

def test_cli_runbook_card_shows_upstream_pipelines_and_what_it_feeds(tmp_path):
    path = write(tmp_path, source_with(INVESTORS_DEPENDS, "    depends_on: [growth]   #"))
    growth = run_cli_here("--runbook", str(path), "runbook", "growth").stdout
    assert "  Lineage      Upstream pipelines: -; feeds: Aggregate data for investors (investors)\n" in growth
    assert "Customercare team" in growth and "Data science team" in growth  # the teams stay
    investors = run_cli_here("--runbook", str(path), "runbook", "investors").stdout
    assert "Upstream pipelines: Growth (growth); feeds: -" in investors
    assert "Upstream pipelines" not in run_cli_here("--runbook", str(path), "runbook", "profit").stdout


def all_text(reply: dict) -> str:
    return reply["text"] + json.dumps(reply.get("blocks", []))


def test_slack_runbook_card_shows_upstream_pipelines_and_what_it_feeds(tmp_path, fake_slack, make_app):
    path = write(tmp_path, source_with(INVESTORS_DEPENDS, "    depends_on: [growth]   #"))
    client = make_app(fake_slack, runbook=path)
    reply = post_command(client, "/runbook", "investors").json()
    sections = [b["text"]["text"] for b in reply["blocks"] if b["type"] == "section" and "text" in b]
    assert "Upstream pipelines: Growth (growth); feeds: -" in sections
    fields = json.dumps([b for b in reply["blocks"] if b.get("fields")])
    assert "Upstream: check with" in fields and "Software frontend team" in fields
    assert "Downstream: tell" in fields and "Dashboard, Data science team" in fields
    growth = all_text(post_command(client, "/runbook", "growth").json())
    assert "Upstream pipelines: -; feeds: Aggregate data for investors (investors)" in growth
    assert "Upstream pipelines" not in all_text(post_command(client, "/runbook", "profit").json())


# A second team ---------------------------------------------------------------------------------------------

BERLIN_LINEAGE = with_depends(with_depends(BERLIN, "    name: Ledger", "orders"), "    name: Monthly KPIs",
                              "[ledger, orders]")


def test_a_second_team_lineage_cli_and_cards(tmp_path, fake_slack, make_app):
    path = write(tmp_path, BERLIN_LINEAGE)
    path_done = run_cli_here("validate", str(path))
    assert path_done.returncode == 0, path_done.stderr
    graph = cli_json("--runbook", str(path), "lineage", "--json")
    assert graph["pipelines"] == {
        "orders": {"name": "Orders", "upstream": [], "feeds": ["kpis", "ledger"]},
        "ledger": {"name": "Ledger", "upstream": ["orders"], "feeds": ["kpis"]},
        "kpis": {"name": "Monthly KPIs", "upstream": ["ledger", "orders"], "feeds": []},
    }
    assert [(e["from"], e["to"], e["how"]) for e in graph["edges"]] == [
        ("ledger", "kpis", "declared"), ("orders", "kpis", "declared"), ("orders", "ledger", "declared")]
    text = run_cli_here("--runbook", str(path), "lineage").stdout
    assert text.startswith("Lineage of Shop Data's pipelines: 3 edge(s) declared")
    assert "orders (Orders)\n  upstream: -\n  feeds: kpis (declared), ledger (declared)\n" in text
    card = run_cli_here("--runbook", str(path), "runbook", "ledger").stdout
    assert "Upstream pipelines: Orders (orders); feeds: Monthly KPIs (kpis)" in card
    reply = post_command(make_app(fake_slack, runbook=path), "/runbook", "kpis").json()
    assert "Upstream pipelines: Ledger (ledger), Orders (orders); feeds: -" in all_text(reply)


def test_a_second_team_loop_is_reported_with_its_line(tmp_path):
    text = with_depends(BERLIN_LINEAGE, "    name: Orders", "[kpis]")
    # Walked from orders: orders → kpis → ledger → orders is closed by ledger's entry, and
    # orders → kpis → orders by kpis' second one.
    assert_error(tmp_path, text, line_of(text, "depends_on: orders"), "pipelines.ledger.depends_on",
                 "orders → ledger → kpis → orders")
    errors = assert_error(tmp_path, text, line_of(text, "depends_on: [ledger, orders]"),
                          "pipelines.kpis.depends_on[1]", "orders → kpis → orders")
    assert len([e for e in errors if "loop" in e]) == 2, errors
