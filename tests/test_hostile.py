"""Hostile input against `serve` as a process (issue 11): bounded, refused with a 4xx that says why,
never posted twice, and the connection it came on keeps serving."""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import urlencode

import httpx

from tests.slackreq import command_body, signed_headers

AUTH = {"Authorization": "Bearer alerts-secret"}
GOOD = {"pipeline": "growth", "status": "failed", "error": "boom"}


def test_hostile_slack_requests_are_refused_before_parsing_and_the_connection_keeps_serving(fake_slack, serve):
    bot = serve(fake_slack, ICS_KEY="feed-secret")
    with httpx.Client(base_url=bot.url, timeout=10) as client:  # one keep-alive connection throughout
        # Size: refused at the cap while reading, unsigned or not.
        huge = client.post("/slack/events", content=b"x" * (5 * 1024 * 1024))
        assert huge.status_code == 413 and "body over 256 KiB" in huge.text
        # Before authentication nothing is parsed: a bad timestamp, bad bytes, a deep payload.
        assert client.post("/slack/events", content=b"a=1", headers={"x-slack-request-timestamp": "soon",
                                                                     "x-slack-signature": "v0=00"}).status_code == 401
        deep = urlencode({"payload": "[" * 20_000 + "]" * 20_000})
        unsigned = client.post("/slack/events", content=deep, headers={
            "x-slack-request-timestamp": str(int(time.time())), "x-slack-signature": "v0=00"})
        assert unsigned.status_code == 401 and "signature" in unsigned.text
        bad_utf8 = client.post("/slack/events", content=b"payload=%7B%7D&x=\xff\xfe", headers={
            "x-slack-request-timestamp": str(int(time.time())), "x-slack-signature": "v0=00"})
        assert bad_utf8.status_code == 400 and "not UTF-8" in bad_utf8.text
        # Signed but malformed: named, 400.
        for payload, says in (("{not json", "not valid JSON"), ("[1, 2]", "must be a JSON object"),
                              ("[" * 5000 + "]" * 5000, "nested more than 32 levels")):
            body = urlencode({"payload": payload})
            refused = client.post("/slack/events", content=body, headers=signed_headers(body))
            assert refused.status_code == 400 and says in refused.text, refused.text
        # The same connection still serves a good request.
        assert client.post("/alerts", json=GOOD, headers=AUTH).status_code == 202
        assert client.get("/healthz").json()["database"] == {"reachable": True, "backend": "sqlite"}
        # The calendar is a private feed: its URL carries the key.
        assert client.get("/oncall.ics").status_code == 404
        assert client.get("/oncall.ics", params={"key": "feed-secret"}).text.startswith("BEGIN:VCALENDAR")
    # No request body reaches the log (a library may log what it is given): every line is bounded.
    assert max(len(line) for line in bot.stderr().splitlines() or [""]) < 2_200


def test_a_signed_request_sent_again_to_another_replica_is_refused(fake_slack, serve, tmp_path):
    database = f"sqlite:///{tmp_path / 'shared.db'}"
    first, second = serve(fake_slack, DATABASE_URL=database), serve(fake_slack, DATABASE_URL=database)
    # A request that changes something, stamped 290 s ahead (still inside Slack's window), so it stays
    # valid for almost ten minutes; the same copy to the same replica is refused without the store.
    body = command_body("/oncall", "swap tomorrow")
    headers = signed_headers(body, timestamp=int(time.time()) + 290)
    assert httpx.post(first.url + "/slack/events", content=body, headers=headers).status_code == 200
    replayed = httpx.post(second.url + "/slack/events", content=body, headers=headers)
    assert replayed.status_code == 401 and "replayed" in replayed.text
    read_only = command_body("/oncall", "help")
    headers = signed_headers(read_only)
    assert httpx.post(first.url + "/slack/events", content=read_only, headers=headers).status_code == 200
    assert httpx.post(first.url + "/slack/events", content=read_only, headers=headers).status_code == 401


def test_hostile_alerts_get_a_400_naming_the_problem(database_url, fake_slack, serve):
    bot = serve(fake_slack, DATABASE_URL=database_url)
    cases = [
        ('{"pipeline": "growth", "status": "failed", "x": ' + "[" * 400 + "]" * 400 + "}", "body", "nested"),
        ('{"pipeline": "growth", "status": "failed", "n": ' + "7" * 5000 + "}", "body", "digits"),
        ('{"pipeline": "growth", "status": "failed", "occurred_at": "9999-12-31T23:59:59-23:59"}', "occurred_at",
         "outside the calendar"),
        ('{"pipeline": "growth", "status": "failed", "occurred_at": "0001-01-01T00:00:00+14:00"}', "occurred_at",
         "outside the calendar"),
    ]
    with httpx.Client(base_url=bot.url, timeout=10, headers=AUTH | {"content-type": "application/json"}) as client:
        for body, field, says in cases:
            refused = client.post("/alerts", content=body)
            assert refused.status_code == 400, (body[:80], refused.text)
            assert refused.json()["field"] == field and says in refused.json()["message"]
            assert client.post("/alerts", json=GOOD).status_code == 202  # the connection is intact
        # A lone surrogate in a key nobody reads is valid JSON: stored (replaced), not a 500.
        stored = client.post("/alerts", content='{"pipeline": "growth", "status": "failed", "extra": "\\ud800"}')
        assert stored.status_code == 202, stored.text
    assert "Traceback" not in bot.stderr()


def test_without_a_token_web_pages_cannot_post_alerts(fake_slack, serve):
    bot = serve(fake_slack, ALERTS_TOKEN="")
    plain = httpx.post(bot.url + "/alerts", content=json.dumps(GOOD), headers={"content-type": "text/plain"})
    assert plain.status_code == 415 and plain.json()["field"] == "Content-Type"
    browser = httpx.post(bot.url + "/alerts", json=GOOD, headers={"origin": "https://evil.example"})
    assert browser.status_code == 403 and browser.json()["field"] == "Origin"
    assert httpx.post(bot.url + "/alerts", json=GOOD).status_code == 202


def test_idle_connections_are_closed_and_the_bot_stays_reachable(fake_slack, serve):
    bot = serve(fake_slack)
    idle = [socket.create_connection(("127.0.0.1", bot.port)) for _ in range(50)]
    try:
        assert httpx.get(bot.url + "/healthz", timeout=5).status_code == 200
        deadline = time.monotonic() + 10
        closed = 0
        for sock in idle:  # each gets its end of file once the server drops it
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                closed += sock.recv(1) == b""
            except (TimeoutError, socket.timeout):
                pass
        assert closed == len(idle)
        assert httpx.get(bot.url + "/healthz", timeout=5).status_code == 200
    finally:
        for sock in idle:
            sock.close()

