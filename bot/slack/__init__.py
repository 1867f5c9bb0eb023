"""The Slack layer: thin listeners and Block Kit renderers over the pure domain."""
