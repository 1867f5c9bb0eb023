"""Cover requests end to end: signed slash commands, modal submissions and button clicks against the
in-process app and the fake Slack, on SQLite and PostgreSQL (test_swaps_serve.py drives `serve` itself).

The source runbook's rotation: Anna's week starts Monday 2026-12-07 09:00 UTC; Laura's follows.
"""

from __future__ import annotations

import re

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from bot.jobs import swap_clock
from bot.store import swaps
from tests.conftest import ROOT, ShiftedClock
from tests.slackreq import action_body, command_body, signed_headers, view_submission_body
from tests.slackreq import ROTATION_EMAILS

TUESDAY_BEFORE = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)   # Danny's week; Anna's starts on the 7th
ANNAS_TUESDAY = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
ANNA, LAURA, DANNY, JANE = "U0ANNA", "U0LAURA", "U0DANNY", "U0JANE"


@pytest.fixture
def bot(database_url, fake_slack, make_app, real_people_runbook, monkeypatch):  # noqa: F811
    # database_url first: its teardown (DROP SCHEMA) must come after the app and its jobs have stopped.
    monkeypatch.setattr("bot.slack.delivery.CHANNEL_INTERVAL", 0)  # keep tests fast; pacing has its own tests
    fake_slack.users_by_email.update(ROTATION_EMAILS)
    client = make_app(fake_slack, runbook=real_people_runbook, DATABASE_URL=database_url)
    client.clock = ShiftedClock(TUESDAY_BEFORE)
    client.runtime.clock = client.clock
    client.database_url = database_url
    client.fake = fake_slack
    return client


def slash(bot, text: str, user: str) -> dict:
    body = command_body("/oncall", text, user_id=user)
    response = bot.post("/slack/events", content=body, headers=signed_headers(body))
    assert response.status_code == 200, response.text
    return response.json() if response.content else {}


def click(bot, action_id: str, value, user: str) -> None:
    body = action_body(action_id, str(value), user_id=user, channel="C0ONCALL",
                       response_url=bot.fake.url + "response")
    assert bot.post("/slack/events", content=body, headers=signed_headers(body)).status_code == 200


def answers(bot, user: str) -> list[str]:
    """The ephemeral answers to a clicker, sent through the click's response_url."""
    return [c.args.get("text", "") for c in bot.fake.of("response")]


def texts(call) -> str:
    return call.args.get("text", "") + json.dumps(call.args.get("blocks", []), ensure_ascii=False)


def swap_posts(bot, channel: str | None = None) -> list:
    """Posts of this feature (the scheduler's own handoffs and reminders may run beside them)."""
    ours = ("Cover request", "cover request", "your on-call time changed", "On-call override", "cancelled by",
            "has taken your request", "still open", "you stay on call")
    return [c for c in bot.fake.of("chat.postMessage") if any(w in texts(c) for w in ours)
            and (channel is None or c.args.get("channel") == channel)]


def wait_posts(bot, wanted, count: int = 1, timeout: float = 10) -> list:
    return bot.fake.wait_for("chat.postMessage", count, timeout, wanted)


def wait_updates(bot, wanted) -> list:
    return bot.fake.wait_for("chat.update", wanted=lambda c: wanted(texts(c)))


def in_thread(bot, words: str, count: int = 1) -> list:
    return wait_posts(bot, lambda c: c.args.get("thread_ts") and words in texts(c), count)


def request(bot, text: str = "2026-12-08 dentist <!channel>", user: str = ANNA) -> int:
    reply = slash(bot, f"swap {text}", user)
    assert "posted" in reply["text"], reply
    wait_posts(bot, lambda c: "Cover request" in texts(c) and not c.args.get("thread_ts"))
    return swaps.listing(bot.runtime.store)[-1].id


