"""Incident memory: each error's shape (fingerprint, normalized text, near-duplicate bands), the notes
of whoever resolved an incident, and the look-up of past incidents like a new one.

Shapes are stored once per fingerprint, not per incident: a thousand failures of one error add one
shape, so the band index grows with the kinds of errors a team has, not with its incidents.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from bot.domain.fingerprint import NEAR, bands, normalize, similarity
from bot.store.db import Db, tx
from bot.store.records import Incident, Note
from bot.store.schema import error_shapes, incidents, resolution_notes, shape_bands
from bot.store.sql import insert_ignoring

SHOWN = 3


def remember_shapes(conn: Connection, errors: dict[str, str], now: datetime) -> None:
    """Store the shape and bands of each fingerprint not seen before (`errors`: fingerprint → an error
    with it); one query for those already known."""
    if not errors:
        return
    known = set(conn.execute(select(error_shapes.c.fingerprint)
                             .where(error_shapes.c.fingerprint.in_(sorted(errors)))).scalars())
    new = {fp: error for fp, error in errors.items() if fp not in known}
    if not new:
        return
    dialect = conn.dialect.name
    shapes = [dict(fingerprint=fp, shape=normalize(error), first_seen_at=now) for fp, error in new.items()]
    added = {row.fingerprint for row in conn.execute(
        insert_ignoring(dialect, error_shapes, ("fingerprint",), ("fingerprint",)), shapes)}
    rows = [dict(band=band, fingerprint=fp) for fp in added for band in set(bands(new[fp]))]
    if rows:
        conn.execute(insert_ignoring(dialect, shape_bands, ("band", "fingerprint"), ("band",)), rows)


@dataclass(frozen=True)
class Seen:
    """A past incident like a new one: how alike, and what its resolver wrote."""

    incident: Incident
    likeness: float        # 1.0: the same fingerprint
    note: Note | None


def similar_incidents(db: Db, incident_id: int, limit: int = SHOWN) -> list[Seen]:
    """Up to `limit` resolved incidents, of any pipeline, whose error has the same shape as this one's
    or one close to it (NEAR), closest first, then latest. Nothing when nothing is alike."""
    with tx(db, read=True) as conn:
        fp = conn.execute(select(incidents.c.fingerprint).where(incidents.c.id == incident_id)).scalar_one_or_none()
        if fp is None:
            return []
        likeness = {fp: 1.0}
        mine = select(shape_bands.c.band).where(shape_bands.c.fingerprint == fp)
        near = conn.execute(select(error_shapes.c.fingerprint, error_shapes.c.shape)
                            .where(error_shapes.c.fingerprint.in_(
                                select(shape_bands.c.fingerprint).where(shape_bands.c.band.in_(mine))),
                                   error_shapes.c.fingerprint != fp)).all()
        if near:
            shape = conn.execute(select(error_shapes.c.shape).where(error_shapes.c.fingerprint == fp)).scalar_one()
            for other, text in near:
                score = similarity(shape, text)
                if score >= NEAR:
                    likeness[other] = score
        found: list[Incident] = []
        for other in sorted(likeness, key=lambda f: -likeness[f]):
            query = (select(incidents).where(incidents.c.fingerprint == other, incidents.c.status == "resolved",
                                             incidents.c.id != incident_id)
                     .order_by(incidents.c.resolved_at.desc(), incidents.c.id.desc()).limit(limit))
            found += [Incident.from_row(row) for row in conn.execute(query).mappings()]
        found.sort(key=lambda i: (-likeness[i.fingerprint], -i.resolved_at.timestamp(), -i.id))
        found = found[:limit]
        notes = notes_of(conn, [i.id for i in found])
        return [Seen(i, likeness[i.fingerprint], notes.get(i.id)) for i in found]


def notes_of(db: Db, incident_ids: list[int]) -> dict[int, Note]:
    if not incident_ids:
        return {}
    with tx(db, read=True) as conn:
        rows = conn.execute(select(resolution_notes).where(resolution_notes.c.incident_id.in_(incident_ids)))
        return {row.incident_id: Note.from_row(row) for row in rows.mappings()}


def note_of(db: Db, incident_id: int) -> Note | None:
    return notes_of(db, [incident_id]).get(incident_id)


def save_note(db: Db, incident_id: int, fix: str, remediation: str, category: str | None, by_user: str,
              by_name: str | None, now: datetime) -> Note | None:
    """Keep (or replace: the latest word stands) the note on a resolved incident, and queue its thread
    reply and the parent's edit. None when the incident is not resolved (a note says what fixed it)."""
    from bot.store import outbox as box
    from bot.store.incidents import record_action

    with tx(db) as conn:
        row = conn.execute(select(incidents.c.status, incidents.c.slack_channel)
                           .where(incidents.c.id == incident_id)).one_or_none()
        if row is None or row.status != "resolved":
            return None
        conn.execute(resolution_notes.delete().where(resolution_notes.c.incident_id == incident_id))
        values = dict(incident_id=incident_id, fix=fix, remediation=remediation, category=category or None,
                      by_user=by_user, by_name=by_name, at=now)
        conn.execute(resolution_notes.insert(), values)
        record_action(conn, incident_id, "note", by_user, now, {"remediation": remediation, "category": category})
        box.enqueue(conn, kind="note", idempotency_key=f"incident:{incident_id}:note:{now.isoformat()}", now=now,
                    incident_id=incident_id, method="chat.postMessage", channel=row.slack_channel)
        return Note(**values)
