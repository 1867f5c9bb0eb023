"""The Bolt AsyncApp: listeners registered, our client injected, single-workspace authorisation."""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult

from bot.runtime import Runtime
from bot.slack import listeners

log = logging.getLogger("oncall_bot.app")


def build_app(rt: Runtime) -> AsyncApp:
    options = dict(
        signing_secret=rt.settings.signing_secret,
        client=rt.client,
        # Commands answer in the ack, so awaiting the listener inline saves Bolt's 10 ms ack polling;
        # listeners that call Slack hand that work to background tasks (Runtime.spawn).
        process_before_response=True,
        raise_error_for_unhandled_request=False,
    )
    if rt.settings.dry_run:
        # No token: authorise every request as our own workspace without calling auth.test.
        # (Live, the token comes with our client and Bolt calls auth.test once, lazily.)
        async def authorize(enterprise_id=None, team_id=None, **_):
            return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id,
                                   bot_token="xoxb-dry-run", bot_user_id="UDRYRUN", bot_id="BDRYRUN")
        options["authorize"] = authorize
    app = AsyncApp(**options)
    listeners.register(app, rt)

    @app.error
    async def on_error(error, body, logger):
        logger.exception("listener failed: %s", error)

    return app
