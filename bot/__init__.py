"""oncall-bot: a runbook-driven Slack bot for data-pipeline on-call."""

__version__ = "0.1.0"
