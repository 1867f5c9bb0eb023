"""`oncall-bot validate` on broken runbooks: exit 1, file:line, a message that says how to fix it."""

from __future__ import annotations

import json
import re

import pytest

from tests.helpers_runbook import SOURCE_RUNBOOK, SOURCE_TEXT, line_of, run_cli, run_cli_here, source_with


def validate(tmp_path, text: str | bytes | None, name: str = "runbooks.yaml"):
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    elif text is not None:
        path.write_text(text, encoding="utf-8")
    return path, run_cli_here("validate", str(path))


def assert_error(tmp_path, text, line: int | None, *fragments: str):
    path, done = validate(tmp_path, text)
    assert done.returncode == 1, done.stdout
    assert "Traceback" not in done.stderr
    where = f"{path}:{line}:" if line else f"{path}:"
    errors = [l.strip() for l in done.stderr.splitlines() if l.strip().startswith(str(path))]
    found = [e for e in errors if e.startswith(where) and all(f in e for f in fragments)]
    assert found, f"expected {where} with {fragments} in:\n{done.stderr}"
    return errors


def test_missing_file(tmp_path):
    errors = assert_error(tmp_path, None, None, "file not found", "RUNBOOKS_PATH")
    assert len(errors) == 1


def test_empty_file(tmp_path):
    assert_error(tmp_path, "", None, "empty")
    assert_error(tmp_path, "# only a comment\n", None, "empty")


def test_not_utf8(tmp_path):
    assert_error(tmp_path, b"\xff\xfeteam:", None, "cannot read")


def test_yaml_syntax_error_points_at_the_line_to_fix(tmp_path):
    # PyYAML notices an unclosed bracket on the next line; the bracket's own line is the one to fix.
    text = source_with("    members: [Danny, Anna, Laura, Jane]", "    members: [Danny, Anna, Laura, Jane")
    assert_error(tmp_path, text, line_of(text, "members: [Danny"), "YAML syntax error", "not closed")
    # A key without its colon is noticed at the next line's colon.
    text = source_with("  name: ", "  name ")
    assert_error(tmp_path, text, line_of(text, "  name "), "YAML syntax error", "has no colon")


def test_yaml_tab_indentation(tmp_path):
    text = source_with("    turn: 1w", "\tturn: 1w")
    assert_error(tmp_path, text, line_of(text, "\tturn: 1w"), "YAML syntax error")


def test_top_level_not_a_mapping(tmp_path):
    assert_error(tmp_path, "- team\n- people\n", 1, "top level must be a mapping")


def test_wrong_type(tmp_path):
    text = source_with("      page: [weekdays, weekends]     #", "      page: weekdays     #")
    assert_error(tmp_path, text, line_of(text, "page: weekdays"), "pipelines.growth.on_call.page", "list")


def test_yes_no_read_as_boolean_gets_a_hint(tmp_path):
    text = source_with('  Danny: {email: danny@example.com, placeholder: true}', "  Danny: {email: yes}")
    assert_error(tmp_path, text, line_of(text, "Danny: {email: yes}"), "people.Danny.email", "quote the value")


def test_unknown_key(tmp_path):
    text = source_with("    description: Users that subscribe the license", "    descripton: Users that subscribe the license")
    assert_error(tmp_path, text, line_of(text, "descripton:"), "unknown key 'descripton'", "oncall-bot schema")


def test_unknown_top_level_key(tmp_path):
    text = SOURCE_TEXT + "\nescalations: {}\n"
    assert_error(tmp_path, text, line_of(text, "escalations:"), "unknown key 'escalations'")


def test_missing_required_key(tmp_path):
    text = source_with("  channels: {oncall: \"#data-oncall\", alerts: \"#data-alerts\"}\n", "")
    assert_error(tmp_path, text, line_of(text, "team:"), "team.channels", "missing required key 'channels'")


