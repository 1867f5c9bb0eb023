"""POST /alerts, /alerts/alertmanager and the OpenLineage endpoints: authenticate, bound, parse,
commit, then answer 202.

The 202 is sent only after the alert is committed, so an accepted alert survives a kill -9; the
outbox worker is then woken to post it.
"""

from __future__ import annotations

import hmac
import logging
import zlib

from starlette.requests import Request
from starlette.responses import JSONResponse

from bot.alerts.alertmanager import parse_alertmanager
from bot.alerts.generic import parse_generic
from bot.alerts.batching import Intake
from bot.alerts.lineage_intake import receive_events
from bot.alerts.model import AlertError
from bot.alerts.openlineage import parse_events
from bot.bounded import Rejected, is_local, read_bounded

log = logging.getLogger("oncall_bot.alerts")

MAX_BODY = 256 * 1024
MAX_LINEAGE_BODY = 1024 * 1024  # schema and column-lineage facets make OpenLineage events larger than alerts


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


def _decoded(request: Request, body: bytes, limit: int) -> bytes:
    """The body, gunzipped when the sender compressed it (the OpenLineage transport can), never past `limit`."""
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding != "gzip":
        raise Rejected(415, {"error": f"unsupported Content-Encoding {encoding[:30]!r}; send gzip or none",
                             "field": "Content-Encoding"})
    inflate = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflate.decompress(body, limit + 1)
    except zlib.error as err:
        raise Rejected(400, {"error": f"not valid gzip: {err}", "field": "body"}) from None
    if len(out) > limit or inflate.unconsumed_tail:
        raise Rejected(413, {"error": f"body over {limit // 1024} KiB once decompressed", "field": "body"})
    return out


def make_endpoints(rt, wake):
    """The webhook endpoints over a Runtime; `wake` nudges the outbox worker after a commit."""

    intake, lineage = Intake(rt), Intake(rt, receive_events)

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

    async def openlineage(request: Request) -> JSONResponse:
        """OpenLineage RunEvents: one, or a JSON array. An event and the alert it amounts to are stored
        together (group-committed like alerts); a repeat of a run's event type is answered as a duplicate."""
        try:
            authorize(request, rt.settings.alerts_token)
            body = _decoded(request, await read_bounded(request, MAX_LINEAGE_BODY), MAX_LINEAGE_BODY)
            events = parse_events(body, rt.clock())
            results = await lineage.submit(events)
        except Rejected as err:
            return JSONResponse(err.body, status_code=err.status)
        except AlertError as err:
            return JSONResponse(err.as_json() | {"error": "invalid OpenLineage event"}, status_code=400)
        wake()
        for result in results:
            outcome = "duplicate" if result.duplicate else ("known" if result.owned.pipeline else "unknown_job")
            rt.metrics.lineage_events.labels(result.event.event_type, outcome).inc()
            if result.incident is not None:
                alert_status = "succeeded" if result.event.event_type == "COMPLETE" else "failed"
                rt.metrics.alerts.labels("openlineage", alert_status,
                                         "repeat" if result.incident.deduplicated else "new").inc()
        return JSONResponse({"events": [r.as_json() for r in results]}, status_code=202)

    return generic, alertmanager, openlineage
