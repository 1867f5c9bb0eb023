"""Runbook people to Slack mentions: slack_id, else users.lookupByEmail (cached), else a bold name.

A mention is only ever built from an ID Slack gave us, so a typo in the runbook cannot produce a
broken or wrong mention.

A reply to a person (a slash command, a click) must come within Slack's 3 seconds even when Slack's
own API is slow or down: after `answer_within(seconds)` a look-up is waited for only that long
(it goes on in the background and serves the next reply; one look-up per person at a time, however
many replies wait for it). Background work (alert posts, which page people) waits in full.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.runbook.models import Runbook
from bot.slack.text import escape, user_mention

log = logging.getLogger("oncall_bot.people")

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("answer_deadline", default=None)


REPLY_BUDGET = 1.5  # seconds a reply waits for look-ups: Slack wants the whole answer within 3


def answer_within(seconds: float = REPLY_BUDGET) -> None:
    """Look-ups made by the current task from now on wait at most until `seconds` from now.

    For the task of one Slack request (each HTTP request and each Socket Mode message runs in its
    own task, so the deadline ends with it; tasks it spawns inherit it)."""
    _deadline.set(time.monotonic() + seconds)


class Directory:
    def __init__(self, runbook: Runbook, client: AsyncWebClient):
        self.runbook = runbook
        self.client = client
        self._ids: dict[str, str | None] = {
            name: person.slack_id for name, person in runbook.people.items() if person.slack_id
        }
        self._pending: dict[str, asyncio.Task] = {}

    async def slack_id(self, name: str) -> str | None:
        if name in self._ids:
            return self._ids[name]
        deadline = _deadline.get()
        if name not in self._pending:
            self._pending[name] = asyncio.ensure_future(self._look_up(name))
            self._pending[name].add_done_callback(lambda _, n=name: self._pending.pop(n, None))
        task = self._pending[name]
        if deadline is None:
            return await asyncio.shield(task)
        done, _ = await asyncio.wait([task], timeout=max(0.0, deadline - time.monotonic()))
        return task.result() if done else None

    async def _look_up(self, name: str) -> str | None:
        person = self.runbook.people.get(name)
        found = None
        if person and person.email and not person.placeholder:
            try:
                response = await self.client.users_lookupByEmail(email=person.email)
                found = response["user"]["id"]
            except SlackApiError as err:
                code = err.response.get("error")
                if code != "users_not_found":  # a Slack hiccup: show the name now, ask again later
                    log.warning("lookup of %s failed: %s", name, code)
                    return None
                log.info("no Slack user for %s <%s>", name, person.email)
            except Exception as err:  # Slack unreachable: try again later, show the name meanwhile
                log.warning("lookup of %s failed: %s", name, err)
                return None
        self._ids[name] = found
        return found

    async def resolve(self, names) -> None:
        await asyncio.gather(*(self.slack_id(n) for n in set(names) if n not in self._ids))

    @property
    def version(self) -> int:
        """Grows as people are resolved; a rendered reply is reusable while it stays the same."""
        return sum(1 for found in self._ids.values() if found)

    def known_id(self, name: str | None) -> str | None:
        """A resolved person's Slack ID (call `resolve` first); None if Slack does not know them."""
        return self._ids.get(name) if name else None

    def mention(self, name: str | None) -> str:
        """Call `resolve` first; an unresolved person is shown as a bold name."""
        if not name:
            return "_nobody_"
        return user_mention(self.known_id(name), name)

    def plain(self, name: str | None) -> str:
        return f"*{escape(name)}*" if name else "_nobody_"

    async def person_of(self, user_id: str) -> str | None:
        """The runbook name of a Slack user, if the runbook knows them."""
        await self.resolve(self.runbook.people)
        return next((name for name, found in self._ids.items() if found == user_id), None)
