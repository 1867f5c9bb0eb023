"""A fake Slack Web API: a real HTTP server on 127.0.0.1 that records each call and answers like Slack.

Failures are injected per method: `fake.fail("chat.postMessage", status=429, retry_after=1)` makes the
next call answer 429 with Retry-After; `status=500` a server error. `fake.slow("chat.postMessage", 2)`
makes the answer come 2 s after the call took effect (a post is in the channel's history at once).
Channels are known by the name or ID they were posted to: that string is also their ID here.

Files go up as Slack's current upload API takes them (slack_sdk's files_upload_v2):
files.getUploadURLExternal answers an upload URL on this server (`/upload/<file_id>`), the bytes are
POSTed there (kept in `uploads[file_id]["data"]`, the POST recorded as a call of method "upload"), and
files.completeUploadExternal shares them in `channel_id` (in the thread `thread_ts`): a message with
the files, as conversations.replies then shows it.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl


@dataclass
class Call:
    method: str
    args: dict
    headers: dict
    at: float
    status: int = 200

    def texts(self) -> str:
        """The text and the blocks, as one string to search."""
        return self.args.get("text", "") + json.dumps(self.args.get("blocks", []), ensure_ascii=False)


@dataclass
class Failure:
    status: int
    retry_after: int | None
    times: int
    landed: bool = False


@dataclass
class FakeSlack:
    users_by_email: dict[str, str] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    failures: dict[str, list[Failure]] = field(default_factory=dict)
    team_id: str = "T0TEAM"
    port: int = 0
    delays: dict[str, float] = field(default_factory=dict)
    messages: list[dict] = field(default_factory=list)   # every top-level post and reply, as history shows them
    uploads: dict[str, dict] = field(default_factory=dict)  # file_id → filename, length, data, channel_id, thread_ts

    def __post_init__(self):
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._file_ts = itertools.count(1)  # shared files' messages: not the posts' numbering tests rely on
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("content-length") or 0)
                if self.path.startswith("/upload/"):  # a file's bytes, to the URL getUploadURLExternal gave
                    status, text = fake._upload(self.path.rsplit("/", 1)[-1], self.rfile.read(length),
                                                dict(self.headers))
                    data = text.encode()
                    self.send_response(status)
                    self.send_header("content-type", "text/plain; charset=utf-8")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                raw = self.rfile.read(length).decode()
                if self.headers.get("content-type", "").startswith("application/json"):
                    args = json.loads(raw or "{}")
                else:
                    args = dict(parse_qsl(raw, keep_blank_values=True))
                    for key in ("blocks", "view", "attachments"):
                        if isinstance(args.get(key), str):
                            with_json = args[key]
                            try:
                                args[key] = json.loads(with_json)
                            except ValueError:
                                pass
                path, _, query = self.path.partition("?")
                args |= dict(parse_qsl(query, keep_blank_values=True))
                method = path.rstrip("/").rsplit("/", 1)[-1]
                status, headers, body = fake._answer(method, args, dict(self.headers))
                if fake.delays.get(method):
                    time.sleep(fake.delays[method])
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                data = json.dumps(body).encode()
                self.send_header("content-type", "application/json; charset=utf-8")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        # A short poll: shutdown() waits up to one poll interval, and every test closes one.
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _upload(self, file_id: str, data: bytes, headers: dict) -> tuple[int, str]:
        with self._lock:
            known = file_id in self.uploads
            self.calls.append(Call("upload", {"file_id": file_id, "length": len(data)}, headers, time.time(),
                                   200 if known else 404))
            if not known:
                return 404, "unknown upload URL"
            self.uploads[file_id]["data"] = data
        return 200, f"OK - {len(data)}"

    def fail(self, method: str, status: int = 429, retry_after: int | None = 1, times: int = 1,
             landed: bool = False) -> None:
        """The next `times` calls of `method` fail; `landed`: a post is kept all the same (the answer
        was lost, not the message)."""
        with self._lock:
            self.failures.setdefault(method, []).append(Failure(status, retry_after, times, landed))

    def slow(self, method: str, seconds: float) -> None:
        self.delays[method] = seconds

    def of(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method and c.status == 200]

    def wait_for(self, method: str, count: int = 1, timeout: float = 10, wanted=None) -> list[Call]:
        """The answered calls of `method` (those `wanted` accepts), once there are `count` of them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [c for c in self.of(method) if wanted is None or wanted(c)]
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"expected {count} {method} call(s), got: {[c.texts()[:120] for c in self.of(method)]}")

    def _answer(self, method: str, args: dict, headers: dict):
        with self._lock:
            queue = self.failures.get(method) or []
            if queue:
                failure = queue[0]
                failure.times -= 1
                if failure.times <= 0:
                    queue.pop(0)
                self.calls.append(Call(method, args, headers, time.time(), failure.status))
                if failure.landed:
                    self._lock.release()
                    try:
                        self._body(method, args)
                    finally:
                        self._lock.acquire()
                extra = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
                error = "ratelimited" if failure.status == 429 else "internal_error"
                return failure.status, extra, {"ok": False, "error": error}
            self.calls.append(Call(method, args, headers, time.time()))
        if not headers.get("Authorization", headers.get("authorization", "")).startswith("Bearer xoxb-"):
            return 200, {}, {"ok": False, "error": "not_authed"}
        return 200, {}, self._body(method, args)

    def _body(self, method: str, args: dict) -> dict:
        if method == "auth.test":
            return {"ok": True, "url": "https://fake.slack.com/", "team": "Fake", "user": "oncall-bot",
                    "team_id": self.team_id, "user_id": "UBOT", "bot_id": "BBOT"}
        if method in ("chat.postMessage", "chat.postEphemeral"):
            ts = f"{1_800_000_000 + next(self._ts)}.000100"
            channel = _im(args.get("channel"))  # as Slack: a message to a user goes to the IM channel
            if method == "chat.postMessage":
                with self._lock:
                    self.messages.append({"channel": channel, "ts": ts, "text": args.get("text"),
                                          "thread_ts": args.get("thread_ts"), "metadata": args.get("metadata")})
            return {"ok": True, "channel": channel, "ts": ts, "message": {"text": args.get("text")}}
        if method == "conversations.list":
            with self._lock:
                names = dict.fromkeys(m["channel"] for m in self.messages if str(m["channel"]).startswith("#"))
            return {"ok": True, "channels": [{"id": name, "name": name[1:]} for name in names],
                    "response_metadata": {"next_cursor": ""}}
        if method == "conversations.history":
            oldest = float(args.get("oldest") or 0)
            with self._lock:
                found = [m for m in self.messages if m["channel"] == args.get("channel") and not m["thread_ts"]
                         and float(m["ts"]) >= oldest]
            metadata = str(args.get("include_all_metadata")).lower() in ("1", "true")
            return {"ok": True, "has_more": False,
                    "messages": [{"type": "message", "ts": m["ts"], "text": m["text"]}
                                 | ({"metadata": m["metadata"]} if metadata and m["metadata"] else {})
                                 for m in reversed(found)]}
        if method == "conversations.replies":
            oldest = float(args.get("oldest") or 0)
            with self._lock:
                found = [m for m in self.messages if m["channel"] == args.get("channel")
                         and args.get("ts") in (m["ts"], m["thread_ts"]) and float(m["ts"]) >= oldest]
            metadata = str(args.get("include_all_metadata")).lower() in ("1", "true")
            return {"ok": True, "has_more": False,
                    "messages": [{"type": "message", "ts": m["ts"], "text": m["text"]}
                                 | ({"metadata": m["metadata"]} if metadata and m["metadata"] else {})
                                 | ({"files": m["files"]} if m.get("files") else {})
                                 for m in found]}
        if method == "files.getUploadURLExternal":
            file_id = f"F{next(self._file_ids):08d}"
            with self._lock:
                self.uploads[file_id] = {"filename": args.get("filename"), "length": int(args.get("length") or 0),
                                         "data": None, "channel_id": None, "thread_ts": None}
            return {"ok": True, "upload_url": f"{self.url.removesuffix('/api/')}/upload/{file_id}", "file_id": file_id}
        if method == "files.completeUploadExternal":
            files = args.get("files")
            files = json.loads(files) if isinstance(files, str) else files or []
            shared = []
            with self._lock:
                for f in files:
                    upload = self.uploads.get(f.get("id"))
                    if upload is None or upload["data"] is None:
                        return {"ok": False, "error": "file_not_found"}
                    upload.update(channel_id=args.get("channel_id"), thread_ts=args.get("thread_ts"),
                                  title=f.get("title"))
                    shared.append({"id": f["id"], "name": upload["filename"], "title": f.get("title") or
                                   upload["filename"], "size": len(upload["data"])})
                if args.get("channel_id"):
                    self.messages.append({"channel": args["channel_id"], "ts": f"{1_900_000_000 + next(self._file_ts)}.000200",
                                          "text": "", "thread_ts": args.get("thread_ts"), "metadata": None,
                                          "files": shared})
            return {"ok": True, "files": shared}
        if method == "chat.update":
            return {"ok": True, "channel": args.get("channel"), "ts": args.get("ts")}
        if method == "chat.getPermalink":
            channel, ts = args.get("channel"), str(args.get("message_ts", ""))
            return {"ok": True, "channel": channel,
                    "permalink": f"https://fake.slack.com/archives/{channel}/p{ts.replace('.', '')}"}
        if method == "users.lookupByEmail":
            user = self.users_by_email.get(args.get("email", ""))
            return {"ok": True, "user": {"id": user}} if user else {"ok": False, "error": "users_not_found"}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": _im(str(args.get("users", "X")).split(",")[0])}}
        return {"ok": True}


def _im(channel):
    """The IM channel of a user ID (Slack answers a DM with it); any other channel as it is."""
    return "D" + channel if isinstance(channel, str) and channel[:1] in ("U", "W") else channel
