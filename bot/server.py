"""The HTTP surface: Bolt's AsyncApp behind Starlette on uvicorn, plus health, metrics and the calendar."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from urllib.parse import parse_qsl

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from slack_bolt.adapter.starlette.async_handler import to_async_bolt_request, to_starlette_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import bot
from bot.alerts.routes import make_endpoints
from bot.domain.ics import calendar
from bot.runtime import Runtime
from bot.slack.app import build_app
from bot.slack.people import answer_within

log = logging.getLogger("oncall_bot.server")


def measured(rt: Runtime, route: str):
    def wrap(handler):
        async def endpoint(request: Request) -> Response:
            started = time.perf_counter()
            status = 500
            try:
                response = await handler(request)
                status = response.status_code
                return response
            finally:
                rt.metrics.latency.labels(route).observe(time.perf_counter() - started)
                rt.metrics.requests.labels(route, request.method, str(status)).inc()
        return endpoint
    return wrap


class Replays:
    """A signed Slack request seen twice within its 5-minute window is a replay: 401, nothing done.

    Slack signs every delivery anew (its retries carry a new timestamp), so only a copy repeats a
    signature. Kept per process: a copy sent to another replica is only caught by the timestamp."""

    WINDOW = 5 * 60 + 30  # seconds: Bolt accepts timestamps up to 5 minutes old
    LIMIT = 100_000       # signatures remembered at most (far above any team's traffic)

    def __init__(self, signing_secret: str):
        self.verifier = SignatureVerifier(signing_secret)
        self.seen: collections.OrderedDict[str, float] = collections.OrderedDict()  # signature → forgotten at

    def is_replay(self, request: Request, raw: bytes) -> bool:
        timestamp = request.headers.get("x-slack-request-timestamp", "")
        signature = request.headers.get("x-slack-signature", "")
        if not timestamp.isdigit() or not self.verifier.is_valid(raw, timestamp, signature):
            return False  # Bolt refuses it; only genuine requests are remembered
        now = time.monotonic()
        while self.seen and (next(iter(self.seen.values())) < now or len(self.seen) >= self.LIMIT):
            self.seen.popitem(last=False)
        if signature in self.seen:
            return True
        self.seen[signature] = now + self.WINDOW
        return False


def bolt_request(request: Request, raw: bytes):
    req = to_async_bolt_request(request, raw)
    if not req.body and b"command=" in raw:
        # Bolt reads any form body containing "payload" as an interactivity payload, which drops
        # `/runbook payload-db`. The signature check uses raw_body, so re-parsing is safe.
        form = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        if form.get("command") and "payload" not in form:
            req.body = form
            req.context = build_async_context(AsyncBoltContext({}), form)
    return req


@contextlib.asynccontextmanager
async def background(rt: Runtime):
    """The outbox worker and the scheduler run beside the web server, in its event loop."""
    from bot.jobs import start_scheduler
    from bot.slack.delivery import Delivery

    rt.delivery = Delivery(rt)
    worker = asyncio.create_task(rt.delivery.run(), name="outbox")
    scheduler = start_scheduler(rt)
    try:
        yield
    finally:
        scheduler.shutdown(wait=False)
        rt.delivery.stop()
        await worker
        await asyncio.to_thread(rt.stop_db)


def create_app(rt: Runtime, bolt: AsyncApp | None = None, lifespan=None) -> Starlette:
    """The ASGI app; `lifespan` (serve's: warm-up, Socket Mode) runs inside the background services."""
    bolt = bolt or build_app(rt)
    alerts, alertmanager = make_endpoints(rt, rt.wake_delivery)

    replays = Replays(rt.settings.signing_secret)

    @measured(rt, "/slack/events")
    async def slack_events(request: Request) -> Response:
        raw = await request.body()
        if replays.is_replay(request, raw):
            log.warning("refused a replayed Slack request")
            return JSONResponse({"error": "replayed request"}, status_code=401)
        answer_within()  # user look-ups may not hold the answer past Slack's 3 seconds
        return to_starlette_response(await bolt.async_dispatch(bolt_request(request, raw)))

    @measured(rt, "/healthz")
    async def healthz(request: Request) -> Response:
        database = await rt.database_status()
        slack = rt.health.as_dict() | {"mode": rt.settings.mode}
        status = "ok" if database["reachable"] and slack["reachable"] is not False else "degraded"
        body = {"status": status, "version": bot.__version__,
                "runbook": {"loaded": True, "path": rt.runbook_path, "pipelines": len(rt.runbook.pipelines)},
                "database": database, "slack": slack}
        if database["reachable"]:
            body["sla_watch"] = await _sla_watch()
        # A Slack outage is reported, not fatal: the bot keeps accepting alerts and commands.
        return JSONResponse(body, status_code=200 if database["reachable"] else 503)

    async def _sla_watch() -> dict:
        """Which pipelines' SLA is watched, and why not where it is not."""
        from bot.domain.deadlines import sla_watch
        from bot.store.clocks import first_successes

        try:
            reported = await asyncio.wait_for(asyncio.to_thread(first_successes, rt.store, rt.runbook), timeout=3)
        except Exception as err:
            return {"error": f"{type(err).__name__}: {str(err)[:200]}"}
        return {key: {"watched": on, "why": why} for key, (on, why) in sla_watch(rt.runbook, reported).items()}

    @measured(rt, "/metrics")
    async def metrics(request: Request) -> Response:
        from bot.store.outbox import backlog

        try:
            for state, count in (await rt.db(backlog, rt.clock())).items():
                rt.metrics.outbox.labels(state).set(count)
        except Exception as err:  # metrics must answer even when the database does not
            log.warning("outbox backlog unavailable: %s", err)
        return Response(generate_latest(rt.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @measured(rt, "/oncall.ics")
    async def ics(request: Request) -> Response:
        body = calendar(rt.runbook, rt.clock(), overrides=rt.overrides())
        return Response(body, media_type="text/calendar; charset=utf-8",
                        headers={"Content-Disposition": 'inline; filename="oncall.ics"'})

    routes = [
        Route("/slack/events", slack_events, methods=["POST"]),
        Route("/alerts", measured(rt, "/alerts")(alerts), methods=["POST"]),
        Route("/alerts/alertmanager", measured(rt, "/alerts/alertmanager")(alertmanager), methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/oncall.ics", ics, methods=["GET"]),
    ]

    @contextlib.asynccontextmanager
    async def services(app):
        async with background(rt):
            if lifespan is None:
                yield
            else:
                async with lifespan(app):
                    yield

    return Starlette(routes=routes, lifespan=services)


@contextlib.asynccontextmanager
async def socket_mode(rt: Runtime, bolt: AsyncApp):
    """Socket Mode: the same listeners over Slack's WebSocket; HTTP still serves alerts and health."""
    if not rt.settings.socket_mode or rt.settings.dry_run:
        yield None
        return
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    class Handler(AsyncSocketModeHandler):
        async def handle(self, client, req) -> None:
            answer_within()  # as for HTTP requests: answer within Slack's 3 seconds
            await super().handle(client, req)

    handler = Handler(bolt, rt.settings.app_token)
    # Connecting retries for as long as Slack is unreachable: in the background, so alerts and health
    # are served meanwhile and SIGTERM still stops the bot.
    connecting = asyncio.ensure_future(handler.connect_async())
    try:
        yield handler
    finally:
        connecting.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await connecting
        await handler.close_async()
