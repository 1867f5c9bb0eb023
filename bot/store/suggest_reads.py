"""Reads for `oncall-bot suggest` and the handoff's "suggestions waiting" line (bot.domain.suggest).

Unmatched incidents are those no common issue matched when they opened (`issue_title` NULL) and whose
error has a fingerprint (an SLA "missing report" has none). The handoff's read is counts per
fingerprint and pipeline in one query, whatever the number of incidents.
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

from sqlalchemy import and_, func, select

from bot.domain.suggest import FixNote, Past, Tally, Wronged, waiting
from bot.store.db import Db, tx
from bot.store.schema import error_shapes, incidents, resolution_notes, shape_bands

_CHUNK = 500  # fingerprints per IN list

_NOTE = (resolution_notes.c.fix, resolution_notes.c.remediation, resolution_notes.c.category,
         resolution_notes.c.by_user, resolution_notes.c.by_name, resolution_notes.c.at.label("note_at"))


def _unmatched(since: datetime, until: datetime):
    return and_(incidents.c.issue_title.is_(None), incidents.c.fingerprint.is_not(None),
                incidents.c.opened_at >= since, incidents.c.opened_at <= until)


def _note(row) -> FixNote | None:
    if row.fix is None:
        return None
    return FixNote(row.id, row.pipeline, row.fix, row.remediation, row.category, row.by_user, row.by_name,
                   row.note_at)


def unmatched_incidents(db: Db, since: datetime, until: datetime) -> list[Past]:
    """Every unmatched incident opened in [since, until], with its error's shape and its note."""
    query = (select(incidents.c.id, incidents.c.pipeline, incidents.c.error, incidents.c.fingerprint,
                    incidents.c.opened_at, error_shapes.c.shape, *_NOTE)
             .select_from(incidents
                          .outerjoin(error_shapes, error_shapes.c.fingerprint == incidents.c.fingerprint)
                          .outerjoin(resolution_notes, resolution_notes.c.incident_id == incidents.c.id))
             .where(_unmatched(since, until)).order_by(incidents.c.id))
    with tx(db, read=True) as conn:
        return [Past(row.id, row.pipeline, row.error or "", row.fingerprint, row.shape or "", row.opened_at,
                     _note(row)) for row in conn.execute(query)]


def unmatched_tallies(db: Db, since: datetime, until: datetime) -> list[Tally]:
    """Unmatched incidents opened in [since, until], counted per fingerprint and pipeline, with one
    error of each (for asking the runbook as it is now)."""
    query = (select(incidents.c.fingerprint, incidents.c.pipeline, func.count().label("n"),
                    func.max(incidents.c.error).label("sample"), func.max(error_shapes.c.shape).label("shape"))
             .select_from(incidents.outerjoin(error_shapes, error_shapes.c.fingerprint == incidents.c.fingerprint))
             .where(_unmatched(since, until))
             .group_by(incidents.c.fingerprint, incidents.c.pipeline))
    with tx(db, read=True) as conn:
        return [Tally(row.fingerprint, row.shape or "", row.pipeline, row.n, row.sample or "")
                for row in conn.execute(query)]


def shape_bands_of(db: Db, fingerprints: Iterable[str]) -> dict[str, set[str]]:
    """fingerprint -> its near-duplicate band keys."""
    wanted = sorted(set(fingerprints))
    found: dict[str, set[str]] = {fp: set() for fp in wanted}
    with tx(db, read=True) as conn:
        for start in range(0, len(wanted), _CHUNK):
            query = select(shape_bands.c.fingerprint, shape_bands.c.band).where(
                shape_bands.c.fingerprint.in_(wanted[start:start + _CHUNK]))
            for fp, band in conn.execute(query):
                found[fp].add(band)
    return found


def incident_errors(db: Db) -> list[tuple[str | None, str]]:
    """(fingerprint, error): what a proposed regex must not match outside its own group. One error per
    fingerprint stands for its shape (they differ only where the regex has wildcards), so a store of
    100,000 incidents is checked against its few thousand kinds of error, not every one."""
    sample = (select(incidents.c.fingerprint, func.min(incidents.c.error).label("error"))
              .where(incidents.c.error.is_not(None), incidents.c.error != "", incidents.c.fingerprint.is_not(None))
              .group_by(incidents.c.fingerprint))
    older = (select(incidents.c.fingerprint, incidents.c.error).distinct()  # rows from before fingerprints
             .where(incidents.c.error.is_not(None), incidents.c.error != "", incidents.c.fingerprint.is_(None)))
    with tx(db, read=True) as conn:
        return [(row.fingerprint, row.error) for query in (sample, older) for row in conn.execute(query)]


def wrong_remediation_notes(db: Db, since: datetime, until: datetime) -> list[Wronged]:
    """Incidents opened in [since, until] whose resolution note says the suggested remediation was wrong."""
    query = (select(incidents.c.id, incidents.c.pipeline, incidents.c.issue_title, incidents.c.opened_at, *_NOTE)
             .select_from(incidents.join(resolution_notes, resolution_notes.c.incident_id == incidents.c.id))
             .where(resolution_notes.c.remediation == "wrong", incidents.c.opened_at >= since,
                    incidents.c.opened_at <= until)
             .order_by(incidents.c.id))
    with tx(db, read=True) as conn:
        return [Wronged(row.id, row.pipeline, row.issue_title, row.opened_at, _note(row))
                for row in conn.execute(query)]


def waiting_suggestions(db: Db, since: datetime, until: datetime, runbook=None) -> int:
    """How many suggestions `oncall-bot suggest` has for [since, until]: two small reads."""
    tallies = unmatched_tallies(db, since, until)
    if sum(t.count for t in tallies) < 2:
        return 0
    return waiting(tallies, shape_bands_of(db, {t.fingerprint for t in tallies}), runbook)
