"""Alert intake: dedup, persist, and enqueue what Slack must be told, in one transaction.

The HTTP layer answers 202 only after `receive` returns, so an accepted alert is committed before
anyone is told it was accepted. Nothing here calls Slack or builds blocks: the outbox rows name a
kind (open, repeat, resolve, page) and the incident, and the Slack layer renders from the incident row.

Dedup key: the alert's `dedup_key`; else `<pipeline>:run:<run_id>`; else `<pipeline>:day:<date>` where
the date is the scheduled run's (UTC) date, or the failure's UTC date for a pipeline without a
schedule. `<pipeline>` is the runbook key, or the unknown name in lower case with spaces collapsed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable

from sqlalchemy import Connection, bindparam, insert, or_, select, update

from bot.alerts.model import Alert
from bot.domain.deadlines import deadlines
from bot.domain.fingerprint import fingerprint
from bot.domain.lineage import Lineage, lineage_of
from bot.domain.lookup import exact_pipeline
from bot.domain import policy
from bot.domain.rotation import OverrideSpan
from bot.domain.triage import triage
from bot.runbook.models import Runbook
from bot.alerts import flood
from bot.store import outbox as box
from bot.store.db import Db, tx
from bot.store.incidents import page_suffix, paged_about, resolve
from bot.store.lineage import seen_edges
from bot.store.memory import remember_shapes
from bot.store.overrides import active_overrides
from bot.store.schema import actions, alert_events, incidents, outbox
from bot.store.sql import for_update, insert_ignoring


@dataclass(frozen=True)
class IncidentResult:
    incident_id: int | None      # None: a success that matched no unresolved incident (recorded only)
    deduplicated: bool = False   # folded into an open incident
    created: bool = False
    resolved: bool = False
    known: bool = True

    def as_json(self) -> dict:
        """The 202 body of the contract."""
        return {"incident": self.incident_id, "deduplicated": self.deduplicated}


def normalize_name(name: str) -> str:
    # Casefolding can lengthen text ("ß" → "ss"): cut to the column's 200 characters after it.
    return " ".join(name.casefold().split())[:200]


def incident_key(runbook: Runbook, pipeline: str, known: bool, alert: Alert) -> str:
    if alert.dedup_key:
        return alert.dedup_key
    if alert.run_id:
        return f"{pipeline}:run:{alert.run_id}"
    run_at = deadlines(runbook, pipeline if known else None, alert.scheduled_at or alert.occurred_at).run_at
    return f"{pipeline}:day:{(run_at or alert.occurred_at).date().isoformat()}"


def receive(db: Db, runbook: Runbook, alert: Alert, now: datetime,
            spans: list[OverrideSpan] | None = None) -> IncidentResult:
    return receive_many(db, runbook, [alert], now, spans)[0]


@dataclass
class _Later:
    """Rows that nothing in the same batch reads back (events, audit, new outbox rows): written with
    one executemany each when the batch ends, which is most of what makes group commit pay."""

    events: list[dict] = field(default_factory=list)
    audit: list[dict] = field(default_factory=list)
    deliveries: list[dict] = field(default_factory=list)
    repeats: dict[int, tuple[int, str, datetime]] = field(default_factory=dict)  # incident → latest count
    open: dict[str, "_Open"] = field(default_factory=dict)  # open incidents by dedup key, kept current
    new: dict[str, "_New"] = field(default_factory=dict)    # incidents this batch opens, by dedup key
    filled: dict[int, IncidentResult] = field(default_factory=dict)  # results of alerts of new incidents
    paged: dict[str, set[str]] = field(default_factory=dict)  # by pipeline: who has a page about an open one
    posted: dict[str, int] = field(default_factory=dict)  # by pipeline: incidents with their own post this minute
    floods: set[str] = field(default_factory=set)          # flood summaries this batch queued
    runbook: Runbook | None = None                         # for the flood summary's policy question
    spans: list[OverrideSpan] = field(default_factory=list)
    lineage: Lineage | None = None                         # read once per batch that opens an incident
    now: datetime | None = None

    def flush(self, conn: Connection) -> None:
        """Write what is pending; called at the end of the batch, and before anything that enqueues
        a delivery directly (a resolution), so deliveries keep the order of the alerts."""
        if self.new:
            _write_new(conn, self)
        for table, rows in ((alert_events, self.events), (actions, self.audit), (outbox, self.deliveries)):
            if rows:
                conn.execute(insert(table), rows)
                rows.clear()
        # After the batch's "open" rows, so a repeat never queues ahead of the post it replies to.
        # Storms fold: while a repeat delivery waits unclaimed, later repeats ride on it.
        for incident_id, (count, channel, now) in self.repeats.items():
            box.enqueue(conn, kind="repeat", idempotency_key=f"incident:{incident_id}:repeat:{count}", now=now,
                        incident_id=incident_id, method="chat.postMessage", channel=channel, coalesce=True)
        self.repeats.clear()


@dataclass
class _Open:
    id: int
    alert_count: int
    root_id: int | None = None


@dataclass(frozen=True)
class _Named:
    key: str | None    # the runbook's pipeline key, None for an unknown pipeline
    pipeline: str      # the key, or the unknown name normalised
    dedup: str


def receive_many(db: Db, runbook: Runbook, alerts: Iterable[Alert], now: datetime,
                 spans: list[OverrideSpan] | None = None) -> list[IncidentResult]:
    """Every alert of one request, or of a group-committed batch, in one transaction: all kept or none.

    `spans`: the store's overrides, when the caller keeps them cached (the server does: reading them
    per batch cost an eighth of intake); read here otherwise."""
    with tx(db) as conn:
        return receive_in(conn, runbook, alerts, now, active_overrides(conn, now) if spans is None else spans)


def receive_in(conn: Connection, runbook: Runbook, alerts: Iterable[Alert], now: datetime,
               spans: list[OverrideSpan]) -> list[IncidentResult]:
    """`receive_many` inside the caller's transaction (OpenLineage intake stores its events in it too)."""
    alerts = list(alerts)
    named = [_name(runbook, alert) for alert in alerts]
    later = _Later(runbook=runbook, spans=spans, now=now)
    later.open = _open_incidents(conn, {n.dedup for n, a in zip(named, alerts) if a.status == "failed"})
    results = [_receive(conn, runbook, alert, n, now, spans, later, i)
               for i, (alert, n) in enumerate(zip(alerts, named))]
    later.flush(conn)
    return [result or later.filled[i] for i, result in enumerate(results)]


