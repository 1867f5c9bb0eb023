"""Prometheus Alertmanager webhook (version 4): one Alert per entry of `alerts[]`.

- pipeline: the entry's label `label` ("pipeline" by default), else the group's common label, else
  `alertname`, so a receiver wired without the label still reaches the on-call person as unknown;
- error: annotations summary and description; firing -> failed, resolved -> succeeded;
- dedup: the label `dedup_label` when present, else `am:` + fingerprint + startsAt, which a resolved
  notification repeats, so it resolves exactly the incident its firing opened;
- occurred_at: startsAt when firing, endsAt when resolved.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.alerts.generic import decode_json, field_error
from bot.alerts.model import MAX_ERROR, Alert, AlertError, checked



class AMAlert(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: Literal["firing", "resolved"]
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime | None = None
    endsAt: datetime | None = None
    generatorURL: str | None = None
    fingerprint: str | None = None


class AMPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: str = "4"
    status: Literal["firing", "resolved"] | None = None
    receiver: str | None = None
    groupKey: str | None = None
    commonLabels: dict[str, str] = Field(default_factory=dict)
    externalURL: str | None = None
    alerts: list[AMAlert] = Field(min_length=1)


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    try:
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:  # 0001-01-01 with an offset east of UTC: Alertmanager's "no time" in disguise
        return None
    return None if value.year <= 1 else value


def _fingerprint(labels: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]


def parse_alertmanager(body: bytes | str | dict[str, Any], now: datetime | None = None, *,
                       label: str = "pipeline", dedup_label: str = "dedup_key") -> list[Alert]:
    data = decode_json(body)
    if not isinstance(data, dict):
        raise AlertError("body", "must be a JSON object")
    if str(data.get("version", "4")) != "4":
        raise AlertError("version", f"webhook version {data.get('version')!r} is not supported; expected \"4\"")
    try:
        payload = AMPayload.model_validate(data)
    except ValidationError as err:
        raise field_error(err) from None
    now = now or datetime.now(UTC)
    group = {key: data.get(key) for key in ("receiver", "groupKey", "status", "externalURL") if key in data}
    result = []
    for i, entry in enumerate(payload.alerts):
        labels = entry.labels
        pipeline = labels.get(label) or payload.commonLabels.get(label) or labels.get("alertname")
        if not pipeline:
            raise AlertError(f"alerts.{i}.labels.{label}", f"no {label!r} label and no alertname to name the pipeline")
        texts = [entry.annotations.get(key, "").strip() for key in ("summary", "description")]
        error = "\n".join(text for text in texts if text) or labels.get("alertname")
        starts = _aware(entry.startsAt)
        if labels.get(dedup_label):
            dedup = labels[dedup_label]
        else:
            dedup = f"am:{entry.fingerprint or _fingerprint(labels)}:{starts.isoformat() if starts else 'unknown'}"
        firing = entry.status == "firing"
        occurred = (starts if firing else _aware(entry.endsAt)) or now
        result.append(checked(Alert(
            source="alertmanager", pipeline=pipeline[:200], status="failed" if firing else "succeeded",
            occurred_at=occurred, error=error and error[:MAX_ERROR], run_id=None, dedup_key=dedup[:400],
            log_url=entry.generatorURL or None, raw={**data["alerts"][i], "group": group},
        ), now, f"alerts.{i}.{'startsAt' if firing else 'endsAt'}"))
    return result
