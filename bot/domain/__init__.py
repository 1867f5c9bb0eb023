"""The on-call domain: pure functions of a Runbook and an instant. Nothing here reads the clock."""