def _name(runbook: Runbook, alert: Alert) -> _Named:
    key = exact_pipeline(runbook, alert.pipeline)
    pipeline = key or normalize_name(alert.pipeline)
    return _Named(key, pipeline, incident_key(runbook, pipeline, key is not None, alert))


def _open_incidents(conn: Connection, keys: set[str]) -> dict[str, _Open]:
    """The batch's open incidents in one query per 500 keys, instead of one look-up per alert."""
    found: dict[str, _Open] = {}
    ordered = sorted(keys)
    query = for_update(conn, _OPEN_BY_KEYS)
    for start in range(0, len(ordered), 500):
        for row in conn.execute(query, {"keys": ordered[start:start + 500]}):
            found[row.open_key] = _Open(row.id, row.alert_count, row.root_id)
    return found


# Built once: a statement built per batch costs its cache key on every execution.
_OPEN_BY_KEYS = (select(incidents.c.id, incidents.c.alert_count, incidents.c.open_key, incidents.c.root_id)
                 .where(incidents.c.open_key.in_(bindparam("keys", expanding=True))))


def _receive(conn: Connection, runbook: Runbook, alert: Alert, named: _Named, now: datetime,
             spans: list[OverrideSpan], later: _Later, index: int) -> IncidentResult | None:
    """The alert's result, or None when it opens (or repeats) an incident this batch opens: that
    result is filled in when the batch's new incidents are written."""
    key, pipeline, dedup = named.key, named.pipeline, named.dedup
    if alert.status == "succeeded":
        later.open.pop(dedup, None)
        later.flush(conn)
        return _succeeded(conn, alert, pipeline, dedup, now, key is not None)
    if dedup in later.new:
        later.new[dedup].alerts.append((alert, index))
        return None
    current = later.open.get(dedup)
    if current is not None and current.root_id is not None and _root_resolved(conn, current.root_id):
        later.flush(conn)
        return _unfold(conn, runbook, alert, current, dedup, now, spans, later)
    if current is not None:
        return _repeat(conn, runbook, alert, current, dedup, now, key is not None, later)
    later.new[dedup] = _opening(runbook, alert, key, pipeline, dedup, now, spans, index)
    return None


