"""Persistence: incidents, alert events, audit trail, Slack outbox, exactly-once notifications, overrides.

Imported only by `serve` and the alert paths; read-only CLI commands never load SQLAlchemy.
"""

from bot.store.db import Store, tx
from bot.store.records import Action, Incident, OutboxItem

__all__ = ["Action", "Incident", "OutboxItem", "Store", "tx"]
