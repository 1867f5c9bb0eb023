"""An incident's whole story for a post-mortem: `oncall-bot incident ID` and the *Timeline* button.

Seeded through the app in process (alerts, the incident clock, signed button presses and a form, the
fake Slack answering the deliveries), then read back from the store as the CLI and as Slack show it."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta

import pytest

from bot.jobs import incident_clocks
from tests.conftest import RUNBOOK, ShiftedClock
from tests.helpers_runbook import BERLIN, run_cli_here
from tests.slackreq import action_body, signed_headers, view_submission_body

AUTH = {"Authorization": "Bearer alerts-secret"}
NPE = "org.apache.spark.SparkException: Job aborted\nCaused by: java.lang.NullPointerException"
RUN = "scheduled__2026-12-01T01:00"
NIGHT = datetime(2026, 12, 1, 2, 30, tzinfo=UTC)  # Tuesday 02:30 UTC: Danny is on call, Growth pages
IDS = {"Danny": "U0DANNY", "Anna": "U0ANNA", "Laura": "U0LAURA", "Jane": "U0JANE"}


@pytest.fixture
def team_runbook(tmp_path):
    """The source runbook, its people known to Slack by id (as `slack_id` in the runbook)."""
    text = RUNBOOK.read_text()
    for name, user_id in IDS.items():
        text = text.replace(f"{{email: {name.lower()}@example.com, placeholder: true}}", f"{{slack_id: {user_id}}}")
    path = tmp_path / "runbooks.yaml"
    path.write_text(text)
    return path


@pytest.fixture
def bot(tmp_path, fake_slack, make_app, team_runbook, monkeypatch):
    monkeypatch.setattr("bot.slack.delivery.CHANNEL_INTERVAL", 0)  # pacing has its own tests
    url = f"sqlite:///{tmp_path / 'oncall.db'}"
    client = make_app(fake_slack, runbook=team_runbook, DATABASE_URL=url)
    client.clock = client.runtime.clock = ShiftedClock(NIGHT)
    client.fake, client.url, client.runbook_path = fake_slack, url, team_runbook
    monkeypatch.setenv("DATABASE_URL", url)  # where `oncall-bot incident` reads
    monkeypatch.delenv("RUNBOOKS_PATH", raising=False)
    return client


def alert(bot, **fields) -> dict:
    response = bot.post("/alerts", json={"pipeline": "growth", "status": "failed", **fields}, headers=AUTH)
    assert response.status_code == 202, response.text
    return response.json()


def press(bot, action_id: str, incident: int, user: str) -> None:
    body = action_body(action_id, str(incident), user_id=user, response_url=bot.fake.url + "response")
    assert bot.post("/slack/events", content=body, headers=signed_headers(body)).status_code == 200


def settle(app) -> None:
    """Until the incidents' deliveries so far are recorded: a clock moved after that keeps their times."""
    from bot.store import outbox as box

    deadline = time.monotonic() + 10
    while [r for r in box.items(app.runtime.store, state="pending") if r.incident_id is not None]:
        assert time.monotonic() < deadline, "deliveries still pending"
        time.sleep(0.02)


def at(bot, hour: int, minute: int) -> None:
    settle(bot)
    bot.clock.set(NIGHT.replace(hour=hour, minute=minute))


def posted(bot, wanted, count: int = 1) -> list:
    return bot.fake.wait_for("chat.postMessage", count, wanted=lambda c: wanted(c.texts()))


def cli(bot, *args: str):
    return run_cli_here("--runbook", str(bot.runbook_path), "incident", *args)


