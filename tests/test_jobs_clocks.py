"""Runbook clocks with explicit instants: SLA breaches with and without alerts, fix deadlines chased
and breached, and the month-end reminder. What is checked is what users see: outbox rows and incidents."""

from __future__ import annotations

from datetime import timedelta

from bot.alerts.intake import receive
from bot.alerts.model import Alert
from bot.store.incidents import incident_actions, list_incidents, resolve
from tests.helpers_runbook import source
from tests.jobs_helpers import at, deliver, rows, tick
from tests.store_fixtures import backend, make_store, store  # noqa: F401


def alert(pipeline, status, when, error=None):
    return Alert(source="generic", pipeline=pipeline, status=status, occurred_at=when, error=error)


def start(store):
    rb = source()
    for name in ("profit", "growth", "engagement"):  # the team's runs report success: their SLA is watched
        receive(store, rb, alert(name, "succeeded", at(2026, 11, 9, 6)), at(2026, 11, 9, 6))
    tick(store, rb, at(2026, 11, 10, 0, 30))  # the bot's first pass: before the night's runs


def test_sla_breach_with_no_alert_at_all_opens_an_incident_naming_the_downstream_team(store):
    rb = source()
    start(store)
    tick(store, rb, at(2026, 11, 10, 3, 59))
    assert [i.pipeline for i in list_incidents(store)] == ["profit"]  # due 03:00; growth not yet
    result = tick(store, rb, at(2026, 11, 10, 4, 0))
    assert "sla_breach:growth:2026-11-10T04:00:00Z" in result.sent
    growth = [i for i in list_incidents(store) if i.pipeline == "growth"]
    assert len(growth) == 1 and growth[0].status == "open"
    assert growth[0].data_ready_by == at(2026, 11, 10, 4) and growth[0].run_at == at(2026, 11, 10, 1)
    assert "SLA breach" in growth[0].error and "Data science team" in growth[0].error
    assert [r.kind for r in rows(store) if r.incident_id == growth[0].id] == ["open", "page"]
    # Passes later on, and after a restart, do not breach it twice.
    tick(store, rb, at(2026, 11, 10, 4, 1))
    tick(store, rb, at(2026, 11, 10, 12))
    assert len([i for i in list_incidents(store) if i.pipeline == "growth"]) == 1


def test_a_success_before_the_deadline_prevents_the_breach(store):
    rb = source()
    start(store)
    receive(store, rb, alert("Growth", "succeeded", at(2026, 11, 10, 3, 20)), at(2026, 11, 10, 3, 20))
    result = tick(store, rb, at(2026, 11, 10, 4, 0))
    assert "sla_breach:growth:2026-11-10T04:00:00Z" in result.skipped
    assert [i.pipeline for i in list_incidents(store)] == ["profit"]  # profit reported nothing by 03:00


def test_a_success_after_the_breach_resolves_it_late(store):
    rb = source()
    start(store)
    tick(store, rb, at(2026, 11, 10, 5, 0))
    receive(store, rb, alert("engagement", "succeeded", at(2026, 11, 10, 5, 40)), at(2026, 11, 10, 5, 41))
    engagement = next(i for i in list_incidents(store) if i.pipeline == "engagement")
    assert engagement.status == "resolved" and engagement.sla_met is False
    assert engagement.resolved_at - engagement.data_ready_by == timedelta(minutes=40)


def test_data_that_arrived_late_while_the_bot_was_down_is_noted_not_paged(store):
    rb = source()
    start(store)
    tick(store, rb, at(2026, 11, 10, 3, 50))  # then the bot is down over Growth's 04:00 deadline
    receive(store, rb, alert("growth", "succeeded", at(2026, 11, 10, 4, 10)), at(2026, 11, 10, 4, 10))
    result = tick(store, rb, at(2026, 11, 10, 4, 20))
    assert "sla_breach:growth:2026-11-10T04:00:00Z" in result.sent
    assert not [i for i in list_incidents(store) if i.pipeline == "growth"]  # nobody is paged
    note = [r for r in rows(store, runbook=rb) if r.kind == "sla_breach" and "Growth" in r.args["text"]]
    assert len(note) == 1 and "10m late" in note[0].args["text"]
    assert "<@" not in str(note[0].args)


