"""Prometheus metrics of one running bot (a registry per app, so tests can run several)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("oncall_http_requests", "HTTP requests by route and status",
                                ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram("oncall_http_request_duration_seconds", "HTTP request latency by route",
                                 ["route"], registry=self.registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
        self.slack_calls = Counter("oncall_slack_api_calls", "Slack Web API calls by method",
                                   ["method"], registry=self.registry)
        self.alerts = Counter("oncall_alerts", "Alerts accepted by source, status and whether they repeated an open incident",
                              ["source", "status", "kind"], registry=self.registry)
        self.lineage_events = Counter("oncall_openlineage_events", "OpenLineage run events by type and outcome "
                                      "(known: mapped to a pipeline; unknown_job; duplicate: already received)",
                                      ["event_type", "outcome"], registry=self.registry)
        self.outbox = Gauge("oncall_outbox_rows", "Slack deliveries in the outbox by state (due: pending and due now)",
                            ["state"], registry=self.registry)
        self.pages = Counter("oncall_pages", "Pages by direct message, by pipeline, message kind and outcome "
                             "(sent; undeliverable: Slack does not know the person; not_needed: acknowledged first)",
                             ["pipeline", "kind", "outcome"], registry=self.registry)
        self.slack_errors = Counter("oncall_slack_api_errors", "Slack Web API errors by method and error code",
                                    ["method", "error"], registry=self.registry)
