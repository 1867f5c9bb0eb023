"""OpenLineage run events and datasets as the store keeps them, and the edges the datasets show."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, select, update

from bot.store.db import Db, tx
from bot.store.schema import lineage_datasets, lineage_events
from bot.store.sql import insert_ignore, insert_ignoring

SEEN_FOR = timedelta(days=30)  # a daily or weekly job shows its datasets many times in a month


def record_event(conn: Connection, values: dict) -> bool:
    """Stores one event; False when its run already sent an event of that type (a retry or a replay)."""
    return insert_ignore(conn, lineage_events, values, ["run_id", "event_type"], "id") is not None


def record_datasets(conn: Connection, pipeline: str, inputs, outputs, now: datetime) -> None:
    rows = [dict(pipeline=pipeline, direction=direction, namespace=ns[:500], name=name[:500], last_seen_at=now)
            for direction, datasets in (("in", inputs), ("out", outputs)) for ns, name in set(datasets)]
    if not rows:
        return
    stmt = insert_ignoring(conn.dialect.name, lineage_datasets, ("pipeline", "direction", "namespace", "name"),
                           ("pipeline", "direction", "namespace", "name"))
    added = {tuple(row) for row in conn.execute(stmt, rows)}
    for row in rows:
        if (row["pipeline"], row["direction"], row["namespace"], row["name"]) not in added:
            conn.execute(update(lineage_datasets).where(
                lineage_datasets.c.pipeline == row["pipeline"], lineage_datasets.c.direction == row["direction"],
                lineage_datasets.c.namespace == row["namespace"], lineage_datasets.c.name == row["name"])
                .values(last_seen_at=now))


def seen_edges(conn: Connection, now: datetime) -> list[tuple[str, str, str, str]]:
    """(writer, reader, dataset namespace, dataset name) for each dataset one pipeline wrote and another
    read, both within SEEN_FOR of `now`: a pipeline that stopped reading a table stops being its reader."""
    out, into = lineage_datasets.alias("o"), lineage_datasets.alias("i")
    query = (select(out.c.pipeline, into.c.pipeline, out.c.namespace, out.c.name)
             .join(into, and_(out.c.namespace == into.c.namespace, out.c.name == into.c.name))
             .where(out.c.direction == "out", into.c.direction == "in", out.c.pipeline != into.c.pipeline,
                    out.c.last_seen_at >= now - SEEN_FOR, into.c.last_seen_at >= now - SEEN_FOR)
             .order_by(out.c.pipeline, into.c.pipeline, out.c.namespace, out.c.name))
    return [tuple(row) for row in conn.execute(query)]


def dataset_edges(db: Db, now: datetime) -> list[tuple[str, str, str, str]]:
    with tx(db, read=True) as conn:
        return seen_edges(conn, now)


def starts_since(db: Db, since: datetime) -> list[tuple[str, datetime]]:
    """(pipeline, instant) of every OpenLineage START at or after `since` of a known pipeline: the SLA
    watch picks the first one of each run for its "running since"."""
    query = (select(lineage_events.c.pipeline, lineage_events.c.event_time)
             .where(lineage_events.c.event_type == "START", lineage_events.c.pipeline.is_not(None),
                    lineage_events.c.event_time >= since))
    with tx(db, read=True) as conn:
        return [(row.pipeline, row.event_time) for row in conn.execute(query)]
