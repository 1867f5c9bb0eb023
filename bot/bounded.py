"""Limits on who may send a request and what it may carry, checked before anything parses it."""

from __future__ import annotations

import ipaddress

from starlette.requests import ClientDisconnect, Request

MAX_DEPTH = 32  # our payloads are a few levels deep; thousands of levels are an attack on the parser


class Rejected(Exception):
    """A request refused before it reaches a handler: the status and the JSON body that says why."""

    def __init__(self, status: int, body: dict):
        self.status, self.body = status, body


def is_local(request: Request) -> bool:
    """A client on this machine (Starlette's test client counts as one)."""
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "testclient"


async def read_bounded(request: Request, limit: int) -> bytes:
    """The body, read no further than `limit` bytes: a 200 MB POST is refused after 256 KiB, not held."""
    too_big = Rejected(413, {"error": f"body over {limit // 1024} KiB", "field": "body"})
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_big
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_big
            chunks.append(chunk)
    except ClientDisconnect:
        raise Rejected(400, {"error": "client disconnected", "field": "body"}) from None
    return b"".join(chunks)


def too_deep(body: bytes | bytearray | str, limit: int = MAX_DEPTH) -> bool:
    """Whether the brackets of a JSON text nest deeper than `limit` (strings skipped), found without
    parsing it: json.loads recurses once per level."""
    text = body.decode("utf-8", "replace") if isinstance(body, (bytes, bytearray)) else body
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False
