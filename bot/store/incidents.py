"""Incident state changes made by people and by the clock: acknowledge, resolve, escalate, deferred pings.

Each change is one transaction that updates the incident, appends to the audit trail (`actions`)
and enqueues the outbox row that tells Slack; repeated clicks and competing replicas are no-ops,
because each change is a conditional UPDATE and each outbox row has a unique key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from sqlalchemy import Connection, case, func, insert, select, update

from bot.store import outbox as box
from bot.store.db import Db, tx
from bot.store.records import Action, Incident
from bot.store.schema import actions, incidents
from bot.store.sql import for_update

Per = Callable[[Incident], Any]


@dataclass(frozen=True)
class Change:
    incident: Incident | None
    changed: bool


def get_incident(db: Db, incident_id: int) -> Incident | None:
    with tx(db, read=True) as conn:
        row = conn.execute(select(incidents).where(incidents.c.id == incident_id)).mappings().one_or_none()
        return Incident.from_row(row) if row else None


def list_incidents(db: Db, *, open_only: bool = False, pipeline: str | None = None) -> list[Incident]:
    query = select(incidents).order_by(incidents.c.id)
    if open_only:
        query = query.where(incidents.c.status != "resolved")
    if pipeline is not None:
        query = query.where(incidents.c.pipeline == pipeline)
    with tx(db, read=True) as conn:
        return [Incident.from_row(row) for row in conn.execute(query).mappings()]


def incident_actions(db: Db, incident_id: int) -> list[Action]:
    with tx(db, read=True) as conn:
        rows = conn.execute(select(actions).where(actions.c.incident_id == incident_id).order_by(actions.c.id))
        return [Action.from_row(row) for row in rows.mappings()]


def record_action(conn: Connection, incident_id: int | None, kind: str, actor: str, at: datetime,
                  detail: dict[str, Any] | None = None) -> None:
    conn.execute(insert(actions), dict(incident_id=incident_id, kind=kind, actor=actor, at=at, detail=detail))


def _locked(conn: Connection, incident_id: int) -> Incident | None:
    query = for_update(conn, select(incidents).where(incidents.c.id == incident_id))
    row = conn.execute(query).mappings().one_or_none()
    return Incident.from_row(row) if row else None


def _outbox(conn: Connection, incident: Incident, kind: str, suffix: str, now: datetime, method: str,
            args: dict[str, Any] | None = None, coalesce: bool = False) -> None:
    box.enqueue(conn, kind=kind, idempotency_key=f"incident:{incident.id}:{suffix}", now=now,
                incident_id=incident.id, method=method, channel=incident.slack_channel, args=args or {},
                coalesce=coalesce)


def ack(db: Db, incident_id: int, user: str, now: datetime) -> Change:
    """open -> acknowledged; stops escalation and deferred pings. Later clicks change nothing."""
    with tx(db) as conn:
        current = _locked(conn, incident_id)
        if current is None or current.status != "open":
            return Change(current, False)
        conn.execute(update(incidents).where(incidents.c.id == incident_id)
                     .values(status="acknowledged", acknowledged_by=user, acknowledged_at=now))
        record_action(conn, incident_id, "ack", user, now)
        changed = get_incident(conn, incident_id)
        _outbox(conn, changed, "ack", "ack", now, "chat.update", {"by": user})
        return Change(changed, True)


def resolve(db: Db, incident_id: int, user: str, now: datetime, *, data_at: datetime | None = None,
            via: str = "button") -> Change:
    """Resolve an unresolved incident and record whether the data arrived by its SLA time.

    `data_at` is when the data became ready (a success alert's time); a person resolving by hand
    leaves it to `now`. The outbox row asks for a quiet thread reply and an edited parent.
    """
    with tx(db) as conn:
        current = _locked(conn, incident_id)
        if current is None or current.status == "resolved":
            return Change(current, False)
        ready = data_at or now
        sla_met = None if current.data_ready_by is None else ready <= current.data_ready_by
        conn.execute(update(incidents).where(incidents.c.id == incident_id)
                     .values(status="resolved", open_key=None, resolved_by=user, resolved_at=ready, sla_met=sla_met))
        record_action(conn, incident_id, "resolve", user, now, {"via": via, "sla_met": sla_met})
        changed = get_incident(conn, incident_id)
        _outbox(conn, changed, "resolve", "resolve", now, "chat.update", {"by": user, "via": via})
        return Change(changed, True)


def escalate(db: Db, incident_id: int, user: str, now: datetime, *, expected_level: int | None = None) -> Change:
    """Move to the next escalation step. `expected_level` makes the clock's escalation happen once
    across replicas: it applies only if nobody escalated since the caller looked."""
    with tx(db) as conn:
        current = _locked(conn, incident_id)
        if current is None or current.status == "resolved":
            return Change(current, False)
        if expected_level is not None and current.escalation_level != expected_level:
            return Change(current, False)
        level = current.escalation_level + 1
        done = conn.execute(update(incidents)
                            .where(incidents.c.id == incident_id,
                                   incidents.c.escalation_level == current.escalation_level)
                            .values(escalation_level=level, escalated_at=now)).rowcount
        if done != 1:
            return Change(current, False)
        record_action(conn, incident_id, "escalate", user, now, {"level": level})
        changed = get_incident(conn, incident_id)
        _outbox(conn, changed, "escalate", f"escalate:{level}", now, "chat.postMessage", {"level": level, "by": user})
        return Change(changed, True)


def due_deferred_pings(db: Db, now: datetime) -> list[Incident]:
    """Deferred incidents still unacknowledged whose work-hours start has come and not been pinged."""
    query = select(incidents).where(
        incidents.c.status == "open", incidents.c.notify_mode == "deferred",
        incidents.c.deferred_until <= now, incidents.c.deferred_pinged_at.is_(None),
    ).order_by(incidents.c.id)
    with tx(db, read=True) as conn:
        return [Incident.from_row(row) for row in conn.execute(query).mappings()]


def fire_deferred_pings(db: Db, now: datetime) -> list[int]:
    """Mark each due deferred ping done and enqueue it, once, however many replicas run this."""
    fired = []
    with tx(db) as conn:
        for incident in due_deferred_pings(conn, now):
            done = conn.execute(update(incidents)
                                .where(incidents.c.id == incident.id, incidents.c.deferred_pinged_at.is_(None))
                                .values(deferred_pinged_at=now)).rowcount
            if done == 1:
                record_action(conn, incident.id, "deferred_ping", "bot", now, {"notify": incident.notify})
                _outbox(conn, incident, "deferred_ping", "deferred_ping", now, "chat.postMessage",
                        {"notify": incident.notify})
                fired.append(incident.id)
    return fired


def _value(setting, incident: Incident):
    return setting(incident) if callable(setting) else setting


def paged_at(incident: Incident) -> datetime | None:
    """When people were first asked to act: at opening when paged, at work-hours start when deferred."""
    if incident.notify_mode == "page":
        return incident.opened_at
    if incident.notify_mode == "deferred":
        return incident.deferred_until
    return None  # quiet or nobody: nobody was asked, so nobody is chased


def due_escalations(db: Db, now: datetime, ack_within: timedelta | Per, max_level: int | Per = 1, *,
                    shortest_wait: timedelta | None = None, longest_chain: int | None = None) -> list[Incident]:
    """Open (unacknowledged) paged incidents whose last step is older than `ack_within`.

    Both settings may be callables of the incident, so the caller applies per-pipeline YAML; then
    `shortest_wait` and `longest_chain` (their bounds over all pipelines) let SQL skip the incidents
    that cannot be due, so a night of thousands of open incidents is not loaded every 15 seconds.
    """
    shortest_wait = ack_within if isinstance(ack_within, timedelta) else shortest_wait
    longest_chain = max_level if isinstance(max_level, int) else longest_chain
    start = func.coalesce(incidents.c.escalated_at, case((incidents.c.notify_mode == "page", incidents.c.opened_at),
                                                         else_=incidents.c.deferred_until))
    query = select(incidents).where(incidents.c.status == "open",
                                    incidents.c.notify_mode.in_(["page", "deferred"])).order_by(incidents.c.id)
    if shortest_wait is not None:
        query = query.where(start <= now - shortest_wait)
    if longest_chain is not None:
        query = query.where(incidents.c.escalation_level < longest_chain)
    due = []
    with tx(db, read=True) as conn:
        for incident in (Incident.from_row(row) for row in conn.execute(query).mappings()):
            start_at = incident.escalated_at or paged_at(incident)
            if start_at is None or incident.escalation_level >= _value(max_level, incident):
                continue
            if start_at + _value(ack_within, incident) <= now:
                due.append(incident)
    return due


def fire_escalations(db: Db, now: datetime, ack_within: timedelta | Per, max_level: int | Per = 1,
                     **bounds: Any) -> list[int]:
    """Escalate every due incident one step, once across replicas; returns the escalated ids.
    `bounds`: as for due_escalations."""
    fired = []
    with tx(db) as conn:
        for incident in due_escalations(conn, now, ack_within, max_level, **bounds):
            if escalate(conn, incident.id, "bot", now, expected_level=incident.escalation_level).changed:
                fired.append(incident.id)
    return fired
