"""Alert parsers: the generic JSON contract and the Alertmanager v4 webhook, into one Alert."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.alerts.alertmanager import parse_alertmanager
from bot.alerts.generic import parse_generic
from bot.alerts.model import AlertError
from tests.payloads import alertmanager_payload

NOW = datetime(2026, 11, 4, 2, 30, tzinfo=UTC)


def test_generic_full_payload():
    body = json.dumps({"pipeline": "Growth", "status": "failed", "error": "java.lang.NullPointerException\n at x",
                       "run_id": "scheduled__2026-11-04T01:00:00+00:00", "dedup_key": "growth-1",
                       "log_url": "https://airflow.example.com/log?x=1", "occurred_at": "2026-11-04T03:15:00+01:00",
                       "dag_id": "growth_daily"}).encode()
    alert = parse_generic(body, NOW)
    assert (alert.source, alert.pipeline, alert.status) == ("generic", "Growth", "failed")
    assert alert.error.startswith("java.lang.NullPointerException")
    assert alert.run_id == "scheduled__2026-11-04T01:00:00+00:00" and alert.dedup_key == "growth-1"
    assert alert.occurred_at == datetime(2026, 11, 4, 2, 15, tzinfo=UTC) and alert.occurred_at.tzinfo == UTC
    assert alert.raw["dag_id"] == "growth_daily"  # extra keys: ignored by the parser, kept in raw


def test_generic_minimal_payload_defaults():
    alert = parse_generic({"pipeline": " growth ", "status": "succeeded", "run_id": 42,
                           "occurred_at": "2026-11-04T01:00:00"}, NOW)
    assert alert.pipeline == "growth" and alert.run_id == "42" and alert.error is None
    assert alert.occurred_at == datetime(2026, 11, 4, 1, tzinfo=UTC)  # no offset: UTC
    assert parse_generic({"pipeline": "growth", "status": "failed"}, NOW).occurred_at == NOW


@pytest.mark.parametrize("body, field", [
    ({"status": "failed"}, "pipeline"),
    ({"pipeline": "", "status": "failed"}, "pipeline"),
    ({"pipeline": 12, "status": "failed"}, "pipeline"),
    ({"pipeline": "growth"}, "status"),
    ({"pipeline": "growth", "status": "broken"}, "status"),
    ({"pipeline": "growth", "status": "failed", "occurred_at": "yesterday"}, "occurred_at"),
    ({"pipeline": "growth", "status": "failed", "log_url": "javascript:alert(1)"}, "log_url"),
    ({"pipeline": "growth", "status": "failed", "error": ["a"]}, "error"),
    ({"pipeline": "growth", "status": "failed", "run_id": {"a": 1}}, "run_id"),
    (b"{not json", "body"),
    (b"[1, 2]", "body"),
])
def test_generic_errors_name_the_field(body, field):
    with pytest.raises(AlertError) as caught:
        parse_generic(body, NOW)
    assert caught.value.field == field
    assert caught.value.as_json()["field"] == field and caught.value.message


def test_alertmanager_firing():
    growth, engagement = parse_alertmanager(json.dumps(alertmanager_payload()), NOW)
    assert (growth.source, growth.pipeline, growth.status) == ("alertmanager", "growth", "failed")
    assert growth.error == "Growth DAG failed\nTask spark_submit failed: java.lang.NullPointerException"
    assert growth.occurred_at == datetime(2026, 11, 4, 1, 42, 10, 123000, tzinfo=UTC)
    assert growth.dedup_key == "am:4f7c1a2b3c4d5e6f:2026-11-04T01:42:10.123000+00:00"
    assert growth.log_url.startswith("http://prometheus:9090/")
    assert growth.raw["group"]["receiver"] == "oncall-bot" and growth.raw["fingerprint"] == "4f7c1a2b3c4d5e6f"
    assert engagement.dedup_key == "eng-2026-11-04" and engagement.error == "Engagement: 0 rows written"


def test_alertmanager_resolved_keeps_the_dedup_key_of_its_firing():
    firing = parse_alertmanager(alertmanager_payload("firing"), NOW)
    resolved = parse_alertmanager(alertmanager_payload("resolved"), NOW)
    assert [a.status for a in resolved] == ["succeeded", "succeeded"]
    assert [a.dedup_key for a in resolved] == [a.dedup_key for a in firing]
    assert resolved[0].occurred_at == datetime(2026, 11, 4, 2, 10, tzinfo=UTC)  # endsAt


def test_alertmanager_configurable_label_and_alertname_fallback():
    payload = alertmanager_payload()
    payload["alerts"][0]["labels"]["dag_id"] = "profit_daily"
    first = parse_alertmanager(payload, NOW, label="dag_id")[0]
    assert first.pipeline == "profit_daily"
    del payload["alerts"][0]["labels"]["pipeline"]
    assert parse_alertmanager(payload, NOW)[0].pipeline == "PipelineFailed"  # routed as unknown, never dropped


@pytest.mark.parametrize("mutate, field", [
    (lambda p: p.update(version="3"), "version"),
    (lambda p: p.update(alerts=[]), "alerts"),
    (lambda p: p["alerts"][1].update(status="pending"), "alerts.1.status"),
    (lambda p: p["alerts"][0].update(startsAt="soon"), "alerts.0.startsAt"),
    (lambda p: p["alerts"][0].update(labels={}), "alerts.0.labels.pipeline"),
])
def test_alertmanager_errors_name_the_field(mutate, field):
    payload = alertmanager_payload()
    mutate(payload)
    with pytest.raises(AlertError) as caught:
        parse_alertmanager(payload, NOW)
    assert caught.value.field == field
