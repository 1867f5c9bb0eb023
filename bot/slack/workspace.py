"""Which workspace a request comes from, and whether it is ours.

A payload names its workspace in up to three places (`team_id`, `team.id`, `user.team_id`); a request
is ours only if every one of them is our token's workspace, so a user of another workspace cannot press
our buttons through a shared channel by carrying our `team.id`.
"""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger("oncall_bot.slack")

OURS, THEIRS, UNKNOWN = "ours", "theirs", "unknown"
REFUSALS = {
    THEIRS: "This button belongs to another workspace's on-call bot.",
    UNKNOWN: "I cannot check your workspace right now (Slack did not answer); please try again in a minute.",
}


class Identity:
    """auth.test (our workspace and the bot's own ids), asked once and again only after a failure:
    the one caller, for Bolt's authorisation and for the workspace checks of button presses."""

    def __init__(self, client):
        self.client = client
        self._asking: asyncio.Task | None = None

    def asking(self) -> asyncio.Task:
        if self._asking is None or (self._asking.done() and self._asking.exception() is not None):
            self._asking = asyncio.ensure_future(self.client.auth_test())
        return self._asking

    async def team(self) -> str | None:
        """The workspace our token belongs to; None while Slack cannot say."""
        try:
            return (await asyncio.shield(self.asking())).get("team_id") or ""
        except Exception as err:
            log.warning("auth.test failed, cannot check the workspace: %s", err)
            return None


def teams_of(body: dict) -> set[str]:
    return {team for team in (body.get("team_id"), (body.get("team") or {}).get("id"),
                              (body.get("user") or {}).get("team_id")) if team}


async def workspace_of(rt, body: dict) -> str:
    """OURS, THEIRS, or UNKNOWN when Slack cannot tell us which workspace our token belongs to."""
    if rt.settings.dry_run:  # no token, no workspace to compare with: everything is ours
        return OURS
    ours = await rt.identity.team()
    if ours is None:
        return UNKNOWN
    teams = teams_of(body)
    return OURS if teams and teams == {ours} else THEIRS
