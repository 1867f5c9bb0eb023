"""App Home, Slack API errors, health, metrics, the calendar feed, and Socket Mode wiring."""

from __future__ import annotations

import asyncio
import json

import pytest
from icalendar import Calendar

from tests.slackreq import event_body, signed_headers
from tests.slackreq import ROTATION_EMAILS


def open_home(client, user: str):
    body = event_body({"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": "home",
                       "event_ts": "1800000000.000100"})
    return client.post("/slack/events", content=body, headers=signed_headers(body, content_type="application/json"))


def test_app_home_shows_your_shifts_and_pipelines(fake_slack, make_app, real_people_runbook):  # noqa: F811
    fake_slack.users_by_email.update(ROTATION_EMAILS)
    client = make_app(fake_slack, runbook=real_people_runbook)
    assert open_home(client, "U0LAURA").status_code == 200
    call = fake_slack.wait_for("views.publish")[0]
    assert call.args["user_id"] == "U0LAURA"
    view = call.args["view"] if isinstance(call.args["view"], dict) else json.loads(call.args["view"])
    text = json.dumps(view, ensure_ascii=False)
    assert view["type"] == "home"
    assert "Your next shifts" in text and "→" in text
    assert "Growth" in text and "primary" in text      # Laura owns Growth
    assert "Engagement" in text and "secondary" in text


def test_app_home_for_a_stranger(fake_slack, make_app, real_people_runbook):  # noqa: F811
    fake_slack.users_by_email.update(ROTATION_EMAILS)
    client = make_app(fake_slack, runbook=real_people_runbook)
    open_home(client, "U0STRANGER")
    view = fake_slack.wait_for("views.publish")[0].args["view"]
    assert "not in this team's runbook" in json.dumps(view)


def test_rate_limit_is_honoured_then_delivered_once(fake_slack, make_app):
    fake_slack.fail("views.publish", status=429, retry_after=1)
    client = make_app(fake_slack)
    open_home(client, "U0ANYONE")
    fake_slack.wait_for("views.publish", 1, timeout=10)
    attempts = [c for c in fake_slack.calls if c.method == "views.publish"]
    assert [c.status for c in attempts] == [429, 200]
    assert attempts[1].at - attempts[0].at >= 1.0  # waited for Retry-After


def test_slack_errors_are_counted_in_metrics(fake_slack, make_app):
    fake_slack.fail("views.publish", status=500, retry_after=None, times=5)
    client = make_app(fake_slack)
    open_home(client, "U0ANYONE")
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        metrics = client.get("/metrics").text
        if 'oncall_slack_api_errors_total{error="internal_error",method="views.publish"}' in metrics:
            break
        time.sleep(0.1)
    assert 'oncall_slack_api_errors_total{error="internal_error",method="views.publish"}' in metrics
    assert 'oncall_slack_api_calls_total{method="views.publish"}' in metrics
    assert 'oncall_http_requests_total{method="POST",route="/slack/events",status="200"}' in metrics
    health = client.get("/healthz").json()
    assert health["slack"]["reachable"] is False
    assert health["status"] == "degraded"


def test_healthz_reports_version_runbook_and_database(fake_slack, make_app):
    health = make_app(fake_slack).get("/healthz")
    assert health.status_code == 200
    body = health.json()
    assert body["runbook"]["loaded"] is True and body["runbook"]["pipelines"] == 5
    assert body["database"]["reachable"] is True
    assert body["version"]


def test_healthz_with_an_unreachable_database(fake_slack, make_app, tmp_path):
    (tmp_path / "gone").mkdir()
    client = make_app(fake_slack, DATABASE_URL=f"sqlite:///{tmp_path}/gone/oncall.db")
    client.runtime.store.engine.dispose()
    # A rename is atomic: background jobs that reconnect meanwhile cannot recreate the file in place.
    (tmp_path / "gone").rename(tmp_path / "moved")
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"]["reachable"] is False


def test_calendar_feed(fake_slack, make_app):
    response = make_app(fake_slack).get("/oncall.ics")
    assert response.headers["content-type"].startswith("text/calendar")
    cal = Calendar.from_ical(response.content)
    events = [c for c in cal.walk("VEVENT")]
    assert len(events) >= 12
    assert {str(e["summary"]) for e in events} >= {"On call: Danny", "On call: Anna", "On call: Laura", "On call: Jane"}


def test_socket_mode_wires_the_same_listeners():
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    from bot.config import from_env
    from bot.runbook import load
    from bot.runtime import Runtime
    from bot.slack.app import build_app
    from tests.conftest import RUNBOOK

    settings = from_env({"SLACK_BOT_TOKEN": "xoxb-x", "SLACK_APP_TOKEN": "xapp-1-x", "RUNBOOKS_PATH": str(RUNBOOK)})
    assert settings.mode == "socket"
    loaded = load(RUNBOOK)
    app = build_app(Runtime.build(settings, loaded.runbook, loaded.path))

    async def construct():
        handler = AsyncSocketModeHandler(app, settings.app_token)
        assert handler.app is app
        assert handler.client.app_token == "xapp-1-x"
        await handler.client.close()

    asyncio.run(construct())


@pytest.mark.parametrize("env, message", [
    ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET is required"),
    ({"SLACK_BOT_TOKEN": "nope"}, "must be a bot token"),
    ({"SLACK_CLIENT_ID": "1", "SLACK_CLIENT_SECRET": "2"}, "unset them"),
    ({"PORT": "http"}, "PORT must be a number"),
])
def test_bad_configuration_is_a_clear_error(env, message):
    from bot.config import ConfigError, from_env

    with pytest.raises(ConfigError, match=message):
        from_env(env)
