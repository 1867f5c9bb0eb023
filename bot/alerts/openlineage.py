"""OpenLineage RunEvents (spec 2-0-2) read into what the bot acts on.

The models below are the spec's RunEvent with the facets the bot reads (errorMessage, nominalTime,
parent): required fields, types and formats as the spec's JSON schema gives them, other keys and
facets kept as sent. The openlineage-python client has models only for emitting (attrs classes
without a parser), so its events are the tests' reference: every event it emits must validate here.

Which pipeline an event belongs to is a runbook question (`lineage_event` below): the job's own
mapping, else its parent's (an Airflow task's parent facet names its DAG run), else the root's.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.alerts.generic import field_error
from bot.alerts.model import MAX_ERROR, Alert, AlertError, checked, storable
from bot.bounded import too_deep
from bot.domain.lookup import exact_pipeline
from bot.domain.memo import per_runbook
from bot.runbook.models import Runbook

EVENT_TYPES = ("START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER")
MAX_DEPTH = 64  # schema facets of nested columns go deeper than an alert's 32 levels
MAX_EVENTS = 100
NOMINAL_BEFORE = timedelta(days=35)  # a monthly run may fail a month after it was scheduled


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


def _run_id(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError("must be a UUID (the spec's format for runId)") from None


RunId = Annotated[str, AfterValidator(_run_id)]


class _RunRef(_Open):
    runId: RunId


class _JobRef(_Open):
    namespace: str = Field(min_length=1, max_length=500)
    name: str = Field(min_length=1, max_length=500)


class _Parent(_Open):
    run: _RunRef
    job: _JobRef
    root: "_Root | None" = None


class _Root(_Open):
    run: _RunRef
    job: _JobRef


class _ErrorMessage(_Open):
    message: str
    programmingLanguage: str
    stackTrace: str | None = None


class _NominalTime(_Open):
    nominalStartTime: datetime
    nominalEndTime: datetime | None = None


class _RunFacets(_Open):
    parent: _Parent | None = None
    errorMessage: _ErrorMessage | None = None
    nominalTime: _NominalTime | None = None


class _Run(_Open):
    runId: RunId
    facets: _RunFacets | None = None


class _Dataset(_Open):
    namespace: str = Field(min_length=1, max_length=500)
    name: str = Field(min_length=1, max_length=500)


class RunEvent(_Open):
    eventTime: datetime
    producer: str = Field(min_length=1)
    schemaURL: str = Field(min_length=1)
    eventType: Literal["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"] | None = None
    run: _Run
    job: _JobRef
    inputs: list[_Dataset] | None = None
    outputs: list[_Dataset] | None = None

    @field_validator("eventTime", mode="before")
    @classmethod
    def _with_time(cls, value: Any) -> Any:
        if isinstance(value, str) and "t" not in value.lower():
            raise ValueError("must be a date-time (ISO 8601 with a time), not a date")
        return value


_Parent.model_rebuild()


@dataclass(frozen=True)
class Job:
    namespace: str
    name: str
    run_id: str


@dataclass(frozen=True)
class LineageEvent:
    """One RunEvent, validated: what the store keeps and what intake acts on."""

    event_type: str                     # OTHER when the event gave none
    job: Job
    parent: Job | None                  # the parent facet's run and job (a task's DAG run)
    root: Job | None
    event_time: datetime                # aware UTC
    nominal_time: datetime | None
    error: str | None
    inputs: tuple[tuple[str, str], ...] = ()
    outputs: tuple[tuple[str, str], ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


def parse_events(body: bytes | str | Any, now: datetime) -> list[LineageEvent]:
    """One RunEvent, or a JSON array of them (a batch: all valid, or a 400 naming `[i].field`)."""
    if isinstance(body, (bytes, bytearray, str)):
        if too_deep(body, MAX_DEPTH):
            raise AlertError("body", f"nested more than {MAX_DEPTH} levels deep")
        try:
            data = json.loads(body)
        except ValueError as err:
            raise AlertError("body", f"not valid JSON: {str(err)[:200]}") from None
    else:
        data = body
    if isinstance(data, list):
        if not data:
            raise AlertError("body", "an empty batch")
        if len(data) > MAX_EVENTS:
            raise AlertError("body", f"a batch holds at most {MAX_EVENTS} events, not {len(data)}")
        return [_parse_one(item, now, f"[{i}].") for i, item in enumerate(data)]
    return [_parse_one(data, now, "")]


def _utc(value: datetime, where: str) -> datetime:
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        raise AlertError(where, f"{value.isoformat()} is outside the calendar in UTC") from None


def _parse_one(data: Any, now: datetime, prefix: str) -> LineageEvent:
    if not isinstance(data, dict):
        raise AlertError(prefix.rstrip(".") or "body", "must be a JSON object (an OpenLineage RunEvent)")
    data = storable(data)
    if "eventType" in data and data["eventType"] is not None and data["eventType"] not in EVENT_TYPES:
        raise AlertError(f"{prefix}eventType", f"unknown event type {str(data['eventType'])[:50]!r}; "
                                               f"one of {', '.join(EVENT_TYPES)}")
    try:
        event = RunEvent.model_validate(data)
    except ValidationError as err:
        raise field_error(err, prefix) from None
    facets = event.run.facets or _RunFacets()
    parent = facets.parent
    error = None
    if facets.errorMessage is not None:
        error = "\n".join(part for part in (facets.errorMessage.message, facets.errorMessage.stackTrace) if part)
    if event.eventType == "ABORT" and not error:
        error = "The run was aborted."
    occurred = _utc(event.eventTime, f"{prefix}eventTime")
    # The same window as any alert: an event from last year is a broken sender, not news.
    checked(Alert(source="openlineage", pipeline=event.job.name, status="failed", occurred_at=occurred),
            now, f"{prefix}eventTime")
    nominal = _scheduled(facets.nominalTime, occurred, f"{prefix}run.facets.nominalTime.")
    return LineageEvent(
        event_type=event.eventType or "OTHER",
        job=Job(event.job.namespace, event.job.name, event.run.runId),
        parent=Job(parent.job.namespace, parent.job.name, parent.run.runId) if parent else None,
        root=Job(parent.root.job.namespace, parent.root.job.name, parent.root.run.runId)
        if parent and parent.root else None,
        event_time=occurred, nominal_time=nominal,
        error=error[:MAX_ERROR] if error else None,
        inputs=tuple((d.namespace, d.name) for d in event.inputs or ()),
        outputs=tuple((d.namespace, d.name) for d in event.outputs or ()),
        raw=data,
    )


def _scheduled(facet: _NominalTime | None, occurred: datetime, where: str) -> datetime | None:
    """When the run was scheduled: the nominal end when given (Airflow's data interval ends when its run
    is scheduled; its start is the previous run), else the nominal start. A schedule far from the
    event is a broken sender, refused rather than turned into deadlines years away."""
    if facet is None:
        return None
    name = "nominalEndTime" if facet.nominalEndTime is not None else "nominalStartTime"
    at = _utc(getattr(facet, name), where + name)
    if not occurred - NOMINAL_BEFORE <= at <= occurred + timedelta(days=1):
        raise AlertError(where + name, f"{at.isoformat()} is more than {NOMINAL_BEFORE.days} days before the event "
                                       f"or a day after it")
    return at


@per_runbook
def _mapped(runbook: Runbook) -> dict[tuple[str, str], str]:
    return {(job.namespace.casefold(), job.job.casefold()): key
            for key, spec in runbook.pipelines.items() for job in spec.openlineage}


def pipeline_of(runbook: Runbook, job: Job) -> str | None:
    """The runbook's mapping of (namespace, job), else the job's name as a pipeline name or alias."""
    return _mapped(runbook).get((job.namespace.casefold(), job.name.casefold())) or exact_pipeline(runbook, job.name)


@dataclass(frozen=True)
class Owned:
    """Whose event it is: the pipeline (None: unknown), the run that stands for the pipeline's run,
    and whether the event is that run's own (False: a task of it, from the parent facet)."""

    pipeline: str | None
    name: str
    run: Job
    own: bool