def _open_by_key(conn: Connection, dedup: str) -> _Open | None:
    query = select(incidents.c.id, incidents.c.alert_count, incidents.c.root_id).where(incidents.c.open_key == dedup)
    row = conn.execute(for_update(conn, query)).one_or_none()
    return _Open(row.id, row.alert_count, row.root_id) if row else None


_INSERT_EVENT = insert(alert_events)


def _event_row(alert: Alert, dedup: str, incident_id: int | None, now: datetime) -> dict:
    return dict(incident_id=incident_id, source=alert.source, pipeline_raw=alert.pipeline[:200], status=alert.status,
                dedup_key=dedup, run_id=alert.run_id, error=alert.error, log_url=alert.log_url,
                occurred_at=alert.occurred_at, received_at=now, payload=alert.raw)


def _delivery_row(kind: str, incident_id: int, key: str, channel: str | None, now: datetime,
                  args: dict | None = None, priority: int | None = None) -> dict:
    return dict(incident_id=incident_id, kind=kind, idempotency_key=key, channel=channel, method="chat.postMessage",
                args=args or {}, state="pending", attempts=0, next_attempt_at=now, created_at=now,
                priority=box.urgency(kind, args) if priority is None else priority)


@dataclass
class _New:
    """An incident the batch opens, with every alert of the batch that belongs to it."""

    values: dict
    known: bool
    channel: str
    now: datetime
    detail: dict
    alerts: list[tuple[Alert, int]]
    paged: tuple[str, ...] = ()
    folded: tuple[str, ...] = ()  # would be paged, but another open incident of the pipeline paged them
    key: str | None = None        # the runbook's pipeline key
    upstream: str | None = None   # the upstream pipeline whose open incident explains this one
    fix_by: datetime | None = None


def _opening(runbook: Runbook, alert: Alert, key: str | None, pipeline: str, dedup: str, now: datetime,
             spans: list[OverrideSpan], index: int) -> _New:
    clocks = deadlines(runbook, key, alert.scheduled_at or alert.occurred_at)
    audience = policy.decide(runbook, key, policy.OPEN, now, spans, policy.IncidentState(fix_by=clocks.fix_by))
    match = triage(runbook, key, alert.error)
    values = dict(
        pipeline=pipeline, pipeline_raw=alert.pipeline[:200], known=key is not None, dedup_key=dedup,
        open_key=dedup, status="open", opened_at=now, last_alert_at=now, alert_count=1, run_id=alert.run_id,
        run_at=clocks.run_at, data_ready_by=clocks.data_ready_by, fix_by=clocks.fix_by, error=alert.error,
        log_url=alert.log_url, issue_title=match.title if match else None, notify_mode=audience.how,
        notify=list(audience.people), oncall=audience.oncall, deferred_until=audience.until,
        escalation_level=0, told=audience.told(), notify_reason=audience.reason,
        origin="missing_report" if alert.source == "sla" else "alert", folded_into=None, root_id=None,
        # A missing report has the watch's words, not an error: nothing to recognise it by.
        fingerprint=None if alert.source == "sla" else fingerprint(alert.error),
    )
    detail = {"source": alert.source, "mode": audience.how, "people": list(audience.people),
              "reason": audience.reason}
    return _New(values, key is not None, runbook.team.channels.alerts, now, detail, [(alert, index)],
                audience.paged, key=key, fix_by=clocks.fix_by)


def _write_new(conn: Connection, later: _Later) -> None:
    """The batch's new incidents in one INSERT; one another intake opened meanwhile (the unique open
    key says so) is skipped by the INSERT, and these alerts fold into theirs."""
    pending = list(later.new.values())
    later.new.clear()
    # An incident whose upstream pipeline opens one in this batch too waits for it to exist, so it can
    # fold under it (the SLA watch finds a whole chain late in one pass).
    first, then = _upstream_first(conn, pending, later)
    for wave in (first, then):
        if wave:
            _fold_lineage(conn, wave, later)
            _write_wave(conn, wave, later)


