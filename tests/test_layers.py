"""The layers, read from the imports: the domain and the runbook know nothing of the store, Slack,
the jobs or the alert routes; the jobs, the alerts and the swap flow render nothing (Slack renders
every outbox row in one place)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parent.parent / "bot"


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("layer, forbidden", [
    ("domain", ("bot.store", "bot.slack", "bot.jobs", "bot.alerts")),
    ("runbook", ("bot.domain", "bot.store", "bot.slack", "bot.jobs", "bot.alerts")),
    ("jobs", ("bot.slack",)),
    ("alerts", ("bot.slack",)),
    ("store", ("bot.slack", "bot.jobs", "bot.alerts")),
    ("swap_flow.py", ("bot.slack",)),
])
def test_no_import_runs_the_wrong_way(layer, forbidden):
    target = BOT / layer
    files = [target] if target.is_file() else sorted(target.rglob("*.py"))
    wrong = [f"{path.relative_to(BOT)} imports {module}" for path in files for module in sorted(imports(path))
             if module.startswith(forbidden)]
    assert wrong == []


def test_the_domain_reads_no_file_and_no_clock():
    """The one way out of the domain is the holiday table (bot.holiday_calendars); `now` is an argument."""
    found = []
    for path in sorted((BOT / "domain").rglob("*.py")):
        text = path.read_text()
        found += [f"{path.name}: {word}" for word in ("open(", "read_text(", "date.today(", "datetime.now(", "os.environ")
                  if word in text]
        found += [f"{path.name} imports {m}" for m in imports(path)
                  if m.startswith("bot.") and not m.startswith(("bot.domain", "bot.runbook", "bot.holiday_calendars"))]
    assert found == []
