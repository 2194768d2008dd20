"""Is a plan ready to run? Checked against AWS before anything launches, by ``drs-plan check`` and by
the preflight task of every drill and recovery.

Per server: it exists, it replicates (CONTINUOUS), its lag is within the plan's ``rpo_minutes``, it
is in no active job, and what its last launch was. Per plan: the SSM documents its actions name
exist, its SNS topic exists, each wave is within the per-job quota. Each failed check is a finding;
the caller decides which findings stop the run (``drill.readiness_warnings`` lists the checks that
only warn before a drill; before a real recovery only missing servers and quotas stop it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from botocore.exceptions import ClientError

from airflow_provider_drs.hooks.drs import DrsHook
from airflow_provider_drs.hooks.references import AwsReferenceResolver
from airflow_provider_drs.plans import MAX_SERVERS_PER_JOB, Plan, UnresolvedReference, render

READY_REPLICATION = "CONTINUOUS"
# Before a real recovery only these stop the run: the rest (replication, rpo, document, topic,
# busy) warn, since on the worst day a stale server is still recovered from its last snapshot.
RECOVERY_STOPPERS = ("missing", "quota", "plan")
_DURATION = re.compile(r"P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


def duration_seconds(value: str | None) -> float | None:
    """Seconds of an ISO-8601 duration as DRS writes a lag (PT1H2M3S, P1DT2H); None if unreadable."""
    match = _DURATION.match(value or "")
    if not match or not any(match.groups()):
        return None
    days, hours, minutes, seconds = (float(g or 0) for g in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


@dataclass(frozen=True)
class Finding:
    check: str  # missing, plan (tag groups, overlaps), quota, replication, rpo, busy, document, topic
    message: str


@dataclass
class ServerReadiness:
    server_id: str
    wave: str
    hostname: str | None = None
    replication_state: str | None = None
    lag: str | None = None
    active_job: str | None = None
    last_launch: str | None = None  # e.g. "DRILL SUCCEEDED 2026-11-27T06:00:03Z"
    findings: list[Finding] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return "ready" if not self.findings else ", ".join(f.check for f in self.findings)


@dataclass
class Readiness:
    plan: str
    servers: list[ServerReadiness] = field(default_factory=list)
    plan_findings: list[Finding] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return [f for s in self.servers for f in s.findings] + self.plan_findings

    def split(self, warn_only: Iterable[str]) -> tuple[list[Finding], list[Finding]]:
        """(problems, warnings): findings of a check in ``warn_only`` only warn."""
        soft = set(warn_only)
        return ([f for f in self.findings if f.check not in soft], [f for f in self.findings if f.check in soft])

    def table(self) -> str:
        header = ("WAVE", "SERVER", "HOSTNAME", "REPLICATION", "LAG", "ACTIVE JOB", "LAST LAUNCH", "CHECK")
        rows = [header] + [(s.wave, s.server_id, s.hostname or "-", s.replication_state or "-", s.lag or "-",
                            s.active_job or "-", s.last_launch or "-", s.verdict) for s in self.servers]
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)


def resolve_waves(inventory: Mapping[str, Mapping[str, Any]], specs: Mapping[str, Mapping[str, Any]],
                  ) -> tuple[dict[str, list[str]], list[Finding]]:
    """Each wave's servers: the listed ones, then those its tag-selected groups match now (DRS
    cannot filter by tag, so over every source server). A group matching nothing, or a server in
    two waves, is a finding ("plan"); a listed server that is missing is check_servers' to report."""
    resolved, findings, seen = {}, [], {}
    for wave, spec in specs.items():
        servers = list(dict.fromkeys(spec.get("servers", [])))
        for group, tags in (spec.get("tag_groups") or {}).items():
            matched = sorted(sid for sid, s in inventory.items()
                             if all((s.get("tags") or {}).get(k) == v for k, v in tags.items()))
            if not matched:
                findings.append(Finding("plan", f"wave {wave}: protection group {group} (tags {dict(tags)}) matches "
                                                "no source server"))
            servers.extend(s for s in matched if s not in servers)
        for sid in servers:
            if sid in seen:
                findings.append(Finding("plan", f"server {sid} is in waves {seen[sid]} and {wave} (a tag group "
                                                "matched it); a server may be recovered by one wave only"))
            seen.setdefault(sid, wave)
        resolved[wave] = servers
    return resolved, findings


def stoppers(readiness: Readiness, mode: str, drill_warnings: Iterable[str] = ()) -> tuple[list[Finding], list[Finding]]:
    """(problems that stop the run, warnings) for a drill or a real recovery."""
    if mode == "drill":
        return readiness.split(drill_warnings)
    return readiness.split({f.check for f in readiness.findings} - set(RECOVERY_STOPPERS))


def last_launch(server: Mapping[str, Any]) -> str | None:
    """DRS remembers a server's last launch only: its type, result and time."""
    launch = (server.get("lifeCycle") or {}).get("lastLaunch") or {}
    initiated = launch.get("initiated") or {}
    if not initiated:
        return None
    return " ".join(p for p in (initiated.get("type"), server.get("lastLaunchResult"),
                                initiated.get("apiCallDateTime")) if p)


