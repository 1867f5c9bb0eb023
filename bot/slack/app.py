"""The Bolt AsyncApp: listeners registered, our client injected, single-workspace authorisation."""

from __future__ import annotations

import asyncio
import logging

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult

from bot.runtime import Runtime
from bot.slack import listeners

log = logging.getLogger("oncall_bot.app")

# Bolt warns that SLACK_BOT_TOKEN "will be ignored" when `authorize` is given; ours uses that token.
logging.getLogger("slack_bolt.AsyncApp").addFilter(lambda record: "will be ignored" not in record.getMessage())

IDENTITY_WAIT = 0.5   # seconds a request waits for auth.test while Slack's API is slow or down


def build_app(rt: Runtime) -> AsyncApp:
    options = dict(
        signing_secret=rt.settings.signing_secret,
        client=rt.client,
        # Commands answer in the ack, so awaiting the listener inline saves Bolt's 10 ms ack polling;
        # listeners that call Slack hand that work to background tasks (Runtime.spawn).
        process_before_response=True,
        raise_error_for_unhandled_request=False,
        # bot.web's SlackGate checks each signature (and replays) before anything parses the body;
        # checking it again here would only cost time. Socket Mode requests are not signed.
        request_verification_enabled=False,
    )
    options["authorize"] = _dry_run_identity if rt.settings.dry_run else _identity(rt)
    app = AsyncApp(**options)

    @app.middleware
    async def runtime(context, next):
        context["rt"] = rt  # listeners are module-level functions: they take the runtime from here
        return await next()

    listeners.register(app)

    @app.error
    async def on_error(error, body, logger):
        logger.exception("listener failed: %s", error)

    return app


async def _dry_run_identity(enterprise_id=None, team_id=None, **_):
    # No token: every request is our own workspace, without calling auth.test.
    return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id,
                           bot_token="xoxb-dry-run", bot_user_id="UDRYRUN", bot_id="BDRYRUN")


def _identity(rt: Runtime):
    """Bolt's own single-workspace authorisation calls auth.test until it succeeds and refuses every
    request meanwhile ("installation no longer available"), so a restart during a Slack outage would
    silence the bot. This asks once in the background and answers without the bot's ids until then."""
    async def authorize(enterprise_id=None, team_id=None, **_):
        asking = rt.identity.asking()
        if not asking.done():
            await asyncio.wait([asking], timeout=IDENTITY_WAIT)
        failed = asking.done() and asking.exception() is not None
        if failed:
            log.warning("auth.test failed (%s); answering without the bot's own ids", asking.exception())
        known = asking.result() if asking.done() and not failed else {}
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=rt.settings.bot_token,
                               bot_user_id=known.get("user_id"), bot_id=known.get("bot_id"))

    return authorize
