"""The runbook learns: `oncall-bot suggest` proposes a common issue for a recurring error no common
issue matched (its regex checked against every error in the store), lists remediations marked wrong,
`--apply` appends the entry keeping the file's comments, and the handoff says how many are waiting."""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest
import yaml

from bot.alerts.intake import receive
from bot.alerts.model import Alert
from bot.domain.suggest import Entry, entry_yaml, matches
from bot.domain.triage import triage
from bot.store import Store
from bot.store.incidents import get_incident, resolve
from bot.store.memory import save_note
from bot.store.suggest_reads import waiting_suggestions
from tests.helpers_runbook import REPO, SOURCE_TEXT, cli_json, run_cli_here, source
from tests.jobs_helpers import at, rows, tick
from tests.store_fixtures import backend, make_store, store  # noqa: F401

NO_SUCH_KEY = ("botocore.errorfactory.NoSuchKey: An error occurred (NoSuchKey) when calling the GetObject operation: "
               "The specified key does not exist. Key: exports/dt=2026-11-{day:02d}/part-{part:05d}-{uuid}.snappy.parquet\n"
               "  File \"/opt/airflow/dags/{dag}/load.py\", line {line}, in load_partition\n"
               "Host: ip-10-0-{a}-{b}.ec2.internal request id {req}")
# The same first words, another operation: a regex cut short would match it too.
HEAD_OBJECT = ("botocore.errorfactory.NoSuchKey: An error occurred (NoSuchKey) when calling the HeadObject operation: "
               "Not Found")
ONCE = 'psycopg.errors.UndefinedTable: relation "staging.accounts_v2" does not exist'
WRONG_FIX = "The column was there; the executor's disk was full. Cleared the scratch volume and reran."
COMMENT = "      # A holiday failure would wait for the next standby day or work morning, after its 24 h fix\n"


def alert(pipeline: str, when, error: str) -> Alert:
    return Alert(source="generic", pipeline=pipeline, status="failed", occurred_at=when, error=error)


def no_such_key(n: int) -> str:
    ids = [dict(day=10, part=12, uuid="3f2a9c1e-8d7b-4e2a-9c1f-0a1b2c3d4e5f", dag="growth", line=88, a=3, b=17,
                req="9F8E7D6C5B4A3921"),
           dict(day=11, part=7, uuid="0b7c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d", dag="growth", line=91, a=9, b=2,
                req="A1B2C3D4E5F60718"),
           dict(day=12, part=301, uuid="c0ffee00-1234-4abc-9def-00112233aabb", dag="engagement", line=88, a=12, b=250,
                req="77AA88BB99CC00DD")][n]
    return NO_SUCH_KEY.format(**ids)


def recurring_failures(store, rb) -> list[int]:
    """Three failures of one error (other ids, hosts, files) on growth and engagement, none matched by the
    runbook; one resolved with a note. Returns their incident ids."""
    opened = []
    for n, (pipeline, when) in enumerate([("growth", at(2026, 11, 10, 1, 30)), ("growth", at(2026, 11, 11, 1, 40)),
                                          ("engagement", at(2026, 11, 12, 1, 20))]):
        opened.append(receive(store, rb, alert(pipeline, when, no_such_key(n)), when).incident_id)
    assert all(get_incident(store, i).issue_title is None for i in opened)
    resolve(store, opened[0], "U0LAURA", at(2026, 11, 10, 3))
    save_note(store, opened[0], "The upstream export landed late; reran the load once the partition was there.",
              "none", "upstream data", "U0LAURA", "Laura", at(2026, 11, 10, 3, 5))
    return opened


def other_errors(store, rb) -> None:
    """An unmatched error seen once, a look-alike seen once, and a matched one whose remediation was wrong."""
    receive(store, rb, alert("profit", at(2026, 11, 10, 2, 10), ONCE), at(2026, 11, 10, 2, 10))
    receive(store, rb, alert("investors", at(2026, 11, 9, 1, 10), HEAD_OBJECT), at(2026, 11, 9, 1, 10))
    npe = receive(store, rb, alert("growth", at(2026, 11, 8, 1, 5), "java.lang.NullPointerException at Load.run"),
                  at(2026, 11, 8, 1, 5)).incident_id
    assert get_incident(store, npe).issue_title == "Spark task fails with NullPointerException"
    resolve(store, npe, "U0LAURA", at(2026, 11, 8, 4))
    save_note(store, npe, WRONG_FIX, "wrong", "infrastructure", "U0LAURA", "Laura", at(2026, 11, 8, 4, 1))


@pytest.fixture
def db(tmp_path, monkeypatch):
    """A SQLite store at DATABASE_URL, as `oncall-bot suggest` reads it."""
    url = f"sqlite:///{tmp_path / 'oncall.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("RUNBOOKS_PATH", raising=False)
    made = Store(url)
    yield made
    made.close()


