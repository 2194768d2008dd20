"""A plan as a DRS native recovery plan, and a native plan as plan YAML. Pure: no boto3, no Airflow.

DRS facts (botocore's drs model): a native recovery plan is a straight line of at most 20 steps; a
step is a server step (1..100 servers by source server ARN, each CRITICAL or OPTIONAL) or a wait
step (1..120 minutes); step names match ``[a-zA-Z0-9][a-zA-Z0-9 _-]*`` (1..256). It has no
dependency graph, no actions, approvals, health gates, launch settings, cleanup or RTO.

Export: waves in the plan's stable dependency order (WaveGraph.order), a wave = one server step
named after it, its ``delay_minutes`` = a wait step before it. What the line cannot express is a
warning; what DRS would refuse is an error (FILE:LINE when the plan's text is known).
Import: a server step = a protection group and a wave depending on the previous wave; a wait step =
``delay_minutes`` of the next wave.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_drs.plans.errors import PlanError
from airflow_provider_drs.plans.graph import WaveGraph
from airflow_provider_drs.plans.model import NAME_PATTERN, Plan
from airflow_provider_drs.plans.yaml_lines import load_yaml

MAX_STEPS = 20
MAX_STEP_SERVERS = 100
MAX_WAIT_MINUTES = 120
CRITICAL, OPTIONAL = "CRITICAL", "OPTIONAL"
NATIVE_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9 _-]{0,255}$")  # plan and step names alike
SERVER_ARN = re.compile(r"source-server/(s-[0-9a-zA-Z]{17})$")
MAX_DESCRIPTION = 1024


def wait_step_name(wave: str) -> str:
    # Named after the wave, not the minutes: a changed delay updates the step in place.
    return f"wait before {wave}"


@dataclass(frozen=True)
class NativeStep:
    """One step in wire terms: servers as (serverArn, impactLevel) pairs, or a wait in minutes."""

    name: str
    servers: tuple[tuple[str, str], ...] = ()
    wait_minutes: int | None = None

    @property
    def is_wait(self) -> bool:
        return self.wait_minutes is not None

    def configuration(self) -> dict[str, Any]:
        """The RecoveryPlanStepConfiguration (a union: exactly one member)."""
        if self.is_wait:
            return {"waitStepConfiguration": {"waitDurationMinutes": self.wait_minutes}}
        return {"serverStepConfiguration": {"servers": [{"serverArn": arn, "impactLevel": level}
                                                        for arn, level in self.servers]}}

    def same_configuration(self, other: "NativeStep") -> bool:
        """Equal as DRS runs them: a server step's server order does not matter."""
        return self.wait_minutes == other.wait_minutes and set(self.servers) == set(other.servers)

    @classmethod
    def from_api(cls, step: Mapping[str, Any]) -> "NativeStep":
        """A RecoveryPlanStep (GetRecoveryPlanStep / ListRecoveryPlanSteps) as a NativeStep.
        impactLevel is optional in the model; absent, it is read as CRITICAL (the safe reading)."""
        config = step.get("configuration") or {}
        if "waitStepConfiguration" in config:
            return cls(step["stepName"], wait_minutes=int(config["waitStepConfiguration"]["waitDurationMinutes"]))
        servers = (config.get("serverStepConfiguration") or {}).get("servers") or []
        return cls(step["stepName"], servers=tuple((s["serverArn"], s.get("impactLevel") or CRITICAL) for s in servers))


def server_id_of(arn: str) -> str:
    """The source server id (s-...) at the end of a source server ARN."""
    found = SERVER_ARN.search(arn)
    if not found:
        raise ValueError(f"{arn!r} is not a DRS source server ARN")
    return found.group(1)


@dataclass
class NativeExport:
    steps: list[NativeStep] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[PlanError] = field(default_factory=list)


class _Where:
    """FILE:LINE of a plan's keys, from the plan's own text (line 1 when it is not known)."""

    def __init__(self, plan: Plan):
        self.file = plan.source_file or f"<plan {plan.name}>"
        self.lines = load_yaml(plan.source_text, self.file).lines if plan.source_text else None

    def error(self, loc: tuple, message: str, hint: str | None = None) -> PlanError:
        from airflow_provider_drs.plans.errors import format_path

        return PlanError(self.file, self.lines.line(loc) if self.lines else 1, format_path(loc), message, hint)