def who_json(bot, at: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env["DATABASE_URL"] = bot.database_url
    done = subprocess.run([sys.executable, "-m", "bot", "--runbook", bot.runtime.runbook_path, "who", "--json",
                           "--at", at], capture_output=True, text=True, cwd=ROOT, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_anna_asks_for_tuesday_laura_accepts_and_every_surface_says_laura(bot):
    swap_id = request(bot)
    post = swap_posts(bot, "#data-oncall")[0]
    body = texts(post)
    assert "<@U0ANNA>" in body and "Cover request" in body and "swap_accept" in body
    assert "&lt;!channel&gt;" in body and "<!channel>" not in body  # the note is escaped
    assert "<!date^" in body

    click(bot, "swap_accept", swap_id, LAURA)
    req = swaps.get(bot.runtime.store, swap_id)
    assert (req.state, req.accepted_by, req.accepted_by_id) == ("accepted", "Laura", LAURA)
    assert req.accepted_at is not None
    update = wait_updates(bot, lambda t: "has accepted" in t)[-1]
    assert "<@U0LAURA>" in texts(update) and "swap_accept" not in texts(update)
    assert update.args["channel"] == "#data-oncall"
    thread = in_thread(bot, "has taken your request")
    assert "<@U0ANNA>" in texts(thread[0])
    dms = wait_posts(bot, lambda c: c.args["channel"] in ("D" + ANNA, "D" + LAURA) and "your on-call time changed" in texts(c), 2)
    assert sorted(c.args["channel"] for c in dms) == ["D" + ANNA, "D" + LAURA]
    assert len(swap_posts(bot)) == 4  # the request, its thread reply, two DMs: each once

    # /oncall on Tuesday noon, the CLI with the store, and the calendar all say Laura.
    bot.clock.set(ANNAS_TUESDAY)
    now = slash(bot, "", JANE)
    assert now["blocks"][1]["text"]["text"].startswith("<@U0LAURA> is on call (covering *Anna*)")
    out = who_json(bot, "2026-12-08T12:00Z")
    assert (out["oncall"]["person"], out["oncall"]["covering"]) == ("Laura", "Anna")
    assert out["pipelines"]["engagement"]["notify"][0] == "Laura"
    assert who_json(bot, "2026-12-09T12:00Z")["oncall"]["person"] == "Anna"
    ics = bot.get("/oncall.ics").text
    assert "On call: Laura (covering Anna)" in ics
    schedule = json.dumps(slash(bot, "schedule 2", JANE))
    assert "(covering *Anna*)" in schedule

    # The audit: who asked, who took it, when; the override points at the request.
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")} | {"DATABASE_URL": bot.database_url}
    done = subprocess.run([sys.executable, "-m", "bot", "overrides", "--json"], capture_output=True, text=True,
                          cwd=ROOT, env=env)
    audit = json.loads(done.stdout)
    assert audit["swap_requests"][0] | {"requester": "Anna", "accepted_by": "Laura", "state": "accepted"} \
        == audit["swap_requests"][0]
    assert [(o["person"], o["swap_id"], o["created_by"]) for o in audit["overrides"]] == [("Laura", swap_id, LAURA)]
    assert audit["overrides"][0]["start"] == "2026-12-08T00:00:00Z" and audit["overrides"][0]["end"] == "2026-12-09T00:00:00Z"


def test_an_alert_on_annas_tuesday_pages_laura(bot):
    swap_id = request(bot, "2026-12-08")
    click(bot, "swap_accept", swap_id, LAURA)
    bot.clock.set(datetime(2026, 12, 8, 2, 0, tzinfo=UTC))
    response = bot.post("/alerts", json={"pipeline": "engagement", "status": "failed", "error": "0 rows"},
                        headers={"Authorization": "Bearer alerts-secret"})
    assert response.status_code == 202
    alert = wait_posts(bot, lambda c: c.args.get("channel") == "#data-alerts")[0]
    # Laura covers: she is paged; Anna, Engagement's owner, is named but not woken at 02:00.
    assert "<@U0LAURA>" in texts(alert) and "<@U0ANNA>" not in texts(alert) and "*Anna* (primary)" in texts(alert)
    assert wait_posts(bot, lambda c: c.args.get("channel") == "DU0LAURA")


def test_the_requester_cannot_take_their_own_request_and_a_second_taker_is_too_late(bot):
    swap_id = request(bot)
    click(bot, "swap_accept", swap_id, ANNA)
    assert swaps.get(bot.runtime.store, swap_id).state == "open"
    assert any("cannot take it" in a for a in answers(bot, ANNA))
    click(bot, "swap_accept", swap_id, LAURA)
    click(bot, "swap_accept", swap_id, JANE)
    assert swaps.get(bot.runtime.store, swap_id).accepted_by == "Laura"
    assert any("already taken by Laura" in a for a in answers(bot, JANE))
    assert len(swaps.override_records(bot.runtime.store)) == 1


def test_strangers_cannot_act(bot):
    reply = slash(bot, "swap tomorrow", "U0STRANGER")
    assert "runbook" in reply["text"] and not swaps.listing(bot.runtime.store)
    swap_id = request(bot)
    click(bot, "swap_accept", swap_id, "U0STRANGER")
    assert swaps.get(bot.runtime.store, swap_id).state == "open"


def test_only_the_person_on_call_can_ask_for_cover(bot):
    reply = slash(bot, "swap 2026-12-08", LAURA)  # Anna's week
    assert "not on call" in reply["text"] and not swaps.listing(bot.runtime.store)
    reply = slash(bot, "swap yesterday-ish", ANNA)
    assert "e.g." in reply["text"]


def test_follow_ups_before_the_start_then_expiry_keeps_anna_on_call(bot):
    swap_id = request(bot)
    bot.clock.set(datetime(2026, 12, 5, 1, 0, tzinfo=UTC))  # 3 days before the start
    bot.portal.call(swap_clock, bot.runtime)
    bot.portal.call(swap_clock, bot.runtime)  # a second pass sends nothing new
    followups = in_thread(bot, "still open")
    assert "still open and starts in 3 days" in texts(followups[0])

    bot.clock.set(datetime(2026, 12, 8, 0, 0, 5, tzinfo=UTC))
    bot.portal.call(swap_clock, bot.runtime)
    req = swaps.get(bot.runtime.store, swap_id)
    assert req.state == "expired" and req.expired_at is not None
    wait_updates(bot, lambda t: "Nobody took it" in t)
    assert "<@U0ANNA>" in texts(in_thread(bot, "you stay on call")[0])
    click(bot, "swap_accept", swap_id, LAURA)
    assert swaps.get(bot.runtime.store, swap_id).state == "expired"
    bot.clock.set(ANNAS_TUESDAY)
    assert slash(bot, "", JANE)["blocks"][1]["text"]["text"].startswith("<@U0ANNA> is on call")
    bot.portal.call(swap_clock, bot.runtime)
    assert len([c for c in swap_posts(bot) if c.args.get("thread_ts")]) == 2  # one follow-up, one expiry


def test_the_requester_cancels_before_anyone_takes_it(bot):
    swap_id = request(bot)
    click(bot, "swap_cancel", swap_id, LAURA)
    assert swaps.get(bot.runtime.store, swap_id).state == "open"
    click(bot, "swap_cancel", swap_id, ANNA)
    req = swaps.get(bot.runtime.store, swap_id)
    assert (req.state, req.cancelled_by) == ("cancelled", "Anna")
    wait_updates(bot, lambda t: "Cancelled by <@U0ANNA>" in t)
    click(bot, "swap_accept", swap_id, LAURA)
    assert swaps.get(bot.runtime.store, swap_id).state == "cancelled"
    assert not swaps.override_records(bot.runtime.store)


def test_the_modal_opens_and_its_submission_posts_a_partial_day_request(bot):
    assert slash(bot, "swap", ANNA) == {}
    view = bot.fake.wait_for("views.open")[0].args["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["callback_id"] == "swap_request"
    assert {"start_date", "end_date", "note"} <= {b.get("block_id") for b in view["blocks"]}

    def submit(values):
        body = view_submission_body("swap_request", values, user_id=ANNA, private_metadata=view["private_metadata"])
        response = bot.post("/slack/events", content=body, headers=signed_headers(body))
        assert response.status_code == 200
        return response.json() if response.content else {}

    date = lambda d: {"date": {"type": "datepicker", "selected_date": d}}  # noqa: E731
    clock = lambda t: {"time": {"type": "timepicker", "selected_time": t}}  # noqa: E731
    bad = submit({"start_date": date("2026-12-08"), "start_time": clock("18:00"), "end_date": date("2026-12-08"),
                  "end_time": clock("09:00"), "note": {"note": {"type": "plain_text_input", "value": ""}}})
    assert bad["response_action"] == "errors" and "end_date" in bad["errors"]
    good = submit({"start_date": date("2026-12-08"), "start_time": clock("09:00"), "end_date": date("2026-12-08"),
                   "end_time": clock("18:00"), "note": {"note": {"type": "plain_text_input", "value": "dentist"}}})
    assert good == {}
    req = swaps.listing(bot.runtime.store)[-1]
    assert (req.start_at, req.end_at, req.note) == (datetime(2026, 12, 8, 9, tzinfo=UTC),
                                                    datetime(2026, 12, 8, 18, tzinfo=UTC), "dentist")
    assert "swap_accept" in texts(wait_posts(bot, lambda c: "Cover request" in texts(c))[0])


def test_admin_overrides_others_are_refused_and_the_listing_has_cancel_buttons(bot):
    refused = slash(bot, "override @laura 2026-12-08T09:00 2026-12-08T18:00", JANE)
    assert "Only admins" in refused["text"] and not swaps.override_records(bot.runtime.store)
    done = slash(bot, "override <@U0LAURA|laura> 2026-12-08T09:00 2026-12-08T18:00 covers <b>Anna</b>", DANNY)
    assert "Override #" in done["text"]
    announce = wait_posts(bot, lambda c: "On-call override" in texts(c))
    assert "&lt;b&gt;Anna&lt;/b&gt;" in texts(announce[0]) and "instead of <@U0ANNA>" in texts(announce[0])
    # The person on call cannot put a teammate on call unasked: Jane is asked, and only she can accept.
    own = slash(bot, "override Jane 2026-12-09T09:00 2026-12-09T12:00", ANNA)
    assert "<@U0JANE> is asked to take your on-call" in own["text"]
    asked = swaps.listing(bot.runtime.store)[-1]
    assert asked.asked == "Jane" and len(swaps.override_records(bot.runtime.store)) == 1
    post = wait_posts(bot, lambda c: "Cover request" in texts(c))[0]
    assert "asks <@U0JANE> to take" in texts(post) and "Only Jane can accept" in texts(post)
    click(bot, "swap_accept", str(asked.id), LAURA)
    assert len(swaps.override_records(bot.runtime.store)) == 1
    click(bot, "swap_accept", str(asked.id), JANE)
    assert [r.person for r in swaps.override_records(bot.runtime.store)] == ["Laura", "Jane"]
    # Exactly the people whose time moved hear of it, with the change itself.
    dms = wait_posts(bot, lambda c: "your on-call time changed" in texts(c), 4)
    assert sorted(c.args["channel"] for c in dms) == sorted("D" + u for u in (ANNA, LAURA, ANNA, JANE))
    laura = next(texts(c) for c in dms if c.args["channel"] == "D" + LAURA)
    assert "You are now on call" in laura and "no longer" not in laura
    assert all("You are no longer on call" in texts(c) for c in dms if c.args["channel"] == "D" + ANNA)

    listing = slash(bot, "overrides", DANNY)
    buttons = [b["accessory"] for b in listing["blocks"] if b.get("accessory")]
    assert len(buttons) == 2 and {b["action_id"] for b in buttons} == {"override_cancel"}
    assert len([b for b in slash(bot, "overrides", LAURA)["blocks"] if b.get("accessory")]) == 1
    first = buttons[0]["value"]

    bot.clock.set(datetime(2026, 12, 8, 12, 0, tzinfo=UTC))
    assert slash(bot, "", JANE)["blocks"][1]["text"]["text"].startswith("<@U0LAURA>")
    click(bot, "override_cancel", first, JANE)
    assert swaps.override_records(bot.runtime.store)[0].cancelled_at is None
    click(bot, "override_cancel", first, DANNY)
    rec = swaps.override_records(bot.runtime.store)[0]
    assert (rec.cancelled_by_name, rec.cancelled_by) == ("Danny", DANNY)
    assert slash(bot, "", JANE)["blocks"][1]["text"]["text"].startswith("<@U0ANNA>")
    wait_posts(bot, lambda c: "cancelled by <@U0DANNY>" in texts(c))


def test_overlapping_overrides_the_most_recent_wins_and_the_listing_says_so(bot):
    slash(bot, "override laura 2026-12-08T09:00 2026-12-08T18:00", DANNY)
    slash(bot, "override jane 2026-12-08T12:00 2026-12-08T14:00", DANNY)
    again = slash(bot, "override jane 2026-12-08T12:00 2026-12-08T14:00", DANNY)  # the same, twice
    assert "Override #2 already puts <@U0JANE> on call" in again["text"]
    assert len(swaps.override_records(bot.runtime.store)) == 2
    listing = json.dumps(slash(bot, "overrides", DANNY))
    assert "*Override #2*" in listing and "wins over override #1" in listing and "most recent wins" in listing
    bot.clock.set(datetime(2026, 12, 8, 13, 0, tzinfo=UTC))
    assert slash(bot, "", ANNA)["blocks"][1]["text"]["text"].startswith("<@U0JANE>")
    bot.clock.set(datetime(2026, 12, 8, 15, 0, tzinfo=UTC))
    assert slash(bot, "", ANNA)["blocks"][1]["text"]["text"].startswith("<@U0LAURA>")


def test_the_handoff_message_names_the_cover(bot):
    from bot.jobs import scheduled_messages

    swap_id = request(bot, "2026-12-08")
    click(bot, "swap_accept", swap_id, LAURA)
    bot.clock.set(datetime(2026, 12, 7, 23, 0, tzinfo=UTC))
    bot.portal.call(scheduled_messages, bot.runtime)
    bot.clock.set(datetime(2026, 12, 8, 0, 1, tzinfo=UTC))
    bot.portal.call(scheduled_messages, bot.runtime)
    handoff = wait_posts(bot, lambda c: "hands over to <@U0LAURA>" in texts(c))
    assert len(handoff) == 1 and "<@U0ANNA> hands over to <@U0LAURA> (covering *Anna*)" in texts(handoff[0])
    # Only the two it is about are mentioned; the week ahead and its swaps name people in bold.
    blocks = handoff[0].args["blocks"]
    week = next(b["text"]["text"] for b in blocks if b.get("text", {}).get("text", "").startswith("*The coming week*"))
    assert "<@" not in week and "*Laura*" in week
    assert set(re.findall(r"<@(U\w+)>", texts(handoff[0]))) == {"U0ANNA", "U0LAURA"}
