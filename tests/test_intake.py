"""Alert intake on a real store: dedup keys, repeats, resolution, SLA, unknown pipelines, policy clocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.alerts.alertmanager import parse_alertmanager
from bot.alerts.escalation import fire_deferred, fire_due, press
from bot.alerts.generic import parse_generic
from bot.alerts.intake import receive, receive_many
from bot.alerts.model import Alert
from bot.store import incidents as inc
from bot.store import outbox as box
from bot.store.overrides import add_override
from bot.store.schema import alert_events
from tests.store_fixtures import backend, make_store, runbook, store  # noqa: F401
from tests.payloads import alertmanager_payload

WED = datetime(2026, 11, 4, 2, 30, tzinfo=UTC)  # week 1 of the rotation: Danny is on call
MIN = timedelta(minutes=1)


def alert(pipeline="growth", status="failed", at=WED, **fields) -> Alert:
    return parse_generic({"pipeline": pipeline, "status": status, **fields}, at)


def events(store, incident_id=None) -> int:
    query = select(func.count()).select_from(alert_events)
    if incident_id is not None:
        query = query.where(alert_events.c.incident_id == incident_id)
    with store.engine.connect() as conn:
        return conn.execute(query).scalar_one()


def test_first_failure_opens_an_incident_with_runbook_facts(store, runbook):
    result = receive(store, runbook, alert(error="java.lang.NullPointerException at Foo", log_url="https://l/1"), WED)
    assert (result.created, result.deduplicated, result.resolved, result.known) == (True, False, False, True)
    assert result.as_json() == {"incident": result.incident_id, "deduplicated": False}
    i = inc.get_incident(store, result.incident_id)
    assert (i.pipeline, i.status, i.alert_count, i.dedup_key) == ("growth", "open", 1, "growth:day:2026-11-04")
    assert i.issue_title == "Spark task fails with NullPointerException"
    assert (i.notify_mode, i.oncall, i.notify, i.told) == ("page", "Danny", ["Danny"], {"Danny": "page"})
    assert i.run_at == datetime(2026, 11, 4, 1, tzinfo=UTC)
    assert i.data_ready_by == datetime(2026, 11, 4, 4, tzinfo=UTC) and i.fix_by == datetime(2026, 11, 5, tzinfo=UTC)
    assert i.opened_at == WED and i.log_url == "https://l/1"
    row, page, seen = box.items(store, i.id)
    assert (row.kind, row.method, row.channel, row.state) == ("open", "chat.postMessage", "#data-alerts", "pending")
    assert (page.kind, page.args["person"], page.args["kind"]) == ("page", "Danny", "open")  # after the post it links
    assert seen.kind == "seen_before"  # past incidents with this error, if any, in the thread
    assert [a.kind for a in inc.incident_actions(store, i.id)] == ["open", "page"]


def test_dedup_key_wins_over_run_id(store, runbook):
    a = receive(store, runbook, alert(dedup_key="k1", run_id="r1"), WED)
    b = receive(store, runbook, alert(dedup_key="k1", run_id="r2"), WED + MIN)
    c = receive(store, runbook, alert(dedup_key="k2", run_id="r1"), WED + MIN)
    assert a.incident_id == b.incident_id != c.incident_id and b.deduplicated and not c.deduplicated
    assert inc.get_incident(store, a.incident_id).dedup_key == "k1"


def test_dedup_by_run_id(store, runbook):
    a = receive(store, runbook, alert(run_id="manual__1"), WED)
    b = receive(store, runbook, alert(run_id="manual__1"), WED + MIN)
    c = receive(store, runbook, alert(run_id="manual__2"), WED + MIN)
    assert a.incident_id == b.incident_id != c.incident_id
    assert inc.get_incident(store, c.incident_id).dedup_key == "growth:run:manual__2"


def test_dedup_by_scheduled_run_date(store, runbook):
    # Growth runs at 01:00 UTC: a failure at 00:30 the next day still belongs to the run of the 4th.
    a = receive(store, runbook, alert(at=datetime(2026, 11, 4, 1, 30, tzinfo=UTC)), WED)
    b = receive(store, runbook, alert(at=datetime(2026, 11, 5, 0, 30, tzinfo=UTC)), WED + MIN)
    c = receive(store, runbook, alert(at=datetime(2026, 11, 5, 1, 30, tzinfo=UTC)), WED + 2 * MIN)
    assert a.incident_id == b.incident_id != c.incident_id
    assert inc.get_incident(store, c.incident_id).dedup_key == "growth:day:2026-11-05"
    # No schedule (experiments): the failure's UTC date.
    d = receive(store, runbook, alert("experiments", at=datetime(2026, 11, 5, 0, 30, tzinfo=UTC)), WED)
    assert inc.get_incident(store, d.incident_id).dedup_key == "experiments:day:2026-11-05"


def test_repeats_count_and_fold_into_one_pending_delivery(store, runbook):
    first = receive(store, runbook, alert(), WED)
    for n in range(1, 5):
        again = receive(store, runbook, alert(error=f"retry {n}"), WED + n * MIN)
        assert again.incident_id == first.incident_id and again.deduplicated and not again.created
    i = inc.get_incident(store, first.incident_id)
    assert (i.alert_count, i.last_alert_at) == (5, WED + 4 * MIN)
    assert events(store, i.id) == 5
    assert [r.kind for r in box.items(store, i.id) if r.kind != "page"] == ["open", "repeat"]  # the storm is one delivery
    opened, page = box.claim_due(store, WED + 5 * MIN)  # the post, the page's direct message, then the thread
    assert (opened.kind, page.kind) == ("open", "page")
    box.mark_sent(store, opened.id, {"ok": True, "channel": "C1", "ts": "1.1"}, WED + 5 * MIN)
    box.mark_sent(store, page.id, {"ok": True, "channel": "D1", "ts": "1.2"}, WED + 5 * MIN)
    [repeat] = box.claim_due(store, WED + 5 * MIN)  # no error text in the first alert: nothing to look up
    receive(store, runbook, alert(), WED + 6 * MIN)  # the repeat row is in flight: a new one waits
    assert [r.kind for r in box.items(store, i.id) if r.kind != "page"] == ["open", "repeat", "repeat"]


def test_failure_after_resolution_opens_a_new_incident(store, runbook):
    first = receive(store, runbook, alert(), WED)
    inc.resolve(store, first.incident_id, "U0LAURA", WED + MIN)
    again = receive(store, runbook, alert(), WED + 2 * MIN)
    assert again.created and again.incident_id != first.incident_id
    assert inc.get_incident(store, first.incident_id).status == "resolved"
    assert len(inc.list_incidents(store, open_only=True)) == 1


@pytest.mark.parametrize("ready_at, met", [(datetime(2026, 11, 4, 3, 59, tzinfo=UTC), True),
                                           (datetime(2026, 11, 4, 4, 0, tzinfo=UTC), True),
                                           (datetime(2026, 11, 4, 4, 1, tzinfo=UTC), False)])
def test_success_resolves_and_records_sla(store, runbook, ready_at, met):
    opened = receive(store, runbook, alert(run_id="r1"), WED)
    done = receive(store, runbook, alert(status="succeeded", run_id="r1", at=ready_at), ready_at)
    assert (done.incident_id, done.resolved, done.created, done.deduplicated) == (opened.incident_id, True, False, False)
    i = inc.get_incident(store, opened.incident_id)
    assert (i.status, i.resolved_by, i.resolved_at, i.sla_met) == ("resolved", "alert", ready_at, met)
    assert [r.kind for r in box.items(store, i.id) if r.kind != "page"] == ["open", "resolve"]
    assert inc.incident_actions(store, i.id)[-1].detail == {"via": "generic", "sla_met": met}


def test_success_of_a_rerun_resolves_the_latest_open_incident_of_the_pipeline(store, runbook):
    older = receive(store, runbook, alert(run_id="r1"), WED)
    newer = receive(store, runbook, alert(run_id="r2"), WED + MIN)
    done = receive(store, runbook, alert(status="succeeded", run_id="r3"), WED + 2 * MIN)
    assert done.resolved and done.incident_id == newer.incident_id
    assert inc.get_incident(store, older.incident_id).status == "open"


def test_success_with_nothing_open_is_recorded_only(store, runbook):
    done = receive(store, runbook, alert(status="succeeded"), WED)
    assert (done.incident_id, done.resolved, done.created) == (None, False, False)
    assert events(store) == 1 and inc.list_incidents(store) == []


def test_unknown_pipeline_is_accepted_and_routed_to_the_on_call_person(store, runbook):
    result = receive(store, runbook, alert("  Mystery   ETL ", error="boom"), WED)
    assert result.created and not result.known
    i = inc.get_incident(store, result.incident_id)
    assert (i.known, i.pipeline, i.pipeline_raw) == (False, "mystery etl", "Mystery   ETL")
    assert (i.notify_mode, i.oncall, i.notify) == ("page", "Danny", ["Danny"])
    assert (i.data_ready_by, i.fix_by, i.dedup_key) == (None, None, "mystery etl:day:2026-11-04")
    assert receive(store, runbook, alert("mystery etl"), WED + MIN).deduplicated
    assert receive(store, runbook, alert("Mystery ETL", status="succeeded"), WED + 2 * MIN).resolved


def test_forgiving_names_find_the_runbook_pipeline(store, runbook):
    result = receive(store, runbook, alert("Aggregate data for investors"), WED)
    assert inc.get_incident(store, result.incident_id).pipeline == "investors"


def test_accepted_alert_is_committed_for_another_replica(make_store, runbook):
    writer, reader = make_store(), make_store()
    result = receive(writer, runbook, alert(), WED)
    assert inc.get_incident(reader, result.incident_id).status == "open"


def test_a_batch_is_kept_whole_or_not_at_all(store, runbook):
    bad = Alert("generic", "growth", "failed", datetime(2026, 11, 4, 2, 0))  # naive: rejected by the domain
    with pytest.raises(ValueError):
        receive_many(store, runbook, [alert("engagement"), bad], WED)
    assert inc.list_incidents(store) == [] and events(store) == 0 and box.items(store) == []


def test_alertmanager_firing_then_resolved(store, runbook):
    opened = receive_many(store, runbook, parse_alertmanager(alertmanager_payload("firing"), WED), WED)
    assert [r.created for r in opened] == [True, True]
    again = receive_many(store, runbook, parse_alertmanager(alertmanager_payload("firing"), WED), WED + 4 * MIN)
    assert [r.deduplicated for r in again] == [True, True]  # repeat_interval resend
    done = receive_many(store, runbook, parse_alertmanager(alertmanager_payload("resolved"), WED), WED + 40 * MIN)
    assert [r.incident_id for r in done] == [r.incident_id for r in opened] and all(r.resolved for r in done)
    growth = inc.get_incident(store, opened[0].incident_id)
    assert growth.sla_met is True and growth.resolved_at == datetime(2026, 11, 4, 2, 10, tzinfo=UTC)
    assert growth.issue_title == "Spark task fails with NullPointerException"


def test_profit_on_friday_night_is_deferred_and_pinged_once_at_work_start(store, runbook):
    friday = datetime(2026, 11, 6, 23, 0, tzinfo=UTC)
    monday_9 = datetime(2026, 11, 9, 9, 0, tzinfo=UTC)
    result = receive(store, runbook, alert("profit", at=friday, error="numbers don't align"), friday)
    i = inc.get_incident(store, result.incident_id)
    assert (i.notify_mode, i.deferred_until, i.notify) == ("deferred", monday_9, ["Danny", "Jane"])
    assert inc.due_deferred_pings(store, monday_9 - MIN) == []
    assert [x.id for x in inc.due_deferred_pings(store, monday_9)] == [i.id]
    assert fire_deferred(store, runbook, monday_9, ()) == [i.id]
    assert fire_deferred(store, runbook, monday_9 + MIN, ()) == []
    assert [r.kind for r in box.items(store, i.id)] == ["open", "seen_before", "deferred_ping"]
    assert box.items(store, i.id)[2].args["people"] == ["Danny", "Jane"]  # mentioned in work hours, not paged
    assert inc.get_incident(store, i.id).told == {"Danny": "notify", "Jane": "notify"}


def test_acknowledged_deferred_incident_is_not_pinged(store, runbook):
    friday = datetime(2026, 11, 6, 23, 0, tzinfo=UTC)
    result = receive(store, runbook, alert("profit", at=friday), friday)
    assert inc.ack(store, result.incident_id, "U0DANNY", friday + MIN).changed
    assert inc.due_deferred_pings(store, datetime(2026, 11, 9, 9, tzinfo=UTC)) == []


def test_escalation_reaches_someone_new_at_each_step_and_says_once_when_the_chain_ran_out(store, runbook):
    # Growth at 02:30, Danny on call (also its secondary owner and the admin): the chain
    # [oncall, primary, secondary, admins] has only Laura, the primary, left to reach.
    i = receive(store, runbook, alert(), WED).incident_id
    assert fire_due(store, runbook, WED + 29 * MIN, ()) == []
    assert fire_due(store, runbook, WED + 30 * MIN, ()) == [i]
    assert fire_due(store, runbook, WED + 31 * MIN, ()) == []  # the clock restarts at the step
    assert fire_due(store, runbook, WED + 60 * MIN, ()) == [i]  # nobody left: said once
    assert fire_due(store, runbook, WED + 5 * 60 * MIN, ()) == []
    steps = [r.args for r in box.items(store, i) if r.kind == "escalate"]
    assert [(s["level"], s["people"], s["how"]) for s in steps] == [(2, ["Laura"], "page"), (5, [], "none")]
    pages = [r.args["person"] for r in box.items(store, i) if r.kind == "page"]
    assert pages == ["Danny", "Laura"]
    assert inc.get_incident(store, i).told == {"Danny": "page", "Laura": "page"}


def test_ack_stops_escalation_and_clicks_are_recorded_once(store, runbook):
    i = receive(store, runbook, alert(), WED).incident_id
    first = inc.ack(store, i, "U0DANNY", WED + MIN)
    second = inc.ack(store, i, "U0ANNA", WED + 2 * MIN)
    assert first.changed and not second.changed
    assert (first.incident.status, first.incident.acknowledged_by) == ("acknowledged", "U0DANNY")
    assert inc.due_escalations(store, WED + timedelta(hours=5), timedelta(minutes=30)) == []
    manual = press(store, runbook, i, "U0ANNA", WED + 3 * MIN, (), pressed_by="Anna", acknowledged_by="Danny")
    assert manual.changed and manual.incident.escalation_level == 2  # Laura: Danny acknowledged, Anna pressed
    # By hand: nothing is known about the data, so nothing is claimed about the SLA.
    assert inc.resolve(store, i, "U0LAURA", datetime(2026, 11, 4, 5, tzinfo=UTC)).incident.sla_met is None
    assert not inc.resolve(store, i, "U0LAURA", WED + 4 * MIN).changed
    assert not press(store, runbook, i, "U0LAURA", WED + 5 * MIN, (), pressed_by="Laura", acknowledged_by=None).changed
    trail = [(a.kind, a.actor) for a in inc.incident_actions(store, i)]
    assert trail == [("open", "alert"), ("page", "bot"), ("ack", "U0DANNY"), ("escalate", "U0ANNA"), ("page", "bot"),
                     ("resolve", "U0LAURA")]


def test_store_overrides_change_who_is_paged(store, runbook):
    add_override(store, rotation="data-engineering", person="Anna", start=WED - timedelta(hours=1),
                 end=WED + timedelta(hours=6), created_by="U0DANNY", now=WED)
    i = inc.get_incident(store, receive(store, runbook, alert(), WED).incident_id)
    assert i.oncall == "Anna" and i.notify[0] == "Anna"


def test_each_pipeline_escalates_on_its_own_clock_and_chain(store):
    from tests.helpers_runbook import runbook as from_yaml, source_with

    # Growth waits 5 minutes for a chain of its own; Engagement keeps the team's 30 minutes and chain.
    rb = from_yaml(source_with("      if_deferral_misses_fix_by: notify_oncall\n",
                               "      if_deferral_misses_fix_by: notify_oncall\n"
                               "    escalation: {ack_within: 5m, chain: [secondary, primary]}\n"))
    growth = receive(store, rb, alert("growth"), WED).incident_id
    engagement = receive(store, rb, alert("engagement"), WED).incident_id
    assert fire_due(store, rb, WED + 4 * MIN, ()) == []
    assert fire_due(store, rb, WED + 5 * MIN, ()) == [growth]      # secondary Danny was paged: primary Laura
    assert fire_due(store, rb, WED + 10 * MIN, ()) == [growth]     # the chain ran out: said once
    assert fire_due(store, rb, WED + 30 * MIN, ()) == [engagement]  # oncall Danny paged: primary Anna
    assert inc.get_incident(store, growth).escalation_level == 3
    assert [r.args["people"] for r in box.items(store, engagement) if r.kind == "escalate"] == [["Anna"]]
    assert fire_due(store, rb, WED + 5 * 60 * MIN, ()) == [engagement]  # secondary Laura
    assert fire_due(store, rb, WED + 10 * 60 * MIN, ()) == [engagement]  # admin Danny was paged: ran out
    assert fire_due(store, rb, WED + 20 * 60 * MIN, ()) == []


def test_a_deferred_incident_escalates_from_when_its_people_were_told_not_from_the_night(store, runbook):
    friday = datetime(2026, 11, 6, 23, 0, tzinfo=UTC)
    monday_9 = datetime(2026, 11, 9, 9, 0, tzinfo=UTC)
    quiet_night = receive(store, runbook, alert("profit", at=friday), friday).incident_id
    assert fire_due(store, runbook, friday + 30 * MIN, ()) == []       # nobody was asked yet
    assert fire_deferred(store, runbook, monday_9, ()) == [quiet_night]
    assert fire_due(store, runbook, monday_9 + 29 * MIN, ()) == []
    assert fire_due(store, runbook, monday_9 + 30 * MIN, ()) == [quiet_night]
    [step] = [r.args for r in box.items(store, quiet_night) if r.kind == "escalate"]
    assert (step["level"], step["people"], step["how"]) == (1, ["Anna"], "notify")  # Anna is on call; owners told


def test_a_work_hours_pipeline_escalates_in_work_hours_only(store, runbook):
    tuesday_1645 = datetime(2026, 11, 3, 16, 45, tzinfo=UTC)
    i = receive(store, runbook, alert("profit", at=tuesday_1645), tuesday_1645).incident_id
    assert inc.get_incident(store, i).notify_mode == "notify"
    assert fire_due(store, runbook, tuesday_1645 + 30 * MIN, ()) == []   # 17:15: after work hours
    assert fire_due(store, runbook, tuesday_1645 + 90 * MIN, ()) == []
    assert fire_due(store, runbook, datetime(2026, 11, 4, 9, tzinfo=UTC), ()) == [i]  # the next work start


def test_the_investors_aggregate_escalates_only_by_the_button(store, runbook):
    monday_noon = datetime(2026, 11, 2, 12, tzinfo=UTC)
    i = receive(store, runbook, alert("investors", at=monday_noon), monday_noon).incident_id
    assert fire_due(store, runbook, monday_noon + timedelta(days=3), ()) == []
    assert press(store, runbook, i, "U0JANE", monday_noon + MIN, (), pressed_by="Jane", acknowledged_by=None).changed


def test_a_flood_of_distinct_failures_wakes_the_oncall_person_once(store, runbook):
    first = receive(store, runbook, alert(dedup_key="a"), WED).incident_id
    rest = [r.incident_id for r in receive_many(store, runbook, [alert(dedup_key=k) for k in "bcd"], WED + MIN)]
    pages = [r.args["person"] for i in (first, *rest) for r in box.items(store, i) if r.kind == "page"]
    assert pages == ["Danny"]  # the others mention him: he is awake, or the first page escalates
    assert all(inc.get_incident(store, i).told == {"Danny": "notify"} for i in rest)
    assert [a.kind for a in inc.incident_actions(store, rest[0])] == ["open", "page_folded"]
    inc.ack(store, first, "U0DANNY", WED + 2 * MIN)
    for i in rest:
        inc.ack(store, i, "U0DANNY", WED + 2 * MIN)
    later = receive(store, runbook, alert(dedup_key="e"), WED + 3 * MIN).incident_id
    assert [r.args["person"] for r in box.items(store, later) if r.kind == "page"] == ["Danny"]  # all taken care of
