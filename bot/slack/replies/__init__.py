"""Replies to commands and views, as Block Kit messages. No Slack calls here but person lookups."""
