"""A pipeline's cron and SLA times in its own zone (issue 10, item 16): a Berlin team's "ready by
08:00" stays 08:00 local in winter and in summer; an hourly pipeline's fix deadline never precedes
its failure; older runbooks without `timezone:` keep meaning UTC."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.alerts.intake import receive
from bot.alerts.model import Alert
from bot.store.incidents import list_incidents
from tests.helpers_runbook import BERLIN, cli_json, run_cli
from tests.jobs_helpers import at, tick
from tests.store_fixtures import backend, make_store, store  # noqa: F401

ZONED = BERLIN.replace('''    schedule: "0 3 * * *"
    sla: {data_ready_by: "06:00"}''', '''    schedule: "0 3 * * *"
    timezone: team
    sla: {data_ready_by: "08:00", fix_within: 24h}''') + '''  clicks:
    name: Clickstream
    owners: {primary: Jonas}
    schedule: "0 * * * *"
    timezone: Europe/Berlin
    sla: {fix_within: 6h}
  nightly:
    name: Nightly
    owners: {primary: Mia}
    schedule: "30 2 * * *"
    timezone: team
    sla: {data_ready_by: "05:00"}
'''


@pytest.fixture
def zoned(tmp_path):
    path = tmp_path / "berlin.yaml"
    path.write_text(ZONED)
    return ["--runbook", str(path)]


@pytest.mark.parametrize("failed, run_at, ready, fix_by", [
    # Winter (CET, UTC+1) and summer (CEST, UTC+2): the same local clocks, an hour apart in UTC.
    ("2026-12-02T05:00Z", "2026-12-02T02:00:00Z", "2026-12-02T07:00:00Z", "2026-12-02T23:00:00Z"),
    ("2026-07-02T05:00Z", "2026-07-02T01:00:00Z", "2026-07-02T06:00:00Z", "2026-07-02T22:00:00Z"),
    # The night clocks go forward: 24 h from local midnight is the next local midnight (23 real hours).
    ("2026-03-29T04:00Z", "2026-03-29T01:00:00Z", "2026-03-29T06:00:00Z", "2026-03-29T22:00:00Z"),
])
def test_a_zoned_pipeline_keeps_its_local_clocks_across_dst(zoned, failed, run_at, ready, fix_by):
    out = cli_json(*zoned, "triage", "ledger", "--error", "boom", "--json", "--at", failed)
    assert (out["run_at"], out["deadlines"]["data_ready_by"], out["deadlines"]["fix_by"]) == (run_at, ready, fix_by)


def test_a_cron_time_in_the_dst_gap_runs_at_the_first_valid_minute(zoned):
    # 02:30 does not exist in Berlin on 29 March 2026: the run is at 03:00 CEST (01:00 UTC).
    out = cli_json(*zoned, "triage", "nightly", "--error", "boom", "--json", "--at", "2026-03-29T02:00Z")
    assert out["run_at"] == "2026-03-29T01:00:00Z" and out["deadlines"]["data_ready_by"] == "2026-03-29T03:00:00Z"


def test_an_hourly_pipeline_fix_deadline_counts_from_its_run(zoned):
    out = cli_json(*zoned, "triage", "clicks", "--error", "boom", "--json", "--at", "2026-05-05T20:30Z")
    assert out["run_at"] == "2026-05-05T20:00:00Z" and out["deadlines"]["fix_by"] == "2026-05-06T02:00:00Z"
    card = run_cli(*zoned, "runbook", "clicks").stdout
    assert "Fixed within 6h from the run's scheduled start" in card


def test_cards_say_the_zone_the_clocks_are_read_in(zoned):
    ledger = run_cli(*zoned, "runbook", "ledger").stdout
    assert "daily at 03:00 Europe/Berlin" in ledger and "Data ready by 08:00 Europe/Berlin" in ledger
    orders = run_cli(*zoned, "runbook", "orders").stdout  # no timezone: written: UTC, as before the key
    assert "daily at 02:30 UTC" in orders


def test_a_bad_pipeline_zone_is_named(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(ZONED.replace("timezone: Europe/Berlin\n    sla: {fix_within: 6h}",
                                  "timezone: Europe/Berlinn\n    sla: {fix_within: 6h}"))
    done = run_cli("validate", str(path))
    assert done.returncode == 1 and "unknown timezone 'Europe/Berlinn'" in done.stderr
    assert "did you mean 'Europe/Berlin'" in done.stderr


def test_the_sla_watch_of_a_zoned_pipeline_breaches_at_local_time(store):
    from tests.helpers_runbook import runbook

    rb = runbook(ZONED)
    for day, ready_utc in ((at(2026, 12, 1, 12), at(2026, 12, 2, 7)), (at(2026, 7, 1, 12), at(2026, 7, 2, 6))):
        receive(store, rb, Alert(source="generic", pipeline="ledger", status="succeeded", occurred_at=day), day)
        tick(store, rb, day)
        tick(store, rb, ready_utc - timedelta(minutes=1))
        assert not [i for i in list_incidents(store) if i.pipeline == "ledger" and i.data_ready_by == ready_utc]
        tick(store, rb, ready_utc)
        [breach] = [i for i in list_incidents(store) if i.pipeline == "ledger" and i.data_ready_by == ready_utc]
        assert "08:00 CET" in breach.error or "08:00 CEST" in breach.error


def test_validate_says_which_pipelines_of_a_local_team_read_their_clocks_in_utc(tmp_path):
    path = tmp_path / "berlin.yaml"
    path.write_text(ZONED)
    done = run_cli("validate", str(path))
    assert done.returncode == 0, done.stderr
    said = done.stdout + done.stderr
    assert "pipeline 'orders': its schedule and SLA times are read in UTC" in said
    assert "pipeline 'ledger': its schedule" not in said and "add `timezone: team`" in said
