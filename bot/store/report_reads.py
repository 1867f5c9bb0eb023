"""What a report needs from the store, in a handful of queries whatever the window: the incidents
opened in it (and those still open), delivered pages, escalations and success reports."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select

from bot.domain.lookup import exact_pipeline
from bot.domain.report import Facts, IncidentFact, PageFact
from bot.runbook.models import Runbook
from bot.store.db import Db, tx
from bot.store.pass_reads import first_successes
from bot.store.schema import actions, alert_events, incidents, outbox

RUN_SLACK = timedelta(days=8)  # a run due at the window's start began up to a day (a week, weekly) before


def facts(db: Db, runbook: Runbook, start: datetime, end: datetime) -> Facts:
    found = Facts(names={p.slack_id: name for name, p in runbook.people.items() if p.slack_id})
    i = incidents.c
    with tx(db, read=True) as conn:
        query = select(i.pipeline, i.known, i.opened_at, i.acknowledged_at, i.acknowledged_by, i.resolved_at,
                       i.resolved_by, i.fix_by, i.alert_count, i.root_id, i.folded_into, i.status).where(
            or_(and_(i.opened_at >= start, i.opened_at < end), i.status != "resolved"))
        for row in conn.execute(query):
            found.incidents.append(IncidentFact(
                row.pipeline, row.known, row.opened_at, row.acknowledged_at, row.acknowledged_by,
                row.resolved_at if row.status == "resolved" else None, row.resolved_by, row.fix_by, row.alert_count,
                row.root_id is not None or row.folded_into is not None))
        pages = select(outbox.c.args, outbox.c.sent_at, outbox.c.result, i.pipeline).join(
            incidents, incidents.c.id == outbox.c.incident_id).where(
            outbox.c.kind == "page", outbox.c.state == "sent", outbox.c.sent_at >= start, outbox.c.sent_at < end)
        for args, sent_at, result, pipeline in conn.execute(pages):
            if (result or {}).get("ts") and (args or {}).get("person"):  # delivered: not undeliverable, not needed
                found.pages.append(PageFact(args["person"], pipeline, sent_at))
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
