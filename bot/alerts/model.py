"""One Alert type for every source, and the error that names the bad field (HTTP 400 shows it)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

Status = Literal["failed", "succeeded"]
MAX_ERROR = 64 * 1024  # the error text kept per alert; logs beyond this are for the log_url
# A failure is reported when it happens: an instant far from now is a broken sender, not a backfill.
PAST, FUTURE = timedelta(days=366), timedelta(days=1)


class AlertError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")

    def as_json(self) -> dict[str, str]:
        return {"error": "invalid alert", "field": self.field, "message": self.message}


@dataclass(frozen=True)
class Alert:
    source: str                    # generic | alertmanager | openlineage | sla | cli
    pipeline: str                  # the name as given; intake resolves it against the runbook
    status: Status
    occurred_at: datetime          # aware UTC
    error: str | None = None
    run_id: str | None = None
    dedup_key: str | None = None
    log_url: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    scheduled_at: datetime | None = None  # the run's scheduled time when the sender knows it (OpenLineage nominalTime)


def checked(alert: Alert, now: datetime, time_field: str) -> Alert:
    """An alert fit to store: NUL characters and lone surrogates (which PostgreSQL refuses) dropped or
    replaced, its time near `now`."""
    if not now - PAST <= alert.occurred_at <= now + FUTURE:
        raise AlertError(time_field, f"{alert.occurred_at.isoformat()} is more than a year ago or in the future")
    texts = {name: getattr(alert, name) for name in ("pipeline", "error", "run_id", "dedup_key", "log_url")}
    cleaned = {name: storable(value) for name, value in texts.items() if value and storable(value) != value}
    if cleaned.get("pipeline") == "":
        raise AlertError("pipeline", "is empty")
    raw = storable(alert.raw)
    if cleaned or raw != alert.raw:
        return replace(alert, raw=raw, **cleaned)
    return alert


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(value: Any) -> Any:
    """NUL dropped, a lone surrogate (valid JSON escape, invalid Unicode) replaced with U+FFFD."""
    if isinstance(value, str):
        return _UNSTORABLE.sub(lambda m: "" if m[0] == "\x00" else "\ufffd", value) if _UNSTORABLE.search(value) else value
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable(v) for v in value]
    return value
