"""Wall time of the read-only CLI commands, each run as a fresh process (as a person or a cron job runs it).

Usage: python bench/cli_speed.py [--runs 15] [--runbook runbooks.yaml]
Prints median, min and max per command. Target (issue 2): `oncall-bot who` median <= 0.4 s.
Timings are printed, never asserted: they depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"who": 0.4}


def command() -> list[str]:
    script = shutil.which("oncall-bot")
    return [script] if script else [sys.executable, "-m", "bot"]


def time_runs(argv: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs + 1):  # the first run warms the OS file cache and is dropped
        started = time.perf_counter()
        done = subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            sys.exit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr}")
    return times[1:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--runbook", default=str(ROOT / "runbooks.yaml"))
    args = parser.parse_args()
    base = [*command(), "--runbook", args.runbook]
    cases = {
        "who": [*base, "who"],
        "who --json": [*base, "who", "--json"],
        "schedule --weeks 52": [*base, "schedule", "--weeks", "52"],
        "python -c pass (interpreter floor)": [sys.executable, "-c", "pass"],
    }
    print(f"{args.runs} runs each, {' '.join(command())}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    print(f"{'command':<36} {'median':>8} {'min':>8} {'max':>8}")
    for name, argv in cases.items():
        times = time_runs(argv, args.runs)
        median = statistics.median(times)
        target = TARGETS.get(name)
        verdict = "" if target is None else f"  target <= {target:.2f} s: {'met' if median <= target else 'MISSED'}"
        print(f"{name:<36} {median:>7.3f}s {min(times):>7.3f}s {max(times):>7.3f}s{verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
