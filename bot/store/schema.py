"""The current tables, for queries. Migrations (migrations.py) build them; a test keeps both in step.

An incident is unique while open through `open_key`: it holds the dedup key while the incident is
open or acknowledged and NULL once resolved. A plain UNIQUE column (NULLs are distinct on SQLite
and PostgreSQL) does what a partial index would, on both backends, so two concurrent intakes of
the same alert cannot open two incidents.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from bot.store.types import Json, UTCDateTime

metadata = MetaData()

schema_version = Table(
    "schema_version", metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("description", String(200), nullable=False),
    Column("applied_at", UTCDateTime, nullable=False),
)

incidents = Table(
    "incidents", metadata,
    Column("id", Integer, primary_key=True),
    Column("pipeline", String(200), nullable=False),          # runbook key, or the unknown name normalised
    Column("pipeline_raw", String(200), nullable=False),      # the name as the alert gave it
    Column("known", Boolean, nullable=False),
    Column("dedup_key", String(500), nullable=False),
    Column("open_key", String(500), unique=True),             # = dedup_key until resolved, then NULL
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
    Column("notify_mode", String(20), nullable=False),        # page | notify | quiet | deferred | none (policy)
    Column("notify", Json, nullable=False),                   # people the policy named at opening (kept)
    Column("oncall", String(100)),
    Column("deferred_until", UTCDateTime),
    Column("acknowledged_by", String(100)),
    Column("acknowledged_at", UTCDateTime),
    Column("resolved_by", String(100)),
    Column("resolved_at", UTCDateTime),
    Column("sla_met", Boolean),
    Column("slack_channel", String(100)),
    Column("slack_ts", String(50)),
    # v3
    Column("escalation_level", Integer, nullable=False, server_default="0"),
    Column("escalated_at", UTCDateTime),
    Column("deferred_pinged_at", UTCDateTime),
    # v8
    Column("told", Json),                                     # name → "page" | "notify": reached so far
    Column("notify_reason", Text),                            # why the first message told whom it told
    Column("origin", String(20)),                             # "alert", or "missing_report" (the SLA watch)
    # v10
    Column("folded_into", String(300)),
    Column("root_id", Integer, ForeignKey("incidents.id")),  # the upstream incident it is folded under (lineage)
    Column("fingerprint", String(40)),                        # the error's shape (bot.domain.fingerprint)                       # a flood summary's key: no message of its own
    Index("ix_incidents_pipeline_status", "pipeline", "status"),
    Index("ix_incidents_own_posts", "pipeline", "folded_into", "opened_at"),
    Index("ix_incidents_status", "status"),
    Index("ix_incidents_root", "root_id"),
    Index("ix_incidents_fingerprint", "fingerprint", "resolved_at"),
)

alert_events = Table(
    "alert_events", metadata,
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
    Index("ix_alert_events_incident", "incident_id"),
    Index("ix_alert_events_status_pipeline", "status", "pipeline_raw"),  # v8: who has ever reported success
)

actions = Table(
    "actions", metadata,
    Column("id", Integer, primary_key=True),
    Column("incident_id", Integer, ForeignKey("incidents.id")),
    Column("kind", String(40), nullable=False),               # open, repeat, ack, resolve, escalate, ...
    Column("actor", String(100), nullable=False),             # Slack user id, or "alert" / "bot"
    Column("at", UTCDateTime, nullable=False),
    Column("detail", Json),
    Index("ix_actions_kind_at", "kind", "at"),                # v8: recent pages, without a scan of the trail
)

outbox = Table(
    "outbox", metadata,
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
    Column("priority", SmallInteger, nullable=False, server_default="1"),  # 0: a person waits (page, DM)
    Index("ix_outbox_due", "state", "next_attempt_at"),
    Index("ix_outbox_incident", "incident_id", "id"),
    Index("ix_outbox_kind_sent", "kind", "sent_at"),          # v12: the pages a report counts
)

notifications = Table(
    "notifications", metadata,
    Column("key", String(300), primary_key=True),             # kind:scope:occurrence, e.g. handoff:de:2026-11-09T09:00Z
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

overrides = Table(
    "overrides", metadata,
    Column("id", Integer, primary_key=True),
    Column("rotation", String(100), nullable=False),
    Column("person", String(100), nullable=False),
    Column("start_at", UTCDateTime, nullable=False),
    Column("end_at", UTCDateTime, nullable=False),
    Column("note", Text, nullable=False, server_default=""),
    Column("created_by", String(100), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("cancelled_at", UTCDateTime),
    # v5
    Column("created_by_name", String(100)),                   # runbook name of created_by (Slack user id)
    Column("cancelled_by", String(100)),
    Column("cancelled_by_name", String(100)),
    Column("swap_id", Integer),                               # the accepted swap request it came from
)

weekly_checks = Table(
    "weekly_checks", metadata,
    Column("pipeline", String(200), primary_key=True),        # runbook key
    Column("due_at", UTCDateTime, primary_key=True),          # the check's occurrence (UTC)
    Column("checked_by", String(100), nullable=False),        # Slack user id
    Column("checked_at", UTCDateTime, nullable=False),
)

swap_requests = Table(
    "swap_requests", metadata,
    Column("id", Integer, primary_key=True),
    Column("rotation", String(100), nullable=False),
    Column("requester", String(100), nullable=False),         # runbook name
    Column("requester_id", String(100), nullable=False),      # Slack user id
    Column("start_at", UTCDateTime, nullable=False),
    Column("end_at", UTCDateTime, nullable=False),
    Column("note", Text, nullable=False, server_default=""),
    Column("state", String(20), CheckConstraint("state IN ('open', 'accepted', 'cancelled', 'expired')",
                                                name="ck_swap_requests_state"), nullable=False),
    Column("channel", String(100), nullable=False),           # where the request was posted
    Column("created_at", UTCDateTime, nullable=False),
    Column("accepted_by", String(100)),
    Column("accepted_by_id", String(100)),
    Column("accepted_at", UTCDateTime),
    Column("cancelled_by", String(100)),
    Column("cancelled_by_id", String(100)),
    Column("cancelled_at", UTCDateTime),
    Column("expired_at", UTCDateTime),
    Column("asked", String(100)),                             # the one person who may accept; None: anyone
    Index("ix_swap_requests_state_start", "state", "start_at"),
)

slack_requests = Table(
    "slack_requests", metadata,
    Column("signature", String(100), primary_key=True),       # v0=… of a signed Slack request
    Column("expires_at", UTCDateTime, nullable=False),        # its timestamp's window closes then
    Index("ix_slack_requests_expires", "expires_at"),
)

lineage_events = Table(
    "lineage_events", metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", String(100), nullable=False),            # the OpenLineage run (a task's own run for task events)
    Column("event_type", String(20), nullable=False),         # START | RUNNING | COMPLETE | ABORT | FAIL | OTHER
    Column("namespace", String(500), nullable=False),
    Column("job", String(500), nullable=False),
    Column("pipeline", String(200)),                          # runbook key it maps to; None: unknown job
    Column("parent_run_id", String(100)),                     # a task event's parent (the pipeline's) run
    Column("event_time", UTCDateTime, nullable=False),
    Column("nominal_time", UTCDateTime),                      # the scheduled time, from the nominalTime facet
    Column("received_at", UTCDateTime, nullable=False),
    Column("payload", Json, nullable=False),
    UniqueConstraint("run_id", "event_type", name="uq_lineage_events_run_type"),
    Index("ix_lineage_events_type_pipeline_time", "event_type", "pipeline", "event_time"),
)

lineage_datasets = Table(
    "lineage_datasets", metadata,
    Column("pipeline", String(200), primary_key=True),        # runbook key
    Column("direction", String(3), CheckConstraint("direction IN ('in', 'out')"), primary_key=True),
    Column("namespace", String(500), primary_key=True),
    Column("name", String(500), primary_key=True),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Index("ix_lineage_datasets_dataset", "direction", "namespace", "name"),  # writers and readers of one dataset
)

error_shapes = Table(
    "error_shapes", metadata,
    Column("fingerprint", String(40), primary_key=True),
    Column("shape", Text, nullable=False),                    # the normalized error the fingerprint hashes
    Column("first_seen_at", UTCDateTime, nullable=False),
)

shape_bands = Table(
    "shape_bands", metadata,
    Column("band", String(40), primary_key=True),             # a near-duplicate (LSH) band key of the shape
    Column("fingerprint", String(40), primary_key=True),
    Index("ix_shape_bands_fingerprint", "fingerprint"),       # a shape's own bands, for its near matches
)

resolution_notes = Table(
    "resolution_notes", metadata,
    Column("incident_id", Integer, ForeignKey("incidents.id"), primary_key=True),
    Column("fix", Text, nullable=False),                      # what fixed it, in the resolver's words
    Column("remediation", String(10), CheckConstraint("remediation IN ('right', 'wrong', 'none')"), nullable=False),
    Column("category", String(100)),                          # root-cause category, optional
    Column("by_user", String(100), nullable=False),           # Slack user id
    Column("by_name", String(100)),                           # runbook name, when known
    Column("at", UTCDateTime, nullable=False),
)

channel_pace = Table(
    "channel_pace", metadata,
    Column("channel", String(200), primary_key=True),         # Slack channel ID (or the name it was posted to)
    Column("next_at", UTCDateTime, nullable=False),           # the earliest instant of the next call to it
)
