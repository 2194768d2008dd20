"""The plan language (version 1) as pydantic models.

Models check what one piece can check on its own (types, unknown keys, id formats, cron, enum
values); rules that need the whole plan or catalogue (references, cycles, duplicates) live in
rules.py and catalogue.py. Models are frozen: a loaded plan is a value the DAG factory can share.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints, field_validator, model_validator

from airflow_provider_drs.plans.cron import PRESETS, cron_problem
from airflow_provider_drs.plans.health import ReadyWhen
from airflow_provider_drs.plans.launch import GroupLaunch
from airflow_provider_drs.plans.model_base import _Model, one_kind_at_most, rule_error
from airflow_provider_drs.plans.references import SERVER_ID_PATTERN, VALID_FORMS

MAX_SERVERS_PER_JOB = 100  # DRS quota L-B827C881 (the API allows 200); one StartRecovery per wave
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$"  # also a valid Airflow TaskGroup id / DAG id part
REGION_PATTERN = r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$"
SNS_ARN_PATTERN = r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$"
SQS_QUEUE_URL = re.compile(r"^https?://[^/\s]+/\d{12}/[\w-]{1,80}$")  # scheme://host/ACCOUNT/QUEUE
ACTION_KINDS = ("ssm_automation", "ssm_command", "approval")

ServerId = Annotated[str, StringConstraints(pattern=SERVER_ID_PATTERN)]
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
Region = Annotated[str, StringConstraints(pattern=REGION_PATTERN)]
DocumentName = Annotated[str, StringConstraints(min_length=3, max_length=200)]


def _as_string_lists(value: Any) -> Any:
    """SSM parameters are lists of strings; accept a scalar and numbers/booleans for convenience."""
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        items = item if isinstance(item, list) else [item]
        out[key] = [str(v).lower() if isinstance(v, bool) else str(v) if isinstance(v, (int, float)) else v for v in items]
    return out


class SsmAutomation(_Model):
    """Start an SSM Automation runbook and wait for it to succeed."""

    document: DocumentName = Field(description="Automation document name or ARN, e.g. AWS-RestartEC2Instance.")
    parameters: dict[str, list[str]] = Field(default_factory=dict, description="Runbook parameters; may hold references.")
    _lists = field_validator("parameters", mode="before")(_as_string_lists)


class SsmTarget(_Model):
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)
    Key: str = Field(description="SSM target key, e.g. tag:Tier or InstanceIds.")
    Values: list[str] = Field(min_length=1)


class SsmCommand(_Model):
    """Run an SSM Run Command document on instances (by id or by targets) and wait for it."""

    document: DocumentName = Field(description="Command document, e.g. AWS-RunShellScript.")
    targets: list[SsmTarget] = Field(default_factory=list, description="SSM targets; or use instance_ids.")
    instance_ids: list[str] = Field(default_factory=list, description="EC2 ids, usually {{ instance:s-... }}.")
    parameters: dict[str, list[str]] = Field(default_factory=dict)
    _lists = field_validator("parameters", mode="before")(_as_string_lists)

    @model_validator(mode="after")
    def _one_target_kind(self) -> "SsmCommand":
        if bool(self.targets) == bool(self.instance_ids):
            raise rule_error("ssm_command needs exactly one of 'targets' or 'instance_ids'",
                             "use instance_ids: ['{{ instance:s-... }}'] for recovered servers")
        return self


UserId = Annotated[str, StringConstraints(min_length=1, max_length=256, strip_whitespace=True)]


def approvers_field() -> Any:
    return Field(default_factory=list, description="Airflow user ids who may answer (the auth manager's user id: the "
                                                   "user name with the simple auth manager); none: any user allowed "
                                                   "to answer human-in-the-loop tasks.")


class ApprovalAction(_Model):
    """Pause the wave until a person approves (human-in-the-loop task)."""

    subject: str = Field(min_length=1, description="What the approver is asked.")
    body: str | None = Field(default=None, description="Details shown with the request.")
    approvers: list[UserId] = approvers_field()
    timeout_minutes: int | None = Field(default=None, gt=0, strict=True,
                                        description="Unanswered this long, the approval is rejected and the wave "
                                                    "fails; none: it waits until answered.")


class Action(_Model):
    """A pre or post action: a mapping with exactly one of ssm_automation, ssm_command, approval."""

    ssm_automation: SsmAutomation | None = None
    ssm_command: SsmCommand | None = None
    approval: ApprovalAction | None = None
    when: Literal["both", "drill", "recovery"] = Field(
        default="both", description="Which runs include this step: drill (e.g. a smoke test), recovery (e.g. a DNS "
                                    "switch) or both (default); the other mode's DAG has no task for it.")

    @model_validator(mode="before")
    @classmethod
    def _exactly_one(cls, data: Any) -> Any:
        if isinstance(data, dict):
            kinds = one_kind_at_most(data, ACTION_KINDS, "an action", "ssm_automation: ...")
            if not kinds and set(data) <= {"when"}:
                raise rule_error("an action needs a kind besides 'when'", f"an action is one of: {', '.join(ACTION_KINDS)}")
            for kind in kinds:
                if data[kind] is None:
                    raise rule_error(f"{kind} needs settings", f"e.g. {_ACTION_EXAMPLES[kind]}")
        return data

    @property
    def kind(self) -> str:
        return next(k for k in ACTION_KINDS if getattr(self, k) is not None)

    @property
    def spec(self) -> SsmAutomation | SsmCommand | ApprovalAction:
        return getattr(self, self.kind)

    def runs_in(self, mode: str) -> bool:
        """Whether the drill or the recovery DAG has this step."""
        return self.when in ("both", mode)


_ACTION_EXAMPLES = {
    "ssm_automation": "ssm_automation: {document: AWS-RestartEC2Instance, parameters: {...}}",
    "ssm_command": "ssm_command: {document: AWS-RunShellScript, instance_ids: [...], parameters: {...}}",
    "approval": "approval: {subject: 'Start the app tier?'}",
}


class ProtectionGroup(_Model):
    """Source servers recovered together: listed by id, or selected by tags at run time."""

    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)
    servers: list[ServerId] = Field(default_factory=list, description="DRS source server ids (s-...).")
    tags: dict[str, str] = Field(default_factory=dict, description="Source server tags to match (all must match).")
    launch: GroupLaunch | None = Field(default=None, description="Launch settings preflight applies to the group's "
                                                                 "servers (DRS launch configuration and EC2 launch "
                                                                 "template); unset keys are left as they are.")

    @model_validator(mode="after")
    def _servers_or_tags(self) -> "ProtectionGroup":
        if self.servers and self.tags:
            raise rule_error("a protection group selects by 'servers' or by 'tags', not both",
                             "split it into two groups and put both in the wave")
        if not self.servers and not self.tags:
            raise rule_error("protection group selects no servers", "add 'servers: [s-...]' or 'tags: {Key: value}'")
        return self

    @property
    def is_tag_selected(self) -> bool:
        return bool(self.tags)


class Wave(_Model):
    """Servers recovered by one StartRecovery job, after the waves it depends on."""

    name: Name = Field(description="Unique in the plan; the Airflow TaskGroup id.")
    depends_on: list[Name] = Field(default_factory=list, description="Waves that must finish first.")
    protection_groups: list[Name] = Field(description="Groups whose servers this wave recovers.")
    pre: list[Action] = Field(default_factory=list, description="Actions before the recovery starts.")
    post: list[Action] = Field(default_factory=list, description="Actions after the servers launched.")
    optional: list[ServerId] = Field(default_factory=list, description="Servers whose failure only warns.")
    ready_when: ReadyWhen | None = Field(default=None, description="Health gate: the wave (and the waves that "
                                                                   "depend on it) waits until these checks pass.")
    delay_minutes: int | None = Field(default=None, gt=0, strict=True,
                                      description="Wait this long after the waves it depends on finished (after the "
                                                  "plan started, for a first wave) before the wave's first task; a "
                                                  "deferred wait that holds no worker slot. None: start at once.")

    def actions(self, stage: str, mode: str | None = None) -> list[tuple[int, Action]]:
        """A stage's (pre or post) actions with their 1-based place in the plan (task ids keep it),
        only those of ``mode`` (drill or recovery) when given."""
        return [(i, a) for i, a in enumerate(getattr(self, stage), 1) if mode is None or a.runs_in(mode)]

    def groups(self, plan: "Plan") -> list[ProtectionGroup]:
        return [plan.protection_groups[g] for g in self.protection_groups if g in plan.protection_groups]

    def static_servers(self, plan: "Plan") -> list[str]:
        """Servers known at parse time (tag-selected groups are resolved at run time)."""
        seen: dict[str, None] = {}
        for group in self.groups(plan):
            seen.update(dict.fromkeys(group.servers))
        return list(seen)

    def tag_selectors(self, plan: "Plan") -> dict[str, dict[str, str]]:
        """Group name -> tags, for the groups of this wave that select servers by tag."""
        return {g: dict(plan.protection_groups[g].tags) for g in self.protection_groups
                if g in plan.protection_groups and plan.protection_groups[g].is_tag_selected}


# Readiness checks a plan may turn into warnings (hooks/readiness.py runs them).
ReadinessCheck = Literal["replication", "rpo", "document", "topic"]


class Drill(_Model):
    schedule: str | None = Field(default=None, description=f"Cron or preset ({', '.join(PRESETS)}); none = manual.")
    cleanup: Literal["always", "on_success", "never"] = Field(default="always", description="Terminate drill instances.")
    readiness_warnings: list[ReadinessCheck] = Field(
        default_factory=list, description="Readiness checks that only warn before a drill; by default every "
                                          "failed check stops the drill before anything launches.")

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None and (problem := cron_problem(value)):
            raise rule_error(f"bad drill schedule: {problem}", "use 5 cron fields like '0 6 * * 1' or a preset like '@weekly'")
        return value


class Recovery(_Model):
    approval: Literal["required"] = Field(default="required", description="Always 'required'.")
    approvers: list[UserId] = approvers_field()
    approval_timeout_minutes: int | None = Field(
        default=None, gt=0, strict=True,
        description="Unanswered this long, the recovery is rejected (nothing launched); none: it waits.")
    decision_timeout_minutes: int = Field(
        default=1440, gt=0, strict=True,
        description="After the last wave, how long the commit-or-roll-back question waits for an answer.")
    on_timeout: Literal["commit", "rollback"] = Field(
        default="commit", description="What an unanswered commit-or-roll-back question decides.")


class Failback(_Model):
    stop_replication: bool = Field(
        default=False, description="After each wave's failback launch, stop the failback replication (StopFailback); "
                                   "default: keep it, to fail back again or decide later.")


class Notifications(_Model):
    sns_topic_arn: str | None = Field(default=None, description="SNS topic ARN or a reference to one.")

    @field_validator("sns_topic_arn")
    @classmethod
    def _arn(cls, value: str | None) -> str | None:
        if value is not None and "{{" not in value and not re.match(SNS_ARN_PATTERN, value):
            raise rule_error(f"'{value}' is not an SNS topic ARN",
                             f"write arn:aws:sns:REGION:ACCOUNT:TOPIC or a reference ({VALID_FORMS})")
        return value


class PlanSettings(_Model):
    """Everything in a plan file except its groups and waves (validated on its own, see structure.py)."""

    version: Literal[1] = Field(description="Plan language version; always 1.")
    kind: Literal["plan"] = "plan"
    name: Name = Field(alias="plan", description="Plan name; DAG ids are drs_<name>_drill and drs_<name>_recovery.")
    description: str = ""
    region: Region = Field(description="AWS region the servers are recovered in.")
    aws_conn_id: str = Field(default="aws_default", min_length=1, description="Airflow AWS connection id.")
    rto_minutes: int = Field(gt=0, strict=True, description="Recovery time objective, compared in every report.")
    rpo_minutes: int | None = Field(default=None, gt=0, strict=True,
                                    description="Recovery point objective: the oldest snapshot a server may be "
                                                "recovered from, compared in every report.")
    drill: Drill = Field(default_factory=Drill)
    recovery: Recovery = Field(default_factory=Recovery)
    failback: Failback = Field(default_factory=Failback)
    notifications: Notifications = Field(default_factory=Notifications)
    native_plan: Name | None = Field(
        default=None, description="Name of a DRS native recovery plan (DRS console, Recovery plans) to run instead "
                                  "of waves: its steps launch the servers; this plan adds approval, drill "
                                  "cleanup and the run report. A plan has either waves or native_plan.")
    events_queue: str | None = Field(
        default=None, description="URL of the SQS queue of DRS launch-result events (drs-plan events-setup) "
                                  "that this plan's waits listen to; default: Airflow's [drs] events_queue_url.")

    @field_validator("events_queue")
    @classmethod
    def _queue_url(cls, value: str | None) -> str | None:
        if value is not None and not SQS_QUEUE_URL.match(value):
            raise rule_error(f"'{value}' is not an SQS queue URL",
                             "write https://sqs.REGION.amazonaws.com/ACCOUNT/QUEUE (the QueueUrl output of "
                             "drs-plan events-setup)")
        return value


class PlanDocument(PlanSettings):
    """A plan file as written (`kind: plan`, the default)."""

    # Editors learn the either/or too: waves or native_plan.
    model_config = ConfigDict(json_schema_extra={"oneOf": [{"required": ["waves"]}, {"required": ["native_plan"]}]})

    protection_groups: dict[Name, ProtectionGroup] = Field(default_factory=dict, description="Inline groups.")
    waves: list[Wave] = Field(default_factory=list, description="The waves, at least one; none with native_plan.")

    @model_validator(mode="after")
    def _waves_or_native_plan(self) -> "PlanDocument":
        # structure.split_plan reports the same with FILE:LINE; this guards a plan built in code.
        if bool(self.waves) == bool(self.native_plan):
            raise rule_error("a plan has either waves or native_plan (exactly one)",
                             "write waves, or native_plan: NAME to run a DRS native recovery plan")
        return self


MODES = ("drill", "recovery")


def dag_id_of(plan_name: str, mode: str) -> str:
    """The DAG id of a plan's drill or recovery (also the folder its run reports are kept in)."""
    if mode not in MODES:
        raise ValueError(f"mode must be 'drill' or 'recovery', not {mode!r}")
    return f"drs_{plan_name.replace('-', '_')}_{mode}"


