"""Versioned schema migrations, applied in order on start.

Each step is frozen: it spells out the DDL of its own version and never imports the current
tables, so an old database upgrades through exactly the steps a new one was built with. A step
and its `schema_version` row commit together; PostgreSQL holds an advisory lock and SQLite a
BEGIN IMMEDIATE meanwhile, so replicas starting at once migrate one after the other.
To change the schema: append a step here, then update schema.py (a test compares the two).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Callable

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Connection,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    insert,
    select,
    text,
)

from bot.store.types import Json, UTCDateTime

ADVISORY_LOCK_ID = 0x0CA11B07  # any constant shared by every replica of this app


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    up: Callable[[Connection], None]


def _version_table(meta: MetaData) -> Table:
    return Table(
        "schema_version", meta,
        Column("version", Integer, primary_key=True, autoincrement=False),
        Column("description", String(200), nullable=False),
        Column("applied_at", UTCDateTime, nullable=False),
    )


def _v1_core(conn: Connection) -> None:
    meta = MetaData()
    Table(
        "incidents", meta,
        Column("id", Integer, primary_key=True),
        Column("pipeline", String(200), nullable=False),
        Column("pipeline_raw", String(200), nullable=False),
        Column("known", Boolean, nullable=False),
        Column("dedup_key", String(500), nullable=False),
        Column("open_key", String(500), unique=True),
        Column("status", String(20), CheckConstraint("status IN ('open', 'acknowledged', 'resolved')",
                                                     name="ck_incidents_status"), nullable=False),
        Column("opened_at", UTCDateTime, nullable=False),
        Column("last_alert_at", UTCDateTime, nullable=False),
        Column("alert_count", Integer, nullable=False, server_default="1"),
        Column("run_id", String(200)),
        Column("run_at", UTCDateTime),
        Column("data_ready_by", UTCDateTime),
        Column("fix_by", UTCDateTime),
        Column("error", Text),
        Column("log_url", Text),
        Column("issue_title", String(300)),
        Column("notify_mode", String(20), nullable=False),
        Column("notify", Json, nullable=False),
        Column("oncall", String(100)),
        Column("deferred_until", UTCDateTime),
        Column("acknowledged_by", String(100)),
        Column("acknowledged_at", UTCDateTime),
        Column("resolved_by", String(100)),
        Column("resolved_at", UTCDateTime),
        Column("sla_met", Boolean),
        Column("slack_channel", String(100)),
        Column("slack_ts", String(50)),
    )
    Table(
        "alert_events", meta,
        Column("id", Integer, primary_key=True),
        Column("incident_id", Integer, ForeignKey("incidents.id")),
        Column("source", String(50), nullable=False),
        Column("pipeline_raw", String(200), nullable=False),
        Column("status", String(20), nullable=False),
        Column("dedup_key", String(500)),
        Column("run_id", String(200)),
        Column("error", Text),
        Column("log_url", Text),
        Column("occurred_at", UTCDateTime, nullable=False),
        Column("received_at", UTCDateTime, nullable=False),
        Column("payload", Json, nullable=False),
    )
    Table(
        "actions", meta,
        Column("id", Integer, primary_key=True),
        Column("incident_id", Integer, ForeignKey("incidents.id")),
        Column("kind", String(40), nullable=False),
        Column("actor", String(100), nullable=False),
        Column("at", UTCDateTime, nullable=False),
        Column("detail", Json),
    )
    Table(
        "outbox", meta,
        Column("id", Integer, primary_key=True),
        Column("incident_id", Integer, ForeignKey("incidents.id")),
        Column("kind", String(40), nullable=False),
        Column("idempotency_key", String(300), nullable=False, unique=True),
        Column("channel", String(100)),
        Column("method", String(100)),
        Column("args", Json, nullable=False),
        Column("state", String(20), CheckConstraint("state IN ('pending', 'sent', 'failed')",
                                                    name="ck_outbox_state"), nullable=False),
        Column("attempts", Integer, nullable=False, server_default="0"),
        Column("next_attempt_at", UTCDateTime, nullable=False),
        Column("claimed_by", String(100)),
        Column("claimed_until", UTCDateTime),
        Column("last_error", Text),
        Column("created_at", UTCDateTime, nullable=False),
        Column("sent_at", UTCDateTime),
        Column("result", Json),
    )
    meta.create_all(conn)


def _v2_scheduled(conn: Connection) -> None:
    meta = MetaData()
    Table(
        "notifications", meta,
        Column("key", String(300), primary_key=True),
        Column("kind", String(60), nullable=False),
        Column("due_at", UTCDateTime, nullable=False),
        Column("state", String(20), CheckConstraint("state IN ('claimed', 'sent', 'skipped', 'failed')",
                                                    name="ck_notifications_state"), nullable=False),
        Column("claimed_by", String(100)),
        Column("claimed_at", UTCDateTime),
        Column("sent_at", UTCDateTime),
        Column("channel", String(100)),
        Column("ts", String(50)),
        Column("detail", Json),
    )
    Table(
        "overrides", meta,
        Column("id", Integer, primary_key=True),
        Column("rotation", String(100), nullable=False),
        Column("person", String(100), nullable=False),
        Column("start_at", UTCDateTime, nullable=False),
        Column("end_at", UTCDateTime, nullable=False),
        Column("note", Text, nullable=False, server_default=""),
        Column("created_by", String(100), nullable=False),
        Column("created_at", UTCDateTime, nullable=False),
        Column("cancelled_at", UTCDateTime),
    )
    meta.create_all(conn)


def _add_column(conn: Connection, table: str, column: Column) -> None:
    kind = column.type.compile(dialect=conn.dialect)
    null = "" if column.nullable else " NOT NULL"
    default = f" DEFAULT {column.server_default.arg}" if column.server_default is not None else ""
    conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column.name} {kind}{default}{null}"))


def _v3_escalation(conn: Connection) -> None:
    _add_column(conn, "incidents", Column("escalation_level", Integer, nullable=False, server_default="0"))
    _add_column(conn, "incidents", Column("escalated_at", UTCDateTime))
    _add_column(conn, "incidents", Column("deferred_pinged_at", UTCDateTime))
    meta = MetaData()
    incidents = Table("incidents", meta, Column("pipeline", String), Column("status", String))
    outbox = Table("outbox", meta, Column("state", String), Column("next_attempt_at", UTCDateTime))
    events = Table("alert_events", meta, Column("incident_id", Integer))
    Index("ix_incidents_pipeline_status", incidents.c.pipeline, incidents.c.status).create(conn)
    Index("ix_outbox_due", outbox.c.state, outbox.c.next_attempt_at).create(conn)
    Index("ix_alert_events_incident", events.c.incident_id).create(conn)


def _v4_weekly_checks(conn: Connection) -> None:
    meta = MetaData()
    Table(
        "weekly_checks", meta,
        Column("pipeline", String(200), primary_key=True),
        Column("due_at", UTCDateTime, primary_key=True),
        Column("checked_by", String(100), nullable=False),
        Column("checked_at", UTCDateTime, nullable=False),
    )
    meta.create_all(conn)


def _v5_swaps(conn: Connection) -> None:
    for column in (Column("created_by_name", String(100)), Column("cancelled_by", String(100)),
                   Column("cancelled_by_name", String(100)), Column("swap_id", Integer)):
        _add_column(conn, "overrides", column)
    meta = MetaData()
    swaps = Table(
        "swap_requests", meta,
        Column("id", Integer, primary_key=True),
        Column("rotation", String(100), nullable=False),
        Column("requester", String(100), nullable=False),
        Column("requester_id", String(100), nullable=False),
        Column("start_at", UTCDateTime, nullable=False),
        Column("end_at", UTCDateTime, nullable=False),
        Column("note", Text, nullable=False, server_default=""),
        Column("state", String(20), CheckConstraint("state IN ('open', 'accepted', 'cancelled', 'expired')",
                                                    name="ck_swap_requests_state"), nullable=False),
        Column("channel", String(100), nullable=False),
        Column("created_at", UTCDateTime, nullable=False),
        Column("accepted_by", String(100)),
        Column("accepted_by_id", String(100)),
        Column("accepted_at", UTCDateTime),
        Column("cancelled_by", String(100)),
        Column("cancelled_by_id", String(100)),
        Column("cancelled_at", UTCDateTime),
        Column("expired_at", UTCDateTime),
    )
    Index("ix_swap_requests_state_start", swaps.c.state, swaps.c.start_at)
    meta.create_all(conn)


def _v6_delivery_indexes(conn: Connection) -> None:
    meta = MetaData()
    incidents = Table("incidents", meta, Column("status", String))
    outbox = Table("outbox", meta, Column("incident_id", Integer), Column("id", Integer))
    Index("ix_outbox_incident", outbox.c.incident_id, outbox.c.id).create(conn)
    Index("ix_incidents_status", incidents.c.status).create(conn)


def _v7_channel_pace(conn: Connection) -> None:
    meta = MetaData()
    Table("channel_pace", meta,
          Column("channel", String(200), primary_key=True),
          Column("next_at", UTCDateTime, nullable=False))
    meta.create_all(conn)


def _v10_hostile_input(conn: Connection) -> None:
    _add_column(conn, "outbox", Column("priority", SmallInteger, nullable=False, server_default="1"))
    _add_column(conn, "incidents", Column("folded_into", String(300)))
    incidents = Table("incidents", MetaData(), Column("pipeline", String), Column("folded_into", String),
                      Column("opened_at", UTCDateTime))
    Index("ix_incidents_own_posts", incidents.c.pipeline, incidents.c.folded_into, incidents.c.opened_at).create(conn)
    meta = MetaData()
    Table("slack_requests", meta,
          Column("signature", String(100), primary_key=True),
          Column("expires_at", UTCDateTime, nullable=False),
          Index("ix_slack_requests_expires", "expires_at"))
    meta.create_all(conn)


def _v11_lineage(conn: Connection) -> None:
    _add_column(conn, "incidents", Column("root_id", Integer, ForeignKey("incidents.id")))
    incidents = Table("incidents", MetaData(), Column("root_id", Integer))
    Index("ix_incidents_root", incidents.c.root_id).create(conn)
    meta = MetaData()
    Table("lineage_events", meta,
          Column("id", Integer, primary_key=True),
          Column("run_id", String(100), nullable=False),
          Column("event_type", String(20), nullable=False),
          Column("namespace", String(500), nullable=False),
          Column("job", String(500), nullable=False),
          Column("pipeline", String(200)),
          Column("parent_run_id", String(100)),
          Column("event_time", UTCDateTime, nullable=False),
          Column("nominal_time", UTCDateTime),
          Column("received_at", UTCDateTime, nullable=False),
          Column("payload", Json, nullable=False),
          UniqueConstraint("run_id", "event_type", name="uq_lineage_events_run_type"),
          Index("ix_lineage_events_type_pipeline_time", "event_type", "pipeline", "event_time"))
    Table("lineage_datasets", meta,
          Column("pipeline", String(200), primary_key=True),
          Column("direction", String(3), CheckConstraint("direction IN ('in', 'out')"), primary_key=True),
          Column("namespace", String(500), primary_key=True),
          Column("name", String(500), primary_key=True),
          Column("last_seen_at", UTCDateTime, nullable=False),
          Index("ix_lineage_datasets_dataset", "direction", "namespace", "name"))
    meta.create_all(conn)


def _v12_memory(conn: Connection) -> None:
    _add_column(conn, "incidents", Column("fingerprint", String(40)))
    incidents = Table("incidents", MetaData(), Column("fingerprint", String), Column("resolved_at", UTCDateTime))
    Index("ix_incidents_fingerprint", incidents.c.fingerprint, incidents.c.resolved_at).create(conn)
    meta = MetaData()
    Table("incidents", meta, Column("id", Integer, primary_key=True))  # exists: the notes' key refers to it
    Table("error_shapes", meta,
          Column("fingerprint", String(40), primary_key=True),
          Column("shape", Text, nullable=False),
          Column("first_seen_at", UTCDateTime, nullable=False))
    Table("shape_bands", meta,
          Column("band", String(40), primary_key=True),
          Column("fingerprint", String(40), primary_key=True),
          Index("ix_shape_bands_fingerprint", "fingerprint"))
    Table("resolution_notes", meta,
          Column("incident_id", Integer, ForeignKey("incidents.id"), primary_key=True),
          Column("fix", Text, nullable=False),
          Column("remediation", String(10), CheckConstraint("remediation IN ('right', 'wrong', 'none')"),
                 nullable=False),
          Column("category", String(100)),
          Column("by_user", String(100), nullable=False),
          Column("by_name", String(100)),
          Column("at", UTCDateTime, nullable=False))
    meta.create_all(conn)
    outbox = Table("outbox", MetaData(), Column("kind", String), Column("sent_at", UTCDateTime))
    Index("ix_outbox_kind_sent", outbox.c.kind, outbox.c.sent_at).create(conn)  # the pages of a report


def _v9_asked(conn: Connection) -> None:
    _add_column(conn, "swap_requests", Column("asked", String(100)))


def _v8_audiences(conn: Connection) -> None:
    _add_column(conn, "incidents", Column("told", Json))          # name → "page" | "notify"
    _add_column(conn, "incidents", Column("notify_reason", Text))
    _add_column(conn, "incidents", Column("origin", String(20)))   # "alert" | "missing_report"
    events = Table("alert_events", MetaData(), Column("status", String), Column("pipeline_raw", String))
    Index("ix_alert_events_status_pipeline", events.c.status, events.c.pipeline_raw).create(conn)
    actions = Table("actions", MetaData(), Column("kind", String), Column("at", UTCDateTime))
    Index("ix_actions_kind_at", actions.c.kind, actions.c.at).create(conn)


MIGRATIONS: list[Migration] = [
    Migration(1, "incidents, alert events, actions, outbox", _v1_core),
    Migration(2, "notifications (exactly-once scheduled messages), overrides", _v2_scheduled),
    Migration(3, "escalation and deferred-ping state on incidents; indexes for due scans", _v3_escalation),
    Migration(4, "weekly checks: who confirmed a pipeline's weekly check, and when", _v4_weekly_checks),
    Migration(5, "swap requests; who cancelled an override, and the swap it came from", _v5_swaps),
    Migration(6, "indexes for the outbox's per-incident order and the scans of open incidents",
              _v6_delivery_indexes),
    Migration(7, "the next free instant per Slack channel, shared by every replica's delivery worker",
              _v7_channel_pace),
    Migration(8, "who each incident has told and how, and why its first message told them; recent pages",
              _v8_audiences),
    Migration(9, "the one person a cover request asks (an override proposed for a teammate)", _v9_asked),
    Migration(10, "signatures of Slack requests already handled, until their replay window closes; "
                  "outbox rows a person waits for (pages, direct messages) go first; incidents folded into "
                  "a flood summary", _v10_hostile_input),
    Migration(11, "OpenLineage run events (one per run and event type) and the datasets each pipeline reads "
                  "and writes; an incident folded under an upstream pipeline's incident", _v11_lineage),
    Migration(12, "error fingerprints of incidents, the shape of each and its near-duplicate bands; "
                  "resolution notes", _v12_memory),
]
LATEST = MIGRATIONS[-1].version


def current_version(conn: Connection) -> int:
    table = _version_table(MetaData())
    if not conn.dialect.has_table(conn, "schema_version"):
        return 0
    return conn.execute(select(func.coalesce(func.max(table.c.version), 0))).scalar_one()


def migrate(conn: Connection, target: int | None = None) -> list[int]:
    """Apply the pending steps up to `target` (default: all) in the caller's transaction."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": ADVISORY_LOCK_ID})
    table = _version_table(MetaData())
    table.create(conn, checkfirst=True)
    done = current_version(conn)
    applied = []
    for step in MIGRATIONS:
        if step.version <= done or (target is not None and step.version > target):
            continue
        step.up(conn)
        conn.execute(insert(table).values(version=step.version, description=step.description,
                                          applied_at=datetime.now(UTC)))
        applied.append(step.version)
    return applied