def test_breach_of_a_failed_run_is_a_reply_in_its_thread_once_the_thread_exists(store):
    rb = source()
    start(store)
    receive(store, rb, alert("growth", "failed", at(2026, 11, 10, 1, 30), "NullPointerException"),
            at(2026, 11, 10, 1, 30))
    deliver(store, at(2026, 11, 10, 1, 31))  # Slack took the alert: its thread exists
    result = tick(store, rb, at(2026, 11, 10, 4, 0))
    assert "sla_breach:growth:2026-11-10T04:00:00Z" in result.sent
    growth = next(i for i in list_incidents(store) if i.pipeline == "growth")
    reply = rows(store, "sla_breach", rb)[-1]
    assert reply.args["thread_ts"] == growth.slack_ts and reply.args["reply_broadcast"] is True
    assert "Data science team" in reply.args["text"]
    assert len([i for i in list_incidents(store) if i.pipeline == "growth"]) == 1


def test_breach_waits_for_an_undelivered_parent(store):
    from bot.jobs.catchup import run_pass

    rb = source()
    start(store)
    receive(store, rb, alert("growth", "failed", at(2026, 11, 10, 3, 59)), at(2026, 11, 10, 3, 59))
    result = run_pass(store, rb, at(2026, 11, 10, 4, 0))  # Slack has not taken the alert yet
    assert "sla_breach:growth:2026-11-10T04:00:00Z" in result.postponed
    deliver(store, at(2026, 11, 10, 4, 0))
    result = run_pass(store, rb, at(2026, 11, 10, 4, 1))
    assert "sla_breach:growth:2026-11-10T04:00:00Z" in result.sent


def test_fix_deadline_chased_then_breached(store):
    rb = source()
    start(store)
    receive(store, rb, alert("growth", "failed", at(2026, 11, 10, 1, 30), "NullPointerException"),
            at(2026, 11, 10, 1, 30))
    receive(store, rb, alert("growth", "succeeded", at(2026, 11, 10, 3)), at(2026, 11, 10, 3))  # SLA met...
    receive(store, rb, alert("growth", "failed", at(2026, 11, 10, 6), "NullPointerException"),
            at(2026, 11, 10, 6))  # ...then it failed again: a new incident, fix by midnight
    growth = [i for i in list_incidents(store, open_only=True) if i.pipeline == "growth"][0]
    assert growth.fix_by == at(2026, 11, 11)
    for hour in range(6, 25):
        tick(store, rb, at(2026, 11, 10) + timedelta(hours=hour))
    growth = next(i for i in list_incidents(store) if i.id == growth.id)
    chases = [r for r in rows(store, "fix_chase", rb) if f"incident-{growth.id}/" in r.idempotency_key]
    assert [r.created_at for r in chases] == [at(2026, 11, 10, 20), at(2026, 11, 10, 23)]
    # A weekday night, Anna's week: Growth's hours say the on-call person, not the owners, is asked.
    assert all("*Anna*" in str(r.args["blocks"]) for r in chases)
    assert not any(name in str(r.args["blocks"]) for r in chases for name in ("*Laura*", "*Danny*"))
    assert all(r.args["thread_ts"] == growth.slack_ts for r in chases)
    breach = [r for r in rows(store, "fix_breach", rb) if f"incident-{growth.id}:" in r.idempotency_key]
    assert len(breach) == 1 and breach[0].created_at == at(2026, 11, 11)
    # 11 November is Veterans Day, when Growth pages nobody: the miss is posted quietly in the thread and
    # the on-call person is told when paging resumes, at midnight.
    assert "reply_broadcast" not in breach[0].args and "Nobody is mentioned" in str(breach[0].args["blocks"])
    growth = next(i for i in list_incidents(store) if i.id == growth.id)
    assert (growth.deferred_until, growth.deferred_pinged_at, growth.notify) == (at(2026, 11, 12), None, ["Anna"])
    assert [a.kind for a in incident_actions(store, growth.id)][-2:] == ["fix_breached", "held"]


