"""Public holidays by country and year, from the `holidays` package, remembered on disk.

Why a disk cache: `holidays` imports the module of every country it supports on first use
(~0.15 s), which alone would put the read-only CLI commands over their start-up budget. The
dates of one (country, subdivision, year) never change for a given `holidays` release, so they
are kept in one small JSON file keyed by that release; a different release, or any trouble
reading or writing the file, simply means asking the package again. Set ONCALL_BOT_CACHE_DIR to
move the file, or to an empty string to turn the cache off.
"""

from __future__ import annotations

import json
import os
from datetime import date
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path

_FILE = "public-holidays.json"


def names(country: str, subdiv: str | None, year: int) -> dict[date, str]:
    """Holiday names by date; raises NotImplementedError for an unknown country or subdivision."""
    key = f"{country}|{subdiv or ''}|{year}"
    cache = _cache()
    if key not in cache:
        import holidays

        table = holidays.country_holidays(country, subdiv=subdiv, years=year)
        cache[key] = {day.isoformat(): name for day, name in sorted(table.items()) if day.year == year}
        _save(cache)
    return {date.fromisoformat(day): name for day, name in cache[key].items()}


def known(country: str, subdiv: str | None) -> bool:
    """Whether the `holidays` package has a calendar for this country (and subdivision)."""
    prefix = f"{country}|{subdiv or ''}|"
    if any(key.startswith(prefix) for key in _cache()):
        return True
    import holidays

    try:
        holidays.country_holidays(country, subdiv=subdiv)
    except NotImplementedError:
        return False
    return True


def _directory() -> Path | None:
    configured = os.environ.get("ONCALL_BOT_CACHE_DIR")
    if configured is not None:
        return Path(configured) if configured else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "oncall-bot"


def _release() -> str:
    """Identifies the installed `holidays` release without importing it (importing is the slow part)."""
    spec = find_spec("holidays")
    if not spec or not spec.origin:
        return "none"
    version_file = Path(spec.origin).with_name("version.py")
    try:
        stat = version_file.stat()
    except OSError:
        return spec.origin
    return f"{spec.origin}:{stat.st_size}:{stat.st_mtime_ns}"


@lru_cache(maxsize=1)
def _cache() -> dict[str, dict[str, str]]:
    directory = _directory()
    if directory is None:
        return {}
    try:
        stored = json.loads((directory / _FILE).read_text(encoding="utf-8"))
        if stored.get("release") == _release() and isinstance(stored.get("years"), dict):
            return stored["years"]
    except (OSError, ValueError, AttributeError):
        pass
    return {}


def _save(cache: dict[str, dict[str, str]]) -> None:
    directory = _directory()
    if directory is None:
        return
    try:
        directory.mkdir(parents=True, exist_ok=True)
        temporary = directory / f".{_FILE}.{os.getpid()}"
        temporary.write_text(json.dumps({"release": _release(), "years": cache}), encoding="utf-8")
        os.replace(temporary, directory / _FILE)  # atomic: a concurrent reader sees the old or the new file
    except OSError:
        pass
