"""The generic JSON alert of the contract:
`{"pipeline", "status": "failed"|"succeeded", "error"?, "run_id"?, "dedup_key"?, "log_url"?, "occurred_at"?}`.

Extra keys are ignored (kept in the stored raw payload): senders such as an Airflow callback can add
dag_id or try_number without breaking. `occurred_at` is ISO 8601 or Unix seconds; without an
offset it is read as UTC; missing, it is the time of receipt. `run_id` may be a string or a number.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.alerts.model import MAX_ERROR, Alert, AlertError, checked
from bot.bounded import MAX_DEPTH, too_deep


class GenericPayload(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    pipeline: str = Field(min_length=1, max_length=200)
    status: Literal["failed", "succeeded"]
    error: str | None = None
    run_id: str | None = Field(None, max_length=200)
    dedup_key: str | None = Field(None, min_length=1, max_length=400)
    log_url: str | None = Field(None, max_length=2000)
    occurred_at: datetime | None = None

    @field_validator("run_id", mode="before")
    @classmethod
    def _number_ok(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("log_url")
    @classmethod
    def _web_link(cls, value: str | None) -> str | None:
        if value and not value.lower().startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value or None


def decode_json(body: bytes | str | Any) -> Any:
    """Bytes or text of a request body to a JSON value; bad JSON names the body as the field."""
    if not isinstance(body, (bytes, bytearray, str)):
        return body
    if too_deep(body):
        raise AlertError("body", f"nested more than {MAX_DEPTH} levels deep")
    try:
        return json.loads(body)
    except ValueError as err:  # bad JSON or UTF-8, a number too long to read
        raise AlertError("body", f"not valid JSON: {str(err)[:200]}") from None


def field_error(err: ValidationError, prefix: str = "") -> AlertError:
    first = err.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return AlertError(f"{prefix}{where}", first["msg"])


def parse_generic(body: bytes | str | dict[str, Any], now: datetime | None = None) -> Alert:
    data = decode_json(body)
    if not isinstance(data, dict):
        raise AlertError("body", "must be a JSON object")
    try:
        payload = GenericPayload.model_validate(data)
    except ValidationError as err:
        raise field_error(err) from None
    now = now or datetime.now(UTC)
    occurred = payload.occurred_at or now
    try:
        occurred = occurred.replace(tzinfo=UTC) if occurred.tzinfo is None else occurred.astimezone(UTC)
    except OverflowError:
        raise AlertError("occurred_at", f"{occurred.isoformat()} is outside the calendar in UTC") from None
    return checked(Alert(
        source="generic", pipeline=payload.pipeline, status=payload.status, occurred_at=occurred,
        error=(payload.error or None) and payload.error[:MAX_ERROR], run_id=payload.run_id or None,
        dedup_key=payload.dedup_key, log_url=payload.log_url, raw=data,
    ), now, "occurred_at")
