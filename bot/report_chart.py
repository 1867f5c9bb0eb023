"""The weekly picture: per pipeline with a data-ready time, one cell per local day (the team's zone):
on time, late, missed or no run, as a PNG.

matplotlib is an optional extra (`pip install 'oncall-bot[charts]'`), imported only when a picture is
drawn, with the Agg backend (a Figure on its own canvas: no pyplot, no global state, safe in a thread).
`available()` says whether it can be imported; without it the handoff says how to enable the picture
and `/report.png` answers 404.
"""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta

from bot.domain.report import LATE, MISSED, NO_RUN, ON_TIME
from bot.runbook.models import Runbook

INSTALL = "pip install 'oncall-bot[charts]'"
WEEKS = 4                    # the handoff's picture: the four weeks before it
MAX_WEEKS = 12               # /report.png?weeks= at most
ORDER = (ON_TIME, LATE, MISSED, NO_RUN)
COLOURS = {ON_TIME: "#2e9e5b", LATE: "#f2a900", MISSED: "#d64541", NO_RUN: "#dcdcdc"}
LABELS = {ON_TIME: "on time", LATE: "late", MISSED: "missed", NO_RUN: "no run"}


def available() -> bool:
    """Whether matplotlib can be imported (the `charts` extra is installed)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def pictured(runbook: Runbook) -> list[str]:
    """The pipelines the picture has a row for: those with a schedule and a data-ready time."""
    return [key for key, spec in runbook.pipelines.items()
            if spec.schedule and spec.sla and spec.sla.data_ready_by is not None]


def days_before(runbook: Runbook, at: datetime, weeks: int = WEEKS) -> list[date]:
    """The weeks × 7 local days (team zone) that end the day before `at`, oldest first."""
    last = at.astimezone(runbook.tz).date() - timedelta(days=1)
    return [last - timedelta(days=n) for n in range(weeks * 7 - 1, -1, -1)]


def cells_at(db, runbook: Runbook, at: datetime, weeks: int = WEEKS) -> tuple[list[date], dict[str, list[str]]]:
    """The picture's days and cells as the store has them (one report read): the runs due on those
    days, judged at `at` (the handoff's instant, or now)."""
    from bot.domain.report import day_cells
    from bot.store.report_reads import facts

    days = days_before(runbook, at, weeks)
    start = datetime.combine(days[0], datetime.min.time(), runbook.tz)
    return days, day_cells(runbook, facts(db, runbook, start, at), days, at)


def filename(days: list[date]) -> str:
    return f"sla-{days[0]:%Y%m%d}-{days[-1]:%Y%m%d}.png" if days else "sla.png"


def title(runbook: Runbook, days: list[date]) -> str:
    if not days:
        return f"{runbook.team.name}: data ready on time"
    return (f"{runbook.team.name}: data ready on time, {days[0]:%a %d %b} to {days[-1]:%a %d %b %Y} "
            f"({runbook.team.timezone})")


def _plain(text: str) -> str:
    """Text as matplotlib shows it literally: a `$` would start mathtext."""
    return text.replace("$", r"\$")


def render_png(runbook: Runbook, cells: dict[str, list[str]], days: list[date]) -> bytes:
    """One row per pipeline (runbook order), one cell per day, a legend below; weeks set apart."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch, Rectangle

    keys = [k for k in runbook.pipelines if k in cells] + sorted(k for k in cells if k not in runbook.pipelines)
    names = [runbook.pipelines[k].name if k in runbook.pipelines else k for k in keys]
    rows, columns = max(1, len(keys)), max(1, len(days))
    fig = Figure(figsize=(max(6.0, 2.6 + 0.3 * columns), 1.7 + 0.45 * rows), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for row, key in enumerate(keys):
        for column, outcome in enumerate(cells[key][:columns]):
            ax.add_patch(Rectangle((column + 0.07, row + 0.1), 0.86, 0.8, linewidth=0,
                                   facecolor=COLOURS.get(outcome, COLOURS[NO_RUN])))
    if not keys:
        ax.text(columns / 2, 0.5, "No pipeline has a data-ready time", ha="center", va="center", fontsize=10)
    ax.set_xlim(0, columns)
    ax.set_ylim(rows, 0)  # the runbook's first pipeline on top
    ax.set_yticks([row + 0.5 for row in range(len(keys))], [_plain(n) for n in names])
    marks = list(range(0, len(days), 7))
    ax.set_xticks([m + 0.5 for m in marks], [f"{days[m]:%a %d %b}" for m in marks])
    for m in marks[1:] if keys else ():
        ax.axvline(m, color="#888888", linewidth=0.8)
    ax.tick_params(length=0, labelsize=9)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title(_plain(title(runbook, days)), fontsize=10, loc="left")
    ax.legend(handles=[Patch(facecolor=COLOURS[o], label=LABELS[o]) for o in ORDER], loc="upper center",
              bbox_to_anchor=(0.5, -0.12), ncol=len(ORDER), frameon=False, fontsize=9)
    out = io.BytesIO()
    fig.savefig(out, format="png", bbox_inches="tight", metadata={"Software": None})
    return out.getvalue()
