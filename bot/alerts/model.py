"""One Alert type for every source, and the error that names the bad field (HTTP 400 shows it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Status = Literal["failed", "succeeded"]
MAX_ERROR = 64 * 1024  # the error text kept per alert; logs beyond this are for the log_url


class AlertError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")

    def as_json(self) -> dict[str, str]:
        return {"error": "invalid alert", "field": self.field, "message": self.message}


@dataclass(frozen=True)
class Alert:
    source: str                    # generic | alertmanager | cli
    pipeline: str                  # the name as given; intake resolves it against the runbook
    status: Status
    occurred_at: datetime          # aware UTC
    error: str | None = None
    run_id: str | None = None
    dedup_key: str | None = None
    log_url: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)
