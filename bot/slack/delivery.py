"""The outbox worker: every Slack delivery is a stored row first, sent here, retried until it lands.

Rows of an incident are rendered at send time from the incident's latest state, so a storm of
repeats becomes one edit of the parent message, and a retried edit never shows stale data. At most
one call per second goes to a channel (Slack's posting limit), across all replicas (store.pacing).
A Slack outage or a 429 delays rows; only a permanent client error (a deleted channel, say) gives
up, after several attempts.

A parent message carries the incident id as Slack message metadata, and any other top-level post
in a channel its outbox key. A process killed after Slack posted it but before the store recorded
it leaves the row to be tried again; that next attempt first looks for the message in the channel's
history, so an incident never gets a second parent and a handoff is never repeated.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from datetime import timedelta

from slack_sdk.errors import SlackApiError

from bot import report_chart
from bot.domain.notices import instant
from bot.jobs import handoff
from bot.runtime import Runtime
from bot.slack import notices
from bot.slack.client import DryRunClient
from bot.slack.replies import incident as render
from bot.store import outbox, pacing
from bot.store.incidents import children_of, get_incident
from bot.store.memory import note_of, similar_incidents
from bot.store.pass_reads import delivered
from bot.store.records import Incident, OutboxItem

log = logging.getLogger("oncall_bot.delivery")

CHANNEL_INTERVAL = 1.0
INCIDENT_EVENT = "oncall_incident"  # metadata event type of parent messages
MESSAGE_EVENT = "oncall_message"    # of other top-level messages (handoffs, reminders in channels)
MAX_CLIENT_ERRORS = 8
SUMMARY_REPLIES = 3  # repeats get at most this many thread replies; later ones only update the count


# Only while this worker still holds the row: after a lease ran out, the new holder's state stands.
_sent = functools.partial(outbox.mark_sent, worker=outbox.WORKER)
_failed = functools.partial(outbox.mark_failed, worker=outbox.WORKER)


class NotYet(Exception):
    """The row needs something that is not there yet (the parent message of its thread)."""


class Stopping(Exception):
    """The worker is stopping: a row still waiting for its channel's slot is handed back, not sent."""


class LostLease(Exception):
    """Another worker holds the row now (this one's lease ran out): it must not be sent from here."""