def test_unknown_person_suggests_the_closest_name(tmp_path):
    text = source_with("    owners: {primary: Laura, secondary: Danny}", "    owners: {primary: Laura, secondary: Dany}")
    assert_error(tmp_path, text, line_of(text, "secondary: Dany}"), "pipelines.growth.owners.secondary",
                 "unknown person 'Dany'", "did you mean 'Danny'?")


def test_unknown_rotation_member(tmp_path):
    text = source_with("    members: [Danny, Anna, Laura, Jane]", "    members: [Danny, Ana, Laura, Jane]")
    assert_error(tmp_path, text, line_of(text, "members: [Danny, Ana"), "rotations.data-engineering.members[1]",
                 "unknown person 'Ana'", "did you mean 'Anna'?")


def test_duplicate_pipeline_key(tmp_path):
    text = SOURCE_TEXT.replace("  engagement:\n", "  growth:\n", 1)
    first = line_of(text, "  growth:", 1)
    errors = assert_error(tmp_path, text, line_of(text, "  growth:", 2), "duplicate key 'growth'", f"first at line {first}")
    assert len(errors) == 1


def test_rotation_with_no_members(tmp_path):
    text = source_with("    members: [Danny, Anna, Laura, Jane]", "    members: []")
    assert_error(tmp_path, text, line_of(text, "members: []"), "rotations.data-engineering.members", "at least 1")


def test_impossible_time(tmp_path):
    text = source_with('      data_ready_by: "04:00"', '      data_ready_by: "25:00"')
    assert_error(tmp_path, text, line_of(text, '"25:00"'), "pipelines.growth.sla.data_ready_by",
                 "not a time of day", "HH:MM")


def test_a_reminder_lead_is_a_duration_or_working_days(tmp_path):
    text = source_with("    shift_reminder: 1 working day", "    shift_reminder: the day before")
    assert_error(tmp_path, text, line_of(text, "the day before"), "rotations.data-engineering.shift_reminder",
                 "not a lead", "1 working day")


def test_work_hours_ending_before_they_start(tmp_path):
    text = source_with('start: "09:00", end: "17:00"', 'start: "17:00", end: "09:00"')
    assert_error(tmp_path, text, line_of(text, "work_hours:"), "team.work_hours", "must be after start")


def test_impossible_date(tmp_path):
    text = source_with("    start: 2026-11-02", "    start: 2026-02-30")
    assert_error(tmp_path, text, line_of(text, "start: 2026-02-30"), "impossible date", "2026-02-30")


@pytest.mark.parametrize("cron", ["0 25 * * *", "daily at 1am", "0 1 * *"])
def test_bad_cron(tmp_path, cron):
    text = source_with('    schedule: "0 2 * * *"', f'    schedule: "{cron}"')
    assert_error(tmp_path, text, line_of(text, f'"{cron}"'), "pipelines.profit.schedule", "cron", "0 1 * * *")


def test_bad_timezone(tmp_path):
    text = source_with("  timezone: UTC", "  timezone: Europe/Berlln")
    assert_error(tmp_path, text, line_of(text, "Europe/Berlln"), "team.timezone", "unknown timezone",
                 "did you mean 'Europe/Berlin'?")


def test_bad_regex(tmp_path):
    text = source_with("        match: ['NullPointerException']", "        match: ['NullPointer(Exception']")
    assert_error(tmp_path, text, line_of(text, "NullPointer(Exception"), "pipelines.growth.common_issues[0].match",
                 "not a valid regular expression")


def test_unknown_rotation(tmp_path):
    text = source_with("      rotation: data-engineering\n      page: [weekdays, weekends]  ",
                       "      rotation: data-eng\n      page: [weekdays, weekends]  ")
    assert_error(tmp_path, text, line_of(text, "      rotation: data-eng"), "pipelines.growth.on_call.rotation",
                 "unknown rotation 'data-eng'", "did you mean 'data-engineering'?")


def test_rotation_start_not_on_the_handoff_weekday(tmp_path):
    text = source_with("    start: 2026-11-02", "    start: 2026-11-03")
    assert_error(tmp_path, text, line_of(text, "    start: 2026-11-03"), "rotations.data-engineering.start",
                 "is a tue", "handoffs are on mon")