RB = ("--runbook", str(REPO / "runbooks.yaml"))
AT = ("--at", "2026-11-20T00:00Z")


def test_three_similar_unmatched_failures_make_one_suggestion_whose_regex_matches_them_and_nothing_else(db):
    rb = source()
    opened = recurring_failures(db, rb)
    other_errors(db, rb)
    answer = cli_json(*RB, "suggest", "--json", *AT)
    assert len(answer["suggestions"]) == 1
    found = answer["suggestions"][0]
    assert found["count"] == 3 and found["pipelines"] == ["growth", "engagement"]
    assert found["first_seen"] == "2026-11-10T01:30:00Z" and found["last_seen"] == "2026-11-12T01:20:00Z"
    assert [n["fix"] for n in found["notes"]] == [
        "The upstream export landed late; reran the load once the partition was there."]
    assert found["notes"][0] | {"incident": None} == {
        "incident": None, "pipeline": "growth", "fix": found["notes"][0]["fix"], "by": "Laura", "by_user": "U0LAURA",
        "remediation": "none", "category": "upstream data", "at": "2026-11-10T03:05:00Z"}
    entry = found["entry"]
    assert entry["title"].startswith("NoSuchKey: An error occurred (NoSuchKey) when calling the GetObject operation")
    assert entry["remediation"] == "The upstream export landed late; reran the load once the partition was there."
    [pattern] = entry["match"]
    # The first 40 characters would match the HeadObject error too: a longer cut of the line was taken.
    assert "GetObject" in pattern and matches(pattern.split(" when calling")[0], HEAD_OBJECT)
    errors = {get_incident(db, i).error for i in opened}
    assert all(matches(pattern, e) for e in errors)
    with db.reading() as conn:
        stored = [e for (e,) in conn.exec_driver_sql("SELECT error FROM incidents WHERE error IS NOT NULL")]
    assert [e for e in stored if matches(pattern, e)] == [e for e in stored if e in errors]
    assert len(stored) == 6 and found["match_checked"].startswith("matches all 3 error(s) of this group and none of the 3 other")
    # The entry as pasted is the same entry, and the runbook with it matches the three failures.
    pasted = yaml.safe_load(entry_yaml(Entry(entry["title"], pattern, entry["remediation"])))
    assert pasted == [{"title": entry["title"], "match": [pattern], "remediation": entry["remediation"]}]
    # The wrong remediation is an entry to fix.
    assert answer["wrong_remediations"] == [{
        "title": "Spark task fails with NullPointerException", "pipeline": "growth", "count": 1,
        "remediation": "Check upstream whether any required column is missing.",
        "notes": [answer["wrong_remediations"][0]["notes"][0] | {"fix": WRONG_FIX}]}]
    assert answer["wrong_remediations"][0]["notes"][0]["remediation"] == "wrong"


def test_the_text_form_shows_the_entry_ready_to_paste_and_the_wrong_remediation(db):
    rb = source()
    recurring_failures(db, rb)
    other_errors(db, rb)
    done = run_cli_here(*RB, "suggest", *AT)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "1 runbook suggestion(s)" in out and "3 incidents on growth (2), engagement (1)" in out
    assert "Laura (no remediation suggested; upstream data): The upstream export landed late" in out
    assert "      - title: 'NoSuchKey: An error occurred (NoSuchKey) when calling the GetObject operation" in out
    assert "        match: ['botocore\\.errorfactory\\.NoSuchKey: An error occurred \\(NoSuchKey\\)" in out
    assert '"Spark task fails with NullPointerException" (growth): marked wrong 1 time(s)' in out
    assert WRONG_FIX in out


def test_an_unmatched_error_seen_once_makes_no_suggestion(db):
    rb = source()
    other_errors(db, rb)
    answer = cli_json(*RB, "suggest", "--json", *AT)
    assert answer["suggestions"] == []
    out = run_cli_here(*RB, "suggest", *AT).stdout
    assert "No recurring errors without a common issue" in out and "nothing to suggest" in out
    # ...and outside the window, three failures are not recurring either.
    recurring_failures(db, rb)
    assert cli_json(*RB, "suggest", "--json", "--at", "2027-03-01T00:00Z")["suggestions"] == []
    assert len(cli_json(*RB, "suggest", "--json", "--at", "2027-03-01T00:00Z", "--since", "120d")["suggestions"]) == 1