def test_a_resolved_incident_is_not_chased(store):
    rb = source()
    start(store)
    result = receive(store, rb, alert("engagement", "failed", at(2026, 11, 10, 2), "0 rows"), at(2026, 11, 10, 2))
    resolve(store, result.incident_id, "U1", at(2026, 11, 10, 19))
    for hour in range(19, 26):
        tick(store, rb, at(2026, 11, 10) + timedelta(hours=hour))
    assert not rows(store, "fix_chase") or all(f"incident-{result.incident_id}/" not in r.idempotency_key
                                               for r in rows(store, "fix_chase"))
    assert all(f"incident-{result.incident_id}:" not in r.idempotency_key for r in rows(store, "fix_breach"))


def test_month_end_reminds_open_investor_incidents_a_few_working_days_before(store):
    rb = source()
    tick(store, rb, at(2026, 11, 19))
    receive(store, rb, alert("investors", "failed", at(2026, 11, 20, 9), "division by zero"), at(2026, 11, 20, 9))
    for day in range(20, 31):
        for hour in (8, 9, 10):
            tick(store, rb, at(2026, 11, day, hour))
    reminders = rows(store, "month_end", rb)
    # Back from 1 December: Mon 30 (1), Fri 27 (2), Thanksgiving skipped, Wed 25 (3), at 09:00 work start.
    assert [r.idempotency_key for r in reminders] == ["month_end:investors:2026-11-25T09:00:00Z#0"]
    assert reminders[0].channel == "#data-oncall" and "*Jane*" in str(reminders[0].args["blocks"])
    assert "report for management" in str(reminders[0].args["blocks"])  # the runbook's own words


def test_no_month_end_message_without_open_incidents(store):
    rb = source()
    tick(store, rb, at(2026, 11, 24))
    result = tick(store, rb, at(2026, 11, 25, 9))
    assert "month_end:investors:2026-11-25T09:00:00Z" in result.skipped
    assert not rows(store, "month_end")


def test_a_bot_down_for_days_sums_up_what_it_missed_pages_nobody_and_posts_the_weekly_check(store):
    # First pass Sunday 15 November; a Growth failure Monday 02:00 (fix by Tuesday 00:00) is accepted
    # by another replica, then nothing runs the clocks until Thursday noon: 3.5 days of silence.
    rb = source()
    tick(store, rb, at(2026, 11, 15, 12))
    incident = receive(store, rb, alert("growth", "failed", at(2026, 11, 16, 2), "NullPointerException"),
                       at(2026, 11, 16, 2)).incident_id
    deliver(store, at(2026, 11, 16, 2))
    result = tick(store, rb, at(2026, 11, 19, 12))
    # The missed fix deadline is recorded on the incident and said once, in one summary, to nobody.
    assert f"fix_breach:incident-{incident}:2026-11-17T00:00:00Z" in result.missed
    assert "fix_breached" in [a.kind for a in incident_actions(store, incident)]
    assert not rows(store, "fix_breach")
    [summary] = rows(store, "missed", runbook=rb)
    assert summary.channel == rb.team.channels.alerts and "<@" not in str(summary.args)
    assert f"Growth #{incident}: fix deadline 2026-11-17 00:00 UTC missed; it is open" in summary.args["text"]
    assert f"fix_chase:incident-{incident}/4h:2026-11-16T20:00:00Z" in result.skipped  # too late to chase
    # The investors' Monday 10:00 check is still owed until next Monday's: posted late, once.
    assert "weekly_check:investors:2026-11-16T10:00:00Z" in result.sent
    again = tick(store, rb, at(2026, 11, 19, 12, 1))
    assert not again.missed and not [k for k in again.sent if k.startswith("weekly_check")]
    assert len(rows(store, "missed")) == 1


