"""`oncall-bot serve`: check the configuration, then run uvicorn until SIGTERM."""

from __future__ import annotations

import contextlib
import logging
import sys

from bot.config import ConfigError, from_env
from bot.runbook import RunbookError, load

log = logging.getLogger("oncall_bot")


def serve(runbook: str | None = None, host: str = "0.0.0.0", port: int | None = None) -> int:
    from bot.logs import configure

    configure()
    try:
        settings = from_env()
        loaded = load(runbook or settings.runbooks_path)
    except ConfigError as err:
        print(f"oncall-bot: configuration error: {err}", file=sys.stderr)
        return 2
    except RunbookError as err:
        print("oncall-bot: the runbook is invalid; fix it and start again:", file=sys.stderr)
        for problem in err.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1

    import uvicorn

    from bot.runtime import Runtime
    from bot.web import create_app, socket_mode
    from bot.slack.app import build_app

    try:
        rt = Runtime.build(settings, loaded.runbook, loaded.path)
    except Exception as err:  # the database: unreachable, or a migration that cannot run
        print(f"oncall-bot: cannot open the database at DATABASE_URL: {type(err).__name__}: {err}", file=sys.stderr)
        return 3
    for warning in loaded.warnings:
        log.warning("runbook: %s", warning)
    if settings.dry_run:
        log.warning("dry-run: no SLACK_BOT_TOKEN, so each Slack call is printed to stdout as JSON instead of sent")
    if not settings.alerts_token:
        log.warning("no ALERTS_TOKEN: /alerts accepts only clients on this machine (loopback)")
    if settings.generated_secret:
        log.warning("no SLACK_SIGNING_SECRET: /slack/events accepts only requests signed with a random secret")
    bolt = build_app(rt)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        _warm_up(rt)
        async with socket_mode(rt, bolt):
            log.info("oncall-bot ready on %s:%s (%s mode, team %s)", host, port or settings.port, settings.mode,
                     loaded.runbook.team.name)
            yield
        log.info("oncall-bot stopped cleanly")

    app = create_app(rt, bolt, lifespan=lifespan)
    _raise_file_limit()
    config = uvicorn.Config(app, host=host, port=port or settings.port, log_level="warning", access_log=False,
                            lifespan="on", timeout_graceful_shutdown=10, http=_protocol(),
                            timeout_keep_alive=IDLE_TIMEOUT, limit_concurrency=MAX_CONNECTIONS)
    uvicorn.Server(config).run()
    return 0


IDLE_TIMEOUT = 5        # seconds a connection may stay open without a request (new or kept alive)
MAX_CONNECTIONS = 500   # beyond this many open connections, new requests get 503 (file descriptors stay free)


def _protocol():
    """uvicorn's HTTP protocol, with the idle timer started when a connection opens: uvicorn starts it
    only after a response, so a socket that never sends a request would stay open for ever."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class IdleClosing(H11Protocol):
        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive,
                                                                self.timeout_keep_alive_handler)

    return IdleClosing


def _raise_file_limit() -> None:
    """Up to the hard limit: every connection holds a file descriptor, and 1,024 go fast."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or hard > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536) if hard != resource.RLIM_INFINITY
                                                        else 65536, hard))
    except (ImportError, ValueError, OSError) as err:  # not on this platform, or not allowed: keep it
        log.warning("could not raise the open-file limit: %s", err)


def _warm_up(rt) -> None:
    """Answer once before the first user does: loads the holiday calendar and the cron parser."""
    from bot.domain.answers import pipeline_decisions

    pipeline_decisions(rt.runbook, rt.clock(), rt.overrides())
