"""Delivery guarantees: storms fold into one thread at Slack's pace, and a killed process loses nothing."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx

from tests.conftest import ShiftedClock

AUTH = {"Authorization": "Bearer alerts-secret"}


def test_storm_makes_one_message_at_one_call_per_second_and_loses_nothing(database_url, fake_slack, make_app):
    bot = make_app(fake_slack, DATABASE_URL=database_url)
    bot.runtime.clock = ShiftedClock(datetime(2026, 12, 1, 2, 30, tzinfo=UTC))
    alert = {"pipeline": "engagement", "status": "failed", "error": "java.lang.OutOfMemoryError", "run_id": "r1"}

    def send(_):
        return bot.post("/alerts", json=alert, headers=AUTH)

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(send, range(200)))
    assert all(r.status_code == 202 for r in responses)
    incidents = {r.json()["incident"] for r in responses}
    assert len(incidents) == 1
    assert sum(not r.json()["deduplicated"] for r in responses) == 1
    from bot.store.incidents import get_incident

    assert get_incident(bot.runtime.store, incidents.pop()).alert_count == 200
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and "seen 200 times" not in str(fake_slack.of("chat.update")[-1:]):
        time.sleep(0.2)
    assert "seen 200 times" in str(fake_slack.of("chat.update")[-1].args)
    ours = [c for c in fake_slack.calls if c.method.startswith("chat.") and c.args.get("channel") != "#data-oncall"]
    tops = [c for c in ours if c.method == "chat.postMessage" and not c.args.get("thread_ts")
            and "Engagement failed" in str(c.args)]
    replies = [c for c in ours if c.method == "chat.postMessage" and c.args.get("thread_ts")]
    assert len(tops) == 1
    assert len(replies) <= 3
    calls = sorted(c.at for c in ours)
    gaps = [b - a for a, b in zip(calls, calls[1:])]
    assert min(gaps) >= 0.9  # one call per second per channel (all go to the alerts channel)


def test_killed_between_accepting_and_delivering_delivers_once_after_restart(database_url, fake_slack, serve):
    fake_slack.fail("chat.postMessage", status=500, retry_after=None, times=1000)  # Slack is down
    first = serve(fake_slack, DATABASE_URL=database_url)
    response = httpx.post(first.url + "/alerts", headers=AUTH,
                          json={"pipeline": "growth", "status": "failed", "error": "NullPointerException"})
    assert response.status_code == 202
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(c.method == "chat.postMessage" for c in fake_slack.calls):
        time.sleep(0.05)
    first.stop(kill=True)  # kill -9 while the alert is accepted but undelivered
    fake_slack.failures.clear()  # Slack is back
    second = serve(fake_slack, DATABASE_URL=database_url)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not [c for c in fake_slack.of("chat.postMessage") if "Growth failed" in str(c.args)]:
        time.sleep(0.05)
    delivered(database_url, "open")
    posted = [c for c in fake_slack.of("chat.postMessage") if "Growth failed" in str(c.args)]
    assert len(posted) == 1
    assert "NullPointerException" in str(posted[0].args)
    second.stop()


def delivered(database_url: str, kind: str, timeout: float = 20) -> None:
    """Wait until the store records every outbox row of `kind` as sent: after that nothing more of it
    is posted, so a count of posts is final (a positive event, not a fixed sleep)."""
    from bot.store import Store
    from bot.store import outbox as box

    store = Store(database_url, migrate=False)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = [r for r in box.items(store) if r.kind == kind]
            if rows and all(r.state == "sent" for r in rows):
                return
            time.sleep(0.05)
        raise AssertionError(f"{kind} rows not delivered: {[(r.id, r.state) for r in box.items(store)]}")
    finally:
        store.close()


def killed_mid_post(fake_slack, serve, database_url, wanted, send=None):
    """Start `serve` with a Slack that takes posts at once but answers 3 s later; kill -9 it as soon as
    a post `wanted` accepts is in, before the answer reaches the store; start it again."""
    fake_slack.slow("chat.postMessage", 3)
    first = serve(fake_slack, DATABASE_URL=database_url)
    if send:
        send(first)
    fake_slack.wait_for("chat.postMessage", wanted=wanted, timeout=15)
    first.stop(kill=True)
    fake_slack.delays.clear()
    return serve(fake_slack, DATABASE_URL=database_url)


def test_killed_after_slack_posted_but_before_it_was_recorded_posts_no_second_message(database_url, fake_slack,
                                                                                      serve):
    alert = {"pipeline": "growth", "status": "failed", "dedup_key": "posted-once", "error": "NullPointerException"}

    def growth_failed(call) -> bool:
        return "Growth failed" in call.texts() and not call.args.get("thread_ts")

    second = killed_mid_post(fake_slack, serve, database_url, growth_failed,
                             send=lambda s: httpx.post(s.url + "/alerts", headers=AUTH, json=alert).raise_for_status())
    # A repeat edits the one parent message: the restarted bot adopted it from the channel's history.
    assert httpx.post(second.url + "/alerts", headers=AUTH, json=alert).json()["deduplicated"] is True
    update = fake_slack.wait_for("chat.update", timeout=20)[0]
    assert len(fake_slack.wait_for("chat.postMessage", wanted=growth_failed)) == 1
    assert fake_slack.of("conversations.history")
    parent_ts = next(m["ts"] for m in fake_slack.messages
                     if (m["metadata"] or {}).get("event_type") == "oncall_incident")
    assert update.args["ts"] == parent_ts
    second.stop()


def test_a_handoff_posted_just_before_a_kill_is_not_posted_again(database_url, fake_slack, serve):
    def handoff(call) -> bool:  # the first pass of a new bot announces the current shift
        return call.args.get("channel") == "#data-oncall" and "(data-engineering)" in call.args.get("text", "")

    second = killed_mid_post(fake_slack, serve, database_url, handoff)
    fake_slack.wait_for("conversations.history", timeout=20)
    delivered(database_url, "handoff")
    assert len(fake_slack.wait_for("chat.postMessage", wanted=handoff)) == 1
    second.stop()


def test_replies_of_an_incident_whose_post_was_given_up_are_given_up_too(database_url, fake_slack, make_app):
    from bot.store import outbox as box

    bot = make_app(fake_slack, DATABASE_URL=database_url)
    store = bot.runtime.store
    fake_slack.fail("chat.postMessage", status=500, retry_after=None, times=100_000)
    alert = {"pipeline": "engagement", "status": "failed", "error": "OOM", "run_id": "r9"}
    incident = bot.post("/alerts", json=alert, headers=AUTH).json()["incident"]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:  # the first attempt has failed and the row is back in the queue
        opening = next(r for r in box.items(store, incident) if r.kind == "open")
        if opening.attempts and opening.claimed_by is None:
            break
        time.sleep(0.05)
    box.mark_failed(store, opening.id, "channel_not_found", None)  # as after a deleted alerts channel
    fake_slack.failures.clear()
    bot.post("/alerts", json=alert, headers=AUTH)  # a repeat: its reply has no thread to go to
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        rows = box.items(store, incident)
        if all(r.state != "pending" for r in rows):
            break
        time.sleep(0.1)
    # The page does not wait on the lost channel (here it cannot reach anyone: the runbook's people are
    # placeholders, which is recorded); the repeat's reply has nowhere to go.
    assert [(r.kind, r.state) for r in box.items(store, incident)] == [("open", "failed"), ("page", "sent"),
                                                                       ("seen_before", "failed"), ("repeat", "failed")]
    assert box.items(store, incident)[1].result == {"undeliverable": "no Slack user for Jane"}  # on call that week
    assert not [c for c in fake_slack.of("chat.postMessage")
                if c.args.get("thread_ts") or str(c.args.get("text", "")).startswith("Engagement failed")]


def test_two_repeat_rows_after_the_same_storm_say_it_once(fake_slack, make_app, monkeypatch):
    # A repeat row in flight while more alerts arrive leaves a second row; both render the latest count.
    from bot.store import outbox as box
    from bot.store.incidents import get_incident

    monkeypatch.setattr("bot.slack.delivery.CHANNEL_INTERVAL", 0)
    bot = make_app(fake_slack)
    alert = {"pipeline": "engagement", "status": "failed", "error": "0 rows", "run_id": "r7"}
    incident = bot.post("/alerts", json=alert, headers=AUTH).json()["incident"]
    bot.post("/alerts", json=alert, headers=AUTH)
    seen = lambda c: bool(c.args.get("thread_ts")) and "Seen again" in c.texts()  # noqa: E731
    fake_slack.wait_for("chat.postMessage", wanted=seen)
    bot.post("/alerts", json=alert, headers=AUTH)
    fake_slack.wait_for("chat.postMessage", count=2, wanted=seen)  # "3 alerts so far"
    box.enqueue(bot.runtime.store, kind="repeat", idempotency_key=f"incident:{incident}:repeat:again",
                now=bot.runtime.clock(), incident_id=incident, method="chat.postMessage")  # the late twin
    bot.runtime.wake_delivery()
    deadline = time.monotonic() + 10
    while any(r.state == "pending" for r in box.items(bot.runtime.store, incident)):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    texts = [c.args["text"] for c in fake_slack.of("chat.postMessage") if seen(c)]
    assert texts == ["Seen again (2 alerts)", "Seen again (3 alerts)"]  # the twin said nothing new
    assert get_incident(bot.runtime.store, incident).alert_count == 3


def test_a_direct_message_posted_just_before_a_kill_is_not_sent_again(fake_slack, serve, tmp_path):
    # Berlin: Jonas's shift starts Monday 7 December 10:00; his reminder DM is due a day before (09:00 UTC).
    from tests.helpers_runbook import BERLIN

    path = tmp_path / "berlin.yaml"
    path.write_text(BERLIN)

    def reminder(call) -> bool:
        return call.args.get("channel") == "DU0JONAS01" and "your on-call shift" in call.texts()

    fake_slack.slow("chat.postMessage", 3)  # Slack takes the post at once and answers 3 s later
    database_url = f"sqlite:///{tmp_path / 'dm.db'}"  # the history check is Slack's side: one store will do
    first = serve(fake_slack, at=datetime(2026, 12, 6, 8, 59, 54, tzinfo=UTC), DATABASE_URL=database_url,
                  RUNBOOKS_PATH=str(path))
    fake_slack.wait_for("chat.postMessage", wanted=reminder, timeout=25)
    first.stop(kill=True)  # before Slack's answer reaches the store
    fake_slack.delays.clear()
    second = serve(fake_slack, at=first.now(), DATABASE_URL=database_url, RUNBOOKS_PATH=str(path))
    fake_slack.wait_for("conversations.history", wanted=lambda c: c.args.get("channel") == "DU0JONAS01", timeout=20)
    delivered(database_url, "shift_reminder")
    assert len(fake_slack.wait_for("chat.postMessage", wanted=reminder)) == 1
    second.stop()


def test_a_post_whose_answer_was_lost_is_posted_once(fake_slack, make_app):
    # Slack takes the parent message but the answer is a 500: only the outbox retries a post, and it
    # looks in the channel's history first.
    from bot.store import outbox as box

    bot = make_app(fake_slack)
    fake_slack.wait_for("chat.postMessage", wanted=lambda c: "On call" in c.texts())  # the first start's handoff
    fake_slack.fail("chat.postMessage", status=500, retry_after=None, times=1, landed=True)
    incident = bot.post("/alerts", json={"pipeline": "growth", "status": "failed", "error": "NPE"},
                        headers=AUTH).json()["incident"]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and box.items(bot.runtime.store, incident)[0].state != "sent":
        time.sleep(0.05)
    opening = box.items(bot.runtime.store, incident)[0]
    assert opening.state == "sent" and opening.attempts == 2  # the second attempt found it
    assert [c.status for c in fake_slack.calls if c.method == "chat.postMessage" and "Growth failed" in c.texts()
            and not c.args.get("thread_ts") and c.args["channel"] == "#data-alerts"] == [500]
    parents = [m for m in fake_slack.messages if (m["metadata"] or {}).get("event_type") == "oncall_incident"]
    assert len(parents) == 1 and opening.result["ts"] == parents[0]["ts"]