def seed_growth_night(bot) -> int:
    """Growth fails at 02:30 and pages Danny; two repeats; nobody acknowledges, so at 03:01 the clock
    escalates (Laura is paged); Laura acknowledges at 03:05; the run succeeds at 04:35, after its 04:00
    data-ready time; Laura writes what fixed it."""
    incident = alert(bot, error=NPE, run_id=RUN)["incident"]
    posted(bot, lambda t: "Growth failed" in t)
    bot.fake.wait_for("chat.postMessage", wanted=lambda c: c.args["channel"] == "DU0DANNY")
    at(bot, 2, 40)
    alert(bot, error=NPE, run_id=RUN)
    posted(bot, lambda t: "Seen again" in t)
    at(bot, 2, 50)
    alert(bot, error=NPE, run_id=RUN)
    posted(bot, lambda t: "Seen again: 3 alerts" in t)
    at(bot, 3, 1)
    bot.portal.call(incident_clocks, bot.runtime)
    posted(bot, lambda t: "Escalated" in t)
    bot.fake.wait_for("chat.postMessage", wanted=lambda c: c.args["channel"] == "DU0LAURA")
    at(bot, 3, 5)
    press(bot, "incident_ack", incident, IDS["Laura"])
    bot.fake.wait_for("chat.update", wanted=lambda c: "Acknowledged by <@U0LAURA>" in c.texts())
    at(bot, 4, 35)
    alert(bot, status="succeeded", run_id=RUN, occurred_at="2026-12-01T04:35:00Z")
    posted(bot, lambda t: "Resolved: the pipeline reported success" in t)
    at(bot, 4, 50)
    values = {"fix": {"fix": {"type": "plain_text_input", "value": "Customercare renamed a column; "
                                                                   "mapped it and reran the load."}},
              "remediation": {"remediation": {"type": "radio_buttons", "selected_option": {"value": "right"}}},
              "category": {"category": {"type": "static_select", "selected_option": {"value": "upstream data"}}}}
    body = view_submission_body("resolution_note", values, user_id=IDS["Laura"], private_metadata=str(incident))
    assert bot.post("/slack/events", content=body, headers=signed_headers(body)).status_code == 200
    posted(bot, lambda t: "Resolution note" in t)
    bot.fake.wait_for("chat.update", wanted=lambda c: "What fixed it" in c.texts())
    return incident


EXPECTED = [
    ("alert", "Tue 01 Dec 02:30 UTC"),
    ("page", "Tue 01 Dec 02:30 UTC"),     # Danny, woken by direct message
    ("post", "Tue 01 Dec 02:30 UTC"),     # the alert in #data-alerts
    ("repeat", "Tue 01 Dec 02:40 UTC"),
    ("post", "Tue 01 Dec 02:40 UTC"),     # "seen again"
    ("repeat", "Tue 01 Dec 02:50 UTC"),
    ("post", "Tue 01 Dec 02:50 UTC"),     # "seen again", the count said once more
    ("escalate", "Tue 01 Dec 03:01 UTC"),
    ("page", "Tue 01 Dec 03:01 UTC"),     # Laura, the escalation's step
    ("post", "Tue 01 Dec 03:01 UTC"),     # the escalation in the thread
    ("ack", "Tue 01 Dec 03:05 UTC"),
    ("sla", "Tue 01 Dec 04:00 UTC"),      # missed: the data came at 04:35
    ("resolve", "Tue 01 Dec 04:35 UTC"),
    ("post", "Tue 01 Dec 04:35 UTC"),     # "resolved" in the thread
    ("note", "Tue 01 Dec 04:50 UTC"),
    ("post", "Tue 01 Dec 04:50 UTC"),     # the note in the thread
    ("fix_deadline", "Wed 02 Dec 00:00 UTC"),
]