def _write_wave(conn: Connection, pending: list[_New], later: _Later) -> None:
    _fold_pages(conn, pending, later)
    _fold_flood(conn, pending, later)
    remember_shapes(conn, {p.values["fingerprint"]: p.values["error"] for p in pending if p.values["fingerprint"]},
                    pending[0].now)
    rows = [p.values | {"alert_count": len(p.alerts)} for p in pending]
    opened = {row.open_key: row.id for row in conn.execute(
        insert_ignoring(conn.dialect.name, incidents, ("open_key",), ("id", "open_key")), rows)}
    for new in pending:
        dedup = new.values["open_key"]
        incident_id = opened.get(dedup)
        if incident_id is None:  # opened by another intake first: these alerts repeat it
            current = _open_by_key(conn, dedup)
            if current is None:
                raise RuntimeError(f"could not open or find the incident for {dedup!r}")
            conn.execute(update(incidents).where(incidents.c.id == current.id)
                         .values(alert_count=incidents.c.alert_count + len(new.alerts), last_alert_at=new.now))
            current.alert_count += len(new.alerts)
            later.open[dedup] = current
            later.repeats[current.id] = (current.alert_count, new.channel, new.now)
            for alert, index in new.alerts:
                later.events.append(_event_row(alert, dedup, current.id, new.now))
                later.filled[index] = IncidentResult(current.id, deduplicated=True, known=new.known)
            continue
        later.open[dedup] = _Open(incident_id, len(new.alerts))
        for position, (alert, index) in enumerate(new.alerts):
            later.events.append(_event_row(alert, dedup, incident_id, new.now))
            later.filled[index] = IncidentResult(incident_id, deduplicated=position > 0, created=position == 0,
                                                 known=new.known)
        later.audit.append(dict(incident_id=incident_id, kind="open", actor="alert", at=new.now, detail=new.detail))
        if new.values["root_id"] is not None:
            later.audit.append(dict(incident_id=incident_id, kind="folded_under", actor="bot", at=new.now,
                                    detail={"root": new.values["root_id"], "upstream": new.upstream}))
        # The incident is new, so its "open" key is too: no conflict to handle. The parent of an
        # incident that pages goes first too: the page links to it. A folded one has no parent.
        if new.values["folded_into"] is None:
            later.deliveries.append(_delivery_row("open", incident_id, f"incident:{incident_id}:open", new.channel,
                                                  new.now, priority=box.URGENT if new.paged else None))
        elif new.values["folded_into"] not in later.floods:
            later.floods.add(flood.summarize(conn, later.runbook, new.values["pipeline"], new.channel, new.now))
        for name in new.folded:
            later.audit.append(dict(incident_id=incident_id, kind="page_folded", actor="bot", at=new.now,
                                    detail={"person": name, "kind": policy.OPEN}))
        for name in new.paged:  # after the post: the direct message links to its thread
            page = {"person": name, "kind": policy.OPEN, "reason": new.detail["reason"]}
            later.audit.append(dict(incident_id=incident_id, kind="page", actor="bot", at=new.now, detail=page))
            key = f"incident:{incident_id}:{page_suffix(policy.OPEN, '', name)}"
            later.deliveries.append(_delivery_row("page", incident_id, key, None, new.now, page))
        if new.values["fingerprint"] and new.values["folded_into"] is None and new.values["root_id"] is None:
            # Past incidents like this one, looked up when the reply is due: none found, nothing said.
            later.deliveries.append(_delivery_row("seen_before", incident_id, f"incident:{incident_id}:seen_before",
                                                  new.channel, new.now))
        if len(new.alerts) > 1:
            later.repeats[incident_id] = (len(new.alerts), new.channel, new.now)


def _graph(conn: Connection, later: _Later) -> Lineage:
    if later.lineage is None:
        later.lineage = lineage_of(later.runbook, ((a, b) for a, b, *_ in seen_edges(conn, later.now)))
    return later.lineage


