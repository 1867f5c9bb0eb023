"""The HTTP surface: Bolt's AsyncApp behind Starlette on uvicorn, plus health, metrics and the calendar."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hmac
import json
import logging
import time
from datetime import UTC, datetime
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
from bot.bounded import MAX_DEPTH, Rejected, is_local, read_bounded, too_deep
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


SLACK_MAX_BODY = 256 * 1024  # Slack's own requests are a few KiB; a modal submission stays far below
SLACK_WINDOW = 5 * 60          # seconds a timestamp stays valid on either side of now (Bolt's rule)
SEEN_LIMIT = 100_000           # signatures this process remembers at most (far above any team's traffic)


class SlackGate:
    """What a request must be before Bolt parses it: signed by Slack, fresh, UTF-8, with a payload that
    is a JSON object, and not a copy of one already handled (by any replica: the store remembers each
    signature until its timestamp's window closes). Unsigned bytes are never parsed."""

    def __init__(self, rt: Runtime):
        self.rt = rt
        self.verifier = SignatureVerifier(rt.settings.signing_secret)
        self.seen: collections.OrderedDict[str, float] = collections.OrderedDict()  # signature → window closes

    async def refusal(self, request: Request, raw: bytes) -> Response | None:
        from bot.store.replays import first_sight

        timestamp = request.headers.get("x-slack-request-timestamp", "")
        signature = request.headers.get("x-slack-signature", "")
        if not timestamp.isdigit() or len(timestamp) > 12:
            return _refuse(401, "missing or non-numeric X-Slack-Request-Timestamp")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return _refuse(400, "the body is not UTF-8")
        if not self.verifier.is_valid(text, timestamp, signature):
            return _refuse(401, "invalid or expired Slack signature")
        form = dict(parse_qsl(text, keep_blank_values=True))
        if "payload" in form and "command" not in form:
            if too_deep(form["payload"]):
                return _refuse(400, f"payload is nested more than {MAX_DEPTH} levels deep")
            try:
                payload = json.loads(form["payload"])
            except ValueError:
                return _refuse(400, "payload is not valid JSON")
            if not isinstance(payload, dict):
                return _refuse(400, "payload must be a JSON object")
        now = self.verifier.clock.now()  # the clock the signature was checked by
        closes = max(int(timestamp) + SLACK_WINDOW + 30, now)
        if not self._first_here(signature, now, closes):
            return self._replayed()
        # A copy of a request that changes something (a button, a form, a swap or an override) is
        # caught on every replica, through the store; a read-only command only here (a store write
        # per /oncall would cost most of its speed).
        first = form.get("text", "").split()[:1]
        changes = "payload" in form or (form.get("command") == "/oncall" and first[0].lower() in ("swap", "override")
                                        if first else False)
        if changes and not await self.rt.db(first_sight, signature, datetime.fromtimestamp(closes, UTC),
                                            datetime.fromtimestamp(now, UTC)):
            return self._replayed()
        return None

    def _first_here(self, signature: str, now: float, closes: float) -> bool:
        while self.seen and (next(iter(self.seen.values())) < now or len(self.seen) >= SEEN_LIMIT):
            self.seen.popitem(last=False)
        if self.seen.get(signature, 0) >= now:
            return False
        self.seen[signature] = closes
        return True

    @staticmethod
    def _replayed() -> Response:
        log.warning("refused a replayed Slack request")
        return _refuse(401, "replayed request")
        return None


def _refuse(status: int, error: str) -> Response:
    return JSONResponse({"error": error}, status_code=status)


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

    delivery = Delivery(rt)
    worker = asyncio.create_task(delivery.run(), name="outbox")
    scheduler = start_scheduler(rt)
    try:
        yield
    finally:
        scheduler.shutdown(wait=False)
        delivery.stop()
        await worker
        await asyncio.to_thread(rt.runner.stop)


def create_app(rt: Runtime, bolt: AsyncApp | None = None, lifespan=None) -> Starlette:
    """The ASGI app; `lifespan` (serve's: warm-up, Socket Mode) runs inside the background services."""
    alerts, alertmanager, openlineage = make_endpoints(rt, rt.wake_delivery)
    slack = slack_events(rt, bolt or build_app(rt))
    routes = [
        Route("/slack/events", measured(rt, "/slack/events")(slack), methods=["POST"]),
        Route("/alerts", measured(rt, "/alerts")(alerts), methods=["POST"]),
        Route("/alerts/alertmanager", measured(rt, "/alerts/alertmanager")(alertmanager), methods=["POST"]),
        # The OpenLineage HTTP transport posts to /api/v1/lineage unless told otherwise.
        Route("/api/v1/lineage", measured(rt, "/api/v1/lineage")(openlineage), methods=["POST"]),
        Route("/alerts/openlineage", measured(rt, "/alerts/openlineage")(openlineage), methods=["POST"]),
        Route("/healthz", measured(rt, "/healthz")(healthz(rt)), methods=["GET"]),
        Route("/metrics", measured(rt, "/metrics")(metrics(rt)), methods=["GET"]),
        Route("/oncall.ics", measured(rt, "/oncall.ics")(ics(rt)), methods=["GET"]),
        Route("/report.png", measured(rt, "/report.png")(report_png(rt)), methods=["GET"]),
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


def slack_events(rt: Runtime, bolt: AsyncApp):
    gate = SlackGate(rt)

    async def endpoint(request: Request) -> Response:
        try:
            raw = await read_bounded(request, SLACK_MAX_BODY)
        except Rejected as err:
            return JSONResponse(err.body, status_code=err.status)
        if (refused := await gate.refusal(request, raw)) is not None:
            return refused
        answer_within()  # user look-ups may not hold the answer past Slack's 3 seconds
        return to_starlette_response(await bolt.async_dispatch(bolt_request(request, raw)))
    return endpoint


def healthz(rt: Runtime):
    async def endpoint(request: Request) -> Response:
        database = await rt.database_status()
        slack = rt.health.as_dict() | {"mode": rt.settings.mode}
        status = "ok" if database["reachable"] and slack["reachable"] is not False else "degraded"
        body = {"status": status, "version": bot.__version__,
                "runbook": {"loaded": True, "path": rt.runbook_path, "pipelines": len(rt.runbook.pipelines)},
                "database": database, "slack": slack}
        if database["reachable"]:
            body["sla_watch"] = await _sla_watch(rt)
        # A Slack outage is reported, not fatal: the bot keeps accepting alerts and commands.
        return JSONResponse(body, status_code=200 if database["reachable"] else 503)
    return endpoint


async def _sla_watch(rt: Runtime) -> dict:
    """Which pipelines' SLA is watched, and why not where it is not."""
    from bot.domain.deadlines import sla_watch
    from bot.store.pass_reads import first_successes

    try:
        reported = await asyncio.wait_for(asyncio.to_thread(first_successes, rt.store, rt.runbook), timeout=3)
    except Exception as err:
        return {"error": f"{type(err).__name__}: {str(err)[:200]}"}
    return {key: {"watched": on, "why": why} for key, (on, why) in sla_watch(rt.runbook, reported).items()}


def metrics(rt: Runtime):
    async def endpoint(request: Request) -> Response:
        from bot.store.outbox import backlog

        try:
            for state, count in (await rt.db(backlog, rt.clock())).items():
                rt.metrics.outbox.labels(state).set(count)
        except Exception as err:  # metrics must answer even when the database does not
            log.warning("outbox backlog unavailable: %s", err)
        return Response(generate_latest(rt.metrics.registry), media_type=CONTENT_TYPE_LATEST)
    return endpoint


def _private_ok(rt: Runtime, request: Request) -> bool:
    """The private feeds (calendar, picture): `?key=` matching ICS_KEY, or without one a loopback client."""
    key = rt.settings.calendar_key
    if key:
        return hmac.compare_digest(request.query_params.get("key", "").encode(), key.encode())
    return is_local(request)


def ics(rt: Runtime):
    async def endpoint(request: Request) -> Response:
        if not _private_ok(rt, request):
            return _refuse(404, "no such calendar (the feed URL carries ?key=, see ICS_KEY)" if rt.settings.calendar_key
                           else "the calendar is private: set ICS_KEY and subscribe to /oncall.ics?key=…")
        body = calendar(rt.runbook, rt.clock(), overrides=rt.overrides())
        return Response(body, media_type="text/calendar; charset=utf-8",
                        headers={"Content-Disposition": 'inline; filename="oncall.ics"'})
    return endpoint


def report_png(rt: Runtime):
    """The weekly picture for wikis: `?weeks=` (1-12, default 4) ending yesterday, kept private as the
    calendar is (`?key=` with ICS_KEY; loopback clients only without it)."""
    async def endpoint(request: Request) -> Response:
        from bot import report_chart

        if not _private_ok(rt, request):
            return _refuse(403, "the picture is private: /report.png?key=… with the ICS_KEY secret"
                           if rt.settings.calendar_key else "the picture is private: set ICS_KEY and fetch /report.png?key=…")
        weeks = request.query_params.get("weeks", str(report_chart.WEEKS))
        if not (weeks.isascii() and weeks.isdigit()) or not 1 <= int(weeks) <= report_chart.MAX_WEEKS:
            return _refuse(400, f"weeks: a whole number from 1 to {report_chart.MAX_WEEKS}")
        if not report_chart.available():
            return _refuse(404, f"the picture needs matplotlib, which is not installed: {report_chart.INSTALL}")
        days, cells = await rt.db(report_chart.cells_at, rt.runbook, rt.clock(), int(weeks))
        png = await asyncio.to_thread(report_chart.render_png, rt.runbook, cells, days)
        return Response(png, media_type="image/png", headers={
            "Content-Disposition": f'inline; filename="{report_chart.filename(days)}"', "Cache-Control": "no-store"})
    return endpoint


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