def test_a_restart_days_later_opens_no_incident_for_old_runs_and_acts_on_the_latest(store):
    # The team's runs report success; the bot stops on Friday 4 December at 00:30 and comes back on
    # Tuesday 8 December at 09:00 (a weekday, in work hours).
    rb = source()
    start(store)
    tick(store, rb, at(2026, 12, 4, 0, 30))
    before = len(list_incidents(store))
    result = tick(store, rb, at(2026, 12, 8, 9))
    old = [k for k in result.missed if k.startswith("sla_breach")]
    assert "sla_breach:profit:2026-12-04T03:00:00Z" in old and "sla_breach:growth:2026-12-07T04:00:00Z" in old
    # Only the latest run of each pipeline, whose data is still missing now, is an incident.
    opened = sorted((i.pipeline, i.run_at) for i in list_incidents(store) if i.run_at > at(2026, 12, 4, 0, 30))
    assert opened == [("engagement", at(2026, 12, 8, 1)), ("growth", at(2026, 12, 8, 1)), ("profit", at(2026, 12, 8, 2))]
    summary = rows(store, "missed", runbook=rb)[-1]  # the first is the downtime before 4 December
    text = summary.args["text"]
    assert ("Profit: no success report for 4 runs, from the run of 2026-12-04 02:00 UTC to the run of "
            "2026-12-07 02:00 UTC") in text
    assert "2026-12-08" not in text and "<@" not in str(summary.args)
    # A restart right after neither repeats the summary nor opens anything more.
    tick(store, rb, at(2026, 12, 8, 9, 5))
    assert len(rows(store, "missed")) == 2 and len(list_incidents(store)) == before + 3


def test_a_resolve_by_hand_is_not_data_ready_and_the_sla_is_still_watched(store):
    rb = source()
    start(store)
    opened = receive(store, rb, alert("growth", "failed", at(2026, 11, 10, 1, 30), "NullPointerException"),
                     at(2026, 11, 10, 1, 30))
    assert resolve(store, opened.incident_id, "U0LAURA", at(2026, 11, 10, 2)).incident.sla_met is None
    result = tick(store, rb, at(2026, 11, 10, 4, 0))
    assert "sla_breach:growth:2026-11-10T04:00:00Z" in result.sent  # no success was reported by 04:00
    breach = [i for i in list_incidents(store, open_only=True) if i.pipeline == "growth"]
    assert len(breach) == 1 and "SLA breach" in breach[0].error


def test_a_pipeline_that_never_reported_success_is_not_watched_until_it_does(store):
    rb = source()
    tick(store, rb, at(2026, 11, 10, 0, 30))
    tick(store, rb, at(2026, 11, 10, 6))
    assert list_incidents(store) == []  # no success was ever reported: nobody is told of a breach daily
    receive(store, rb, alert("growth", "succeeded", at(2026, 11, 10, 7)), at(2026, 11, 10, 7))
    tick(store, rb, at(2026, 11, 11, 6))
    assert [i.pipeline for i in list_incidents(store)] == ["growth"]  # watched from its first success on


def test_sla_watch_always_watches_from_the_start(store):
    from tests.helpers_runbook import runbook, source_with

    rb = runbook(source_with("      data_ready_by: \"03:00\"\n", "      data_ready_by: \"03:00\"\n      watch: always\n"))
    tick(store, rb, at(2026, 11, 10, 0, 30))
    tick(store, rb, at(2026, 11, 10, 6))
    assert [i.pipeline for i in list_incidents(store)] == ["profit"]


def test_the_first_success_report_does_not_set_off_a_week_of_old_breaches(store):
    rb = source()
    for day in range(3, 11):  # a week of runs nobody reported on: not watched
        tick(store, rb, at(2026, 11, day, 6))
    receive(store, rb, alert("growth", "succeeded", at(2026, 11, 10, 7)), at(2026, 11, 10, 7))
    result = tick(store, rb, at(2026, 11, 10, 8))
    assert not [k for k in result.sent if k.startswith("sla_breach:growth")]
    assert not rows(store, "sla_breach") and not list_incidents(store)


def test_an_owner_reminder_due_outside_work_hours_waits_for_work_start_and_then_mentions_them(store):
    from tests.helpers_runbook import runbook, source_with

    rb = runbook(source_with('weekly_check: {day: mon, time: "10:00"}', 'weekly_check: {day: mon, time: "07:00"}'))
    tick(store, rb, at(2026, 11, 30, 6))
    tick(store, rb, at(2026, 11, 30, 7))  # Monday 07:00: due, but nobody may be asked before 09:00
    [check] = rows(store, "weekly_check", rb)
    assert (check.state, check.next_attempt_at) == ("pending", at(2026, 11, 30, 9))
    assert "*Jane*" in str(check.args["blocks"]) and "*Anna*" in str(check.args["blocks"])  # told when posted
    tick(store, rb, at(2026, 11, 30, 9))
    assert rows(store, "weekly_check")[0].state == "sent"