def test_a_growth_night_reads_back_as_one_story_in_json_markdown_and_slack(bot):
    incident = seed_growth_night(bot)

    done = cli(bot, str(incident), "--json")
    assert done.returncode == 0, done.stderr
    story = json.loads(done.stdout)
    entries = story["entries"]
    assert [(e["kind"], e["local"]) for e in entries] == EXPECTED
    assert all(e["at"].endswith("Z") for e in entries)
    assert entries[0]["at"].startswith("2026-12-01T02:30") and entries[-1]["at"] == "2026-12-02T00:00:00Z"
    first, danny, *_, escalation, laura = entries[:9]
    assert first["text"] == f"First alert from the alert webhook, run {RUN}. Policy: page: Danny."
    assert (danny["person"], danny["page"], danny["outcome"]) == ("Danny", "open", "sent")
    assert (laura["person"], laura["page"], laura["outcome"]) == ("Laura", "escalation", "sent")
    assert escalation["level"] == 2 and escalation["people"] == ["Laura"] and escalation["by"] == "bot"
    assert escalation["text"].startswith("Escalated to level 2 by the clock (nobody acknowledged in time): Laura")
    by_kind = {e["kind"]: e for e in entries}
    assert by_kind["ack"]["text"] == "Acknowledged by Laura"  # the runbook's name for U0LAURA
    assert by_kind["resolve"]["text"] == f"Resolved: success reported by the alert webhook, run {RUN}"
    assert by_kind["sla"]["text"] == "Data-ready deadline (SLA): missed by 35m" and by_kind["sla"]["outcome"] == "missed"
    assert by_kind["fix_deadline"]["text"] == "Fix deadline: fixed in time (19h25m to spare)"
    assert by_kind["note"]["text"] == ("Resolution note by Laura: Customercare renamed a column; mapped it and reran "
                                       "the load. (the suggested remediation was right; cause: upstream data)")
    assert [e["post"] for e in entries if e["kind"] == "post"] == ["open", "repeat", "repeat", "escalate", "resolve",
                                                                       "note"]
    # Nothing alike was found, so no "seen before" reply was posted: it is not in the story.
    assert "seen_before" not in {e.get("post") for e in entries}
    summary = story["incident"]
    assert summary | {"error": None} == summary | {
        "id": incident, "pipeline": "growth", "name": "Growth", "status": "resolved", "run_id": RUN, "alert_count": 3,
        "likely_cause": "Spark task fails with NullPointerException", "error": None,
        "opened_at": summary["opened_at"], "resolved_at": "2026-12-01T04:35:00Z",
        "data_ready_by": "2026-12-01T04:00:00Z", "fix_by": "2026-12-02T00:00:00Z", "escalation_level": 2,
        "timezone": "UTC", "sla": {"outcome": "missed", "text": "missed by 35m"},
        "fix_deadline": {"outcome": "in_time", "text": "fixed in time (19h25m to spare)"}}

    markdown = cli(bot, str(incident), "--markdown")
    assert markdown.returncode == 0, markdown.stderr
    lines = markdown.stdout.splitlines()
    assert lines[0] == f"## Incident {incident}: Growth"
    for line in ("- **Status:** resolved", f"- **Run:** {RUN}",
                 "- **Data ready by:** Tue 01 Dec 04:00 UTC: missed by 35m",
                 "- **Fix by:** Wed 02 Dec 00:00 UTC: fixed in time (19h25m to spare)",
                 "### Timeline (UTC)",
                 f"- **Tue 01 Dec 02:30 UTC** First alert from the alert webhook, run {RUN}. Policy: page: Danny.",
                 "- **Tue 01 Dec 03:05 UTC** Acknowledged by Laura",
                 "- **Tue 01 Dec 04:00 UTC** Data-ready deadline (SLA): missed by 35m",
                 "- **Wed 02 Dec 00:00 UTC** Fix deadline: fixed in time (19h25m to spare)"):
        assert line in lines, (line, markdown.stdout)
    text = cli(bot, str(incident))
    assert text.returncode == 0 and "Tue 01 Dec 03:05 UTC  Acknowledged by Laura" in text.stdout

    # The resolved message offers the Timeline; pressing it answers the presser alone, with the same story.
    final = bot.fake.wait_for("chat.update", wanted=lambda c: "What fixed it" in c.texts())[-1]
    buttons = [e for b in final.args["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [(b["action_id"], b.get("value")) for b in buttons] == [("incident_timeline", str(incident))]
    press(bot, "incident_timeline", incident, IDS["Anna"])
    answer = bot.fake.wait_for("response")[-1].args
    assert answer["response_type"] == "ephemeral" and answer["replace_original"] is False
    assert answer["text"].startswith(f"Timeline of incident {incident} (Growth): {len(EXPECTED)} entries")
    shown = "\n".join(b["text"]["text"] for b in answer["blocks"] if b["type"] == "section")
    times = re.findall(r"^\*(\w{3} \d\d \w{3} \d\d:\d\d UTC)\* · ", shown, re.MULTILINE)
    assert times == [local for _, local in EXPECTED]
    assert "Acknowledged by <@U0LAURA>" in shown  # a mention is harmless in an ephemeral answer
    listed = "\n".join(b["text"]["text"] for b in answer["blocks"][1:] if b["type"] == "section")  # after the head
    said = re.findall(r"^\*[^*]+\* · (.*)$", listed, re.MULTILINE)
    names = {f"<@{user_id}>": name for name, user_id in IDS.items()}
    assert [re.sub(r"<@\w+>", lambda m: names[m[0]], line) for line in said] == [e["text"] for e in entries]
    assert "Data ready by Tue 01 Dec 04:00 UTC: missed by 35m" in shown
    assert "oncall-bot incident" in answer["blocks"][-1]["elements"][0]["text"]
    assert all("Timeline of incident" not in c.texts() for c in bot.fake.of("chat.postMessage"))  # nothing posted


def test_unknown_ids_and_a_missing_store_are_usage_errors(bot, monkeypatch):
    alert(bot, error=NPE, run_id=RUN)
    done = cli(bot, "999")
    assert done.returncode == 2 and "no incident 999" in done.stderr
    monkeypatch.delenv("DATABASE_URL")
    done = cli(bot, "1", "--json")
    assert done.returncode == 2 and "DATABASE_URL" in done.stderr
    monkeypatch.setenv("DATABASE_URL", bot.url.replace("oncall.db", "nowhere.db"))
    done = cli(bot, "1")
    assert done.returncode == 2 and "no database" in done.stderr


def test_an_open_incident_says_its_deadlines_passed_and_who_is_shown_by_id(bot):
    """Acknowledged by someone the runbook does not know: the id, not a guess."""
    incident = alert(bot, error=NPE, run_id=RUN)["incident"]
    posted(bot, lambda t: "Growth failed" in t)
    press(bot, "incident_ack", incident, "U0STRANGER")
    bot.fake.wait_for("chat.update", wanted=lambda c: "Acknowledged" in c.texts())
    entries = json.loads(cli(bot, str(incident), "--json").stdout)["entries"]
    ack = next(e for e in entries if e["kind"] == "ack")
    assert ack["text"] == "Acknowledged by U0STRANGER"
    # The parent of an open incident has no Timeline: its story is not over.
    parent = posted(bot, lambda t: "Growth failed" in t)[0]
    assert "incident_timeline" not in json.dumps(parent.args["blocks"])


def test_a_long_storm_of_repeats_is_collapsed(bot):
    incident = alert(bot, error=NPE, run_id=RUN)["incident"]
    for minute in range(31, 47):  # 16 repeats, one a minute
        at(bot, 2, minute)
        alert(bot, error=NPE, run_id=RUN)
    entries = json.loads(cli(bot, str(incident), "--json").stdout)["entries"]
    repeats = [e for e in entries if e["kind"] in ("repeat", "repeats")]
    assert [e["kind"] for e in repeats] == ["repeat", "repeat", "repeat", "repeats"]
    assert repeats[-1]["text"] == "13 more alerts until 02:46 UTC" and repeats[-1]["count"] == 13
    assert repeats[-1]["at"].startswith("2026-12-01T02:34")


def test_a_berlin_team_reads_its_times_in_cet_and_cest_with_utc_beside(tmp_path, fake_slack, make_app, monkeypatch):
    path = tmp_path / "berlin.yaml"
    path.write_text(BERLIN)
    url = f"sqlite:///{tmp_path / 'oncall.db'}"
    app = make_app(fake_slack, runbook=path, DATABASE_URL=url)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("RUNBOOKS_PATH", raising=False)
    # Orders runs at 02:30 UTC: it fails at 03:31 in Berlin in winter, and again on a summer night.
    app.clock = app.runtime.clock = ShiftedClock(datetime(2026, 12, 1, 2, 31, tzinfo=UTC))
    winter = app.post("/alerts", json={"pipeline": "orders", "status": "failed", "error": "boom"},
                      headers=AUTH).json()["incident"]
    settle(app)
    app.clock.set(datetime(2026, 12, 1, 3, 10, tzinfo=UTC))
    app.post("/alerts", json={"pipeline": "orders", "status": "succeeded"}, headers=AUTH)
    settle(app)
    app.clock.set(datetime(2027, 6, 1, 2, 31, tzinfo=UTC))
    summer = app.post("/alerts", json={"pipeline": "orders", "status": "failed", "error": "boom"},
                      headers=AUTH).json()["incident"]
    settle(app)

    def entries(incident: int) -> dict[str, dict]:
        done = run_cli_here("--runbook", str(path), "incident", str(incident), "--json")
        assert done.returncode == 0, done.stderr
        return {e["kind"]: e for e in json.loads(done.stdout)["entries"]}

    first = entries(winter)["alert"]
    assert first["local"] == "Tue 01 Dec 03:31 CET" and first["at"].startswith("2026-12-01T02:31:00")
    assert first["text"] == "First alert from the alert webhook. Policy: page: Soeren."
    assert entries(winter)["resolve"]["local"] == "Tue 01 Dec 04:10 CET"
    assert entries(summer)["alert"]["local"] == "Tue 01 Jun 04:31 CEST"
    text = run_cli_here("--runbook", str(path), "incident", str(winter)).stdout.splitlines()
    for line in ("  Data ready by: Tue 01 Dec 06:00 CET (05:00 UTC): met (1h50m to spare)",
                 "Tue 01 Dec 03:31 CET (02:31 UTC)  First alert from the alert webhook. Policy: page: Soeren.",
                 "Tue 01 Dec 04:10 CET (03:10 UTC)  Resolved: success reported by the alert webhook",
                 "Wed 02 Dec 01:00 CET (00:00 UTC)  Fix deadline: fixed in time (20h50m to spare)"):
        assert line in text, (line, text)
    markdown = run_cli_here("--runbook", str(path), "incident", str(summer), "--markdown").stdout.splitlines()
    assert "### Timeline (Europe/Berlin, with UTC)" in markdown
    assert "- **Tue 01 Jun 04:31 CEST (02:31 UTC)** First alert from the alert webhook. Policy: page: Felix." \
        in markdown


def test_times_name_the_utc_day_when_it_is_not_the_local_one():
    from zoneinfo import ZoneInfo

    from bot.domain.timeline import when

    berlin = ZoneInfo("Europe/Berlin")
    assert when(datetime(2026, 12, 1, 23, 30, tzinfo=UTC), berlin) == "Wed 02 Dec 00:30 CET (Tue 23:30 UTC)"
    assert when(datetime(2027, 6, 1, 1, 31, tzinfo=UTC), berlin) == "Tue 01 Jun 03:31 CEST (01:31 UTC)"
    assert when(datetime(2026, 12, 1, 1, 31, tzinfo=UTC), ZoneInfo("UTC")) == "Tue 01 Dec 01:31 UTC"


def _record(**fields):
    from types import SimpleNamespace

    return SimpleNamespace(**fields)


def _incident(**fields):
    base = {"id": 7, "pipeline": "growth", "pipeline_raw": "growth", "known": True, "status": "resolved",
            "run_id": None, "opened_at": NIGHT, "acknowledged_at": None, "acknowledged_by": None,
            "resolved_at": NIGHT + timedelta(hours=1), "resolved_by": "U0ANNA", "sla_met": None,
            "data_ready_by": None, "fix_by": None, "folded_into": None, "root_id": None, "alert_count": 1}
    return _record(**(base | fields))


def test_the_slack_answer_escapes_stored_text_and_stays_within_slacks_limits():
    """A hostile run id and note are escaped; a story of thousands of entries is cut to 50 blocks of at
    most 3,000 characters, saying how many entries were left out."""
    from bot.domain.timeline import build
    from bot.slack.replies.timeline import timeline_message, user
    from bot.slack.text import escape
    from tests.helpers_runbook import source

    rb = source()
    evil = "<!channel> <https://evil.example|logs>"
    events = [_record(id=n, received_at=NIGHT + timedelta(seconds=n), occurred_at=NIGHT, source="generic",
                      status="failed", run_id=evil) for n in range(3)]
    note = _record(at=NIGHT + timedelta(hours=2), fix=f"{evil} @here reran", remediation="none", category=None,
                   by_user="U0ANNA", by_name=None)
    timeline = build(_incident(acknowledged_at=NIGHT + timedelta(minutes=5), acknowledged_by="U0LAURA"), events,
                     [], [], note, rb.tz, user=user, quote=escape)
    blocks = timeline_message(rb, timeline).payload()["blocks"]
    shown = json.dumps(blocks)
    assert "<!channel>" not in shown and "<https://evil" not in shown and "&lt;!channel&gt;" in shown
    assert "@here" not in shown
    assert "Acknowledged by <@U0LAURA>" in shown and "Resolved by <@U0ANNA>" in shown

    pages = [_record(id=n, kind="page", actor="bot", at=NIGHT + timedelta(seconds=n),
                     detail={"person": "Danny", "kind": "escalation", "reason": "x" * 300}) for n in range(3000)]
    long = build(_incident(), [], pages, [], None, rb.tz, user=user, quote=escape)
    msg = timeline_message(rb, long)
    payload = msg.payload()
    assert len(payload["blocks"]) <= 50 and len(payload["text"]) <= 3900
    assert all(len(b["text"]["text"]) <= 3000 for b in payload["blocks"] if b["type"] == "section")
    said = payload["blocks"][-1]["elements"][0]["text"]
    left = int(re.match(r"(\d+) later entries left out", said)[1])
    shown_lines = sum(len(b["text"]["text"].splitlines()) for b in payload["blocks"][1:-1])
    assert left > 0 and shown_lines + left == len(long.entries) == 3002  # the pages, the opening, the resolution


def test_the_story_says_folds_holds_deferred_pings_and_page_outcomes():
    """Every kind of action a story can hold, with the page rows' outcomes and the posts that said nothing left out."""
    from zoneinfo import ZoneInfo

    from bot.domain.timeline import build

    at = [NIGHT + timedelta(minutes=n) for n in range(10)]
    actions = [
        _record(id=1, kind="open", actor="alert", at=at[0], detail={"mode": "deferred", "people": ["Danny", "Jane"]}),
        _record(id=2, kind="folded_under", actor="bot", at=at[0], detail={"root": 3, "upstream": "profit"}),
        _record(id=3, kind="held", actor="bot", at=at[1], detail={"kind": "sla_breach",
                                                                  "until": "2026-12-01T09:00:00+00:00"}),
        _record(id=4, kind="unfolded", actor="alert", at=at[2], detail={"root": 3, "mode": "page", "people": ["Danny"]}),
        _record(id=5, kind="page", actor="bot", at=at[2], detail={"person": "Danny", "kind": "open", "reason": "r"}),
        _record(id=6, kind="page_folded", actor="bot", at=at[2], detail={"person": "Jane", "kind": "open"}),
        _record(id=7, kind="deferred_ping", actor="bot", at=at[3],
                detail={"people": ["Danny"], "how": "notify", "meanwhile": [{"kind": "sla_breach"}]}),
        _record(id=8, kind="page", actor="bot", at=at[4], detail={"person": "Jane", "kind": "escalation"}),
        _record(id=9, kind="escalate", actor="U0ANNA", at=at[4], detail={"level": 3, "people": [], "how": "none"}),
        _record(id=10, kind="resolve", actor="U0ANNA", at=at[6], detail={"via": "root"}),
    ]
    row = {"state": "sent", "channel": "#a", "args": {}, "created_at": at[0]}
    posts = [
        _record(id=1, kind="page", sent_at=at[2], result={"undeliverable": "no Slack user for Danny"},
                **row | {"args": {"person": "Danny", "kind": "open"}, "created_at": at[2]}),
        _record(id=2, kind="page", sent_at=at[5], result={"not_needed": "resolved"},
                **row | {"args": {"person": "Jane", "kind": "escalation"}, "created_at": at[4]}),
        _record(id=3, kind="seen_before", sent_at=at[1], result={"nothing_alike": True}, **row),
        _record(id=4, kind="repeat", sent_at=at[1], result=None, **row),
        _record(id=5, kind="open", sent_at=at[0], result={"channel": "C1", "ts": "1.2", "folded_under": 3}, **row),
        _record(id=6, kind="deferred_ping", sent_at=at[3], result={"channel": "C1", "ts": "1.3"}, **row),
    ]
    incident = _incident(status="resolved", resolved_at=at[6], resolved_by="U0ANNA", root_id=3,
                         data_ready_by=at[5], sla_met=None, fix_by=at[5])
    events = [_record(id=1, received_at=at[0], occurred_at=at[0] - timedelta(minutes=20), source="openlineage",
                      status="failed", run_id="r1")]
    timeline = build(incident, events, actions, posts, None, ZoneInfo("UTC"), user={"U0ANNA": "Anna"}.get)
    said = [(e.kind, e.text) for e in timeline.entries]
    assert said == [
        ("alert", "First alert from OpenLineage, run r1 (occurred 20m before). Policy: deferred: Danny, Jane."),
        ("folded_under", "Folded under incident 3 (profit): said in its thread, nobody paged"),
        ("post", "Posted in the thread of incident 3"),
        ("held", "Held (SLA missed) until Tue 01 Dec 09:00 UTC: its people may not be told now"),
        ("unfolded", ("Unfolded: still failing after incident 3 was resolved, now an incident of its own. "
                      "Policy: page: Danny.")),
        ("page", "Paged Danny, undeliverable: Slack does not know them: r"),
        ("page_folded", "Jane not paged again: already paged about another open incident of the pipeline"),
        ("deferred_ping", "Deferred ping: Danny told (notify), with 1 thing(s) that happened meanwhile"),
        ("post", "Thread reply: its people told, with what happened meanwhile"),
        ("escalate", "Escalated to level 3 by Anna: everyone in the chain had been told, nobody else called"),
        ("page", "Paged Jane (escalation), not needed: resolved before it went out"),
        ("sla", "Data-ready deadline (SLA): unknown: resolved without a success report"),
        ("fix_deadline", "Fix deadline: fixed late by 1m"),
        ("resolve", "Resolved by Anna with its upstream incident 3"),
    ]
    assert [e.detail.get("outcome") for e in timeline.entries if e.kind == "page"] == ["undeliverable", "not_needed"]
    assert (timeline.sla.state, timeline.fix.state) == ("unknown", "late")