@pytest.mark.parametrize("turn, says", [("36h", "whole number of days, e.g. 1w or 1d, not 1d12h"),
                                        ("3d", "handoff.day only applies to turns of whole weeks")])
def test_a_bad_turn_points_at_the_turn(tmp_path, turn, says):
    text = source_with("    turn: 1w", f"    turn: {turn}")
    assert_error(tmp_path, text, line_of(text, f"    turn: {turn}"), "rotations.data-engineering.turn", says)


def test_unknown_holiday_country(tmp_path):
    text = source_with("    country: US ", "    country: us ")
    assert_error(tmp_path, text, line_of(text, "country: us"), "team.holidays.country", "did you mean 'US'?")


def test_override_ending_before_it_starts(tmp_path):
    text = source_with("overrides: []", "overrides:\n  - {person: Laura, start: 2026-12-09T09:00, end: 2026-12-08T09:00}")
    assert_error(tmp_path, text, line_of(text, "end: 2026-12-08T09:00}"), "overrides[0]", "must be after its start")


def test_every_error_is_reported_in_one_run(tmp_path):
    text = source_with("    owners: {primary: Danny, secondary: Jane}", "    owners: {primary: Danni, secondary: Jane}")
    text = text.replace('      data_ready_by: "05:00"', '      data_ready_by: "5 am"')
    text = text.replace("    turn: 1w", "    turn: weekly")
    path, done = validate(tmp_path, text)
    assert done.returncode == 1
    assert re.search(r"runbook has \d+ error", done.stderr)
    assert f"{path}:{line_of(text, '5 am')}:" in done.stderr
    assert f"{path}:{line_of(text, 'turn: weekly')}:" in done.stderr
    assert "not a duration" in done.stderr
    # Cross-references are checked in the same run, even while some fields are wrong.
    assert f"{path}:{line_of(text, 'primary: Danni')}:" in done.stderr
    assert "unknown person 'Danni' (did you mean 'Danny'?" in done.stderr