def owner_of(runbook: Runbook, event: LineageEvent) -> Owned:
    for level, own in ((event.job, True), (event.parent, False), (event.root, False)):
        if level is not None and (key := pipeline_of(runbook, level)):
            return Owned(key, key, level, own)
    top = event.parent or event.job  # an unknown job: its DAG (the parent) is the pipeline people know
    return Owned(None, top.name, top, event.parent is None)


def alert_of(runbook: Runbook, event: LineageEvent, owned: Owned) -> Alert | None:
    """The alert an event amounts to: a failed run or task fails the pipeline's run; only the run's
    own COMPLETE says its data is ready. START, RUNNING and OTHER are kept, not alerted."""
    if event.event_type in ("FAIL", "ABORT"):
        status = "failed"
    elif event.event_type == "COMPLETE" and owned.own:
        status = "succeeded"
    else:
        return None
    error = event.error
    if status == "failed" and not owned.own:
        task = f"Task {event.job.name} of run {owned.run.run_id}"
        error = f"{task}: {error}" if error else f"{task} failed (no errorMessage facet)."
    return Alert(source="openlineage", pipeline=owned.name, status=status, occurred_at=event.event_time,
                 error=error, run_id=owned.run.run_id, scheduled_at=event.nominal_time,
                 raw={"openlineage": {"eventType": event.event_type, "job": f"{event.job.namespace}/{event.job.name}",
                                      "runId": event.job.run_id}})
