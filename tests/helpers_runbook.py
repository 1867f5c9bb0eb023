"""Shared helpers for the runbook/domain/CLI tests (issue 2).

Kept out of conftest.py on purpose: the Slack and HTTP suites own their own fixtures there.
Import what you need: `from tests.helpers_runbook import ...` or, with tests/ on sys.path,
`from helpers_runbook import ...`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from bot.runbook import Runbook, load, loads

REPO = Path(__file__).resolve().parent.parent
SOURCE_RUNBOOK = REPO / "runbooks.yaml"
SOURCE_TEXT = SOURCE_RUNBOOK.read_text(encoding="utf-8")
ROTATION = "data-engineering"
MEMBERS = ["Danny", "Anna", "Laura", "Jane"]


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@lru_cache(maxsize=1)
def source() -> Runbook:
    """The repository's runbooks.yaml: the source team's runbook."""
    return load(SOURCE_RUNBOOK).runbook


def runbook(text: str) -> Runbook:
    """A runbook from YAML text written in a test (dedented)."""
    return loads(textwrap.dedent(text), "<test>").runbook


def source_with(old: str, new: str, count: int = 1) -> str:
    """The source runbook's text with one exact edit; fails loudly when the text is not there."""
    assert SOURCE_TEXT.count(old) >= 1, f"not in runbooks.yaml: {old!r}"
    return SOURCE_TEXT.replace(old, new, count)


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line number of the `occurrence`-th line containing `needle`."""
    seen = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            seen += 1
            if seen == occurrence:
                return number
    raise AssertionError(f"{needle!r} not found")


def team_runbook(timezone: str = "UTC", *, members=("Ada", "Ben", "Cy"), start: str = "2026-01-05",
                 handoff: str = '{day: mon, time: "09:00"}', turn: str = "1w", overrides: str = "[]",
                 country: str = "US", work_days: str = "[mon, tue, wed, thu, fri]") -> Runbook:
    """A small runbook with one rotation, for rotation and calendar tests in any zone."""
    people = "\n".join(f"  {name}: {{email: {name.lower()}@example.org}}" for name in members)
    handoff_line = f"    handoff: {handoff}\n" if handoff else ""
    return loads(
        f"team:\n"
        f"  name: Test team\n"
        f"  timezone: {timezone}\n"
        f"  work_hours: {{days: {work_days}, start: \"09:00\", end: \"17:00\"}}\n"
        f"  holidays: {{country: {country}}}\n"
        f"  channels: {{oncall: '#oncall', alerts: '#alerts'}}\n"
        f"people:\n{people}\n"
        f"rotations:\n"
        f"  main:\n"
        f"    members: [{', '.join(members)}]\n"
        f"    start: {start}\n"
        f"{handoff_line}"
        f"    turn: {turn}\n"
        f"overrides: {overrides}\n"
        f"pipelines:\n"
        f"  nightly:\n"
        f"    name: Nightly\n"
        f"    owners: {{primary: {members[0]}}}\n"
        f"    on_call: {{rotation: main, page: [weekdays, weekends, holidays]}}\n",
        "<test>",
    ).runbook


def run_cli(*args: str, cwd: Path | str | None = None, stdin: str | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`python -m bot ARGS` as a fresh process, as a person runs `oncall-bot`."""
    full_env = {key: value for key, value in os.environ.items() if key != "RUNBOOKS_PATH"}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd or REPO, input=stdin,
                          capture_output=True, text=True, env=full_env, timeout=60)


def run_cli_here(*args: str) -> subprocess.CompletedProcess:
    """`oncall-bot ARGS` in this process (the parser and the commands as they are; no start-up cost),
    for the many cases of one command; `run_cli` keeps what is about the process itself."""
    import contextlib
    import io

    from bot.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return subprocess.CompletedProcess(["oncall-bot", *args], code, out.getvalue(), err.getvalue())


def cli_json(*args: str, **kwargs):
    """A command's JSON answer: in this process, unless the process itself matters (env, cwd)."""
    done = run_cli(*args, **kwargs) if kwargs else run_cli_here(*args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def parse_iso(text: str) -> datetime:
    assert text.endswith("Z"), f"not ISO-8601 UTC with Z: {text!r}"
    return datetime.fromisoformat(text[:-1] + "+00:00")


# A second team in a zone with DST: other people, other pipelines, German public holidays (Berlin).
BERLIN = """\
team:
  name: Shop Data
  timezone: Europe/Berlin
  work_hours: {days: [mon, tue, wed, thu, fri], start: "08:00", end: "16:00"}
  holidays: {country: DE, subdiv: BE}
  channels: {oncall: "#shop-oncall", alerts: "#shop-alerts"}
  admins: [Mia]
  escalation: {ack_within: 20m, chain: [oncall, primary, admins]}
people:
  Felix: {slack_id: U0FELIX01}
  Soeren: {slack_id: U0SOEREN1}
  Mia: {slack_id: U0MIA0001}
  Jonas: {slack_id: U0JONAS01}
rotations:
  shop:
    members: [Felix, Soeren, Jonas]
    start: 2026-11-02
    handoff: {day: mon, time: "10:00"}
    turn: 1w
pipelines:
  orders:
    name: Orders
    owners: {primary: Jonas, secondary: Felix}
    schedule: "30 2 * * *"
    sla: {data_ready_by: "05:00", fix_within: 24h}
    on_call: {rotation: shop, page: [weekdays, weekends], if_deferral_misses_fix_by: page_oncall}
  ledger:
    name: Ledger
    owners: {primary: Mia, secondary: Soeren}
    schedule: "0 3 * * *"
    sla: {data_ready_by: "06:00"}
    on_call: {outside_work_hours: defer}
  kpis:
    name: Monthly KPIs
    owners: {primary: Soeren}
    schedule: "0 4 * * 1"
    sla: {fix_by: end_of_month}
    on_call: {outside_work_hours: quiet, weekly_check: {day: tue, time: "09:00"}}
"""