def check_servers(hook: DrsHook, waves: Mapping[str, Sequence[str]], inventory: Mapping[str, Mapping[str, Any]],
                  rpo_minutes: int | None, max_servers_per_job: int, busy: bool = True) -> Readiness:
    """The per-server checks and the per-job quota, over resolved waves (``{wave: [server ids]}``)
    and the raw DescribeSourceServers items by id. ``busy`` reads the active jobs (DescribeJobs)."""
    readiness = Readiness(plan="")
    every = [sid for servers in waves.values() for sid in servers]
    active = hook.active_jobs_of(every) if busy else {}
    for wave, servers in waves.items():
        if len(servers) > max_servers_per_job:
            readiness.plan_findings.append(Finding("quota", f"wave {wave}: {len(servers)} servers, over the per-job "
                                                            f"limit of {max_servers_per_job}; split the wave"))
        for sid in servers:
            row = ServerReadiness(sid, wave)
            readiness.servers.append(row)
            server = inventory.get(sid)
            if server is None:
                row.findings.append(Finding("missing", f"{sid} (wave {wave}): not a source server in DRS "
                                                       f"({hook.region_name})"))
                continue
            replication = server.get("dataReplicationInfo") or {}
            row.hostname = ((server.get("sourceProperties") or {}).get("identificationHints") or {}).get("hostname")
            row.replication_state, row.lag = replication.get("dataReplicationState"), replication.get("lagDuration")
            row.last_launch = last_launch(server)
            name = f"{sid} ({row.hostname or '?'}, wave {wave})"
            if row.replication_state != READY_REPLICATION:
                row.findings.append(Finding("replication", f"{name}: replication is {row.replication_state}, not "
                                                           f"{READY_REPLICATION}; it would come back from its last "
                                                           "good snapshot"))
            lag = duration_seconds(row.lag)
            if rpo_minutes and lag is not None and lag > rpo_minutes * 60:
                row.findings.append(Finding("rpo", f"{name}: replication lag {row.lag} is over the plan's RPO of "
                                                   f"{rpo_minutes} min"))
            job = active.get(sid)
            if job:
                row.active_job = job.get("jobID")
                row.findings.append(Finding("busy", f"{name}: in active {job.get('type', '').lower() or 'DRS'} job "
                                                    f"{row.active_job} ({job.get('status')}); DRS refuses a second "
                                                    "launch until it ends"))
    return readiness


def check_documents(aws_conn_id: str | None, region: str | None, documents: Iterable[str]) -> list[Finding]:
    ssm = AwsBaseHook(aws_conn_id=aws_conn_id, region_name=region, client_type="ssm").conn
    findings = []
    for name in sorted(set(documents)):
        try:
            ssm.describe_document(Name=name)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            why = "does not exist" if code == "InvalidDocument" else f"cannot be read ({code})"
            findings.append(Finding("document", f"SSM document {name} {why} in {region}; an action of the plan "
                                                "runs it"))
    return findings


def check_topic(aws_conn_id: str | None, region: str | None, topic_ref: str) -> list[Finding]:
    """The plan's topic (an ARN, or a reference resolved the way the notify task resolves it) exists."""
    try:
        topic_arn = render(topic_ref, AwsReferenceResolver(aws_conn_id, region, {}))
    except UnresolvedReference as error:
        return [Finding("topic", f"the plan's SNS topic cannot be resolved: {error}")]
    sns = AwsBaseHook(aws_conn_id=aws_conn_id, region_name=region, client_type="sns").conn
    try:
        sns.get_topic_attributes(TopicArn=topic_arn)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        why = "does not exist" if code == "NotFound" else f"cannot be read ({code})"
        return [Finding("topic", f"SNS topic {topic_arn} {why}; the plan's notifications go there")]
    return []


def resolve_servers_now(hook: DrsHook, specs: Mapping[str, Mapping[str, Any]]) -> dict[str, list[str]]:
    """Each wave's servers as DRS has them now (listed, and tag-selected: see resolve_waves)."""
    inventory = {s["sourceServerID"]: s for s in hook.describe_source_servers()}
    return resolve_waves(inventory, specs)[0]


def _native_plan_specs(plan: Plan, aws_conn_id: str | None, config: Any) -> tuple[dict[str, Any], list[Finding]]:
    """A native_plan plan's waves as its preflight takes them: each server step of the DRS native plan.
    A plan DRS cannot run (missing, INVALID, a botocore without the API) is a ``plan`` finding."""
    from airflow_provider_drs.drs_api_support import DrsNativePlansUnsupported
    from airflow_provider_drs.exceptions import DrsNativePlanUnavailable
    from airflow_provider_drs.hooks.drs_plan_executions import resolve_native_plan
    from airflow_provider_drs.hooks.drs_recovery_plans import DrsRecoveryPlanHook

    plans = DrsRecoveryPlanHook(aws_conn_id=aws_conn_id, region_name=plan.region, config=config)
    try:
        native = resolve_native_plan(plans, plan.native_plan, plan.region)
    except (DrsNativePlanUnavailable, DrsNativePlansUnsupported) as unavailable:
        return {}, [Finding("plan", str(unavailable))]
    return {step: {"servers": servers, "tag_groups": {}} for step, servers in native.steps.items()}, []


def check_plan(plan: Plan, aws_conn_id: str | None, busy: bool = True, config: Any = None) -> Readiness:
    """Every readiness check of a plan, against the account and region it recovers in (``config``:
    botocore's, e.g. fewer retries for a person at a terminal)."""
    hook = DrsHook(aws_conn_id=aws_conn_id, region_name=plan.region, config=config)
    specs, native_findings = _native_plan_specs(plan, aws_conn_id, config) if plan.is_native else (plan.wave_specs(), [])
    inventory = {s["sourceServerID"]: s for s in hook.describe_source_servers()}
    resolved, resolution = resolve_waves(inventory, specs)
    readiness = check_servers(hook, resolved, inventory, plan.rpo_minutes, MAX_SERVERS_PER_JOB, busy=busy)
    readiness.plan = plan.name
    readiness.plan_findings[:0] = native_findings + resolution
    readiness.plan_findings += check_documents(aws_conn_id, plan.region, plan.documents())
    if plan.notifications.sns_topic_arn:
        readiness.plan_findings += check_topic(aws_conn_id, plan.region, plan.notifications.sns_topic_arn)
    return readiness
