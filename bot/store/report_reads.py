"""What a report needs from the store, in a handful of queries whatever the window: the incidents
opened in it (and those still open), delivered pages, escalations and success reports."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, or_, select

from bot.domain.lookup import exact_pipeline
from bot.domain.report import Facts, IncidentCounts, PageFact, Spread
from bot.runbook.models import Runbook
from bot.store.db import Db, tx
from bot.store.pass_reads import first_successes
from bot.store.schema import actions, alert_events, incidents, outbox

RUN_SLACK = timedelta(days=8)  # a run due at the window's start began up to a day (a week, weekly) before


def _seconds_between(dialect: str):
    """SQL for the seconds from b to a (SQLite keeps instants as text, PostgreSQL as timestamptz)."""
    if dialect == "postgresql":
        return lambda a, b: func.extract("epoch", a - b)
    return lambda a, b: (func.julianday(a) - func.julianday(b)) * 86400.0


def _spread(values: list[float]) -> Spread:
    return Spread.of([_span(float(v)) for v in values])


def _span(seconds: float) -> timedelta:
    return timedelta(seconds=round(seconds, 3))


def facts(db: Db, runbook: Runbook, start: datetime, end: datetime) -> Facts:
    found = Facts(names={p.slack_id: name for name, p in runbook.people.items() if p.slack_id})
    i = incidents.c
    with tx(db, read=True) as conn:
        window = and_(i.opened_at >= start, i.opened_at < end)
        fix_due = and_(i.fix_by.is_not(None), i.fix_by <= end)
        fix_met = case((~fix_due, None), (and_(i.status == "resolved", i.resolved_at <= i.fix_by), 1), else_=0)
        folded = case((or_(i.root_id.is_not(None), i.folded_into.is_not(None)), 1), else_=0)
        # One scan, durations computed in SQL, the rows read straight from the driver's cursor: a year
        # of incidents is 100,000 rows, and building a Row (or a query per figure) for each was most
        # of the report's time.
        seconds = _seconds_between(conn.dialect.name)
        acks: dict[str, list[float]] = {}
        resolves: dict[str, list[float]] = {}
        by_user: dict[str, list[float]] = {}
        query = select(i.pipeline, i.known, i.acknowledged_by, seconds(i.acknowledged_at, i.opened_at),
                       case((i.status == "resolved", seconds(i.resolved_at, i.opened_at))), i.resolved_by,
                       folded, i.alert_count, fix_met).where(window)
        for pipeline, known, user, ack, res, resolver, fold, alerts, fix in conn.execute(query).cursor.fetchall():
            counts = found.incidents.get(pipeline)
            if counts is None:
                counts = found.incidents[pipeline] = IncidentCounts(bool(known))
            counts.incidents += 1
            counts.folded += fold
            counts.repeats += alerts - 1
            if fix is not None:
                counts.fix_met += fix
                counts.fix_missed += 1 - fix
            if ack is not None:
                acks.setdefault(pipeline, []).append(ack)
                if user:
                    by_user.setdefault(user, []).append(ack)
            if res is not None:
                # A success report resolves at the data's own time, which can precede the incident
                # (the SLA watch opened it before a late report arrived): it took no time, not less.
                resolves.setdefault(pipeline, []).append(max(float(res), 0.0))
                if resolver:
                    found.resolved_by[resolver] = found.resolved_by.get(resolver, 0) + 1
        found.acknowledge = {key: _spread(values) for key, values in acks.items()}
        found.resolve = {key: _spread(values) for key, values in resolves.items()}
        found.acknowledged_by = {key: _spread(values) for key, values in by_user.items()}
        still = conn.execute(select(func.count(), func.count(case((i.opened_at < start, 1))))
                             .where(i.status != "resolved")).one()
        found.open_incidents, found.carried_over = still
        # Delivered: a page Slack could not deliver, or that was no longer needed, has no ts.
        person = outbox.c.args["person"].as_string()
        pages = select(person, outbox.c.sent_at, i.pipeline).join(incidents, incidents.c.id == outbox.c.incident_id).where(
            outbox.c.kind == "page", outbox.c.state == "sent", outbox.c.sent_at >= start, outbox.c.sent_at < end,
            outbox.c.result["ts"].as_string().is_not(None), person.is_not(None))
        found.pages = [PageFact(name, pipeline, sent_at) for name, sent_at, pipeline in conn.execute(pages)]
        escalations = select(i.pipeline, actions.c.at).join(incidents, incidents.c.id == actions.c.incident_id).where(
            actions.c.kind == "escalate", actions.c.at >= start, actions.c.at < end)
        found.escalations = [(pipeline, at) for pipeline, at in conn.execute(escalations)]
        reports = select(alert_events.c.pipeline_raw, alert_events.c.occurred_at).where(
            alert_events.c.status == "succeeded", alert_events.c.occurred_at >= start - RUN_SLACK,
            alert_events.c.occurred_at < end + RUN_SLACK)
        keys: dict[str, str | None] = {}
        for raw, at in conn.execute(reports):
            if raw not in keys:
                keys[raw] = exact_pipeline(runbook, raw)
            if keys[raw]:
                found.successes.setdefault(keys[raw], []).append(at)
        for instants in found.successes.values():
            instants.sort()
        found.first_success = first_successes(conn, runbook)
    return found