class Plan(PlanDocument):
    """A validated plan: inline and shared protection groups merged, and where it came from."""

    source_file: str | None = Field(default=None, exclude=True)
    source_text: str | None = Field(default=None, exclude=True, repr=False)

    def dag_id(self, mode: str) -> str:
        return dag_id_of(self.name, mode)

    def cleanup_dag_id(self) -> str:
        """The DAG that clears drill instances dead runs of this plan left behind."""
        return f"drs_{self.name.replace('-', '_')}_cleanup"

    def failback_dag_id(self) -> str:
        """The DAG that fails the plan's recovered servers back to where they came from."""
        return f"drs_{self.name.replace('-', '_')}_failback"

    @property
    def is_native(self) -> bool:
        """Runs a DRS native recovery plan (native_plan) instead of waves."""
        return self.native_plan is not None

    def wave(self, name: str) -> Wave:
        for wave in self.waves:
            if wave.name == name:
                return wave
        raise KeyError(f"plan '{self.name}' has no wave '{name}'")

    def static_servers(self) -> list[str]:
        return [s for wave in self.waves for s in wave.static_servers(self)]

    def wave_specs(self) -> dict[str, dict[str, Any]]:
        """Per wave, its listed servers and its tag-selected groups (resolved against DRS at run time)."""
        return {w.name: {"servers": w.static_servers(self), "tag_groups": w.tag_selectors(self)} for w in self.waves}

    def documents(self, mode: str | None = None) -> list[str]:
        """The SSM documents the plan's actions run (those of ``mode``'s DAG when given), each once."""
        return list(dict.fromkeys(a.spec.document for w in self.waves for a in (*w.pre, *w.post)
                                  if a.kind in ("ssm_automation", "ssm_command") and (mode is None or a.runs_in(mode))))

    def tag_group_count(self) -> int:
        return sum(len(wave.tag_selectors(self)) for wave in self.waves)


class ProtectionGroupsDocument(_Model):
    """A shared file of protection groups (`kind: protection_groups`), used by several plans."""

    version: Literal[1]
    kind: Literal["protection_groups"]
    description: str = ""
    protection_groups: dict[Name, ProtectionGroup] = Field(min_length=1)

