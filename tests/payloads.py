"""Alert bodies shaped like the real senders'."""

from __future__ import annotations


def alertmanager_payload(status: str = "firing") -> dict:
    """Shaped like Alertmanager 0.27's webhook (version 4) for a two-alert group."""
    resolved = status == "resolved"
    return {
        "receiver": "oncall-bot",
        "status": status,
        "alerts": [
            {
                "status": status,
                "labels": {"alertname": "PipelineFailed", "pipeline": "growth", "severity": "page", "job": "airflow"},
                "annotations": {"summary": "Growth DAG failed",
                                "description": "Task spark_submit failed: java.lang.NullPointerException"},
                "startsAt": "2026-11-04T01:42:10.123Z",
                "endsAt": "2026-11-04T02:10:00Z" if resolved else "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph?g0.expr=airflow_dag_failed%3E0",
                "fingerprint": "4f7c1a2b3c4d5e6f",
            },
            {
                "status": status,
                "labels": {"alertname": "PipelineFailed", "pipeline": "engagement", "dedup_key": "eng-2026-11-04"},
                "annotations": {"summary": "Engagement: 0 rows written"},
                "startsAt": "2026-11-04T01:50:00Z",
                "endsAt": "2026-11-04T02:20:00Z" if resolved else "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph?g0.expr=x",
                "fingerprint": "aaaabbbbccccdddd",
            },
        ],
        "groupLabels": {"alertname": "PipelineFailed"},
        "commonLabels": {"alertname": "PipelineFailed"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "version": "4",
        "groupKey": "{}:{alertname=\"PipelineFailed\"}",
        "truncatedAlerts": 0,
    }
