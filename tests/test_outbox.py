"""Outbox delivery rows, exactly-once notifications and overrides, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from bot.alerts.generic import parse_generic
from bot.alerts.intake import receive
from bot.store import incidents as inc
from bot.store import notifications as notes
from bot.store import outbox as box
from bot.store.overrides import active_overrides, add_override, cancel_override
from tests.store_fixtures import backend, make_store, runbook, store  # noqa: F401

T0 = datetime(2026, 11, 4, 2, 30, tzinfo=UTC)
SEC = timedelta(seconds=1)


def put(store, key, **kw) -> int:
    return box.enqueue(store, kind="message", idempotency_key=key, now=T0, method="chat.postMessage",
                       channel="#data-oncall", args={"text": key}, **kw)


def test_enqueue_is_idempotent_per_key(store):
    first = put(store, "handoff:1")
    assert put(store, "handoff:1") == first
    assert put(store, "handoff:2") != first
    assert [i.idempotency_key for i in box.items(store)] == ["handoff:1", "handoff:2"]


def test_claim_respects_due_time_lease_and_limit(store):
    a, b, c = put(store, "a"), put(store, "b"), put(store, "c", not_before=T0 + 60 * SEC)
    assert [i.id for i in box.claim_due(store, T0, limit=1)] == [a]
    [claimed] = box.claim_due(store, T0, limit=5, lease=30 * SEC, worker="w2")
    assert (claimed.id, claimed.attempts, claimed.claimed_by, claimed.claimed_until) == (b, 1, "w2", T0 + 30 * SEC)
    assert box.claim_due(store, T0 + 10 * SEC) == []                 # a and b are leased, c is not due
    again = box.claim_due(store, T0 + 61 * SEC, limit=5)               # leases ran out (a crashed worker)
    assert [i.id for i in again] == [a, b, c] and again[0].attempts == 2


def test_mark_failed_retries_later_or_gives_up(store):
    a, b = put(store, "a"), put(store, "b")
    box.claim_due(store, T0)
    box.mark_failed(store, a, "ratelimited", T0 + 30 * SEC)
    box.mark_failed(store, b, "channel_not_found", None)
    assert box.claim_due(store, T0 + 29 * SEC) == []
    [retry] = box.claim_due(store, T0 + 30 * SEC)
    assert (retry.id, retry.attempts, retry.last_error) == (a, 2, "ratelimited")
    assert box.get(store, b).state == "failed"
    box.mark_sent(store, a, {"ok": True, "ts": "9.9"}, T0 + 31 * SEC)
    done = box.get(store, a)
    assert (done.state, done.sent_at, done.result) == ("sent", T0 + 31 * SEC, {"ok": True, "ts": "9.9"})
    assert box.backlog(store, T0 + 40 * SEC) == {"pending": 0, "due": 0, "failed": 1, "sent": 1}
    with pytest.raises(KeyError):
        box.mark_sent(store, 999, None, T0)


def test_rows_of_one_incident_go_out_in_order_and_the_parent_ts_is_kept(store, runbook):
    alert = parse_generic({"pipeline": "growth", "status": "failed"}, T0)
    incident = receive(store, runbook, alert, T0).incident_id
    receive(store, runbook, alert, T0 + SEC)
    other = put(store, "unrelated")
    claimed = box.claim_due(store, T0 + 2 * SEC, limit=10)
    # The post and the page of an incident that pages go first (the page right after the post it links
    # to), then other rows; the repeat waits for the post it replies to.
    assert [i.kind for i in claimed] == ["open", "page", "message"] and claimed[2].id == other
    page = claimed[1]
    box.mark_sent(store, claimed[0].id, {"ok": True, "channel": "C0ALERTS", "ts": "1730687400.000100"}, T0)
    i = inc.get_incident(store, incident)
    assert (i.slack_channel, i.slack_ts) == ("C0ALERTS", "1730687400.000100")
    box.mark_sent(store, claimed[0].id, {"ok": True, "channel": "C0ALERTS", "ts": "2.0"}, T0)
    assert inc.get_incident(store, incident).slack_ts == "1730687400.000100"  # the first parent message stays
    box.mark_sent(store, page.id, {"ok": True, "channel": "D0DANNY", "ts": "3.0"}, T0)
    assert [i.kind for i in box.claim_due(store, T0 + 3 * SEC)] == ["repeat"]


def test_two_workers_never_claim_the_same_row(make_store):
    workers = [make_store(), make_store()]
    ids = {put(workers[0], f"k{n}") for n in range(120)}
    got: list[list[int]] = [[] for _ in range(4)]
    barrier = threading.Barrier(4)

    def drain(slot: int) -> None:
        s = workers[slot % 2]
        barrier.wait()
        while True:
            batch = box.claim_due(s, T0, limit=7, worker=f"w{slot}")
            if not batch:
                return
            got[slot].extend(i.id for i in batch)

    threads = [threading.Thread(target=drain, args=(n,)) for n in range(4)]
    [t.start() for t in threads]
    [t.join(60) for t in threads]
    claimed = [i for part in got for i in part]
    assert sorted(claimed) == sorted(ids)  # every row once, none twice
    assert sum(1 for part in got if part) >= 2 or workers[0].dialect == "sqlite"


def test_notification_is_claimed_once_across_replicas(make_store):
    stores = [make_store(), make_store()]
    key = notes.notification_key("handoff", "data-engineering", datetime(2026, 11, 9, 9, tzinfo=UTC))
    assert key == "handoff:data-engineering:2026-11-09T09:00:00Z"
    wins = []
    barrier = threading.Barrier(6)

    def job(n: int) -> None:
        barrier.wait()
        if notes.claim(stores[n % 2], key, "handoff", datetime(2026, 11, 9, 9, tzinfo=UTC), T0, worker=f"r{n}"):
            wins.append(n)

    threads = [threading.Thread(target=job, args=(n,)) for n in range(6)]
    [t.start() for t in threads]
    [t.join(30) for t in threads]
    assert len(wins) == 1 and notes.state_of(stores[0], key) == "claimed"


def test_stale_notification_claim_is_taken_over_but_a_sent_one_never(store):
    due = datetime(2026, 11, 9, 9, tzinfo=UTC)
    assert notes.claim(store, "k", "handoff", due, T0)
    assert not notes.claim(store, "k", "handoff", due, T0 + 4 * 60 * SEC)  # within the lease
    assert notes.claim(store, "k", "handoff", due, T0 + 6 * 60 * SEC)      # the claimer died
    notes.finish(store, "k", "sent", T0 + 7 * 60 * SEC, channel="C1", ts="1.2")
    assert not notes.claim(store, "k", "handoff", due, T0 + 3600 * SEC)
    assert notes.state_of(store, "k") == "sent" and notes.state_of(store, "other") is None
    with pytest.raises(ValueError):
        notes.finish(store, "k", "bogus", T0)


def test_overrides_round_trip(store):
    start, end = T0, T0 + timedelta(days=1)
    oid = add_override(store, rotation="data-engineering", person="Laura", start=start, end=end,
                       created_by="U0ANNA", now=T0, note="covers Anna")
    [span] = active_overrides(store)
    assert (span.person, span.start, span.end, span.rotation, span.source) == ("Laura", start, end,
                                                                               "data-engineering", "slack")
    assert active_overrides(store, ending_after=end) == []
    assert cancel_override(store, oid, T0) and not cancel_override(store, oid, T0)
    assert active_overrides(store) == []
    with pytest.raises(ValueError):
        add_override(store, rotation="x", person="Laura", start=end, end=start, created_by="U", now=T0)


def test_a_worker_whose_lease_was_taken_over_changes_nothing(store):
    item = put(store, "takeover")
    first = box.claim_due(store, T0, worker="a:1", lease=timedelta(seconds=10))[0]
    later = T0 + timedelta(seconds=11)
    assert box.claim_due(store, later, worker="b:2")[0].id == first.id  # a's lease ran out: b holds it
    assert box.mark_failed(store, item, "slow", later, worker="a:1") is False
    assert box.mark_sent(store, item, {"ts": "1.0"}, later, worker="a:1") is False
    assert box.get(store, item).state == "pending" and box.get(store, item).claimed_by == "b:2"
    assert box.mark_sent(store, item, {"ts": "2.0"}, later, worker="b:2") is True
    assert box.get(store, item).result == {"ts": "2.0"}


def test_replicas_share_one_call_per_second_per_channel(make_store):
    from concurrent.futures import ThreadPoolExecutor

    from bot.store.pacing import take_slot

    replicas = [make_store(), make_store()]
    with ThreadPoolExecutor(max_workers=6) as pool:
        slots = list(pool.map(lambda i: take_slot(replicas[i % 2], "C0ALERTS", T0, SEC), range(12)))
    assert sorted(slots) == [T0 + i * SEC for i in range(12)]  # every caller its own second, none shared
    assert take_slot(replicas[0], "C0ONCALL", T0, SEC) == T0    # channels are paced apart
    assert take_slot(replicas[1], "C0ALERTS", T0 + 20 * SEC, SEC) == T0 + 20 * SEC  # idle since: no wait
    # A clock set back (or a test's) does not wait for slots taken "in the future".
    assert take_slot(replicas[0], "C0ALERTS", T0 - timedelta(days=1), SEC) == T0 - timedelta(days=1)


def test_a_live_attempt_renews_its_lease_and_one_that_lost_it_knows(store):
    # Worker A waits for its channel's slot past most of its lease: renewing before the call keeps
    # the row from worker B; a worker whose lease did run out cannot renew it, so it does not post.
    row = put(store, "paced")
    [claimed] = box.claim_due(store, T0, worker="A", lease=60 * SEC)
    assert box.renew(store, row, T0 + 50 * SEC, worker="A", lease=60 * SEC)
    assert box.claim_due(store, T0 + 70 * SEC, worker="B") == []
    assert [r.id for r in box.claim_due(store, T0 + 111 * SEC, worker="B")] == [row]
    assert not box.renew(store, row, T0 + 112 * SEC, worker="A")
    assert box.urgent_due(store, T0 + 112 * SEC) is False
    page = box.enqueue(store, kind="page", idempotency_key="page:1", now=T0, method="chat.postMessage",
                       args={"person": "Danny"})
    assert box.urgent_due(store, T0 + 112 * SEC) is True and box.get(store, page).priority == box.URGENT
