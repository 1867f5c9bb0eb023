"""Bench: OpenLineage intake (POST /api/v1/lineage) beside the generic /alerts and a bare Starlette endpoint.

    python bench/openlineage.py [--seconds 10]

Load comes from wrk (Debian package `wrk`): 2 threads, 16 connections, a short warm-up, then
--seconds; a Lua script makes every request distinct (a FAIL RunEvent with its own runId, or an
alert with its own dedup_key). Prints one row per target (requests/s, p50, p99, non-2xx responses),
openlineage as a share of /alerts and of the bare endpoint, the RSS of both `oncall-bot serve`
processes after their run, and the lineage_events rows stored against the 202s wrk saw ("lost: N").
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench.alerts import HEADERS, TOKEN, serve, start_fake_slack
from bench.loadgen import ROOT, Server, free_port, python

MARK = "__DISTINCT__"
LUA = """local prefix, suffix = [==[{prefix}]==], [==[{suffix}]==]
local headers = {{["Authorization"] = "Bearer {token}", ["Content-Type"] = "application/json"}}
local threads, started = {{}}, 0
n = 0
function setup(thread)
  started = started + 1
  thread:set("id", {base} + started)
  table.insert(threads, thread)
end
function request()
  n = n + 1
  return wrk.format("POST", "{path}", headers, prefix .. string.format("{key}", id, n) .. suffix)
end
function done(summary, latency, requests)
  local sent = 0
  for _, t in ipairs(threads) do sent = sent + t:get("n") end
  io.write(string.format("sent: %d\\n", sent))
end
"""


def lineage_event(run_id: str, event_time: str) -> dict:
    producer = "https://bench.test"
    return {"eventTime": event_time, "producer": producer,
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent", "eventType": "FAIL",
            "run": {"runId": run_id, "facets": {"errorMessage": {
                "_producer": producer, "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json",
                "message": "Caused by: java.lang.NullPointerException", "programmingLanguage": "python",
                "stackTrace": "Traceback (most recent call last):\n  File \"growth.py\", line 42, in load\n"
                              "    rows = fetch(day)\nCaused by: java.lang.NullPointerException"}}},
            "job": {"namespace": "airflow", "name": "growth"}, "inputs": [],
            "outputs": [{"namespace": "warehouse", "name": "analytics.growth_daily"}]}


@dataclass
class Run:
    label: str
    requests: int  # responses wrk read; `sent` - `requests` were in flight when it stopped, or timed out
    sent: int
    rate: float
    p50: float
    p99: float
    non2xx: int
    socket: str

    @property
    def accepted(self) -> int:
        return self.requests - self.non2xx

    def row(self) -> str:
        return (f"{self.label:<24} {self.rate:8.0f} req/s   p50 {self.p50:6.1f} ms   p99 {self.p99:6.1f} ms   "
                f"non-2xx {self.non2xx}{'   socket errors: ' + self.socket if self.socket else ''}")


def ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(label: str, url: str, path: str, body: dict, key: str, tmp: Path, seconds: int, base: int) -> Run:
    prefix, suffix = json.dumps(body).split(MARK)
    script = tmp / f"wrk-{base}.lua"
    script.write_text(LUA.format(prefix=prefix, suffix=suffix, token=TOKEN, base=base, path=path, key=key))
    out = subprocess.run(["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency", "-s", str(script), url + path],
                         capture_output=True, text=True, check=True).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.MULTILINE))
    socket = re.search(r"Socket errors: (.*)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return Run(label, int(re.search(r"(\d+) requests in", out)[1]), int(re.search(r"sent: (\d+)", out)[1]),
               float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]), ms(latency["50"]), ms(latency["99"]),
               int(non2xx[1]) if non2xx else 0, socket[1] if socket else "")


def measure(label: str, url: str, path: str, body: dict, key: str, tmp: Path, seconds: int) -> list[Run]:
    """A check that one request of this kind is accepted, a 2 s warm-up, then the measured run."""
    distinct = str(uuid.uuid4()) if path.endswith("lineage") else "bench-check"
    answer = httpx.post(url + path, content=json.dumps(body).replace(MARK, distinct), headers=HEADERS)
    if answer.status_code != 202:
        raise SystemExit(f"{label}: POST {path} answered {answer.status_code}, not 202: {answer.text[:500]}")
    return [wrk(label, url, path, body, key, tmp, 2, 0), wrk(label, url, path, body, key, tmp, seconds, 100)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    seconds = max(1, round(args.seconds))
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    lineage, uid = lineage_event(MARK, now), "%08x-0000-4000-8000-%012x"
    numbered = "bench-%d-%d"
    generic = {"pipeline": "growth", "status": "failed", "dedup_key": MARK,
               "error": "Caused by: java.lang.NullPointerException"}
    tmp = Path(tempfile.mkdtemp(prefix="oncall-openlineage-bench-"))
    slack, slack_url, _ = start_fake_slack(tmp)
    try:
        ours = serve(tmp, slack_url, "lineage")
        try:
            warm, ol = measure("serve /api/v1/lineage", ours.url, "/api/v1/lineage", lineage, uid, tmp, seconds)
            ol_rss = ours.rss_mb()
        finally:
            ours.stop()
        ours = serve(tmp, slack_url, "alerts")
        try:
            _, al = measure("serve /alerts", ours.url, "/alerts", generic, numbered, tmp, seconds)
            al_rss = ours.rss_mb()
        finally:
            ours.stop()
        port = free_port()
        bare = Server([python(), str(ROOT / "bench" / "baselines.py"), "starlette", str(port)], {}, port)
        try:
            _, ceiling = measure("bare Starlette /alerts", bare.url, "/alerts", generic, numbered, tmp, seconds)
        finally:
            bare.stop()
    finally:
        slack.terminate()
    for run in (ol, al, ceiling):
        print(run.row())
    print(f"openlineage: {ol.rate / al.rate:.0%} of /alerts, {ol.rate / ceiling.rate:.0%} of the bare endpoint")
    print(f"rss after the run: serve (lineage) {ol_rss:.0f} MB, serve (/alerts) {al_rss:.0f} MB")
    with sqlite3.connect(tmp / "lineage.db") as db:
        stored = db.execute("SELECT count(*) FROM lineage_events").fetchone()[0]
    answered = 1 + warm.accepted + ol.accepted  # the check's event, the warm-up's and the run's 202s
    unanswered = warm.sent - warm.requests + ol.sent - ol.requests
    print(f"lineage_events: {stored} rows for {answered} answered 202 (check, warm-up and run); "
          f"{unanswered} more sent, unanswered when wrk stopped")
    print(f"lost: {max(0, answered - stored)}")


if __name__ == "__main__":
    main()