def test_runbooks_path_environment_variable(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("team: {}\n")
    done = run_cli("validate", env={"RUNBOOKS_PATH": str(broken)})
    assert done.returncode == 1 and str(broken) in done.stderr


# The repository's runbook ------------------------------------------------------------------------

def test_source_runbook_is_valid_with_warnings():
    done = run_cli("validate", str(SOURCE_RUNBOOK))
    assert done.returncode == 0, done.stderr
    assert "OK" in done.stdout and "5 pipelines" in done.stdout
    warnings = [l for l in done.stdout.splitlines() if l.startswith("warning:")]
    assert any("'experiments' is incomplete" in w and "on-call person" in w for w in warnings)
    for person in ("Danny", "Anna", "Laura", "Jane"):
        assert any(f"person {person!r} has a placeholder" in w for w in warnings)


def test_validate_defaults_to_runbooks_yaml_in_the_working_directory(tmp_path):
    (tmp_path / "runbooks.yaml").write_text(SOURCE_TEXT)
    assert run_cli("validate", cwd=tmp_path).returncode == 0
    other = tmp_path / "empty"
    other.mkdir()
    done = run_cli("validate", cwd=other)
    assert done.returncode == 1 and "file not found" in done.stderr


def test_schema_is_json_schema_of_the_file():
    done = run_cli("schema")
    assert done.returncode == 0
    schema = json.loads(done.stdout)
    assert schema["type"] == "object"
    assert {"team", "people", "rotations", "pipelines"} <= set(schema["properties"])
    assert set(schema["required"]) >= {"team", "people", "pipelines"}
    assert "Pipeline" in schema["$defs"] and schema["$defs"]["Pipeline"]["additionalProperties"] is False


def test_an_unknown_deferral_choice_names_the_accepted_ones(tmp_path):
    text = source_with("if_deferral_misses_fix_by: notify_oncall", "if_deferral_misses_fix_by: wake_everyone")
    assert_error(tmp_path, text, line_of(text, "wake_everyone"), "pipelines.growth.on_call.if_deferral_misses_fix_by",
                 "'defer'", "'notify_oncall'", "'page_oncall'")


def test_an_unknown_escalation_step_is_an_error(tmp_path):
    text = source_with("chain: [oncall, primary, secondary, admins]", "chain: [oncall, manager]")
    assert_error(tmp_path, text, line_of(text, "chain: [oncall, manager]"), "team.escalation.chain")


def test_a_chain_that_cannot_reach_anyone_new_is_a_warning_with_its_line(tmp_path):
    text = source_with("chain: [oncall, primary, secondary, admins]", "chain: [secondary, admins]")
    path, done = validate(tmp_path, text)
    assert done.returncode == 0, done.stderr
    [warning] = [w for w in done.stdout.splitlines() if "cannot reach anyone new" in w]
    assert warning.startswith(f"warning: {path}:{line_of(text, 'chain: [secondary, admins]')}: team.escalation")
    assert "'profit'" in warning and "add oncall" in warning
    assert "cannot reach anyone new" not in run_cli("validate", str(SOURCE_RUNBOOK)).stdout


def test_policy_table_for_the_shipped_runbook():
    done = run_cli("--runbook", str(SOURCE_RUNBOOK), "policy", "--table", "--from", "2026-12-01")
    assert done.returncode == 0, done.stderr
    first = done.stdout.split("\n\n")[0]  # a failure's first alert
    assert "| Profit | notify: Danny, Jane | deferred until Tue 09:00: Danny, Jane |" in first
    assert "| Engagement | page: on call, Anna, Laura (DM) | page: on call (DM) |" in first
    assert "holiday (Thu 24 Dec 03:00 UTC)" in first
    assert "none: only the Escalate button escalates" in done.stdout  # the investors' aggregate



@pytest.mark.parametrize("cron, field", [("30 25 * * *", "hour (0-23) '25'"), ("0 4 * * thurs", "day of the week"),
                                         ("61 1 * * *", "minute (0-59) '61'")])
def test_a_cron_field_out_of_range_is_named(tmp_path, cron, field):
    text = source_with('    schedule: "0 2 * * *"', f'    schedule: "{cron}"')
    assert_error(tmp_path, text, line_of(text, f'"{cron}"'), "pipelines.profit.schedule", field, "out of range")


def test_a_bad_email_says_so_in_words(tmp_path):
    text = source_with("danny@example.com", "danny-at-example")
    errors = assert_error(tmp_path, text, line_of(text, "danny-at-example"), "people.Danny.email",
                          "not an email address: 'danny-at-example'")
    assert not any("pattern" in e or "^[^@" in e for e in errors)


@pytest.mark.parametrize("day, ok", [("thursday", True), ("Thu", True), ("thuxyz", False), ("thurs", False)])
def test_a_weekday_is_its_abbreviation_or_full_name_as_the_schema_says(tmp_path, day, ok):
    text = source_with('weekly_check: {day: mon, time: "10:00"}', f'weekly_check: {{day: {day}, time: "10:00"}}')
    path, done = validate(tmp_path, text)
    assert (done.returncode == 0) is ok, done.stderr
    schema = json.loads(run_cli("schema").stdout)
    assert day.lower() in json.dumps(schema) or not ok



def test_override_times_a_dst_change_skips_or_repeats_are_warned_about(tmp_path):
    text = source_with("  timezone: UTC", "  timezone: Europe/Berlin").replace(
        "overrides: []", "overrides:\n  - {person: Anna, start: 2027-03-28T02:30, end: 2027-10-31T02:30}")
    path, done = validate(tmp_path, text)
    assert done.returncode == 0, done.stderr
    line = line_of(text, "person: Anna, start: 2027-03-28T02:30")
    assert f"warning: {path}:{line}: overrides[0].start: 2027-03-28 02:30 does not exist in Europe/Berlin" in done.stdout
    assert "overrides[0].end: 2027-10-31 02:30 happens twice in Europe/Berlin" in done.stdout