class Delivery:
    def __init__(self, rt: Runtime, batch: int = 5):
        # A small batch: rows are sent at one call per second per channel under one lease, and a
        # batch must be done long before the lease ends, or another replica would send it again.
        self.rt = rt
        self.batch = batch
        self._wake = rt.bell  # rung by whoever commits a row (rt.wake_delivery)
        self._channel_ids: dict[str, str] = {}  # "#name" → the ID Slack answered with
        self._stopping = False
        self._stopped = asyncio.Event()
        self._holding: OutboxItem | None = None  # the row being delivered: its lease is renewed before each call

    async def run(self) -> None:
        """Drain forever; woken early by `wake()` after an intake, else polls once a second."""
        await self.rt.db(release_dead_workers)
        while not self._stopping:
            try:
                sent = await self.drain_once()
            except Exception:
                log.exception("outbox drain failed; retrying")
                sent = 0
            if not sent:
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=1.0)
                except asyncio.TimeoutError:
                    pass
                self._wake.clear()

    def stop(self) -> None:
        """Finish the call in flight; rows still waiting for a slot go back to the queue at once
        (a shutdown does not wait out the pacing of a whole batch)."""
        self._stopping = True
        self._stopped.set()
        self._wake.set()

    async def drain_once(self) -> int:
        items = await self.rt.db(outbox.claim_due, self.rt.clock(), self.batch)
        for n, item in enumerate(items):
            if self._stopping:
                break
            # Channel posts are paced (a second each): a page that came in meanwhile goes first.
            if n and item.priority != outbox.URGENT and await self.rt.db(outbox.urgent_due, self.rt.clock()):
                await self.rt.db(outbox.hand_back, [i.id for i in items[n:]])
                break
            await self._deliver(item)
        if self._stopping:
            await self.rt.db(outbox.release, outbox.WORKER)
        return len(items)

    async def _deliver(self, item: OutboxItem) -> None:
        self._holding = item
        try:
            result = await self._send(item)
        except Stopping:
            return  # handed back by drain_once
        except LostLease:
            log.warning("outbox row %s (%s) was taken over by another worker; leaving it to them", item.id, item.kind)
            return
        except notices.Gone as err:
            log.error("giving up on outbox row %s (%s): %s", item.id, item.kind, err)
            await self.rt.db(_failed, item.id, str(err), None)
        except NotYet as err:
            if await self.rt.db(_parent_given_up, item.incident_id):
                log.error("giving up on outbox row %s (%s): its incident's message was never posted", item.id, item.kind)
                await self.rt.db(_failed, item.id, "parent message failed", None)
            else:
                await self._retry(item, str(err), timedelta(seconds=min(60, 2 ** item.attempts)))
        except SlackApiError as err:
            status = err.response.status_code
            code = str(err.response.get("error") or status)
            if status == 429:
                wait = int(err.response.headers.get("Retry-After", err.response.headers.get("retry-after", 1)) or 1)
                await self._retry(item, code, timedelta(seconds=wait))
            elif status >= 500 or item.attempts < MAX_CLIENT_ERRORS:
                await self._retry(item, code, timedelta(seconds=min(300, 2 ** item.attempts)))
            else:
                log.error("giving up on outbox row %s (%s): %s", item.id, item.kind, code)
                await self.rt.db(_failed, item.id, code, None)
        except Exception as err:  # connection refused, timeouts: Slack is down, keep the row
            await self._retry(item, f"{type(err).__name__}: {err}", timedelta(seconds=min(300, 2 ** item.attempts)))
        else:
            await self.rt.db(_sent, item.id, result, self.rt.clock())

    async def _retry(self, item: OutboxItem, error: str, wait: timedelta) -> None:
        log.warning("outbox row %s (%s) not delivered, retry in %s: %s", item.id, item.kind, wait, error)
        await self.rt.db(_failed, item.id, error, self.rt.clock() + wait)

    async def _send(self, item: OutboxItem) -> dict | None:
        if item.kind == handoff.CHART:
            return await self._report_chart(item)
        if item.incident_id is None:
            args = await self._rendered(item)
            method = item.method or "chat.postMessage"
            if method == "chat.postMessage":
                return await self._post_once(item, args)
            return await self._call(method, args)
        incident = await self.rt.db(get_incident, item.incident_id)
        if incident is None:
            return None
        if incident.folded_into and item.kind != "page":
            return {"folded_into": incident.folded_into}  # said in its flood's summary; it has no thread
        rt, people = self.rt, self.rt.directory
        if item.kind == "open" and incident.root_id is not None:
            return await self._open_folded(item, incident)
        if item.kind == "open":
            if incident.slack_ts:
                return {"channel": incident.slack_channel, "ts": incident.slack_ts}  # posted by an earlier attempt
            channel = item.channel or self._alerts_channel()
            mark = {"event_type": INCIDENT_EVENT, "event_payload": {"incident_id": incident.id}}
            msg = await render.parent(rt.runbook, people, incident, await rt.db(children_of, incident.id))
            return await self._post_once(item, {"channel": channel, **msg.payload(), "unfurl_links": False,
                                                "unfurl_media": False}, mark)
        if item.kind == "page":  # after the post when there is one; a page never waits on a lost channel
            return await self._page(incident, item)
        if not incident.slack_ts:
            raise NotYet(f"incident {incident.id} has no parent message yet")
        replies = []
        # A folded incident's messages go to its root's thread (its slack_ts is that thread): they say whose.
        about = f"{render.title(rt.runbook, incident)} (incident {incident.id}): " if incident.root_id else ""
        if item.kind == "repeat" and await self._says_something_new(incident):
            replies.append(render.repeat_reply(incident, about))
        elif item.kind == "resolve":
            still = [f"{render.title(rt.runbook, c)} (incident {c.id})"
                     for c in await rt.db(children_of, incident.id) if c.is_open]
            replies.append(await render.resolve_reply(people, incident, about, still))
        elif item.kind == "seen_before":
            past = await rt.db(similar_incidents, incident.id)
            if not past:
                return {"nothing_alike": True}  # no filler: a reply only says something it knows
            replies.append(await render.seen_before(rt.runbook, people, past, await self._links(past)))
        elif item.kind == "note" and (note := await rt.db(note_of, incident.id)) is not None:
            replies.append(render.note_reply(people, incident, note, about))
        elif item.kind == "escalate":
            replies.append(await render.escalation(people, incident, item.args))
        elif item.kind == "deferred_ping":
            replies.append(await render.deferred_ping(rt.runbook, people, incident, item.args))
        elif item.kind not in ("repeat", "ack", "note", "refresh"):
            return await self._post_once(item, {**item.args, "channel": incident.slack_channel,
                                                "thread_ts": incident.slack_ts})
        if item.kind in ("repeat", "ack", "resolve", "escalate", "deferred_ping", "note", "refresh"):
            await self._update_parent(incident)
        if item.kind in ("ack", "resolve"):
            await self._update_pages(incident)
        result = None
        for reply in replies:
            result = await self._post_once(item, {"channel": incident.slack_channel, "thread_ts": incident.slack_ts,
                                                  **reply.payload(), "unfurl_links": False, "unfurl_media": False})
        if item.kind == "repeat" and result is not None:
            result["count"] = incident.alert_count  # what this reply said, so the next one says more
        return result

    async def _links(self, past) -> dict[int, str]:
        """Permalinks of past incidents' threads; one Slack cannot give is left out, not fatal."""
        links = {}
        for seen in past:
            old = seen.incident
            if not old.slack_ts or not old.slack_channel:
                continue
            try:
                found = await self.rt.client.chat_getPermalink(channel=old.slack_channel, message_ts=old.slack_ts)
                links[old.id] = found.get("permalink") or ""
            except SlackApiError as err:
                log.warning("no permalink for incident %s: %s", old.id, err.response.get("error"))
        return links

    async def _open_folded(self, item: OutboxItem, incident: Incident) -> dict:
        """A downstream failure's first message: a reply in its root's thread, which becomes its thread."""
        if incident.slack_ts:
            return {"channel": incident.slack_channel, "ts": incident.slack_ts}
        root = await self.rt.db(get_incident, incident.root_id)
        if root is None or not root.slack_ts:
            raise NotYet(f"incident {incident.id} waits for the message of incident {incident.root_id}")
        msg = await render.folded_open(self.rt.runbook, self.rt.directory, incident, root)
        await self._post_once(item, {"channel": root.slack_channel, "thread_ts": root.slack_ts, **msg.payload(),
                                     "unfurl_links": False, "unfurl_media": False})
        await self._update_parent(root)
        return {"channel": root.slack_channel, "ts": root.slack_ts, "folded_under": root.id}

    async def _update_parent(self, incident: Incident) -> None:
        """The parent message follows the incident; a folded incident's parent is its root's."""
        if incident.root_id is not None:
            incident = await self.rt.db(get_incident, incident.root_id)
        children = await self.rt.db(children_of, incident.id)
        note = await self.rt.db(note_of, incident.id) if incident.status == "resolved" else None
        msg = await render.parent(self.rt.runbook, self.rt.directory, incident, children, note)
        await self._call("chat.update", {"channel": incident.slack_channel, "ts": incident.slack_ts, **msg.payload()})

    async def _report_chart(self, item: OutboxItem) -> dict:
        """The weekly picture, drawn now from the store, uploaded into its handoff's thread once the
        handoff is posted: files_upload_v2 (files.getUploadURLExternal, the upload, then
        files.completeUploadExternal with the channel and the thread). A later attempt first looks for
        the file in the thread. Without matplotlib any more, nothing."""
        rt, key = self.rt, item.args["handoff"]
        if not report_chart.available():
            return {"skipped": f"matplotlib is not installed ({report_chart.INSTALL})"}
        channel, ts = await rt.db(delivered, key)
        if ts is None:
            if await rt.db(handoff.post_state, key) != "pending":  # given up (or sent without a message)
                raise notices.Gone(f"its handoff {key} was never posted")
            raise NotYet(f"the handoff {key} is not posted yet")
        days, cells = await rt.db(report_chart.cells_at, rt.runbook, instant(item.args["at"]),
                                  int(item.args.get("weeks") or report_chart.WEEKS))
        name = report_chart.filename(days)
        if item.attempts > 1 and (found := await self._uploaded(channel, ts, name)):
            return found
        png = await asyncio.to_thread(report_chart.render_png, rt.runbook, cells, days)
        upload = {"filename": name, "title": report_chart.title(rt.runbook, days), "channel": channel,
                  "thread_ts": ts, "alt_txt": "Per pipeline and day: data on time, late, missed or no run"}
        if isinstance(rt.client, DryRunClient):  # no upload URL to send to: say what would be uploaded
            await rt.client.api_call("files.completeUploadExternal", params={**upload, "length": len(png)})
            return {"channel": channel, "thread_ts": ts, "dry_run": True}
        files: list = []

        async def send():
            response = await rt.client.files_upload_v2(content=png, **upload)
            files.extend(f.get("id") for f in response.get("files") or [])
            return response

        await self._call("files.completeUploadExternal", {"channel": channel}, send)
        return {"channel": channel, "thread_ts": ts, "files": files, "filename": name, "bytes": len(png)}

    async def _uploaded(self, channel: str, thread_ts: str, name: str) -> dict | None:
        """The picture named `name` if the thread already holds it (an attempt died before recording it)."""
        try:
            replies = await self.rt.client.conversations_replies(channel=await self._channel_id(channel), ts=thread_ts,
                                                                 limit=200)
        except SlackApiError as err:
            log.warning("cannot check the thread %s for an earlier upload (%s); uploading", thread_ts,
                        err.response.get("error"))
            return None
        for message in replies.get("messages") or []:
            files = [f.get("id") for f in message.get("files") or [] if f.get("name") == name]
            if files:
                return {"channel": channel, "thread_ts": thread_ts, "files": files, "filename": name}
        return None

    async def _rendered(self, item: OutboxItem) -> dict:
        """A row's call arguments: a neutral notice rendered now (bot.slack.notices), sent to its
        channel, or to a person's direct messages (the on-call channel when Slack does not know them)."""
        args = dict(item.args)
        said = args.pop("notice", None)
        person = args.pop("dm", None)
        if person:
            args["channel"] = await self.rt.directory.slack_id(person) or self.rt.runbook.team.channels.oncall
        args.setdefault("channel", item.channel)
        if said is not None:
            await self.rt.directory.resolve(self.rt.runbook.people)
            msg = await self.rt.db(notices.render, self.rt.runbook, notices.DirectoryPeople(self.rt.directory),
                                   self.rt.overrides(), said)
            args.update(msg.payload())
        return args

    async def _page(self, incident: Incident, item: OutboxItem) -> dict:
        """A page's direct message, linking to the alert thread. A person Slack does not know cannot
        be woken: that is recorded (and counted), and their mention in the channel stays."""
        person = item.args.get("person")
        pipeline = incident.pipeline if incident.known else "unknown"
        acked_first = incident.acknowledged_at is not None and item.created_at <= incident.acknowledged_at
        if incident.status == "resolved" or acked_first:  # settled while the page waited: nobody to wake
            self.rt.metrics.pages.labels(pipeline, item.args.get("kind", ""), "not_needed").inc()
            return {"not_needed": incident.status}
        user_id = await self.rt.directory.slack_id(person) if person else None
        if not user_id:
            log.warning("cannot page %s for incident %s: no Slack user", person, incident.id)
            self.rt.metrics.pages.labels(pipeline, item.args.get("kind", ""), "undeliverable").inc()
            return {"undeliverable": f"no Slack user for {person}"}
        link = None
        if incident.slack_ts:  # no thread when the alerts channel refused the post: page without a link
            try:
                found = await self.rt.client.chat_getPermalink(channel=incident.slack_channel,
                                                                message_ts=incident.slack_ts)
                link = found.get("permalink")
            except SlackApiError as err:  # the page matters more than its link
                log.warning("no permalink for incident %s: %s", incident.id, err.response.get("error"))
        msg = render.page_dm(self.rt.runbook, incident, item.args, link)
        result = await self._post_once(item, {"channel": user_id, **msg.payload(),
                                              "unfurl_links": False, "unfurl_media": False})
        self.rt.metrics.pages.labels(pipeline, item.args.get("kind", ""), "sent").inc()
        return result

    async def _update_pages(self, incident: Incident) -> None:
        """Each page's direct message follows the incident: acknowledged, resolved, no button left."""
        for row in await self.rt.db(outbox.items, incident.id, "sent"):
            if row.kind == "page" and row.result and row.result.get("ts"):
                msg = render.page_dm(self.rt.runbook, incident, row.args, None)
                await self._call("chat.update", {"channel": row.result["channel"], "ts": row.result["ts"],
                                                 **msg.payload()})

    async def _says_something_new(self, incident: Incident) -> bool:
        """A repeat reply while fewer than SUMMARY_REPLIES were posted, and only with a count the last
        one did not already say (two rows rendered after the same storm would say the same)."""
        sent = [row.result for row in await self.rt.db(outbox.items, incident.id, "sent")
                if row.kind == "repeat" and row.result and row.result.get("ts")]
        return len(sent) < SUMMARY_REPLIES and incident.alert_count > max((r.get("count", 0) for r in sent), default=0)

    async def _post_once(self, item: OutboxItem, args: dict, mark: dict | None = None) -> dict:
        """chat.postMessage carrying the row's mark in its metadata. A later attempt first looks for the
        message in the channel, the thread or the direct messages: an attempt that died between Slack's
        answer and recording it must not post it twice."""
        mark = mark or {"event_type": MESSAGE_EVENT, "event_payload": {"key": item.idempotency_key}}
        if _is_user(args["channel"]):  # the history of a DM is read from its IM channel
            args = {**args, "channel": await self._im_channel(args["channel"])}
        if item.attempts > 1 and (posted := await self._posted(args["channel"], mark, item.created_at,
                                                                args.get("thread_ts"))):
            return posted
        return await self._call("chat.postMessage", {**args, "metadata": mark})

    async def _im_channel(self, user: str) -> str:
        if user not in self._channel_ids:
            opened = await self.rt.client.conversations_open(users=user)
            self._channel_ids[user] = opened["channel"]["id"]
        return self._channel_ids[user]

    async def _posted(self, channel: str, mark: dict, since, thread_ts: str | None = None) -> dict | None:
        """The message carrying `mark` (our metadata) if the channel (or the thread) already holds it."""
        try:
            channel_id = await self._channel_id(channel)
            oldest = f"{since.timestamp() - 60:.6f}"
            if thread_ts:
                history = await self.rt.client.conversations_replies(
                    channel=channel_id, ts=thread_ts, oldest=oldest, limit=200, include_all_metadata=True)
            else:
                history = await self.rt.client.conversations_history(
                    channel=channel_id, oldest=oldest, limit=200, include_all_metadata=True)
        except SlackApiError as err:
            log.warning("cannot check %s for an earlier post of %s (%s); posting", channel, mark["event_payload"],
                        err.response.get("error"))
            return None
        for message in history.get("messages") or []:
            if message.get("metadata") == mark:
                return {"channel": channel_id, "ts": message["ts"]}
        return None

    async def _channel_id(self, channel: str) -> str:
        """History takes a channel ID; the runbook may name the channel (`#data-alerts`)."""
        if not channel.startswith("#") or channel in self._channel_ids:
            return self._channel_ids.get(channel, channel)
        cursor = None
        while True:
            page = await self.rt.client.conversations_list(types="public_channel,private_channel",
                                                           exclude_archived=True, limit=1000, cursor=cursor)
            for found in page.get("channels") or []:
                if found.get("name") == channel[1:]:
                    self._channel_ids[channel] = found["id"]
                    return found["id"]
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return channel

    def _alerts_channel(self) -> str:
        return self.rt.runbook.team.channels.alerts

    async def _call(self, method: str, args: dict, send=None) -> dict:
        channel = str(args.get("channel") or "")
        if channel and CHANNEL_INTERVAL:
            key = self._channel_ids.get(channel, channel)  # "#name" and its ID are one channel
            start = await self.rt.db(pacing.take_slot, key, self.rt.clock(), timedelta(seconds=CHANNEL_INTERVAL))
            wait = (start - self.rt.clock()).total_seconds()
            if wait > 0:
                try:
                    await asyncio.wait_for(self._stopped.wait(), timeout=wait)
                except asyncio.TimeoutError:
                    pass
                else:
                    raise Stopping()
        if self._holding is not None and not await self.rt.db(outbox.renew, self._holding.id, self.rt.clock()):
            raise LostLease()
        if send is not None:  # a call the SDK makes itself (an upload), paced like the others
            response = await send()
        else:
            response = await self.rt.client.api_call(method, json={k: v for k, v in args.items() if v is not None})
        if response.get("channel") and response["channel"] != channel:
            self._channel_ids[channel] = response["channel"]
        return {key: response.get(key) for key in ("channel", "ts") if response.get(key) is not None}


def _is_user(channel: str) -> bool:
    return channel[:1] in ("U", "W")


def _parent_given_up(store, incident_id: int | None) -> bool:
    if incident_id is None:  # a row of no incident (the weekly picture) gives up by itself
        return False
    return any(row.kind == "open" and row.state == "failed" for row in outbox.items(store, incident_id))


def release_dead_workers(store) -> list[str]:
    """Rows leased by an earlier process on this host that is gone (killed, crashed) are freed at once;
    rows of other hosts wait for their lease, since we cannot tell whether those workers live."""
    host = outbox.WORKER.rsplit(":", 1)[0]
    dead = []
    for worker in outbox.claimed_by_workers(store, host + ":"):
        pid = worker.rsplit(":", 1)[-1]
        if worker == outbox.WORKER or not pid.isdigit() or _alive(int(pid)):
            continue
        outbox.release(store, worker)
        dead.append(worker)
    if dead:
        log.warning("released outbox rows of stopped workers: %s", ", ".join(dead))
    return dead


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
