"""Concurrent intake of one alert (threads, two store instances as two replicas) opens one incident."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from bot.alerts.generic import parse_generic
from bot.alerts.intake import receive
from bot.store import incidents as inc
from bot.store import outbox as box
from tests.store_fixtures import backend, make_store, runbook, store  # noqa: F401

T0 = datetime(2026, 11, 4, 2, 30, tzinfo=UTC)
THREADS, EACH = 8, 5


def test_concurrent_intake_of_the_same_alert_creates_one_incident(make_store, runbook):
    replicas = [make_store(), make_store()]
    alert = parse_generic({"pipeline": "growth", "status": "failed", "run_id": "r1", "error": "OOM"}, T0)
    results, errors = [], []
    barrier = threading.Barrier(THREADS)

    def send(n: int) -> None:
        barrier.wait()
        try:
            for _ in range(EACH):
                results.append(receive(replicas[n % 2], runbook, alert, T0))
        except Exception as err:  # recorded, so the assertion shows it
            errors.append(err)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(THREADS)]
    [t.start() for t in threads]
    [t.join(120) for t in threads]
    assert errors == []
    assert len(results) == THREADS * EACH
    assert len({r.incident_id for r in results}) == 1
    assert sum(r.created for r in results) == 1 and sum(r.deduplicated for r in results) == THREADS * EACH - 1
    [incident] = inc.list_incidents(replicas[0])
    assert incident.alert_count == THREADS * EACH
    assert [r.kind for r in box.items(replicas[0])].count("open") == 1


def test_concurrent_distinct_alerts_each_open_their_incident(make_store, runbook):
    replicas = [make_store(), make_store()]
    errors = []

    def send(n: int) -> None:
        try:
            for k in range(EACH):
                a = parse_generic({"pipeline": "engagement", "status": "failed", "run_id": f"{n}-{k}"}, T0)
                receive(replicas[n % 2], runbook, a, T0)
        except Exception as err:  # recorded, so the assertion shows it
            errors.append(err)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(THREADS)]
    [t.start() for t in threads]
    [t.join(120) for t in threads]
    assert errors == [] and len(inc.list_incidents(replicas[0], open_only=True)) == THREADS * EACH


def test_intake_racing_an_uncommitted_opening_folds_into_it(store, runbook):
    """The second intake starts while the first one's new incident is not yet committed: on PostgreSQL
    its insert waits on the unique open_key and then finds the committed incident; on SQLite it waits
    on the write lock. Either way: one incident."""
    alert = parse_generic({"pipeline": "growth", "status": "failed", "dedup_key": "race"}, T0)
    later = []
    with store.transaction() as conn:
        first = receive(conn, runbook, alert, T0)
        racer = threading.Thread(target=lambda: later.append(receive(store, runbook, alert, T0)))
        racer.start()
        racer.join(0.5)
        assert racer.is_alive() and later == []  # blocked until we commit
    racer.join(30)
    [second] = later
    assert second.incident_id == first.incident_id and second.deduplicated and not second.created
    assert inc.get_incident(store, first.incident_id).alert_count == 2


def test_reads_do_not_wait_for_an_open_write(store, runbook):
    opened = receive(store, runbook, parse_generic({"pipeline": "growth", "status": "failed"}, T0), T0)
    seen = []
    with store.transaction() as conn:
        inc.ack(conn, opened.incident_id, "U0DANNY", T0)  # holds the write lock, uncommitted
        reader = threading.Thread(target=lambda: seen.append(inc.get_incident(store, opened.incident_id)))
        reader.start()
        reader.join(5)
        assert not reader.is_alive()
    assert seen[0].status == "open"  # the last committed state