def plan_to_native(plan: Plan, source_arns: Mapping[str, str],
                   tag_servers: Mapping[str, Sequence[str]] | None = None) -> NativeExport:
    """The native steps of ``plan``, with warnings for what they cannot express and errors for what
    DRS would refuse.

    :param source_arns: source server id -> its ARN, for every source server DRS knows (DescribeSourceServers).
    :param tag_servers: group name -> the server ids its tags select now (the tag-selected groups).
    """
    out = NativeExport()
    where = _Where(plan)
    tag_servers = tag_servers or {}
    graph = WaveGraph(plan)
    index = {w.name: i for i, w in enumerate(plan.waves)}
    for name in graph.order:
        wave = plan.wave(name)
        loc = ("waves", index[name])
        if wave.delay_minutes:
            if wave.delay_minutes > MAX_WAIT_MINUTES:
                out.errors.append(where.error(
                    (*loc, "delay_minutes"), f"a native wait step lasts at most {MAX_WAIT_MINUTES} minutes, "
                    f"not {wave.delay_minutes}", f"use delay_minutes <= {MAX_WAIT_MINUTES} for a native plan"))
            out.steps.append(NativeStep(wait_step_name(name), wait_minutes=wave.delay_minutes))
        servers: dict[str, None] = {}
        for group in wave.protection_groups:
            spec = plan.protection_groups[group]
            if spec.is_tag_selected:
                servers.update(dict.fromkeys(tag_servers.get(group, ())))
            else:
                servers.update(dict.fromkeys(spec.servers))
        unknown = [s for s in servers if s not in source_arns]
        for server in unknown:
            out.errors.append(where.error((*loc, "protection_groups"), f"server {server} of wave '{name}' is not a "
                                          "DRS source server in this account and region",
                                          "check the region and --conn/--endpoint, or remove the server"))
        if not servers:
            out.errors.append(where.error((*loc, "protection_groups"), f"wave '{name}' selects no server now "
                                          "(its tag-selected groups match nothing)",
                                          "a native server step needs 1 to 100 servers"))
        elif len(servers) > MAX_STEP_SERVERS:
            out.errors.append(where.error((*loc, "name"), f"wave '{name}' has {len(servers)} servers; a native "
                                          f"server step holds at most {MAX_STEP_SERVERS}",
                                          "split the wave into waves of at most 100 servers"))
        optional = set(wave.optional)
        out.steps.append(NativeStep(name, servers=tuple(
            (source_arns[s], OPTIONAL if s in optional else CRITICAL) for s in servers if s in source_arns)))
    if len(out.steps) > MAX_STEPS:
        waits = sum(1 for s in out.steps if s.is_wait)
        out.errors.append(where.error(("waves",), f"the native plan would have {len(out.steps)} steps "
                                      f"({len(out.steps) - waits} waves, {waits} wait steps); DRS allows {MAX_STEPS}",
                                      "merge waves or drop delay_minutes, or keep this plan in Airflow only"))
    out.warnings.extend(_not_expressible(plan, graph, tag_servers))
    return out


def _not_expressible(plan: Plan, graph: WaveGraph, tag_servers: Mapping[str, Sequence[str]]) -> list[str]:
    """Everything of the plan that the native plan leaves out, one line each."""
    warnings = []
    for level in graph.parallel_sets:
        if len(level) > 1:
            ordered = [n for n in graph.order if n in level]
            warnings.append(f"waves {', '.join(ordered)} run in parallel in the plan; the native plan runs them "
                            f"one after the other, in this order (a native plan is a straight line)")
    for wave in plan.waves:
        approvals = [a for a in (*wave.pre, *wave.post) if a.kind == "approval"]
        actions = [a for a in (*wave.pre, *wave.post) if a.kind != "approval"]
        if approvals:
            warnings.append(f"wave '{wave.name}': {len(approvals)} approval(s) are not exported (a native plan "
                            "has no approvals)")
        if actions:
            warnings.append(f"wave '{wave.name}': {len(actions)} pre/post action(s) are not exported (a native "
                            "plan runs no SSM automation or command)")
        if wave.ready_when:
            warnings.append(f"wave '{wave.name}': its health gate (ready_when) is not exported")
    for name, group in plan.protection_groups.items():
        if group.launch is not None:
            warnings.append(f"protection group '{name}': its launch settings (launch:) are not exported; the "
                            "servers launch with the settings DRS holds")
        if group.is_tag_selected:
            found = list(tag_servers.get(name, ()))
            warnings.append(f"protection group '{name}' selects servers by tags {dict(group.tags)}: exported as "
                            f"the {len(found)} server(s) they select now; export again when tags change")
    warnings.append("the recovery approval is not exported: a native RECOVERY execution starts without one")
    if plan.drill.cleanup != "never":
        warnings.append(f"drill cleanup ({plan.drill.cleanup}) is not exported: a native DRILL leaves its "
                        "instances running until someone terminates them")
    if plan.drill.schedule:
        warnings.append(f"the drill schedule ({plan.drill.schedule}) is not exported")
    if plan.notifications.sns_topic_arn:
        warnings.append("notifications (sns_topic_arn) are not exported")
    warnings.append(f"rto_minutes ({plan.rto_minutes})"
                    + (f" and rpo_minutes ({plan.rpo_minutes})" if plan.rpo_minutes else "")
                    + " are not exported: a native plan has no recovery objectives")
    return warnings


