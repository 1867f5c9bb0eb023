"""The App Home tab: who is on call now, your next shifts, and the pipelines you own."""

from __future__ import annotations

from datetime import datetime, timedelta

from slack_sdk.models.views import View

from bot.domain.answers import oncall_now
from bot.domain.rotation import Roster
from bot.domain.policy import owners_of
from bot.runbook.models import Runbook
from bot.slack.blocks import VIEW_BLOCKS, bullet_list, context, divider, header, section
from bot.slack.people import Directory
from bot.slack.text import date_token, escape


async def home_view(runbook: Runbook, people: Directory, user_id: str, at: datetime, overrides) -> View:
    me = await people.person_of(user_id)
    current = oncall_now(runbook, at, overrides=overrides)
    blocks = [header(f"{runbook.team.name} on call")]
    if current.shift:
        blocks.append(section(f"{people.mention(current.shift.person)} is on call until {date_token(current.shift.end)}"
                              + (f"\nNext: {people.mention(current.next.person)} from {date_token(current.next.start)}"
                                 if current.next else "")))
    else:
        blocks.append(section("*Nobody* is on call right now."))
    blocks.append(divider())
    if me is None:
        blocks.append(section("You are not in this team's runbook, so you have no shifts or pipelines here."))
    else:
        mine = []
        for key in runbook.rotations:
            shifts = Roster(runbook, key, overrides).shifts(at, at + timedelta(weeks=12))
            mine += [s for s in shifts if s.person == me]
        lines = [f"{date_token(s.start)} → {date_token(s.end)}" + (" _(override)_" if s.is_override else "")
                 for s in sorted(mine, key=lambda s: s.start)[:10]]
        blocks.append(section("*Your next shifts*\n" + (bullet_list(lines) or "_none in the next 12 weeks_")))
        roles = ("primary", "secondary")
        owned = [(key, p, roles[owners_of(runbook, key).index(me)])
                 for key, p in runbook.pipelines.items() if me in owners_of(runbook, key)]
        owned_lines = [f"*{escape(p.name)}* (`{key}`): {role}" for key, p, role in owned]
        blocks.append(section("*Pipelines you own*\n" + (bullet_list(owned_lines) or "_none_")))
    blocks.append(context("`/oncall` · `/oncall schedule` · `/runbook <pipeline>`"))
    return View(type="home", blocks=blocks[:VIEW_BLOCKS])
