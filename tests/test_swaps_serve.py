"""Cover requests and overrides against `oncall-bot serve` as a real process: signed slash commands,
a modal submission and button clicks over HTTP, the fake Slack on the other side, the real clock.

Who asks is whoever is on call next week, so the test holds on any date it runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import httpx

from bot.domain.answers import oncall_now
from bot.runbook import load
from tests.conftest import ROOT
from tests.slackreq import action_body, command_body, signed_headers, view_submission_body
from tests.slackreq import ROTATION_EMAILS


def user_id(person: str) -> str:
    return ROTATION_EMAILS[f"{person.lower()}@team.test"]


def test_cover_requests_and_overrides_against_serve(serve, fake_slack, real_people_runbook, tmp_path):  # noqa: F811
    fake_slack.users_by_email.update(ROTATION_EMAILS)
    database_url = f"sqlite:///{tmp_path / 'swaps.db'}"
    served = serve(fake_slack, RUNBOOKS_PATH=str(real_people_runbook), DATABASE_URL=database_url)

    runbook = load(real_people_runbook).runbook
    upcoming = oncall_now(runbook, datetime.now(UTC), ()).next  # a whole future shift, whatever today is
    asker, taker = upcoming.person, next(p for p in runbook.rotations[runbook.default_rotation].members
                                         if p != upcoming.person)
    day = (upcoming.start.astimezone(runbook.tz) + timedelta(days=1)).date()

    def post(body: str) -> httpx.Response:
        response = httpx.post(served.url + "/slack/events", content=body, headers=signed_headers(body), timeout=10)
        assert response.status_code == 200, response.text
        return response

    def slash(text: str, person: str) -> dict:
        response = post(command_body("/oncall", text, user_id=user_id(person)))
        return response.json() if response.content else {}

    def click(action_id: str, value: int, person: str) -> None:
        post(action_body(action_id, str(value), user_id=user_id(person), channel="C0ONCALL",
                         response_url=fake_slack.url + "response"))

    def request_ids() -> list[int]:
        found = []
        for call in fake_slack.of("chat.postMessage"):
            for block in call.args.get("blocks") or []:
                for element in block.get("elements", []) if isinstance(block, dict) else []:
                    if isinstance(element, dict) and element.get("action_id") == "swap_accept":
                        found.append(int(element["value"]))
        return found

    # Inline span: the request is posted in the on-call channel with an Accept button.
    reply = slash(f"swap {day.isoformat()} school play <!channel>", asker)
    assert "posted" in reply["text"], reply
    posted = fake_slack.wait_for("chat.postMessage", wanted=lambda c: "Cover request" in c.texts(), timeout=20)[0]
    assert posted.args["channel"] == runbook.team.channels.oncall
    assert "&lt;!channel&gt;" in posted.texts() and "<!channel>" not in posted.texts()
    swap_id = request_ids()[0]

    # The asker cannot take their own; the teammate can, and everyone is told once.
    click("swap_accept", swap_id, asker)
    assert any("cannot take it" in c.args.get("text", "") for c in fake_slack.wait_for("response"))
    click("swap_accept", swap_id, taker)
    fake_slack.wait_for("chat.update", wanted=lambda c: "has accepted" in c.texts(), timeout=20)
    dms = fake_slack.wait_for("chat.postMessage", 2, wanted=lambda c: "your on-call time changed" in c.texts(), timeout=20)
    assert sorted(c.args["channel"] for c in dms) == sorted(["D" + user_id(asker), "D" + user_id(taker)])

    # Every surface reads the store: the served calendar and the CLI's `who`.
    ics = httpx.get(served.url + "/oncall.ics").text
    assert f"On call: {taker} (covering {asker})" in ics
    noon = datetime.combine(day, datetime.min.time().replace(hour=12), runbook.tz).astimezone(UTC)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")} | {"DATABASE_URL": database_url}
    done = subprocess.run([sys.executable, "-m", "bot", "--runbook", str(real_people_runbook), "who", "--json",
                           "--at", noon.isoformat()], capture_output=True, text=True, cwd=ROOT, env=env)
    who = json.loads(done.stdout)
    assert (who["oncall"]["person"], who["oncall"]["covering"]) == (taker, asker)

    # The modal: `/oncall swap` opens it; its submission posts a partial-day request; the asker cancels it.
    assert slash("swap", asker) == {}
    view = fake_slack.wait_for("views.open")[0].args["view"]
    view = json.loads(view) if isinstance(view, str) else view
    later = day + timedelta(days=1)
    values = {"start_date": {"date": {"type": "datepicker", "selected_date": later.isoformat()}},
              "start_time": {"time": {"type": "timepicker", "selected_time": "13:00"}},
              "end_date": {"date": {"type": "datepicker", "selected_date": later.isoformat()}},
              "end_time": {"time": {"type": "timepicker", "selected_time": "17:00"}},
              "note": {"note": {"type": "plain_text_input", "value": "afternoon off"}}}
    submitted = post(view_submission_body("swap_request", values, user_id=user_id(asker),
                                          private_metadata=view["private_metadata"]))
    assert not submitted.content or submitted.json() == {}
    fake_slack.wait_for("chat.postMessage", 2, wanted=lambda c: "Cover request" in c.texts(), timeout=20)
    second = max(request_ids())
    click("swap_cancel", second, taker)   # only the asker may cancel
    click("swap_cancel", second, asker)
    fake_slack.wait_for("chat.update", wanted=lambda c: f"Cancelled by <@{user_id(asker)}>" in c.texts(), timeout=20)

    # Overrides: refused for a member who is neither admin nor on call then; made by the admin.
    admin = runbook.team.admins[0]
    other = next(p for p in runbook.rotations[runbook.default_rotation].members if p not in (admin, asker))
    thursday = (day + timedelta(days=2)).isoformat()
    span = f"{thursday}T09:00 {thursday}T12:00"
    assert "Only admins" in slash(f"override <@{user_id(admin)}|x> {span}", other)["text"]
    assert "Override #" in slash(f"override <@{user_id(other)}|x> {span}", admin)["text"]
    listing = slash("overrides", admin)
    assert any(b.get("accessory", {}).get("action_id") == "override_cancel" for b in listing["blocks"])

    audit = json.loads(subprocess.run([sys.executable, "-m", "bot", "overrides", "--json"], capture_output=True,
                                      text=True, cwd=ROOT, env=env).stdout)
    states = {r["id"]: (r["state"], r["requester"]) for r in audit["swap_requests"]}
    assert states == {swap_id: ("accepted", asker), second: ("cancelled", asker)}
    assert [(o["person"], o["created_by"]) for o in audit["overrides"]] == [(taker, user_id(taker)),
                                                                           (other, user_id(admin))]
