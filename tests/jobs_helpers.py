"""Helpers for the scheduled-message tests: passes at explicit instants and a stand-in delivery worker."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime

from bot.jobs.catchup import run_pass
from bot.store import outbox

_ts = itertools.count(1)


def at(year, month, day, hour=0, minute=0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def deliver(store, now: datetime) -> list:
    """What the delivery worker does, minus Slack: every due row sent with a channel and a ts."""
    sent = []
    for item in outbox.claim_due(store, now, limit=1000):
        channel = item.channel or "C0ALERTS"
        outbox.mark_sent(store, item.id, {"channel": channel, "ts": f"1800000000.{next(_ts):06d}"}, now)
        sent.append(item)
    return sent


def rows(store, kind: str | None = None, runbook=None) -> list:
    """Outbox rows; given the `runbook`, each neutral notice rendered as the delivery worker renders
    it now (names in bold: no Slack here)."""
    from bot.slack.notices import PlainPeople, render
    from bot.store.overrides import active_overrides

    found = []
    for item in outbox.items(store):
        if kind is not None and item.kind != kind:
            continue
        if runbook is not None and "notice" in item.args:
            args = {k: v for k, v in item.args.items() if k != "notice"}
            args |= render(store, runbook, PlainPeople(), active_overrides(store),
                           item.args["notice"]).payload()
            item = replace(item, args=args)
        found.append(item)
    return found


def tick(store, runbook, now, **kwargs):
    """A pass at `now`, then delivery of what it queued (as the worker would, a moment later)."""
    result = run_pass(store, runbook, now, **kwargs)
    deliver(store, now)
    return result
