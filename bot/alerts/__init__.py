"""Alert sources parsed into one Alert type, and the intake that turns alerts into incidents.

Parsers are pure; only `bot.alerts.intake` touches the store, so importing a parser stays cheap.
"""

from bot.alerts.model import Alert, AlertError

__all__ = ["Alert", "AlertError"]
