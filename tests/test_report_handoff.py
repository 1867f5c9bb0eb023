"""How last week went, in the weekly handoff: a compact section from the store at the handoff instant,
and the four-week picture (matplotlib, the `charts` extra) uploaded into the handoff's thread through
files.getUploadURLExternal, the upload and files.completeUploadExternal; GET /report.png for wikis.

The store is filled through the bot's own surfaces: alerts posted with `occurred_at` while a shifted
clock stands at that instant (failures, late and missing success reports over four weeks), pages
delivered to the fake Slack; the scheduled pass runs at the handoff instant. The background scheduler
is off, so that only the test's passes run, each at the test's clock.
"""

from __future__ import annotations

import io
import json
import struct
import time
from datetime import UTC, datetime, timedelta

import pytest
from starlette.testclient import TestClient

from bot import report_chart
from bot.domain.report import LATE, MISSED, NO_RUN, ON_TIME
from bot.domain.timeutil import iso
from bot.jobs import scheduled_messages
from bot.store import outbox
from bot.store.pass_reads import delivered
from tests.conftest import ShiftedClock
from tests.helpers_runbook import BERLIN
from tests.slackreq import ROTATION_EMAILS

AUTH = {"Authorization": "Bearer alerts-secret"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
INSTALLED = pytest.mark.skipif(not report_chart.available(), reason="the charts extra (matplotlib) is not installed")
HINT = "The weekly picture of data-ready times needs matplotlib: `pip install 'oncall-bot[charts]'`"
FOLLOWS = "_The weekly picture (4 weeks of data-ready times per pipeline) follows in the thread._"


def utc(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


# The source runbook: weekly shifts from Monday 2 November 09:00 UTC (Danny, Anna, Laura, Jane, ...).
START = utc(11, 19, 12)      # the bot's first pass
HANDOFF = utc(12, 14, 9)     # Monday: Anna hands over to Laura; last week is [7 Dec 09:00, 14 Dec 09:00)


@pytest.fixture(autouse=True)
def passes_by_hand(monkeypatch):
    """No background scheduler: the test's passes, at the test's clock, are the only ones."""
    monkeypatch.setattr("bot.jobs.add_jobs", lambda scheduler, rt: None)


def start_bot(make_app, fake_slack, at: datetime, **env):
    bot = make_app(fake_slack, **env)
    bot.clock = bot.runtime.clock = ShiftedClock(at)
    bot.portal.call(scheduled_messages, bot.runtime)  # the first pass: the bot watches from here
    settle(bot)
    return bot


def settle(bot, timeout: float = 15) -> None:
    """Until the delivery worker has sent every row due now (a page is counted when it was sent)."""
    deadline = time.monotonic() + timeout
    while True:
        now = bot.runtime.clock()
        waiting = [(r.id, r.kind, r.last_error) for r in outbox.items(bot.runtime.store, state="pending")
                   if r.next_attempt_at <= now]
        if not waiting:
            return
        assert time.monotonic() < deadline, waiting
        bot.runtime.wake_delivery()
        time.sleep(0.05)


def alert(bot, at: datetime, pipeline: str, status: str, **extra) -> dict:
    """An alert that happened at `at`, received then."""
    bot.clock.set(at)
    response = bot.post("/alerts", json={"pipeline": pipeline, "status": status, "occurred_at": iso(at), **extra},
                        headers=AUTH)
    assert response.status_code == 202, response.text
    settle(bot)
    return response.json()


def handoff_post(fake_slack, marker: str):
    return fake_slack.wait_for("chat.postMessage", wanted=lambda c: marker in c.args.get("text", "")
                               and not c.args.get("thread_ts"))[0]


def section(post, title: str) -> list[str]:
    [found] = [b["text"]["text"] for b in post.args["blocks"]
               if b["type"] == "section" and b["text"]["text"].startswith(title)]
    return found.split("\n")


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which must come first."""
    assert data.startswith(PNG_SIGNATURE)
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def seed_source_weeks(bot) -> None:
    """Four weeks of the source team. Growth (ready by 04:00) reports from 20 November at 03:00; on
    Wednesday 9 December it fails at 01:30 (Anna is paged) and its data comes at 04:40; on Friday the
    11th nothing comes. Engagement (05:00) reports from 30 November at 04:00; on Sunday 13 December it
    fails at 02:00 (Anna is paged) and comes at 05:30. Profit never reports a success (not watched);
    it fails on 2 and 10 December in work hours, and both stay open."""
    day = utc(11, 20)
    while day <= utc(12, 14):
        if day == utc(12, 9):
            alert(bot, day.replace(hour=1, minute=30), "growth", "failed", error="java.lang.NullPointerException")
            alert(bot, day.replace(hour=4, minute=40), "growth", "succeeded")
        elif day != utc(12, 11):
            alert(bot, day.replace(hour=3), "growth", "succeeded")
        if day == utc(12, 13):
            alert(bot, day.replace(hour=2), "engagement", "failed", error="no kafka input")
            alert(bot, day.replace(hour=5, minute=30), "engagement", "succeeded")
        elif day >= utc(11, 30):
            alert(bot, day.replace(hour=4), "engagement", "succeeded")
        if day in (utc(12, 2), utc(12, 10)):
            alert(bot, day.replace(hour=10), "profit", "failed",
                  error="Reconciliation failed: numbers don't align with accounts")
        day += timedelta(days=1)


@INSTALLED
def test_the_handoff_says_how_last_week_went_and_the_picture_goes_into_its_thread(
        fake_slack, make_app, real_people_runbook):
    fake_slack.users_by_email.update(ROTATION_EMAILS)
    bot = start_bot(make_app, fake_slack, START, runbook=real_people_runbook)
    seed_source_weeks(bot)
    pages = [c for c in fake_slack.of("chat.postMessage") if c.args["channel"] == "DU0ANNA"]
    assert len(pages) == 2  # both nights' pages were delivered to Anna

    bot.clock.set(HANDOFF)
    bot.portal.call(scheduled_messages, bot.runtime)
    post = handoff_post(fake_slack, "Anna → Laura")
    assert post.args["channel"] == "#data-oncall"
    assert section(post, "*Last week*") == [
        "*Last week*",
        "SLA met: Growth 5/7 (1 late, 1 missed), Engagement 6/7 (1 late)",
        "Pages: 2; nights woken: Anna 2",
        "Open incidents: 2 (1 from before last week)",
        FOLLOWS,
    ]
    # The other engineer's section is still there (nothing to suggest here), and the coming week.
    assert section(post, "*The coming week*")[1].startswith("*Mon 14 Dec*")

    # The picture: three calls, in order, after the handoff was posted, into its thread.
    done = fake_slack.wait_for("files.completeUploadExternal", timeout=20)[0]
    store = bot.runtime.store
    channel, ts = delivered(store, "handoff:data-engineering:2026-12-14T09:00:00Z#0")
    assert (channel, ts) == ("#data-oncall", next(m["ts"] for m in fake_slack.messages
                                                   if "Anna → Laura" in (m["text"] or "")))
    assert done.args["channel_id"] == channel and done.args["thread_ts"] == ts
    methods = [c.method for c in fake_slack.calls]
    asked = methods.index("files.getUploadURLExternal")
    assert fake_slack.calls.index(post) < asked < methods.index("upload") < methods.index("files.completeUploadExternal")
    assert methods.count("files.getUploadURLExternal") == methods.count("upload") == 1
    [file] = json.loads(done.args["files"])
    upload = fake_slack.uploads[file["id"]]
    assert upload["channel_id"] == "#data-oncall" and upload["thread_ts"] == ts
    assert upload["filename"] == "sla-20261116-20261213.png" and upload["length"] == len(upload["data"])
    png = upload["data"]
    width, height = png_size(png)
    assert 500 < width < 3000 and 150 < height < 1500

    import matplotlib.image

    pixels = matplotlib.image.imread(io.BytesIO(png), format="png")
    assert pixels.shape[:2] == (height, width)
    # The file is shared in the thread, as conversations.replies shows it; the row records it.
    [row] = [r for r in outbox.items(store) if r.kind == "report_chart"]
    assert row.state == "sent" and row.result["files"] == [file["id"]] and row.result["thread_ts"] == ts

    # It is the picture of the 28 days before the handoff, as the store has them.
    days, cells = report_chart.cells_at(store, bot.runtime.runbook, HANDOFF)
    assert (days[0].isoformat(), days[-1].isoformat(), len(days)) == ("2026-11-16", "2026-12-13", 28)
    assert set(cells) == {"profit", "growth", "engagement"}
    assert cells["profit"] == [NO_RUN] * 28                      # never reported: not watched
    # Growth: watched after its first report (20 Nov 03:00, after that day's 01:00 run).
    assert cells["growth"] == [NO_RUN] * 5 + [ON_TIME] * 18 + [LATE, ON_TIME, MISSED, ON_TIME, ON_TIME]
    assert cells["engagement"] == [NO_RUN] * 15 + [ON_TIME] * 12 + [LATE]
    assert png == report_chart.render_png(bot.runtime.runbook, cells, days)

    # Another pass, or the worker's retry, uploads nothing more.
    bot.portal.call(scheduled_messages, bot.runtime)
    settle(bot)
    assert [c.method for c in fake_slack.calls].count("files.completeUploadExternal") == 1


@INSTALLED
def test_the_picture_waits_for_its_handoff_and_is_not_uploaded_twice(fake_slack, make_app):
    bot = start_bot(make_app, fake_slack, START)
    bot.clock.set(HANDOFF - timedelta(minutes=1))
    bot.portal.call(scheduled_messages, bot.runtime)  # what else is owed by now (a weekly check) goes out
    settle(bot)
    fake_slack.fail("chat.postMessage", status=500, retry_after=None)  # the handoff's first post fails
    # The first completion is taken but its answer is an error: the retry finds the file in the thread.
    fake_slack.fail("files.completeUploadExternal", status=400, retry_after=None, landed=True)
    bot.clock.set(HANDOFF)
    bot.portal.call(scheduled_messages, bot.runtime)
    handoff_post(fake_slack, "Anna → Laura")
    settle(bot)
    store = bot.runtime.store
    key = "handoff:data-engineering:2026-12-14T09:00:00Z"

    def row(suffix: str):
        return next(r for r in outbox.items(store) if r.idempotency_key == key + suffix)

    deadline = time.monotonic() + 30
    while row("#chart").state == "pending":  # the retries' back-off passes on the bot's clock, not ours
        assert time.monotonic() < deadline
        bot.clock.set(bot.clock() + timedelta(seconds=5))
        bot.runtime.wake_delivery()
        time.sleep(0.1)
    posted, chart = row("#0"), row("#chart")
    assert posted.attempts == 2
    # Waited for the handoff (1), uploaded and lost the answer (2), found the file in the thread (3).
    assert chart.state == "sent" and chart.attempts == 3 and chart.result["thread_ts"] == posted.result["ts"]
    shared = [m for m in fake_slack.messages if m.get("files") and m["thread_ts"] == posted.result["ts"]]
    assert len(shared) == 1
    # The 7 December handoff, owed until this one, went out late at 08:59 with its own picture: two
    # pictures, two uploads, none again.
    assert len([m for m in fake_slack.messages if m.get("files")]) == 2
    assert [c.method for c in fake_slack.calls].count("upload") == 2
    assert chart.result["files"] == [f["id"] for f in shared[0]["files"]]


def test_without_the_charts_extra_the_handoff_says_how_to_get_the_picture_and_uploads_nothing(
        fake_slack, make_app, monkeypatch):
    monkeypatch.setattr(report_chart, "available", lambda: False)
    bot = start_bot(make_app, fake_slack, START)
    bot.clock.set(HANDOFF)
    bot.portal.call(scheduled_messages, bot.runtime)
    post = handoff_post(fake_slack, "Anna → Laura")
    settle(bot)
    assert section(post, "*Last week*") == [
        "*Last week*", "SLA met: no runs watched", "Pages: 0; nobody woken at night", "Open incidents: 0", HINT]
    assert not [r for r in outbox.items(bot.runtime.store) if r.kind == "report_chart"]
    assert not [c for c in fake_slack.calls if c.method.startswith("files.") or c.method == "upload"]
    # The first pass's message (the bot started mid-shift) has the section too, and the hint.
    first = handoff_post(fake_slack, "On call (data-engineering): Laura since")
    assert section(first, "*Last week*")[-1] == HINT


def test_a_current_shift_announcement_has_the_section_but_no_picture(fake_slack, make_app):
    bot = start_bot(make_app, fake_slack, START)
    first = handoff_post(fake_slack, "On call (data-engineering): Laura since")
    assert section(first, "*Last week*") == [
        "*Last week*", "SLA met: no runs watched", "Pages: 0; nobody woken at night", "Open incidents: 0"]
    settle(bot)
    assert not [r for r in outbox.items(bot.runtime.store) if r.kind == "report_chart"]


@INSTALLED
def test_the_berlin_team_gets_its_own_section_and_picture(fake_slack, make_app, tmp_path):
    path = tmp_path / "berlin.yaml"
    path.write_text(BERLIN)
    bot = start_bot(make_app, fake_slack, utc(11, 28, 12), runbook=path)
    # Orders runs at 02:30 and is due at 05:00 (UTC: its clock has no `timezone: team`): it reports at
    # 03:30 from 1 December, at 05:20 on Thursday 10 December. Ledger fails on Friday the 11th at 11:00
    # in Berlin. The picture's days are Berlin's.
    day = utc(12, 1)
    while day <= utc(12, 14):
        at = day.replace(hour=5, minute=20) if day == utc(12, 10) else day.replace(hour=3, minute=30)
        alert(bot, at, "orders", "succeeded")
        day += timedelta(days=1)
    alert(bot, utc(12, 11, 10), "ledger", "failed", error="ledger totals differ")

    bot.clock.set(utc(12, 14, 9))  # Monday 10:00 in Berlin: Jonas hands over to Felix
    bot.portal.call(scheduled_messages, bot.runtime)
    post = handoff_post(fake_slack, "Jonas → Felix")
    assert post.args["channel"] == "#shop-oncall"
    assert section(post, "*Last week*") == [
        "*Last week*", "SLA met: Orders 6/7 (1 late)", "Pages: 0; nobody woken at night", "Open incidents: 1",
        FOLLOWS]
    done = fake_slack.wait_for("files.completeUploadExternal", timeout=20)[0]
    channel, ts = delivered(bot.runtime.store, "handoff:shop:2026-12-14T09:00:00Z#0")
    assert done.args["channel_id"] == channel == "#shop-oncall" and done.args["thread_ts"] == ts
    [file] = json.loads(done.args["files"])
    assert fake_slack.uploads[file["id"]]["filename"] == "sla-20261116-20261213.png"  # local days in Berlin
    days, cells = report_chart.cells_at(bot.runtime.store, bot.runtime.runbook, utc(12, 14, 9))
    assert set(cells) == {"orders", "ledger"}  # the monthly KPIs have no data-ready time
    assert cells["orders"][-5:] == [ON_TIME, LATE, ON_TIME, ON_TIME, ON_TIME]  # 9 to 13 December
    assert png_size(fake_slack.uploads[file["id"]]["data"])[0] > 500


@INSTALLED
def test_report_png_is_the_picture_for_wikis_kept_private_like_the_calendar(fake_slack, make_app):
    bot = start_bot(make_app, fake_slack, HANDOFF + timedelta(hours=1))
    answer = bot.get("/report.png")
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
    four = png_size(answer.content)
    twelve = png_size(bot.get("/report.png?weeks=12").content)
    assert twelve[0] > four[0] > png_size(bot.get("/report.png?weeks=1").content)[0]
    for weeks in ("0", "13", "four", "-1"):
        refused = bot.get(f"/report.png?weeks={weeks}")
        assert refused.status_code == 400 and "weeks" in refused.json()["error"]
    # A client elsewhere gets nothing without ICS_KEY.
    outside = TestClient(bot.app, client=("203.0.113.9", 4711))
    refused = outside.get("/report.png")
    assert refused.status_code == 403 and "ICS_KEY" in refused.json()["error"]


@INSTALLED
def test_report_png_needs_the_key_when_ics_key_is_set(fake_slack, make_app):
    bot = start_bot(make_app, fake_slack, HANDOFF + timedelta(hours=1), ICS_KEY="wiki-secret")
    assert bot.get("/report.png").status_code == 403                 # even on this machine
    assert bot.get("/report.png?key=wrong").status_code == 403
    answer = bot.get("/report.png?key=wiki-secret&weeks=2")
    assert answer.status_code == 200 and answer.content.startswith(PNG_SIGNATURE)


def test_report_png_without_matplotlib_is_a_clear_404(fake_slack, make_app, monkeypatch):
    monkeypatch.setattr(report_chart, "available", lambda: False)
    bot = start_bot(make_app, fake_slack, HANDOFF + timedelta(hours=1))
    answer = bot.get("/report.png")
    assert answer.status_code == 404
    assert answer.json() == {"error": "the picture needs matplotlib, which is not installed: "
                                      "pip install 'oncall-bot[charts]'"}