def test_apply_appends_the_entry_keeping_comments_and_the_result_validates(db, tmp_path):
    rb = source()
    recurring_failures(db, rb)
    other_errors(db, rb)
    path = tmp_path / "runbooks.yaml"
    shutil.copy(REPO / "runbooks.yaml", path)
    done = run_cli_here("--runbook", str(path), "suggest", "--apply", "growth", *AT)
    assert done.returncode == 0, done.stderr
    assert "Added to pipelines.growth.common_issues" in done.stdout and done.stderr == ""
    text = path.read_text(encoding="utf-8")
    assert COMMENT in SOURCE_TEXT and COMMENT in text
    # Every line of the original is there, in order; the only new lines are the entry's three.
    old, new = SOURCE_TEXT.splitlines(keepends=True), text.splitlines(keepends=True)
    added = [line for line in new if line not in old]
    assert len(new) == len(old) + 3 and [line for line in new if line not in added] == old
    assert added[0].startswith("      - title: 'NoSuchKey: An error occurred")
    assert added[1].startswith("        match: ['botocore\\.errorfactory\\.NoSuchKey")
    assert added[2] == "        remediation: The upstream export landed late; reran the load once the partition was there.\n"
    anchor = new.index("        remediation: Check upstream whether any required column is missing.\n")
    assert new[anchor + 1:anchor + 4] == added     # appended to growth's common issues
    valid = run_cli_here("--runbook", str(path), "validate")
    assert valid.returncode == 0 and "OK" in valid.stdout
    # The runbook now matches the three failures: nothing left to suggest for growth.
    from bot.runbook import load

    now = load(path).runbook
    assert triage(now, "growth", no_such_key(1)).title.startswith("NoSuchKey")
    again = run_cli_here("--runbook", str(path), "suggest", "--apply", "growth", *AT)
    assert again.returncode == 2 and "no suggestion for growth" in again.stderr
    assert path.read_text(encoding="utf-8") == text


def test_apply_without_a_suggestion_for_the_pipeline_exits_2_and_leaves_the_file(db, tmp_path):
    rb = source()
    recurring_failures(db, rb)
    path = tmp_path / "runbooks.yaml"
    shutil.copy(REPO / "runbooks.yaml", path)
    done = run_cli_here("--runbook", str(path), "suggest", "--apply", "profit", *AT)
    assert done.returncode == 2 and "no suggestion for profit" in done.stderr
    assert path.read_text(encoding="utf-8") == SOURCE_TEXT


def test_apply_restores_the_original_text_when_validation_fails(db, tmp_path, monkeypatch):
    from bot.cli import suggest as cli
    from bot.runbook import RunbookError
    from bot.runbook.loader import Problem

    rb = source()
    recurring_failures(db, rb)
    path = tmp_path / "runbooks.yaml"
    shutil.copy(REPO / "runbooks.yaml", path)

    def refuse(where):
        raise RunbookError([Problem(str(where), 104, "pipelines.growth.common_issues[1]", "made up for the test")])

    monkeypatch.setattr(cli, "load", refuse)
    done = run_cli_here("--runbook", str(path), "suggest", "--apply", "growth", *AT)
    assert done.returncode == 1
    assert "made up for the test" in done.stderr and "is as it was" in done.stderr
    assert path.read_text(encoding="utf-8") == SOURCE_TEXT


def test_suggest_needs_the_store(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    done = run_cli_here(*RB, "suggest")
    assert done.returncode == 2 and "DATABASE_URL" in done.stderr


def test_the_store_reads_agree_on_both_backends(store):
    rb = source()
    recurring_failures(store, rb)
    other_errors(store, rb)
    assert waiting_suggestions(store, at(2026, 8, 22), at(2026, 11, 20), rb) == 1
    assert waiting_suggestions(store, at(2026, 11, 11), at(2026, 11, 20), rb) == 1   # two of them still
    assert waiting_suggestions(store, at(2026, 11, 12), at(2026, 11, 20), rb) == 0   # one is not recurring


def test_the_handoff_says_how_many_suggestions_are_waiting_only_when_there_are_some(store):
    rb = source()
    tick(store, rb, at(2026, 11, 15, 12))
    tick(store, rb, at(2026, 11, 16, 9))
    assert "runbook suggestion" not in _handoff_text(store, rb)
    recurring_failures(store, rb)
    other_errors(store, rb)
    tick(store, rb, at(2026, 11, 22, 12))
    tick(store, rb, at(2026, 11, 23, 9))
    assert "1 runbook suggestion from recurring unmatched errors: run `oncall-bot suggest`" in _handoff_text(store, rb)
    # Ninety days after the failures, the handoff says nothing of them.
    late = at(2026, 11, 23, 9) + timedelta(weeks=13)
    tick(store, rb, late - timedelta(days=1))
    tick(store, rb, late)
    assert "runbook suggestion" not in _handoff_text(store, rb)


def _handoff_text(store, rb) -> str:
    row = rows(store, "handoff", rb)[-1]
    return "\n".join(b["text"]["text"] for b in row.args["blocks"] if b["type"] == "section")
