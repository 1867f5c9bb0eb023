"""The shape of runbooks.yaml, as pydantic models.

Field checks live here; checks that span the file (unknown people, unknown rotations) live in
`checks.py` so that every problem in a file is reported in one run.
"""

from __future__ import annotations

import re
from functools import cached_property
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from bot.runbook.fields import WEEKDAYS, ClockTime, Duration, Lead, Weekday, format_duration

PIPELINE_KEY = r"^[a-z0-9][a-z0-9_-]*$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class WorkHours(Strict):
    days: list[Weekday] = Field(default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"], min_length=1)
    start: ClockTime = "09:00"
    end: ClockTime = "17:00"

    @model_validator(mode="after")
    def _ordered(self):
        if self.end <= self.start:
            raise ValueError(f"work hours end ({self.end:%H:%M}) must be after start ({self.start:%H:%M})")
        return self


class Holidays(Strict):
    country: str | None = Field(None, description="ISO 3166 code known to the `holidays` package, e.g. US, GB, DE")
    subdiv: str | None = Field(None, description="State or region code, e.g. CA")
    extra: list[date] = Field(default_factory=list, description="Team days off beyond the public calendar")


class Channels(Strict):
    oncall: str = Field(description="Handoffs, reminders and swap requests")
    alerts: str = Field(description="Failure alert threads")


EscalationStep = Literal["oncall", "primary", "secondary", "owners", "admins"]


class Escalation(Strict):
    ack_within: Duration | None = Field(
        "30m", description="Unacknowledged this long after people were told: escalate one step "
        "(null: only when someone presses Escalate)")
    chain: list[EscalationStep] = Field(
        default_factory=lambda: ["oncall", "primary", "secondary", "admins"],
        description="Who each escalation step tells; a step with nobody new to tell is passed over")


class Reminders(Strict):
    fix_deadline: list[Duration] = Field(
        default_factory=lambda: ["4h", "1h"],
        description="Open incidents are chased in their thread this long before the fix deadline; "
        "the secondary owner is mentioned at the last one",
    )
    month_end_working_days: int = Field(
        3, ge=0, le=15, description="Open incidents due at month end are reminded at the start of work hours "
        "this many working days before the month ends (0: no reminder)",
    )


def known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        import difflib
        from zoneinfo import available_timezones  # scans the zone files: only worth it to explain an error

        close = difflib.get_close_matches(value, sorted(available_timezones()), n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else "use an IANA name such as UTC or Europe/Berlin"
        raise ValueError(f"unknown timezone {value!r} ({hint})") from None
    return value


class Lineage(Strict):
    fold_within: Duration | None = Field(
        "24h", description="A downstream pipeline's failure or SLA breach this long after an open upstream "
        "incident began joins that incident's thread and pages nobody (null: never fold)")


class Team(Strict):
    name: str
    timezone: str = Field("UTC", description="IANA zone; handoffs and work hours are local to it")
    work_hours: WorkHours = Field(default_factory=WorkHours)
    holidays: Holidays = Field(default_factory=Holidays)
    channels: Channels
    admins: list[str] = Field(default_factory=list, description="People who may set overrides for anyone")
    default_rotation: str | None = Field(
        None, description="Rotation that takes alerts of unknown or incomplete pipelines (default: the first one)"
    )
    escalation: Escalation = Field(default_factory=Escalation)
    reminders: Reminders = Field(default_factory=lambda: Reminders())
    lineage: Lineage = Field(default_factory=Lineage)
    root_causes: list[str] = Field(
        default_factory=lambda: ["upstream data", "code change", "infrastructure", "configuration", "capacity",
                                 "external service", "other"],
        description="Categories a resolution note may pick as the root cause", max_length=100)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return known_zone(value)

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class Person(Strict):
    slack_id: str | None = Field(None, pattern=r"^[UW][A-Z0-9]{2,}$", description="Slack member ID, e.g. U0123ABCD")
    email: str | None = Field(None, description="Looked up in Slack when no slack_id",
                              json_schema_extra={"format": "email"})
    placeholder: bool = Field(False, description="true while the identity is made up; `validate` warns about it")

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", value):
            raise ValueError(f"not an email address: {value!r} (e.g. name@example.com)")
        return value


class Handoff(Strict):
    day: Weekday | None = Field(None, description="Weekday of the handoff (weekly turns)")
    time: ClockTime = Field("09:00", description="Local time of the handoff")


class TransitionMeeting(Strict):
    duration: Duration = "30m"
    offset: Duration = Field("0m", description="Start relative to the handoff; -30m ends it at the handoff")
    remind: list[Lead] = Field(default_factory=lambda: ["1d", "15m"],
                               description="Reminder leads before the meeting: durations or working days")


class Rotation(Strict):
    # Validated in this order, so that `turn` and `start` are checked against what comes before them
    # and an error points at the line of the field that is wrong.
    members: list[str] = Field(min_length=1, description="In order: week 1, week 2, ...")
    handoff: Handoff = Field(default_factory=Handoff)
    turn: Duration = Field("1w", description="Length of one shift, whole days (1w, 2w, 1d)")
    start: date = Field(description="Local date of the first handoff (week 1 starts then)")
    transition_meeting: TransitionMeeting | None = None
    shift_reminder: Lead | None = Field("1d", description="Personal reminder this long before one's shift "
                                        "(a duration, or working days: 1 working day)")
    usergroup: str | None = Field(None, pattern=r"^S[A-Z0-9]{2,}$",
                                  description="Slack user group ID (S...) that follows the on-call person")

    @field_validator("turn")
    @classmethod
    def _whole_days(cls, turn: timedelta, info: ValidationInfo) -> timedelta:
        if turn <= timedelta(0) or turn % timedelta(days=1):
            raise ValueError(f"turn must be a whole number of days, e.g. 1w or 1d, not {format_duration(turn)}")
        handoff = info.data.get("handoff")
        if turn % timedelta(weeks=1) and handoff is not None and handoff.day:
            raise ValueError(f"handoff.day only applies to turns of whole weeks, not {format_duration(turn)}: "
                             f"remove the day, or make the turn 1w")
        return turn

    @field_validator("start")
    @classmethod
    def _on_the_handoff_day(cls, start: date, info: ValidationInfo) -> date:
        handoff, turn = info.data.get("handoff"), info.data.get("turn")
        weekday = WEEKDAYS[start.weekday()]
        if handoff is not None and handoff.day and turn is not None and not turn % timedelta(weeks=1) \
                and handoff.day != weekday:
            raise ValueError(f"start {start} is a {weekday}, but handoffs are on {handoff.day}: "
                             f"move start to a {handoff.day} or change handoff.day")
        return start


class Override(Strict):
    person: str = Field(description="Who is on call instead")
    start: datetime = Field(description="ISO date-time; without an offset it is in the team zone")
    end: datetime
    rotation: str | None = Field(None, description="Default: the team's default rotation")
    note: str = ""

    @model_validator(mode="after")
    def _ordered(self):
        # With an offset on one end only, the order needs the team's zone: Runbook checks those.
        if (self.start.tzinfo is None) == (self.end.tzinfo is None) and self.end <= self.start:
            raise ValueError(f"override end ({self.end}) must be after its start ({self.start})")
        return self


class Owners(Strict):
    primary: str
    secondary: str | None = None


class SLA(Strict):
    data_ready_by: ClockTime | None = Field(None, description="Time of day (pipeline zone) the run's data must be ready")
    fix_within: Duration | None = Field(
        None, description="Fix deadline counted from midnight (pipeline zone) of the run's day; for a pipeline "
        "that runs more than once a day, from the run's scheduled start")
    fix_by: Literal["end_of_month"] | None = Field(None, description="Fix deadline at the end of the month (team zone)")
    notes: list[str] = Field(default_factory=list, description="Promises that are not clocks")
    watch: Literal["after_first_success", "always"] = Field(
        "after_first_success",
        description="When the data-ready time is watched: once the pipeline has reported a success (so a team "
        "that has not wired success reports yet is not told of a breach every day), or from the start",
    )

    @model_validator(mode="after")
    def _one_fix_rule(self):
        if self.fix_within is not None and self.fix_by is not None:
            raise ValueError("give either fix_within or fix_by, not both")
        return self


class CommonIssue(Strict):
    id: str | None = None
    title: str
    match: list[str] = Field(min_length=1, description="Regular expressions, case-insensitive, any line")
    remediation: str

    @field_validator("match")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as err:
                raise ValueError(f"pattern {pattern!r} is not a valid regular expression: {err}") from None
        return patterns


class WeeklyCheck(Strict):
    day: Weekday = "mon"
    time: ClockTime = "10:00"


class OnCallPolicy(Strict):
    rotation: str | None = Field(None, description="Rotation whose on-call person is paged")
    page: list[Literal["weekdays", "weekends", "holidays"]] = Field(
        default_factory=list, description="Days on which the on-call person is paged, around the clock"
    )
    outside_work_hours: Literal["defer", "quiet"] = Field(
        "defer",
        description="When nobody is paged: in work hours the owners are mentioned; outside them 'defer' pings "
        "the owners at the next work-hours start and 'quiet' only posts",
    )
    if_deferral_misses_fix_by: Literal["defer", "notify_oncall", "page_oncall"] = Field(
        "defer",
        description="When the people a deferred failure waits for would be told only after its fix deadline: "
        "'defer' still waits (and says so), 'notify_oncall' mentions the on-call person now, "
        "'page_oncall' pages them now",
    )
    weekly_check: WeeklyCheck | None = Field(None, description="Owners are asked to check the pipeline weekly")
    note: str | None = None

    @model_validator(mode="after")
    def _paging_needs_rotation(self):
        if self.page and not self.rotation:
            raise ValueError("page: needs a rotation whose on-call person is paged; add rotation:")
        return self


class LineageJob(Strict):
    namespace: str = Field(min_length=1, description="OpenLineage job namespace, e.g. the Airflow instance's")
    job: str = Field(min_length=1, description="OpenLineage job name, e.g. the DAG id (task events name their DAG "
                     "as parent, so the DAG's job covers its tasks)")


class Pipeline(Strict):
    name: str
    aliases: list[str] = Field(default_factory=list)
    description: str | None = None
    owners: Owners | None = None
    schedule: str | None = Field(None, description="Cron expression in the pipeline's zone, e.g. '0 1 * * *'")
    timezone: str | None = Field(
        None, description="Zone of the schedule and the SLA times: an IANA name, or 'team' for the team zone. "
        "Not given: UTC (what runbooks meant before the key existed)")
    upstream: list[str] = Field(default_factory=list, description="Teams to check with")
    downstream: list[str] = Field(default_factory=list, description="Teams to tell")
    sla: SLA | None = None
    on_call: OnCallPolicy | None = None
    common_issues: list[CommonIssue] = Field(default_factory=list)
    escalation: Escalation | None = None
    depends_on: list[str] = Field(default_factory=list, description="Pipeline keys whose data this one reads "
                                  "(OpenLineage datasets add more on their own)")
    openlineage: list[LineageJob] = Field(default_factory=list,
                                          description="OpenLineage jobs whose run events are this pipeline's")

    @field_validator("upstream", "downstream", "aliases", "depends_on", mode="before")
    @classmethod
    def _one_or_many(cls, value):
        return [value] if isinstance(value, str) else value

    @field_validator("openlineage", mode="before")
    @classmethod
    def _one_job_or_many(cls, value):
        return [value] if isinstance(value, dict) else value

    @field_validator("timezone")
    @classmethod
    def _clock_zone(cls, value: str | None) -> str | None:
        return value if value in (None, "team") else known_zone(value)

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is None:
            return value
        from croniter import croniter

        fields = value.split()
        if len(fields) != 5:
            raise ValueError(f"not a 5-field cron expression: {value!r} (e.g. '0 1 * * *' for 01:00 UTC daily)")
        if not croniter.is_valid(value):
            # Name the field: "hour '25'" says more than "not a cron expression".
            names = ("minute (0-59)", "hour (0-23)", "day of the month (1-31)", "month (1-12 or jan-dec)",
                     "day of the week (0-6 or sun-sat)")
            for i, name in enumerate(names):
                alone = ["*"] * 5
                alone[i] = fields[i]
                if not croniter.is_valid(" ".join(alone)):
                    raise ValueError(f"{name} {fields[i]!r} is out of range or not understood in cron {value!r} "
                                     f"(e.g. '0 1 * * *' for 01:00 UTC daily)")
            raise ValueError(f"not a valid cron expression: {value!r} (e.g. '0 1 * * *' for 01:00 UTC daily)")
        return value

    def missing(self) -> list[str]:
        """What the runbook still lacks for this pipeline; alerts still work without it."""
        wanted = {
            "description": self.description,
            "owners": self.owners,
            "schedule": self.schedule,
            "sla": self.sla,
            "on_call": self.on_call,
            "common_issues": self.common_issues,
        }
        return [key for key, value in wanted.items() if not value]


class Runbook(Strict):
    team: Team
    people: dict[str, Person] = Field(min_length=1)
    rotations: dict[str, Rotation] = Field(default_factory=dict)
    overrides: list[Override] = Field(default_factory=list)
    signatures: list[CommonIssue] = Field(default_factory=list, description="Team-wide failure signatures")
    pipelines: dict[str, Pipeline] = Field(min_length=1)

    @field_validator("pipelines")
    @classmethod
    def _keys(cls, pipelines: dict[str, Pipeline]) -> dict[str, Pipeline]:
        for key in pipelines:
            if not re.match(PIPELINE_KEY, key):
                raise ValueError(f"pipeline key {key!r} must be lower-case letters, digits, - or _ (e.g. 'daily-sales')")
        return pipelines

    @model_validator(mode="after")
    def _overrides_ordered(self):
        for i, item in enumerate(self.overrides):
            # Enough to order them (the domain resolves DST gaps when it uses them).
            start, end = (value if value.tzinfo else value.replace(tzinfo=self.tz) for value in (item.start, item.end))
            if end <= start:
                raise ValueError(f"overrides[{i}]: end ({item.end}) must be after its start ({item.start}) "
                                 f"in the team zone {self.team.timezone}")
        return self

    @cached_property
    def tz(self) -> ZoneInfo:
        return self.team.tz

    def clock_zone(self, pipeline: str) -> ZoneInfo:
        """The zone a pipeline's cron and SLA times are read in."""
        written = self.pipelines[pipeline].timezone
        return self.tz if written == "team" else ZoneInfo(written or "UTC")

    @property
    def default_rotation(self) -> str | None:
        return self.team.default_rotation or next(iter(self.rotations), None)
