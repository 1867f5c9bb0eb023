from bot.runbook.loader import Loaded, Problem, RunbookError, load, loads
from bot.runbook.models import Pipeline, Rotation, Runbook

__all__ = ["Loaded", "Pipeline", "Problem", "Rotation", "Runbook", "RunbookError", "load", "loads"]
