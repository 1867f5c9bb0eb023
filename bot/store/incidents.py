"""Incident state changes made by people and by the clock: acknowledge, resolve, escalate, deferred pings.

Each change is one transaction that updates the incident, appends to the audit trail (`actions`)
and enqueues the outbox row that tells Slack; repeated clicks and competing replicas are no-ops,
because each change is a conditional UPDATE and each outbox row has a unique key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from sqlalchemy import Connection, func, insert, or_, select, update

from bot.store import outbox as box
from bot.store.db import Db, tx
from bot.store.records import Action, Incident
from bot.store.schema import actions, incidents
from bot.store.sql import for_update

Per = Callable[[Incident], Any]
FOLD_WINDOW = timedelta(hours=24)  # how far back an earlier page of the same pipeline still counts


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


def children_of(db: Db, root_id: int) -> list[Incident]:
    """The incidents folded under an upstream incident (lineage), oldest first."""
    query = select(incidents).where(incidents.c.root_id == root_id).order_by(incidents.c.id)
    with tx(db, read=True) as conn:
        return [Incident.from_row(row) for row in conn.execute(query).mappings()]


def resolve_children(db: Db, root_id: int, user: str, now: datetime) -> Change:
    """Someone resolved the root cause and says its downstream incidents are settled too: each open
    one folded under it is resolved by them, as by its own button (the SLA stays unknown)."""
    with tx(db) as conn:
        open_ones = [child.id for child in children_of(conn, root_id) if child.is_open]
        changed = [resolve(conn, child_id, user, now, via="root").changed for child_id in open_ones]
        return Change(get_incident(conn, root_id), any(changed))


def folded_count(db: Db, key: str) -> int:
    """How many incidents a flood summary stands for."""
    with tx(db, read=True) as conn:
        return conn.execute(select(func.count()).select_from(incidents)
                            .where(incidents.c.folded_into == key)).scalar_one()


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
    """Resolve an unresolved incident; with a success report, record whether the data arrived by its
    SLA time.

    `data_at` is when the data became ready (a success alert's time). A person resolving by hand says
    nothing about the data: the SLA stays unknown (`sla_met` None) and the SLA watch goes on waiting
    for that run's success. The outbox row asks for a quiet thread reply and an edited parent.
    """
    with tx(db) as conn:
        current = _locked(conn, incident_id)
        if current is None or current.status == "resolved":
            return Change(current, False)
        ready = data_at or now
        known = data_at is not None and current.data_ready_by is not None
        sla_met = ready <= current.data_ready_by if known else None
        conn.execute(update(incidents).where(incidents.c.id == incident_id)
                     .values(status="resolved", open_key=None, resolved_by=user, resolved_at=ready, sla_met=sla_met))
        record_action(conn, incident_id, "resolve", user, now, {"via": via, "sla_met": sla_met})
        changed = get_incident(conn, incident_id)
        _outbox(conn, changed, "resolve", "resolve", now, "chat.update", {"by": user, "via": via})
        return Change(changed, True)


def escalate(db: Db, incident_id: int, user: str, now: datetime, choose: Callable[[Incident], Any], *,
             expected_level: int | None = None, settle: Callable[[Incident], bool] | None = None) -> Change:
    """Move to the escalation step `choose(incident)` picks (a policy Audience with its `step`).

    No step (the pipeline's hours do not allow it now), or a chain that ran out and already said
    so, changes nothing. `expected_level` makes the clock's escalation happen once across replicas:
    it applies only if nobody escalated since the caller looked. `settle(incident)` true: the last
    escalation absorbs this one (several presses of Escalate in a row are one press)."""
    with tx(db) as conn:
        current = _locked(conn, incident_id)
        if current is None or current.status == "resolved":
            return Change(current, False)
        if expected_level is not None and current.escalation_level != expected_level:
            return Change(current, False)
        if settle is not None and settle(current):
            return Change(current, False)
        audience = choose(current)
        if audience.step is None or (audience.how == "none" and current.escalation_level >= audience.step):
            return Change(current, False)
        level = audience.step
        done = conn.execute(update(incidents)
                            .where(incidents.c.id == incident_id,
                                   incidents.c.escalation_level == current.escalation_level)
                            .values(escalation_level=level, escalated_at=now)).rowcount
        if done != 1:
            return Change(current, False)
        detail = {"level": level, "people": list(audience.people), "how": audience.how, "reason": audience.reason}
        record_action(conn, incident_id, "escalate", user, now, detail)
        changed = get_incident(conn, incident_id)
        _outbox(conn, changed, "escalate", f"escalate:{level}", now, "chat.postMessage",
                {**detail, "by": user, "status": current.status, "acknowledged_by": current.acknowledged_by})
        tell(conn, changed, audience, "escalation", now, scope=str(level))
        return Change(get_incident(conn, incident_id), True)


def page_suffix(kind: str, scope: str, person: str) -> str:
    """The outbox key of a page after `incident:<id>:`: one DM per person, message kind and occurrence,
    written by intake (in a batch) and by `tell` alike."""
    return f"page:{kind}:{scope}:{person}"


def paged_about(conn: Connection, pipeline: str, now: datetime, but: int | None = None) -> set[str]:
    """Who has a page about another open, unacknowledged incident of the pipeline (within a day):
    a flood of distinct failures wakes a person once, and mentions them on the rest."""
    query = (select(actions.c.detail).join(incidents, incidents.c.id == actions.c.incident_id)
             .where(actions.c.kind == "page", actions.c.at >= now - FOLD_WINDOW, incidents.c.pipeline == pipeline,
                    incidents.c.status == "open"))
    if but is not None:
        query = query.where(incidents.c.id != but)
    return {detail["person"] for (detail,) in conn.execute(query) if detail and detail.get("person")}


def tell(conn: Connection, incident: Incident, audience: Any, kind: str, now: datetime, scope: str = "") -> None:
    """What a policy decision (an Audience) means for the incident: who it has now reached (and how),
    a direct message to each paged person (unless another open incident of the pipeline paged them:
    then the mention is enough), and, when the people are told later, the deferred ping armed (or
    brought forward) with this message listed as what happened meanwhile."""
    current = _locked(conn, incident.id) or incident
    if audience.how in ("page", "notify"):
        awake = paged_about(conn, current.pipeline, now, but=current.id) if audience.paged else set()
        told = dict(current.told or {})
        for name, how in audience.told().items():
            if told.get(name) != "page":
                told[name] = "notify" if name in awake else how
        values: dict[str, Any] = {"told": told}
        if told_at(current) is None:  # the first time anyone is told: the deferred wait ends, the ack clock starts
            values["deferred_pinged_at"] = now
        conn.execute(update(incidents).where(incidents.c.id == incident.id).values(**values))
        for name in awake & set(audience.paged):
            record_action(conn, incident.id, "page_folded", "bot", now, {"person": name, "kind": kind})
        for name in (n for n in audience.paged if n not in awake):
            detail = {"person": name, "kind": kind, "reason": audience.reason}
            record_action(conn, incident.id, "page", "bot", now, detail)
            _outbox(conn, current, "page", page_suffix(kind, scope, name), now, "chat.postMessage", detail)
    elif audience.how == "deferred" and audience.until is not None:
        record_action(conn, incident.id, "held", "bot", now, {"kind": kind, "until": audience.until.isoformat()})
        armed = current.deferred_until is not None and current.deferred_pinged_at is None
        if not armed or current.deferred_until > audience.until:
            conn.execute(update(incidents).where(incidents.c.id == incident.id).values(
                deferred_until=audience.until, deferred_pinged_at=None))


def due_deferred_pings(db: Db, now: datetime) -> list[Incident]:
    """Unacknowledged incidents whose people were to be told by now and have not been."""
    query = select(incidents).where(
        incidents.c.status == "open", incidents.c.deferred_until <= now, incidents.c.deferred_pinged_at.is_(None),
    ).order_by(incidents.c.id)
    with tx(db, read=True) as conn:
        return [Incident.from_row(row) for row in conn.execute(query).mappings()]


def fire_deferred_pings(db: Db, now: datetime, choose: Callable[[Incident], Any]) -> list[int]:
    """Tell each due deferred incident's people (whom `choose` names now), once across replicas, with
    what happened meanwhile; an incident whose people still may not be told waits until they may."""
    fired = []
    with tx(db) as conn:
        for incident in due_deferred_pings(conn, now):
            audience = choose(incident)
            if audience.how not in ("page", "notify"):  # nobody may be told yet: wait on (or, if never, stop)
                conn.execute(update(incidents).where(incidents.c.id == incident.id)
                             .values(deferred_until=audience.until))
                continue
            done = conn.execute(update(incidents)
                                .where(incidents.c.id == incident.id, incidents.c.deferred_pinged_at.is_(None))
                                .values(deferred_pinged_at=now)).rowcount
            if done != 1:
                continue
            since = conn.execute(select(func.max(actions.c.at)).where(
                actions.c.incident_id == incident.id, actions.c.kind == "deferred_ping")).scalar_one_or_none()
            held = conn.execute(select(actions.c.detail, actions.c.at).where(
                actions.c.incident_id == incident.id, actions.c.kind == "held",
                *([actions.c.at > since] if since else [])).order_by(actions.c.id)).all()
            detail = {"people": list(audience.people), "how": audience.how, "reason": audience.reason,
                      "meanwhile": [{"kind": (d or {}).get("kind"), "at": at.isoformat()} for d, at in held]}
            record_action(conn, incident.id, "deferred_ping", "bot", now, detail)
            _outbox(conn, incident, "deferred_ping", f"deferred_ping:{now.isoformat()}", now, "chat.postMessage",
                    detail)
            tell(conn, incident, audience, "deferred_ping", now, scope=now.isoformat())
            fired.append(incident.id)
    return fired


def _value(setting, incident: Incident):
    return setting(incident) if callable(setting) else setting


def told_at(incident: Incident) -> datetime | None:
    """When people were first asked to act: at opening when paged or mentioned, at the deferred ping
    when they were told later; quiet incidents asked nobody, so nobody is chased."""
    if incident.deferred_pinged_at is not None:
        return incident.deferred_pinged_at
    return incident.opened_at if incident.notify_mode in ("page", "notify") else None


def due_escalations(db: Db, now: datetime, ack_within: timedelta | None | Per, chain_length: int | Per = 1, *,
                    shortest_wait: timedelta | None = None, longest_chain: int | None = None) -> list[Incident]:
    """Open (unacknowledged) incidents whose people were told, and whose last step is older than
    `ack_within` (None: never by the clock). A chain of N steps has N + 1 levels: the last one says
    that the chain ran out.

    Both settings may be callables of the incident, so the caller applies per-pipeline YAML; then
    `shortest_wait` and `longest_chain` (their bounds over all pipelines) let SQL skip the incidents
    that cannot be due, so a night of thousands of open incidents is not loaded every 15 seconds.
    """
    shortest_wait = ack_within if isinstance(ack_within, timedelta) else shortest_wait
    longest_chain = chain_length if isinstance(chain_length, int) else longest_chain
    start = func.coalesce(incidents.c.escalated_at, incidents.c.deferred_pinged_at, incidents.c.opened_at)
    query = select(incidents).where(
        incidents.c.status == "open", incidents.c.root_id.is_(None),  # a folded one escalates through its root
        or_(incidents.c.notify_mode.in_(["page", "notify"]), incidents.c.deferred_pinged_at.is_not(None)),
    ).order_by(incidents.c.id)
    if shortest_wait is not None:
        query = query.where(start <= now - shortest_wait)
    if longest_chain is not None:
        query = query.where(incidents.c.escalation_level <= longest_chain)
    due = []
    with tx(db, read=True) as conn:
        for incident in (Incident.from_row(row) for row in conn.execute(query).mappings()):
            start_at = incident.escalated_at or told_at(incident)
            wait = _value(ack_within, incident)
            if start_at is None or wait is None or incident.escalation_level > _value(chain_length, incident):
                continue
            if start_at + wait <= now:
                due.append(incident)
    return due


def fire_escalations(db: Db, now: datetime, choose: Callable[[Incident], Any], ack_within: timedelta | None | Per,
                     chain_length: int | Per = 1, **bounds: Any) -> list[int]:
    """Escalate every due incident one step (the one `choose` picks), once across replicas; returns
    the escalated ids. `bounds`: as for due_escalations."""
    fired = []
    with tx(db) as conn:
        for incident in due_escalations(conn, now, ack_within, chain_length, **bounds):
            if escalate(conn, incident.id, "bot", now, choose, expected_level=incident.escalation_level).changed:
                fired.append(incident.id)
    return fired