def _upstream_first(conn: Connection, pending: list[_New], later: _Later) -> tuple[list[_New], list[_New]]:
    keys = {new.key for new in pending if new.key}
    if len(keys) < 2 or later.runbook.team.lineage.fold_within is None:
        return pending, []
    graph = _graph(conn, later)
    waiting = [new for new in pending if new.key and keys & set(graph.ancestors(new.key))]
    return [new for new in pending if new not in waiting], waiting


def _fold_lineage(conn: Connection, pending: list[_New], later: _Later) -> None:
    """A failure (or breach) of a pipeline whose upstream has an open incident, opened within the
    runbook's `team.lineage.fold_within`, joins that incident's thread as a child: the policy's
    FOLDED decision replaces its own (nobody paged). One query per batch that opens incidents."""
    window = later.runbook.team.lineage.fold_within
    known = [new for new in pending if new.key]
    if window is None or not known:
        return
    graph = _graph(conn, later)
    ancestry = {new.key: graph.ancestors(new.key) for new in known}
    wanted = {a for chain in ancestry.values() for a in chain}
    if not wanted:
        return
    now = known[0].now
    root = incidents.alias("root")
    # An upstream incident folded under a root that is resolved explains nothing any more.
    rows = conn.execute(select(incidents.c.id, incidents.c.pipeline, incidents.c.root_id)
                        .outerjoin(root, root.c.id == incidents.c.root_id)
                        .where(incidents.c.status != "resolved", incidents.c.pipeline.in_(sorted(wanted)),
                               incidents.c.known.is_(True), incidents.c.folded_into.is_(None),
                               incidents.c.opened_at >= now - window,
                               or_(incidents.c.root_id.is_(None), root.c.status != "resolved"))
                        .order_by(incidents.c.opened_at, incidents.c.id)).all()
    for new in known:
        nearest = {a: i for i, a in enumerate(ancestry[new.key])}
        hits = sorted((row for row in rows if row.pipeline in nearest), key=lambda r: nearest[r.pipeline])
        if not hits:
            continue
        upstream = hits[0]
        audience = policy.decide(later.runbook, new.key, policy.FOLDED, new.now, later.spans,
                                 policy.IncidentState(fix_by=new.fix_by, folded=True))
        new.values.update(root_id=upstream.root_id or upstream.id, notify_mode=audience.how,
                          notify=list(audience.people), told=audience.told(), notify_reason=audience.reason,
                          deferred_until=audience.until)
        new.detail.update(mode=audience.how, people=list(audience.people), reason=audience.reason)
        new.paged, new.upstream = (), upstream.pipeline


def _fold_flood(conn: Connection, pending: list[_New], later: _Later) -> None:
    """Past FOLD_AFTER incidents of a pipeline in a minute, those that page nobody are said in one
    summary message (bot.alerts.flood), not a post each (one count query per pipeline and batch)."""
    for new in pending:
        if new.paged or new.values["root_id"] is not None:  # a page's post, or a reply in its root's thread
            continue
        pipeline = new.values["pipeline"]
        if pipeline not in later.posted:
            later.posted[pipeline] = flood.own_posts(conn, pipeline, new.now)
        if later.posted[pipeline] >= flood.FOLD_AFTER:
            new.values["folded_into"] = flood.key_of(pipeline, new.now)
        else:
            later.posted[pipeline] += 1


def _fold_pages(conn: Connection, pending: list[_New], later: _Later) -> None:
    """A person already paged about another open incident of the pipeline is mentioned, not paged
    again: a flood of distinct failures wakes them once (one query per pipeline and batch)."""
    for new in pending:
        if not new.paged:
            continue
        pipeline = new.values["pipeline"]
        if pipeline not in later.paged:
            later.paged[pipeline] = paged_about(conn, pipeline, new.now)
        awake = later.paged[pipeline] & set(new.paged)
        if awake:
            new.values["told"] = {n: ("notify" if n in awake else how) for n, how in new.values["told"].items()}
            new.folded = tuple(sorted(awake))
            new.paged = tuple(n for n in new.paged if n not in awake)
        later.paged[pipeline] |= set(new.paged)


def _repeat(conn: Connection, runbook: Runbook, alert: Alert, current, dedup: str, now: datetime,
            known: bool, later: _Later) -> IncidentResult:
    current.alert_count += 1
    count = current.alert_count
    conn.execute(update(incidents).where(incidents.c.id == current.id)
                 .values(alert_count=incidents.c.alert_count + 1, last_alert_at=now))
    later.events.append(_event_row(alert, dedup, current.id, now))
    later.repeats[current.id] = (count, runbook.team.channels.alerts, now)
    return IncidentResult(current.id, deduplicated=True, known=known)


