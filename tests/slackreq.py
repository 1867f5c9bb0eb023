"""Requests as Slack signs them: slash commands, block actions, events."""

from __future__ import annotations

import itertools
import json
import time
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

SECRET = "test-signing-secret"
# The source runbook's rotation with real emails (see the real_people_runbook fixture) and their Slack ids.
ROTATION_EMAILS = {"danny@team.test": "U0DANNY", "anna@team.test": "U0ANNA",
                   "laura@team.test": "U0LAURA", "jane@team.test": "U0JANE"}


def signed_headers(body: str, secret: str = SECRET, timestamp: int | None = None,
                   content_type: str = "application/x-www-form-urlencoded") -> dict:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "content-type": content_type,
        "x-slack-request-timestamp": ts,
        "x-slack-signature": SignatureVerifier(secret).generate_signature(timestamp=ts, body=body),
    }


_TRIGGERS = itertools.count(1)


def trigger_id() -> str:
    """Unique per request, as Slack's are (so two identical commands are two requests, not a replay)."""
    return f"{time.time_ns()}.738474920.{next(_TRIGGERS):x}"


def command_body(command: str, text: str = "", user_id: str = "U0ANNA", team_id: str = "T0TEAM",
                 response_url: str = "http://127.0.0.1:9/response") -> str:
    return urlencode({
        "token": "legacy", "team_id": team_id, "team_domain": "fake", "channel_id": "C0CHAN",
        "channel_name": "data-oncall", "user_id": user_id, "user_name": "someone", "command": command,
        "text": text, "response_url": response_url, "trigger_id": trigger_id(),
        "api_app_id": "A0APP", "is_enterprise_install": "false",
    })


def event_body(event: dict, team_id: str = "T0TEAM") -> str:
    return json.dumps({"token": "legacy", "team_id": team_id, "api_app_id": "A0APP", "event": event,
                       "type": "event_callback", "event_id": f"Ev{time.time_ns()}", "event_time": int(time.time())})


def action_body(action_id: str, value: str, user_id: str = "U0ANNA", team_id: str = "T0TEAM",
                channel: str = "C0ALERTS", message_ts: str = "1800000001.000100",
                response_url: str = "http://127.0.0.1:9/response") -> str:
    payload = {
        "type": "block_actions", "team": {"id": team_id, "domain": "fake"},
        "user": {"id": user_id, "username": "someone", "name": "someone", "team_id": team_id},
        "api_app_id": "A0APP", "token": "legacy", "trigger_id": trigger_id(),
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": False},
        "channel": {"id": channel, "name": "data-alerts"},
        "message": {"type": "message", "ts": message_ts, "text": "alert", "bot_id": "BBOT"},
        "response_url": response_url,
        "actions": [{"type": "button", "action_id": action_id, "block_id": "actions", "value": value,
                     "text": {"type": "plain_text", "text": "x"}, "action_ts": str(time.time())}],
    }
    return urlencode({"payload": json.dumps(payload)})


def view_submission_body(callback_id: str, values: dict, user_id: str = "U0ANNA", team_id: str = "T0TEAM",
                         private_metadata: str = "") -> str:
    """A modal's submission: `values` is {block_id: {action_id: {type, selected_date|selected_time|value}}}."""
    payload = {
        "type": "view_submission", "team": {"id": team_id, "domain": "fake"},
        "user": {"id": user_id, "username": "someone", "name": "someone", "team_id": team_id},
        "api_app_id": "A0APP", "token": "legacy", "trigger_id": trigger_id(),
        "view": {"id": "V0VIEW", "team_id": team_id, "type": "modal", "callback_id": callback_id,
                 "private_metadata": private_metadata, "hash": "1.abc", "blocks": [],
                 "state": {"values": values}},
        "response_urls": [], "is_enterprise_install": False,
    }
    return urlencode({"payload": json.dumps(payload)})


def post_command(client, command: str, text: str = "", **kwargs):
    """A signed slash command to an in-process app (a Starlette TestClient)."""
    body = command_body(command, text, **kwargs)
    return client.post("/slack/events", content=body, headers=signed_headers(body))
