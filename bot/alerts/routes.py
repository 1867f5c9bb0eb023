"""POST /alerts and /alerts/alertmanager: authenticate, bound, parse, commit, then answer 202.

The 202 is sent only after the alert is committed, so an accepted alert survives a kill -9; the
outbox worker is then woken to post it.
"""

from __future__ import annotations

import hmac
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse

from bot.alerts.alertmanager import parse_alertmanager
from bot.alerts.generic import parse_generic
from bot.alerts.batching import Intake
from bot.alerts.model import AlertError
from bot.bounded import Rejected, is_local, read_bounded

log = logging.getLogger("oncall_bot.alerts")

MAX_BODY = 256 * 1024


def authorize(request: Request, token: str | None) -> None:
    if token:
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            raise Rejected(401, {"error": "missing or wrong bearer token", "field": "Authorization"})
        return
    if not is_local(request):
        raise Rejected(401, {"error": "ALERTS_TOKEN is not set, so only local clients may post alerts"})
    # A web page open on this machine can post to localhost too: its browser says so with an Origin,
    # and cannot send JSON across origins without a preflight nobody answers.
    if request.headers.get("origin"):
        raise Rejected(403, {"error": "requests from web pages are refused", "field": "Origin"})
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise Rejected(415, {"error": "send the alert as JSON (Content-Type: application/json)",
                             "field": "Content-Type"})


def make_endpoints(rt, wake):
    """The two webhook endpoints over a Runtime; `wake` nudges the outbox worker after a commit."""

    intake = Intake(rt)

    async def accept(request: Request, parse):
        try:
            authorize(request, rt.settings.alerts_token)
            body = await read_bounded(request, MAX_BODY)
            alerts = parse(body, rt.clock())
            results = await intake.submit(alerts)
        except Rejected as err:
            return JSONResponse(err.body, status_code=err.status)
        except AlertError as err:
            return JSONResponse(err.as_json(), status_code=400)
        wake()
        for alert, result in zip(alerts, results):
            rt.metrics.alerts.labels(alert.source, alert.status, "repeat" if result.deduplicated else "new").inc()
        return results

    async def generic(request: Request) -> JSONResponse:
        results = await accept(request, lambda body, now: [parse_generic(body, now)])
        if isinstance(results, JSONResponse):
            return results
        return JSONResponse(results[0].as_json(), status_code=202)

    async def alertmanager(request: Request) -> JSONResponse:
        label = request.query_params.get("label") or "pipeline"
        results = await accept(request, lambda body, now: parse_alertmanager(body, now, label=label))
        if isinstance(results, JSONResponse):
            return results
        return JSONResponse({"incidents": [r.as_json() for r in results]}, status_code=202)

    return generic, alertmanager
