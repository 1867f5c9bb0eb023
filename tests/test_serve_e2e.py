"""`oncall-bot serve` as a real process, driven over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx

from tests.conftest import ROOT
from tests.slackreq import command_body, event_body, signed_headers


def test_dry_run_serves_and_prints_what_it_would_send(serve):
    served = serve(None)  # no Slack credentials at all but the signing secret of the tests
    body = command_body("/oncall")
    reply = httpx.post(served.url + "/slack/events", content=body, headers=signed_headers(body))
    assert reply.status_code == 200 and "is on call" in reply.json()["text"]
    event = event_body({"type": "app_home_opened", "user": "U0X", "tab": "home", "channel": "D1", "event_ts": "1.2"})
    assert httpx.post(served.url + "/slack/events", content=event,
                      headers=signed_headers(event, content_type="application/json")).status_code == 200
    health = httpx.get(served.url + "/healthz").json()
    assert health["slack"]["mode"] == "dry-run"
    # Nothing has reported a success yet: the SLA watch waits, and says so.
    assert health["sla_watch"]["profit"]["watched"] is False
    assert "first success report" in health["sla_watch"]["profit"]["why"]
    success = {"pipeline": "growth", "status": "succeeded"}
    assert httpx.post(served.url + "/alerts", json=success, headers={"Authorization": "Bearer alerts-secret"}).status_code == 202
    assert httpx.get(served.url + "/healthz").json()["sla_watch"]["growth"]["watched"] is True
    assert served.stop() in (0, -15)  # SIGTERM: uvicorn shuts down, then re-raises the signal
    assert "stopped cleanly" in served.stderr()
    printed = [json.loads(line) for line in served.stdout().splitlines() if line.startswith("{")]
    assert any(p["method"] == "views.publish" and p["args"]["user_id"] == "U0X" for p in printed)
    assert "dry-run" in served.stderr()


def test_without_alerts_token_only_loopback_may_post_and_start_up_says_so(serve):
    served = serve(None, ALERTS_TOKEN="")
    response = httpx.post(served.url + "/alerts", json={"pipeline": "growth", "status": "failed"})
    assert response.status_code == 202  # the test client is on 127.0.0.1
    assert "no ALERTS_TOKEN" in served.stderr()


def test_serve_without_any_credentials_starts(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env |= {"PORT": "0", "RUNBOOKS_PATH": str(ROOT / "runbooks.yaml"), "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    proc = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1"], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stderr:
            if "ready" in line:
                break
        assert "dry-run mode" in line
    finally:
        proc.terminate()
        proc.wait(10)


def run_serve(tmp_path, **env):
    full = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")} | env
    return subprocess.run([sys.executable, "-m", "bot", "serve"], env=full, cwd=tmp_path, capture_output=True,
                          text=True, timeout=30)


def test_live_mode_without_signing_secret_stops_with_a_message(tmp_path):
    result = run_serve(tmp_path, SLACK_BOT_TOKEN="xoxb-1", RUNBOOKS_PATH=str(ROOT / "runbooks.yaml"))
    assert result.returncode == 2
    assert "SLACK_SIGNING_SECRET is required" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_runbook_stops_with_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / "runbooks.yaml").read_text().replace("primary: Laura", "primary: Lora"))
    result = run_serve(tmp_path, RUNBOOKS_PATH=str(bad))
    assert result.returncode == 1
    assert "unknown person 'Lora'" in result.stderr and "did you mean 'Laura'?" in result.stderr
    assert f"{bad}:" in result.stderr
    assert "Traceback" not in result.stderr


def test_live_mode_reaches_the_fake_slack(serve, fake_slack):
    served = serve(fake_slack)
    event = event_body({"type": "app_home_opened", "user": "U0Y", "tab": "home", "channel": "D1", "event_ts": "1.2"})
    httpx.post(served.url + "/slack/events", content=event, headers=signed_headers(event, content_type="application/json"))
    call = fake_slack.wait_for("views.publish")[0]
    assert call.headers.get("Authorization") == "Bearer xoxb-test"
    assert fake_slack.of("auth.test")  # Bolt authorised the request once against our API URL


def test_unreachable_database_stops_start_up_with_a_message(tmp_path):
    result = run_serve(tmp_path, RUNBOOKS_PATH=str(ROOT / "runbooks.yaml"),
                       DATABASE_URL="postgresql://nobody@127.0.0.1:1/none")
    assert result.returncode == 3
    assert "cannot open the database" in result.stderr
    assert "Traceback" not in result.stderr


def test_socket_mode_with_slack_unreachable_still_serves_and_stops(serve):
    # Slack's API is down at start: the WebSocket keeps retrying in the background meanwhile.
    served = serve(None, SLACK_BOT_TOKEN="xoxb-test", SLACK_APP_TOKEN="xapp-1-test",
                   SLACK_API_URL="http://127.0.0.1:9/api/")
    health = httpx.get(served.url + "/healthz", timeout=5).json()
    assert health["slack"]["mode"] == "socket"
    alert = httpx.post(served.url + "/alerts", headers={"Authorization": "Bearer alerts-secret"},
                       json={"pipeline": "growth", "status": "failed"}, timeout=5)
    assert alert.status_code == 202
    assert served.stop() in (0, -15)  # SIGTERM is honoured, not lost in the connect loop
    assert "stopped cleanly" in served.stderr()
