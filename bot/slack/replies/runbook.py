"""Replies to /runbook: a pipeline's runbook card, or the list of known pipelines."""

from __future__ import annotations

from bot.describe import lineage_text, policy_text, schedule_text, sla_text
from bot.domain.policy import owners_of
from bot.runbook.models import Runbook
from bot.slack.blocks import Message, bullet_list, context, divider, fields, header, message, section
from bot.slack.people import Directory
from bot.slack.text import escape


def known_pipelines(runbook: Runbook, asked: str | None) -> Message:
    lines = [f"`{key}`: {escape(p.name)}" for key, p in runbook.pipelines.items()]
    intro = f"No pipeline called *{escape(asked)}*." if asked else "Which pipeline?"
    blocks = [section(f"{intro} Known pipelines:\n" + bullet_list(lines)), context("Usage: `/runbook <pipeline>`")]
    return message(f"{intro} Known: {', '.join(runbook.pipelines)}", blocks)


async def card(runbook: Runbook, key: str, people: Directory, seen=()) -> Message:
    """`seen`: the (writer, reader) pipeline pairs OpenLineage datasets showed, beside depends_on."""
    p = runbook.pipelines[key]
    await people.resolve(owners_of(runbook, key))
    owner_text = (f"{people.mention(p.owners.primary)} (primary)\n"
                  f"{people.mention(p.owners.secondary) if p.owners.secondary else '_none_'} (secondary)"
                  if p.owners else "_not given_")
    blocks = [header(f"Runbook: {p.name}")]
    if p.description:
        blocks.append(section(escape(p.description)))
    blocks.append(fields([
        ("Owners", owner_text),
        ("Schedule", escape(schedule_text(p, runbook.clock_zone(key).key)) if p.schedule else "_not given_"),
        ("Upstream: check with", escape(", ".join(p.upstream)) or "_none_"),
        ("Downstream: tell", escape(", ".join(p.downstream)) or "_none_"),
    ]))
    if lineage := lineage_text(runbook, key, seen):
        blocks.append(section(escape(lineage)))
    blocks.append(section("*SLA and fix deadline*\n" + (bullet_list([escape(s) for s in sla_text(p, runbook.clock_zone(key).key)]) or "_not given_")))
    blocks.append(section("*On call*\n" + bullet_list([escape(s) for s in policy_text(runbook, p)])))
    blocks.append(divider())
    if p.common_issues:
        for issue in p.common_issues:
            blocks.append(section(f"*{escape(issue.title)}*\n{escape(issue.remediation)}"))
    else:
        blocks.append(section("*Common issues*\n_none listed; team-wide signatures still apply_"))
    if missing := p.missing():
        blocks.append(context(f":warning: Incomplete runbook: no {', '.join(missing)}. "
                              "Alerts still reach whoever is on call."))
    blocks.append(context(f"`{key}` · from {escape(runbook.team.name)}'s runbooks.yaml"))
    fallback = f"Runbook {p.name}: owners {', '.join(owners_of(runbook, key)) or 'not given'}"
    return message(fallback, blocks)
