"""The Slack app manifest: paste it at api.slack.com/apps > Create New App > From a manifest."""

from __future__ import annotations

import yaml

BOT_SCOPES = [
    "chat:write",          # alert threads, handoffs, reminders
    "chat:write.public",   # post in public channels without being invited
    "files:write",         # the weekly picture, uploaded into the handoff's thread
    "commands",            # /oncall and /runbook
    "users:read",
    "users:read.email",    # people in the runbook are matched by email
    "usergroups:read",
    "usergroups:write",    # an @oncall group that follows the rotation
    "im:write",            # direct reminders and pages
    "im:history",          # after a crash mid-post, the bot looks for a DM it may already have sent
    "channels:read",       # the alerts channel's ID from its name, and its history: after a crash
    "groups:read",         # mid-post, the bot looks for the alert it may already have posted
    "channels:history",    # (public and private channels, and threads) instead of posting it twice
    "groups:history",
]


def manifest(team_name: str, base_url: str, socket_mode: bool = False) -> dict:
    url = base_url.rstrip("/") + "/slack/events"
    with_url = {} if socket_mode else {"url": url}
    commands = [
        {"command": "/oncall", "description": "Who is on call, the schedule, swaps",
         "usage_hint": "[schedule [weeks] | swap | override @user FROM TO | overrides | help]",
         "should_escape": True, **with_url},
        {"command": "/runbook", "description": "A pipeline's runbook card",
         "usage_hint": "<pipeline> [public]", "should_escape": False, **with_url},
    ]
    events = {"bot_events": ["app_home_opened"]}
    interactivity = {"is_enabled": True}
    if not socket_mode:
        events["request_url"] = url
        interactivity["request_url"] = url
    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": "oncall-bot",
            "description": f"On-call and pipeline runbooks for {team_name}"[:140],
            "background_color": "#1d3557",
        },
        "features": {
            "app_home": {"home_tab_enabled": True, "messages_tab_enabled": False,
                         "messages_tab_read_only_enabled": True},
            "bot_user": {"display_name": "oncall-bot", "always_online": True},
            "slash_commands": commands,
        },
        "oauth_config": {"scopes": {"bot": BOT_SCOPES}},
        "settings": {
            "event_subscriptions": events,
            "interactivity": interactivity,
            "org_deploy_enabled": False,
            "socket_mode_enabled": socket_mode,
            "token_rotation_enabled": False,
        },
    }


def manifest_yaml(team_name: str, base_url: str, socket_mode: bool = False) -> str:
    return yaml.safe_dump(manifest(team_name, base_url, socket_mode), sort_keys=False, width=120)
