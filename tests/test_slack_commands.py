"""/oncall and /runbook through signed requests, answered like Slack expects."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from bot.domain.answers import oncall_now
from bot.runbook import load
from tests.conftest import RUNBOOK
from tests.slackreq import ROTATION_EMAILS, action_body, command_body, post_command, signed_headers

def all_text(reply: dict) -> str:
    return reply["text"] + json.dumps(reply.get("blocks", []))


def test_oncall_names_the_person_on_call_with_a_mention_and_date_tokens(fake_slack, make_app, real_people_runbook):
    fake_slack.users_by_email.update(ROTATION_EMAILS)
    client = make_app(fake_slack, runbook=real_people_runbook)
    response = post_command(client, "/oncall")
    assert response.status_code == 200
    reply = response.json()
    now = oncall_now(load(real_people_runbook).runbook, datetime.now(UTC), ())
    person_id = ROTATION_EMAILS[f"{now.shift.person.lower()}@team.test"]
    section = reply["blocks"][1]["text"]["text"]
    assert section.startswith(f"<@{person_id}> is on call")
    assert f"<!date^{int(now.shift.end.timestamp())}^" in section
    assert f"Next: <@{ROTATION_EMAILS[now.next.person.lower() + '@team.test']}>" in section
    assert reply["response_type"] == "ephemeral"
    assert now.shift.person in reply["text"]
    text = all_text(reply)
    for name in ("Profit", "Growth", "Engagement", "Aggregate data for investors"):
        assert name in text
    # Each email is looked up once, then cached.
    post_command(client, "/oncall")
    emails = [c.args["email"] for c in fake_slack.of("users.lookupByEmail")]
    assert sorted(emails) == sorted(set(emails))


def test_unknown_people_are_bold_names_never_broken_mentions(fake_slack, make_app, real_people_runbook):
    client = make_app(fake_slack, runbook=real_people_runbook)  # Slack knows none of the emails
    reply = post_command(client, "/oncall").json()
    assert "<@" not in all_text(reply)
    assert "*Jane*" in all_text(reply) or "*Danny*" in all_text(reply) or "*Anna*" in all_text(reply) \
        or "*Laura*" in all_text(reply)


def test_oncall_public_posts_in_channel(fake_slack, make_app):
    reply = post_command(make_app(fake_slack), "/oncall", "public").json()
    assert reply["response_type"] == "in_channel"


def test_oncall_schedule_lists_the_coming_shifts(fake_slack, make_app):
    reply = post_command(make_app(fake_slack), "/oncall", "schedule 8").json()
    lines = [b["text"]["text"] for b in reply["blocks"] if b["type"] == "section"]
    shifts = "\n".join(lines).count("→")
    assert 8 <= shifts <= 9
    assert "On-call schedule" in reply["text"]


@pytest.mark.parametrize("text", ["help", "frobnicate", "schedule lots", "schedule 999"])
def test_help_and_unknown_subcommands_answer_with_help(fake_slack, make_app, text):
    response = post_command(make_app(fake_slack), "/oncall", text)
    assert response.status_code == 200
    reply = response.json()
    assert "/oncall schedule" in all_text(reply)
    assert reply["response_type"] == "ephemeral"


@pytest.mark.parametrize("name", ["growth", "Growth", "GROWTH", "grwth"])
def test_runbook_card_with_forgiving_names(fake_slack, make_app, name):
    reply = post_command(make_app(fake_slack), "/runbook", name).json()
    text = all_text(reply)
    assert "Runbook: Growth" in text
    assert "Users that subscribe the license" in text
    assert "Customercare team" in text and "Data science team" in text
    assert "NullPointerException" in text and "required column" in text
    assert "04:00 UTC" in text


def test_runbook_investors_alias(fake_slack, make_app):
    text = all_text(post_command(make_app(fake_slack), "/runbook", "investors").json())
    assert "Aggregate data for investors" in text
    assert "end of the month" in text


def test_incomplete_pipeline_says_what_is_missing(fake_slack, make_app):
    text = all_text(post_command(make_app(fake_slack), "/runbook", "experiments").json())
    assert "Incomplete runbook" in text and "owners" in text


def test_unknown_pipeline_lists_the_known_ones(fake_slack, make_app):
    reply = post_command(make_app(fake_slack), "/runbook", "payroll").json()
    for key in ("profit", "growth", "engagement", "investors", "experiments"):
        assert f"`{key}`" in all_text(reply)


def test_runbook_text_containing_payload_still_answers(fake_slack, make_app):
    response = post_command(make_app(fake_slack), "/runbook", "payload-db")
    assert response.status_code == 200
    assert "No pipeline called *payload-db*" in response.json()["text"]


def test_bad_signature_and_stale_timestamp_get_401(fake_slack, make_app):
    client = make_app(fake_slack)
    body = command_body("/oncall")
    wrong = signed_headers(body, secret="not-the-secret")
    assert client.post("/slack/events", content=body, headers=wrong).status_code == 401
    stale = signed_headers(body, timestamp=int(time.time()) - 600)
    assert client.post("/slack/events", content=body, headers=stale).status_code == 401
    unsigned = {"content-type": "application/x-www-form-urlencoded"}
    assert client.post("/slack/events", content=body, headers=unsigned).status_code == 401
    # Nothing was done for them (the scheduled handoff in the on-call channel is the bot's own).
    assert [c for c in fake_slack.calls if c.args.get("channel") != "#data-oncall"] == []


def test_a_replayed_request_gets_401_and_nothing_is_done_twice(fake_slack, make_app, real_people_runbook):
    fake_slack.users_by_email.update(ROTATION_EMAILS)
    client = make_app(fake_slack, runbook=real_people_runbook)
    body = command_body("/oncall", "override laura 2099-12-20T09:00 2099-12-20T12:00", user_id="U0DANNY")
    headers = signed_headers(body)
    first = client.post("/slack/events", content=body, headers=headers)
    assert first.status_code == 200 and "Override #" in first.json()["text"], first.text
    assert client.post("/slack/events", content=body, headers=headers).status_code == 401
    from bot.store.swaps import override_records

    assert len(override_records(client.runtime.store)) == 1  # the copy changed nothing


def test_long_content_is_cut_to_slack_limits(fake_slack, make_app, tmp_path):
    text = RUNBOOK.read_text().replace(
        "    description: Users that subscribe the license",
        "    description: " + "very long description " * 400)
    path = tmp_path / "long.yaml"
    path.write_text(text)
    reply = post_command(make_app(fake_slack, runbook=path), "/runbook", "growth").json()
    assert len(reply["blocks"]) <= 50
    for block in reply["blocks"]:
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= 3000
    assert any(b.get("text", {}).get("text", "").endswith("…") for b in reply["blocks"])


def test_a_slack_hiccup_in_a_lookup_is_retried_next_time(fake_slack, make_app, real_people_runbook):
    fake_slack.users_by_email.update(ROTATION_EMAILS)
    fake_slack.fail("users.lookupByEmail", status=500, retry_after=None, times=1000)  # Slack has a bad minute
    client = make_app(fake_slack, runbook=real_people_runbook)
    assert "<@" not in all_text(post_command(client, "/runbook", "growth").json())  # names meanwhile
    fake_slack.failures.clear()
    # The next commands look again (a look-up still in the client's own retries answers first).
    deadline = time.monotonic() + 10
    while "<@U0LAURA>" not in all_text(post_command(client, "/runbook", "growth").json()):
        assert time.monotonic() < deadline, "a failed look-up was never tried again"
        time.sleep(0.2)


def test_commands_do_not_wait_for_a_slow_slack_api_to_answer(fake_slack, make_app, real_people_runbook):
    # Slack's user look-ups take 5 s: a command must still answer within Slack's 3 s, with names.
    fake_slack.users_by_email.update(ROTATION_EMAILS)
    fake_slack.slow("users.lookupByEmail", 5)
    client = make_app(fake_slack, runbook=real_people_runbook)
    for command, text, name in (("/oncall", "", "*Jane*"), ("/runbook", "growth", "*Laura*"),
                                ("/oncall", "schedule", "*Laura*")):
        reply = post_command(client, command, text)
        assert reply.status_code == 200 and name in all_text(reply.json())  # answered before Slack did
    # The look-ups went on in the background: once Slack answers, replies mention people.
    deadline = time.monotonic() + 20
    while "<@U0LAURA>" not in all_text(post_command(client, "/runbook", "growth").json()):
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_commands_are_answered_when_auth_test_fails(fake_slack, make_app):
    fake_slack.fail("auth.test", status=500, retry_after=None, times=1000)  # restarted during an outage
    reply = post_command(make_app(fake_slack), "/oncall")
    assert reply.status_code == 200 and "is on call" in reply.json()["text"]


def test_a_button_pressed_while_slack_cannot_say_our_workspace_is_asked_to_retry(fake_slack, make_app):
    fake_slack.fail("auth.test", status=500, retry_after=None, times=1000)
    client = make_app(fake_slack)
    body = action_body("incident_ack", "1", response_url=fake_slack.url + "response")
    assert client.post("/slack/events", content=body, headers=signed_headers(body)).status_code == 200
    said = fake_slack.wait_for("response")[0].args["text"]
    assert "try again" in said and "another workspace" not in said


def test_a_long_schedule_with_mentions_is_never_cut_mid_line(fake_slack, make_app, real_people_runbook):
    fake_slack.users_by_email.update(ROTATION_EMAILS)
    reply = post_command(make_app(fake_slack, runbook=real_people_runbook), "/oncall", "schedule 26").json()
    sections = [b["text"]["text"] for b in reply["blocks"] if b["type"] == "section"]
    assert all(len(text) <= 3000 and not text.endswith("…") for text in sections)
    assert sum(text.count("→") for text in sections) >= 26


@pytest.mark.parametrize("command, text", [
    ("/oncall", "schedule ²"), ("/oncall", "swap 9999-12-31"), ("/oncall", "swap 0001-01-01"),
    ("/oncall", "swap 2026-12-01 2999-12-31"),
])
def test_odd_arguments_get_an_answer_not_an_error(fake_slack, make_app, command, text):
    response = post_command(make_app(fake_slack), command, text, user_id="U0ANNA")
    assert response.status_code == 200
    assert response.json()["response_type"] == "ephemeral"
