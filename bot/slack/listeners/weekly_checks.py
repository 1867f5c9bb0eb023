"""The Checked button of the weekly check: records who checked and when, then the outbox edits the
message to say so. The first click of a week stands; later ones change nothing."""

from __future__ import annotations

import json
import logging
from datetime import datetime

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond

from bot.runtime import Runtime
from bot.slack.workspace import OURS, REFUSALS, teams_of, workspace_of
from bot.slack.replies.runbook_clocks import CHECK_ACTION, checked
from bot.store import outbox
from bot.store.weekly_checks import record_check

log = logging.getLogger("oncall_bot.checks")


async def on_checked(ack: AsyncAck, body: dict, action: dict, respond: AsyncRespond, context: AsyncBoltContext) -> None:
    rt: Runtime = context["rt"]
    await ack()
    if (where := await workspace_of(rt, body)) != OURS:
        log.warning("refused %s from workspace %s (%s)", CHECK_ACTION, teams_of(body), where)
        await respond(text=REFUSALS[where], response_type="ephemeral", replace_original=False)
        return
    try:
        value = json.loads(action.get("value") or "")
        pipeline, due = value["pipeline"], datetime.fromisoformat(value["due"].replace("Z", "+00:00"))
    except (ValueError, KeyError, TypeError, AttributeError):
        log.warning("weekly check button with a bad value: %r", action.get("value"))
        return
    if pipeline not in rt.runbook.pipelines:
        await respond(text=f"The runbook no longer has a pipeline {pipeline!r}.", response_type="ephemeral",
                      replace_original=False)
        return
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    await rt.db(_record, rt, pipeline, due, body["user"]["id"], channel, container.get("message_ts"))
    rt.wake_delivery()


def register(app: AsyncApp) -> None:
    app.action(CHECK_ACTION)(on_checked)


def _record(store, rt: Runtime, pipeline: str, due: datetime, user: str, channel: str | None,
            ts: str | None) -> None:
    now = rt.clock()
    with store.transaction() as conn:
        check, _ = record_check(conn, pipeline, due, user, now)
        if channel and ts:  # the clicked message (the check or its reminder) now says who checked
            message = checked(rt.runbook, pipeline, due, check.checked_by, check.checked_at)
            outbox.enqueue(conn, kind="check_done", idempotency_key=f"check_done:{channel}:{ts}", now=now,
                           method="chat.update", channel=channel, args={"ts": ts, **message.payload()})