def _root_resolved(conn: Connection, root_id: int) -> bool:
    return conn.execute(select(incidents.c.status).where(incidents.c.id == root_id)).scalar_one() == "resolved"


def _unfold(conn: Connection, runbook: Runbook, alert: Alert, current: _Open, dedup: str, now: datetime,
            spans: list[OverrideSpan], later: _Later) -> IncidentResult:
    """A folded incident that still fails after its root was resolved is no longer explained by it: it
    becomes an incident of its own, with its own post and whatever its policy says now."""
    row = conn.execute(select(incidents).where(incidents.c.id == current.id)).mappings().one()
    audience = policy.decide(runbook, row["pipeline"] if row["known"] else None, policy.OPEN, now, spans,
                             policy.IncidentState(fix_by=row["fix_by"]))
    # As for a new incident: whoever another open incident of the pipeline paged is mentioned, not woken again.
    awake = paged_about(conn, row["pipeline"], now, but=current.id) & set(audience.paged)
    paged = tuple(name for name in audience.paged if name not in awake)
    told = {name: ("notify" if name in awake else how) for name, how in audience.told().items()}
    current.alert_count += 1
    conn.execute(update(incidents).where(incidents.c.id == current.id).values(
        root_id=None, slack_channel=None, slack_ts=None, alert_count=incidents.c.alert_count + 1, last_alert_at=now,
        notify_mode=audience.how, notify=list(audience.people), oncall=audience.oncall, told=told,
        notify_reason=audience.reason, deferred_until=audience.until, deferred_pinged_at=None))
    conn.execute(_INSERT_EVENT, _event_row(alert, dedup, current.id, now))
    conn.execute(insert(actions), dict(incident_id=current.id, kind="unfolded", actor="alert", at=now,
                                       detail={"root": current.root_id, "mode": audience.how,
                                               "people": list(audience.people), "reason": audience.reason}))
    channel = runbook.team.channels.alerts
    rows = [_delivery_row("open", current.id, f"incident:{current.id}:open:own", channel, now,
                          priority=box.URGENT if paged else None)]
    for name in sorted(awake):
        conn.execute(insert(actions), dict(incident_id=current.id, kind="page_folded", actor="bot", at=now,
                                           detail={"person": name, "kind": policy.OPEN}))
    for name in paged:
        page = {"person": name, "kind": policy.OPEN, "reason": audience.reason}
        conn.execute(insert(actions), dict(incident_id=current.id, kind="page", actor="bot", at=now, detail=page))
        rows.append(_delivery_row("page", current.id, f"incident:{current.id}:{page_suffix(policy.OPEN, 'own', name)}",
                                  None, now, page))
    # The root's message no longer lists it, nor offers to resolve it.
    rows.append(_delivery_row("refresh", current.root_id, f"incident:{current.root_id}:refresh:{current.id}",
                              channel, now))
    conn.execute(insert(outbox), rows)
    current.root_id = None
    return IncidentResult(current.id, deduplicated=True, known=row["known"])


def _succeeded(conn: Connection, alert: Alert, pipeline: str, dedup: str, now: datetime,
               known: bool) -> IncidentResult:
    target = _open_by_key(conn, dedup)
    if target is None:  # e.g. a rerun with a new run_id: the latest unresolved incident of the pipeline
        query = (select(incidents.c.id).where(incidents.c.pipeline == pipeline, incidents.c.status != "resolved")
                 .order_by(incidents.c.opened_at.desc(), incidents.c.id.desc()).limit(1))
        target = conn.execute(for_update(conn, query)).one_or_none()
    incident_id = target.id if target is not None else None
    conn.execute(_INSERT_EVENT, _event_row(alert, dedup, incident_id, now))
    if incident_id is None:
        return IncidentResult(None, known=known)
    change = resolve(conn, incident_id, "alert", now, data_at=alert.occurred_at, via=alert.source)
    return IncidentResult(incident_id, resolved=change.changed, known=known)