def native_description(plan: Plan) -> str:
    return (plan.description or f"drs-plan {plan.name}")[:MAX_DESCRIPTION]


# --- import ----------------------------------------------------------------------------------------

def sanitise_name(text: str, taken: set[str]) -> str:
    """A plan-language name (NAME_PATTERN) for a native step or plan name, unique among ``taken``."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", text.strip()).strip("-_")[:90] or "step"
    if not re.match(NAME_PATTERN, name):
        name = f"s{name}"[:90]
    unique, n = name, 2
    while unique in taken:
        unique, n = f"{name}-{n}", n + 1
    taken.add(unique)
    return unique


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def native_to_plan_yaml(native: Mapping[str, Any], steps: Sequence[Mapping[str, Any]], region: str,
                        hostnames: Mapping[str, str] | None = None) -> tuple[str, list[str]]:
    """Plan YAML (version 1) for a native recovery plan, and warnings.

    :param native: the RecoveryPlan (name, description, recoveryPlanArn).
    :param steps: its RecoveryPlanSteps in stepOrder.
    :param hostnames: source server id -> hostname, written as comments.
    """
    hostnames = hostnames or {}
    warnings: list[str] = []
    taken: set[str] = set()
    plan_name = sanitise_name(native["name"], set())
    waves: list[tuple[str, list[tuple[str, str]], int | None]] = []  # (name, [(server id, level)], delay)
    pending_wait = 0
    for raw in steps:
        step = NativeStep.from_api(raw)
        if step.is_wait:
            if pending_wait:
                warnings.append(f"consecutive wait steps before step {step.name!r}: their minutes are added up")
            pending_wait += step.wait_minutes or 0
            continue
        waves.append((sanitise_name(step.name, taken), [(server_id_of(a), lvl) for a, lvl in step.servers],
                      pending_wait or None))
        pending_wait = 0
    lines = [
        f"# Imported from the DRS native recovery plan {native['name']!r}",
        f"# ({native.get('recoveryPlanArn', '')}) by drs-plan import-native. REVIEW the values marked REVIEW.",
        "version: 1",
        f"plan: {plan_name}",
        f"description: {_quote(native.get('description') or 'Imported from native recovery plan ' + native['name'])}",
        f"region: {region}",
        "aws_conn_id: aws_default         # REVIEW: the Airflow AWS connection of the account",
        "rto_minutes: 60                  # REVIEW: a native plan has no RTO; set your target",
        "drill:",
        "  cleanup: always                # drills terminate their instances (a native drill did not)",
        "protection_groups:",
    ]
    for name, servers, _ in waves:
        lines.append(f"  {name}:")
        lines.append("    servers:")
        for server, _level in servers:
            host = hostnames.get(server)
            lines.append(f"      - {server}" + (f"   # {host}" if host else ""))
    lines.append("waves:")
    previous = None
    for name, servers, delay in waves:
        lines.append(f"  - name: {name}")
        if previous:
            lines.append(f"    depends_on: [{previous}]")
        if delay:
            lines.append(f"    delay_minutes: {delay}")
        lines.append(f"    protection_groups: [{name}]")
        optional = [s for s, level in servers if level == OPTIONAL]
        if optional:
            lines.append(f"    optional: [{', '.join(optional)}]")
        previous = name
    if pending_wait:
        lines.append(f"# The native plan ends with a wait of {pending_wait} minute(s) after the last step: a plan "
                     "has no trailing wait, so it is left out.")
        warnings.append(f"the native plan ends with a {pending_wait}-minute wait step: left out (a comment in the YAML)")
    if not waves:
        warnings.append("the native plan has no server step: the YAML has no wave and will not validate")
    return "\n".join(lines) + "\n", warnings
