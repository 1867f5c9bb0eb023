"""Reads for an incident's timeline (bot.domain.timeline): the incident, its alert events (without their
payloads), its actions, its outbox rows and its resolution note, in one read transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from bot.store.db import Db, tx
from bot.store.incidents import get_incident
from bot.store.records import Action, Incident, Note, OutboxItem, Record
from bot.store.schema import actions, alert_events, outbox, resolution_notes


@dataclass(frozen=True)
class AlertEvent(Record):
    id: int
    incident_id: int | None
    source: str
    pipeline_raw: str
    status: str
    dedup_key: str | None
    run_id: str | None
    error: str | None
    log_url: str | None
    occurred_at: datetime
    received_at: datetime


@dataclass(frozen=True)
class Story:
    incident: Incident
    events: list[AlertEvent]
    actions: list[Action]
    posts: list[OutboxItem]
    note: Note | None


_EVENT_COLUMNS = [alert_events.c[name] for name in AlertEvent.__dataclass_fields__]


def story(db: Db, incident_id: int) -> Story | None:
    """Everything the store keeps about one incident; None when there is no such incident."""
    with tx(db, read=True) as conn:
        incident = get_incident(conn, incident_id)
        if incident is None:
            return None
        events = conn.execute(select(*_EVENT_COLUMNS).where(alert_events.c.incident_id == incident_id)
                              .order_by(alert_events.c.received_at, alert_events.c.id)).mappings()
        found_events = [AlertEvent.from_row(row) for row in events]
        done = conn.execute(select(actions).where(actions.c.incident_id == incident_id)
                            .order_by(actions.c.at, actions.c.id)).mappings()
        found_actions = [Action.from_row(row) for row in done]
        rows = conn.execute(select(outbox).where(outbox.c.incident_id == incident_id).order_by(outbox.c.id)).mappings()
        posts = [OutboxItem.from_row(row) for row in rows]
        note = conn.execute(select(resolution_notes).where(resolution_notes.c.incident_id == incident_id)
                            ).mappings().one_or_none()
        return Story(incident, found_events, found_actions, posts, Note.from_row(note) if note else None)
