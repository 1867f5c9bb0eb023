"""The on-call user group (e.g. @data-oncall) follows the incoming person at each handoff.

A Slack call, not a message, so it is made here after the pass claimed it: success marks the key
sent; a failure is said once in the on-call channel and the key is left to be retried after its
lease, until the shift ends. The group is never emptied: with no Slack account for the incoming
person, it keeps its members and the channel is told.
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

from bot.domain.notices import notice
from bot.jobs.core import Occurrence
from bot.store import outbox
from bot.store.notifications import finish

log = logging.getLogger("oncall_bot.jobs")


async def sync(rt, occ: Occurrence) -> bool:
    _, shift = occ.subject
    group = rt.runbook.rotations[occ.scope].usergroup
    await rt.directory.resolve([shift.person])
    user = await rt.directory.slack_id(shift.person)
    reason = None if user else f"{shift.person} has no Slack account the bot can find"
    if user:
        try:
            await rt.client.usergroups_users_update(usergroup=group, users=[user])
        except SlackApiError as err:
            reason = f"Slack said {err.response.get('error')}"
        except Exception as err:  # Slack unreachable: retried after the lease
            reason = f"{type(err).__name__}: {err}"
    now = rt.clock()
    if reason is None:
        await rt.db(finish, occ.key, "sent", now)
        return True
    log.warning("user group %s not updated: %s", group, reason)
    said = notice("usergroup_failed", usergroup=group, person=shift.person, reason=reason)
    await rt.db(_failed, rt, occ, said, now)
    return False


def _failed(store, rt, occ: Occurrence, said: dict, now) -> None:
    with store.transaction() as conn:
        outbox.enqueue(conn, kind="usergroup_failed", idempotency_key=f"{occ.key}#failed", now=now,
                       method="chat.postMessage", channel=rt.runbook.team.channels.oncall, args={"notice": said})
        finish(conn, occ.key, "failed", now)
