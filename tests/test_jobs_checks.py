"""The investors' weekly check through the app and the fake Slack: the message with its Checked
button, a signed click that records who and when, and the one reminder when nobody clicks."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from bot.jobs import scheduled_messages
from bot.store.weekly_checks import get_check
from tests.conftest import ShiftedClock
from tests.slackreq import action_body, signed_headers
from tests.slackreq import ROTATION_EMAILS

MONDAY_CHECK = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)   # investors: weekly_check {day: mon, time: "10:00"}


@pytest.fixture
def bot(fake_slack, make_app, real_people_runbook, monkeypatch):  # noqa: F811
    monkeypatch.setattr("bot.slack.delivery.CHANNEL_INTERVAL", 0)
    fake_slack.users_by_email.update(ROTATION_EMAILS)
    client = make_app(fake_slack, runbook=real_people_runbook)
    client.clock = ShiftedClock(datetime(2026, 11, 30, 9, 59, tzinfo=UTC))
    client.runtime.clock = client.clock
    client.fake = fake_slack
    return client


def pass_at(bot, when: datetime) -> None:
    bot.clock.set(when)
    bot.portal.call(scheduled_messages, bot.runtime)


def check_message(bot):
    pass_at(bot, datetime(2026, 11, 30, 9, 59, tzinfo=UTC))
    pass_at(bot, MONDAY_CHECK)
    return bot.fake.wait_for("chat.postMessage", wanted=lambda c: "Weekly check of" in c.args.get("text", ""))[0]


def button(call) -> dict:
    return next(e for b in call.args["blocks"] if b["type"] == "actions" for e in b["elements"]
                if e["action_id"] == "weekly_check")


def test_weekly_check_asks_the_owners_and_the_button_records_who_and_when(bot):
    post = check_message(bot)
    assert post.args["channel"] == "#data-oncall"
    assert "<@U0JANE>" in post.texts() and "<@U0ANNA>" in post.texts()      # investors' owners
    assert button(post)["text"]["text"] == "Checked"
    bot.clock.set(datetime(2026, 11, 30, 11, 30, tzinfo=UTC))
    body = action_body("weekly_check", button(post)["value"], user_id="U0JANE", channel="#data-oncall",
                       message_ts="1800000099.000100", response_url=bot.fake.url + "response")
    assert bot.post("/slack/events", content=body, headers=signed_headers(body)).status_code == 200
    update = bot.fake.wait_for("chat.update", wanted=lambda c: "Checked by" in c.texts())[0]
    assert update.args["ts"] == "1800000099.000100" and "<@U0JANE>" in update.texts()
    check = get_check(bot.runtime.store, "investors", MONDAY_CHECK)
    assert check.checked_by == "U0JANE" and check.checked_at.replace(second=0, microsecond=0) == \
        datetime(2026, 11, 30, 11, 30, tzinfo=UTC)
    # A second click changes nothing; checked, so no reminder at the end of the working day.
    body = action_body("weekly_check", button(post)["value"], user_id="U0ANNA", channel="#data-oncall",
                       message_ts="1800000099.000100", response_url=bot.fake.url + "response")
    bot.post("/slack/events", content=body, headers=signed_headers(body))
    assert get_check(bot.runtime.store, "investors", MONDAY_CHECK).checked_by == "U0JANE"
    pass_at(bot, datetime(2026, 11, 30, 17, 0, 1, tzinfo=UTC))
    time.sleep(0.2)
    assert not [c for c in bot.fake.of("chat.postMessage") if "not been checked" in c.args.get("text", "")]


def test_unchecked_by_the_end_of_the_working_day_one_reminder_in_the_thread(bot):
    post = check_message(bot)
    pass_at(bot, datetime(2026, 11, 30, 16, 59, tzinfo=UTC))
    pass_at(bot, datetime(2026, 11, 30, 17, 0, 1, tzinfo=UTC))
    pass_at(bot, datetime(2026, 11, 30, 18, 0, tzinfo=UTC))
    reminder = bot.fake.wait_for("chat.postMessage", wanted=lambda c: "not been checked" in c.args.get("text", ""))
    time.sleep(0.2)
    assert len([c for c in bot.fake.of("chat.postMessage") if "not been checked" in c.args.get("text", "")]) == 1
    assert reminder[0].args.get("thread_ts")  # under the check message
    assert button(reminder[0])["value"] == button(post)["value"]


def test_a_button_with_a_bad_value_is_ignored(bot):
    body = action_body("weekly_check", "not json", user_id="U0JANE", response_url=bot.fake.url + "response")
    assert bot.post("/slack/events", content=body, headers=signed_headers(body)).status_code == 200
