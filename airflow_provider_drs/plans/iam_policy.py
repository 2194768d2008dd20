"""The least-privilege IAM policy a plan's Airflow AWS connection needs (`drs-plan iam-policy`).

Pure Python over a parsed plan: no AWS call, no Airflow. Three kinds of statement:

- what the plan's DAGs call themselves (hooks/*.py), per mode: ``drill`` is the drill DAG and the
  cleanup DAG, ``recovery`` the recovery DAG and the failback DAG, ``all`` both;
- what DRS's launch and terminate jobs do with the CALLER's credentials (forward access: DRS calls
  EC2 as the principal that called StartRecovery). The list mirrors AWS's managed policy
  AWSElasticDisasterRecoveryConsoleFullAccess_v2 and its conditions, with one exception learnt the
  hard way: ec2:StartInstances, ec2:DetachVolume and ec2:DeleteVolume are granted without a
  condition (a launch that lacked them failed in conversion, with nothing in the job log naming it);
- ssm:, sns:, cloudformation:, s3:, sqs:, cloudwatch: scoped to what the plan and the provider's
  configuration name.

Every statement's Sid says why it is there (IAM allows only [A-Za-z0-9] in a Sid).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_drs.plans.launch import launch_spec
from airflow_provider_drs.plans.references import parse_references

POLICY_MODES = ("drill", "recovery", "all")
# The DAGs each mode runs: cleanup clears what dead drills left; failback follows a recovery.
DAGS_OF_MODE = {"drill": ("drill", "cleanup"), "recovery": ("recovery", "failback"),
                "all": ("drill", "cleanup", "recovery", "failback")}
DRS_MANAGED_TAG = "AWSElasticDisasterRecoveryManaged"  # DRS tags every EC2 resource it creates
PROBE_DOCUMENT = "AWS-RunShellScript"  # health-gate probes (hooks/instance_health.py)
VIA_AWS = {"Bool": {"aws:ViaAWSService": "true"}}
CALLED_VIA_DRS = {"ForAnyValue:StringEquals": {"aws:CalledVia": ["drs.amazonaws.com"]}}
# The roles DRS gives its conversion servers and recovery instances (created when DRS is initialised).
DRS_SERVICE_ROLES = ("AWSElasticDisasterRecoveryConversionServerRole", "AWSElasticDisasterRecoveryRecoveryInstanceRole",
                     "AWSElasticDisasterRecoveryRecoveryInstanceWithLaunchActionsRole")
NATIVE_PLAN_ACTIONS = ("ListRecoveryPlans", "GetRecoveryPlan", "ListRecoveryPlanSteps", "StartRecoveryPlanExecution", "GetRecoveryPlanExecution",
                       "ListRecoveryPlanExecutions", "ListRecoveryPlanExecutionSteps", "GetRecoveryPlanExecutionStep",
                       "CancelRecoveryPlanExecution")
_QUEUE_URL = re.compile(r"^https?://([^/\s]+)/(\d{12})/([\w-]{1,80})$")  # scheme://host/ACCOUNT/QUEUE
_SQS_HOST = re.compile(r"^sqs\.([a-z0-9-]+)\.")  # sqs.REGION.amazonaws.com


@dataclass
class PolicyContext:
    """Where the policy applies and the provider configuration that adds statements."""

    region: str
    account: str = "*"
    reports_location: str | None = None  # [drs] reports_location: s3://bucket/prefix adds s3:
    metrics_namespace: str | None = None  # [drs] metrics_namespace: adds cloudwatch:PutMetricData
    events_queue_url: str | None = None  # [drs] events_queue_url, unless the plan names its own

    @property
    def partition(self) -> str:
        if self.region.startswith("cn-"):
            return "aws-cn"
        return "aws-us-gov" if self.region.startswith("us-gov-") else "aws"

    def arn(self, service: str, resource: str, *, region: str | None = None, account: str | None = None) -> str:
        where = self.region if region is None else region
        return f"arn:{self.partition}:{service}:{where}:{self.account if account is None else account}:{resource}"


@dataclass
class _Statements:
    items: list[dict[str, Any]] = field(default_factory=list)

    def add(self, sid: str, actions: Iterable[str], resources: Iterable[str] | str,
            condition: Mapping[str, Any] | None = None) -> None:
        resources = [resources] if isinstance(resources, str) else list(dict.fromkeys(resources))
        statement: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": sorted(set(actions)),
                                     "Resource": resources[0] if len(resources) == 1 else resources}
        if condition:
            statement["Condition"] = {op: dict(keys) for op, keys in condition.items()}
        self.items.append(statement)


def _conditions(*parts: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for part in parts:
        for op, keys in part.items():
            out.setdefault(op, {}).update(keys)
    return out


def _managed(kind: str) -> dict[str, dict[str, str]]:
    """DRS-created resources only: the tag exists on the resource (or on the request creating it)."""
    return {"Null": {f"aws:{kind}/{DRS_MANAGED_TAG}": "false"}}


def build_policy(plan: Any, mode: str, context: PolicyContext) -> dict[str, Any]:
    """The IAM policy document (a dict, ready for json.dumps) for ``plan`` run in ``mode``."""
    if mode not in POLICY_MODES:
        raise ValueError(f"mode must be one of {', '.join(POLICY_MODES)}, not {mode!r}")
    dags = DAGS_OF_MODE[mode]
    action_mode = None if mode == "all" else mode
    out = _Statements()
    _drs_statements(out, plan, dags, mode, context)
    _launch_on_behalf(out, context)
    _launch_settings(out, plan, dags, mode, context)
    _actions_and_gates(out, plan, action_mode, context)
    _references_and_notifications(out, plan, context)
    _provider_statements(out, plan, context)
    return {"Version": "2012-10-17", "Statement": out.items}


def _drs_statements(out: _Statements, plan: Any, dags: tuple[str, ...], mode: str, ctx: PolicyContext) -> None:
    # Reads: DRS has no resource-level permission for the Describe* lists.
    out.add("DrsReadsServersJobsAndInstances",
            ["drs:DescribeSourceServers", "drs:DescribeJobs", "drs:DescribeJobLogItems",
             "drs:DescribeRecoveryInstances", "drs:DescribeRecoverySnapshots"], "*")
    launch = ["drs:StartRecovery", "drs:CreateRecoveryInstanceForDrs"]
    servers = list(dict.fromkeys(plan.static_servers()))
    if servers:
        out.add("DrsLaunchesThePlansListedServers", launch, [ctx.arn("drs", f"source-server/{s}") for s in servers])
    tag_groups = _tag_groups(plan)
    for n, (group, tags) in enumerate(tag_groups.items(), 1):
        out.add(f"DrsLaunchesServersTaggedForGroup{n}{_alnum(group)}", launch, ctx.arn("drs", "source-server/*"),
                {"StringEquals": {f"aws:ResourceTag/{k}": v for k, v in tags.items()}})
    out.add("DrsTagsItsLaunchJobsWithTheRun", ["drs:TagResource"], ctx.arn("drs", "job/*"))
    # Drill cleanup and a recovery's roll-back terminate recovery instances (ids known only at run time).
    out.add("DrsTerminatesRecoveryInstances", ["drs:TerminateRecoveryInstances"], ctx.arn("drs", "recovery-instance/*"))
    if "failback" in dags:
        failback = ["drs:ReverseReplication", "drs:StartFailbackLaunch"]
        if plan.failback.stop_replication:
            failback.append("drs:StopFailback")
        out.add("DrsFailsBackRecoveredInstances", failback, ctx.arn("drs", "recovery-instance/*"))
    if getattr(plan, "native_plan", None):  # the native recovery plan key (added by another change)
        out.add("DrsRunsTheNativeRecoveryPlan", [f"drs:{op}" for op in NATIVE_PLAN_ACTIONS], "*")
        # The execution is started with the run's tags (how a retried task finds its own).
        out.add("DrsTagsItsNativeExecutionsWithTheRun", ["drs:TagResource"],
                ctx.arn("drs", "recovery-plan-execution/*"))


def _tag_groups(plan: Any) -> dict[str, dict[str, str]]:
    groups: dict[str, dict[str, str]] = {}
    for wave in plan.waves:
        groups.update(wave.tag_selectors(plan))
    return groups


def _alnum(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", text) if part)


def _launch_on_behalf(out: _Statements, ctx: PolicyContext) -> None:
    """What DRS's launch and terminate jobs do in EC2 with the caller's credentials."""
    ec2 = lambda kind: ctx.arn("ec2", f"{kind}/*")  # noqa: E731
    out.add("DrsLaunchReadsEc2", [f"ec2:{op}" for op in (
        "DescribeAccountAttributes", "DescribeAvailabilityZones", "DescribeImages", "DescribeInstances",
        "DescribeInstanceTypes", "DescribeInstanceAttribute", "DescribeInstanceStatus", "DescribeInstanceTypeOfferings",
        "DescribeLaunchTemplateVersions", "DescribeLaunchTemplates", "DescribeSecurityGroups", "DescribeSnapshots",
        "DescribeSubnets", "DescribeVolumes", "GetEbsEncryptionByDefault", "GetEbsDefaultKmsKeyId",
        "DescribeKeyPairs", "DescribeCapacityReservations", "DescribeHosts",
        "GetInstanceTypesFromInstanceRequirements")], "*")
    # Unconditioned on purpose: see the module docstring.
    out.add("DrsLaunchStartsInstancesAndDetachesAndDeletesConversionVolumes",
            ["ec2:StartInstances", "ec2:DetachVolume", "ec2:DeleteVolume"], [ec2("instance"), ec2("volume")])
    out.add("DrsLaunchManagesTheInstancesItCreated",
            ["ec2:StopInstances", "ec2:TerminateInstances", "ec2:ModifyInstanceAttribute", "ec2:GetConsoleOutput",
             "ec2:GetConsoleScreenshot", "ec2:AttachVolume", "ec2:AssociateIamInstanceProfile"],
            ec2("instance"), _conditions(VIA_AWS, _managed("ResourceTag")))
    out.add("DrsLaunchUsesTheVolumesAndSnapshotsItCreated", ["ec2:AttachVolume", "ec2:CreateSnapshot",
                                                            "ec2:CreateVolume", "ec2:DeleteSnapshot"],
            [ec2("volume"), ec2("snapshot")], _conditions(VIA_AWS, _managed("ResourceTag")))
    out.add("DrsLaunchCreatesTaggedResources",
            ["ec2:RunInstances", "ec2:CreateVolume", "ec2:CreateSnapshot", "ec2:CreateSecurityGroup",
             "ec2:CreateNetworkInterface"],
            [ec2("instance"), ec2("volume"), ec2("snapshot"), ec2("security-group"), ec2("network-interface")],
            _conditions(VIA_AWS, _managed("RequestTag")))
    out.add("DrsLaunchUsesNetworkImagesAndTemplates", ["ec2:RunInstances", "ec2:CreateNetworkInterface",
                                                       "ec2:CreateSecurityGroup"],
            [ec2(k) for k in ("security-group", "volume", "subnet", "image", "network-interface", "launch-template",
                              "vpc")], VIA_AWS)
    out.add("DrsLaunchEditsTheSecurityGroupsItCreated",
            ["ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress", "ec2:RevokeSecurityGroupEgress"],
            ec2("security-group"), _conditions(VIA_AWS, _managed("ResourceTag")))
    out.add("DrsLaunchSharesTheNetworkInterfacesItCreated", ["ec2:CreateNetworkInterfacePermission"],
            ec2("network-interface"), _conditions(VIA_AWS, _managed("ResourceTag")))
    out.add("DrsLaunchTagsWhatItCreates", ["ec2:CreateTags"],
            [ec2(k) for k in ("security-group", "volume", "snapshot", "instance", "network-interface")],
            _conditions(VIA_AWS, {"StringEquals": {"ec2:CreateAction": [
                "CreateSecurityGroup", "CreateVolume", "CreateSnapshot", "RunInstances", "CreateNetworkInterface"]}}))
    out.add("DrsLaunchUsesEc2Fleet", ["ec2:CreateFleet"],
            [ec2(k) for k in ("instance", "fleet", "volume", "subnet", "image", "launch-template")], CALLED_VIA_DRS)
    out.add("DrsLaunchTagsWhatItsFleetCreates", ["ec2:CreateTags"],
            [ec2(k) for k in ("security-group", "volume", "snapshot", "instance")],
            _conditions(CALLED_VIA_DRS, {"StringEquals": {"ec2:CreateAction": ["CreateFleet"]}}))
    out.add("DrsLaunchMaintainsItsLaunchTemplates",
            ["ec2:CreateLaunchTemplateVersion", "ec2:ModifyLaunchTemplate", "ec2:DeleteLaunchTemplateVersions"],
            ec2("launch-template"), _managed("ResourceTag"))
    # RunInstances hands DRS's roles to the conversion server and the recovery instance.
    out.add("DrsLaunchPassesItsRolesToEc2", ["iam:PassRole"],
            [ctx.arn("iam", f"role/service-role/{role}", region="") for role in DRS_SERVICE_ROLES],
            {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}})


def _launch_settings(out: _Statements, plan: Any, dags: tuple[str, ...], mode: str, ctx: PolicyContext) -> None:
    """hooks/drs_launch_settings.py, from preflight. A recovery reads and restores launch settings
    even for a plan without `launch:` (a dead drill may have left its own)."""
    modes = [m for m in ("drill", "recovery") if m in dags]
    manages = any(spec["servers"] or spec["tag_groups"] for spec in (launch_spec(plan.protection_groups, m)
                                                                       for m in modes))
    if not (manages or "recovery" in dags):
        return
    out.add("PreflightAppliesLaunchConfiguration", ["drs:GetLaunchConfiguration", "drs:UpdateLaunchConfiguration"],
            ctx.arn("drs", "source-server/*"))
    out.add("PreflightReadsLaunchTemplates", ["ec2:DescribeTags", "ec2:DescribeLaunchTemplateVersions"], "*")
    out.add("PreflightWritesDrsLaunchTemplates", ["ec2:CreateLaunchTemplateVersion", "ec2:ModifyLaunchTemplate",
                                                  "ec2:CreateTags"],
            ctx.arn("ec2", "launch-template/*"), _managed("ResourceTag"))


def _document_arn(ctx: PolicyContext, kind: str, name: str) -> str:
    """SSM document ARNs; AWS-owned documents (names starting with AWS, which only AWS may use)
    have no account in their ARN."""
    if name.startswith("arn:"):
        return name if kind == "document" else name.replace(":document/", f":{kind}/") + ":*"
    account = "" if name.upper().startswith("AWS") else None
    return ctx.arn("ssm", f"{kind}/{name}" + (":*" if kind == "automation-definition" else ""), account=account)


def _actions_and_gates(out: _Statements, plan: Any, mode: str | None, ctx: PolicyContext) -> None:
    actions = [a for w in plan.waves for a in (*w.pre, *w.post) if mode is None or a.runs_in(mode)]
    automations = list(dict.fromkeys(a.spec.document for a in actions if a.kind == "ssm_automation"))
    commands = list(dict.fromkeys(a.spec.document for a in actions if a.kind == "ssm_command"))
    gates = [w.ready_when for w in plan.waves if w.ready_when is not None]
    if any(g.probes for g in gates):
        commands = list(dict.fromkeys([*commands, PROBE_DOCUMENT]))
    documents = list(dict.fromkeys([*automations, *commands]))
    if documents:  # preflight checks they exist
        out.add("PreflightChecksThePlansDocuments", ["ssm:DescribeDocument"],
                [_document_arn(ctx, "document", d) for d in documents])
    if automations:
        out.add("ActionsStartThePlansAutomations", ["ssm:StartAutomationExecution"],
                [_document_arn(ctx, "automation-definition", d) for d in automations])
        out.add("ActionsFollowAndStopTheirAutomations", ["ssm:GetAutomationExecution", "ssm:StopAutomationExecution"],
                ctx.arn("ssm", "automation-execution/*"))
        roles = sorted({r for a in actions if a.kind == "ssm_automation"
                        for r in a.spec.parameters.get("AutomationAssumeRole", []) if not parse_references(r)})
        if roles:
            out.add("ActionsPassTheAutomationRole", ["iam:PassRole"], roles,
                    {"StringEquals": {"iam:PassedToService": "ssm.amazonaws.com"}})
    if commands:
        out.add("ActionsAndProbesRunThePlansCommands", ["ssm:SendCommand"],
                [*(_document_arn(ctx, "document", d) for d in commands), ctx.arn("ec2", "instance/*")])
        out.add("ActionsAndProbesReadCommandResults", ["ssm:GetCommandInvocation", "ssm:ListCommandInvocations"], "*")
    if any(g.ec2_status_ok for g in gates):
        out.add("HealthGateReadsInstanceStatus", ["ec2:DescribeInstanceStatus"], "*")
    if any(g.ssm_online or g.probes for g in gates):
        out.add("HealthGateReadsSsmAgentStatus", ["ssm:DescribeInstanceInformation"], "*")


def plan_references(plan: Any) -> dict[str, list[str]]:
    """kind -> values of the `{{ ssm:... }}` and `{{ cfn:... }}` references anywhere in the plan."""
    found: dict[str, dict[str, None]] = {"ssm": {}, "cfn": {}}

    def walk(value: Any) -> None:
        if isinstance(value, str):
            for ref in parse_references(value) if "{{" in value else ():
                if ref.kind in found:
                    found[ref.kind][ref.value] = None
        elif isinstance(value, Mapping):
            for item in value.values():
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    walk(plan.model_dump())
    return {kind: list(values) for kind, values in found.items()}


def _references_and_notifications(out: _Statements, plan: Any, ctx: PolicyContext) -> None:
    refs = plan_references(plan)
    if refs["ssm"]:
        out.add("ReferencesReadTheirSsmParameters", ["ssm:GetParameter"],
                [ctx.arn("ssm", "parameter/" + name.lstrip("/")) for name in refs["ssm"]])
    if refs["cfn"]:
        out.add("ReferencesReadTheirStackOutputs", ["cloudformation:DescribeStacks"],
                [ctx.arn("cloudformation", f"stack/{ref.split('.', 1)[0]}/*") for ref in refs["cfn"]])
    topic = plan.notifications.sns_topic_arn
    if topic:
        # A topic named by reference is only known at run time: any topic of the account and region.
        resource = topic if "{{" not in topic else ctx.arn("sns", "*")
        out.add("NotifyPublishesToThePlansTopic", ["sns:Publish", "sns:GetTopicAttributes"], resource)


def queue_arn(url: str, ctx: PolicyContext) -> str | None:
    """The queue's ARN; its region from an sqs.REGION host, else the plan's."""
    match = _QUEUE_URL.match(url)
    if not match:
        return None
    host = _SQS_HOST.match(match.group(1))
    return ctx.arn("sqs", match.group(3), region=host.group(1) if host else None, account=match.group(2))


def _provider_statements(out: _Statements, plan: Any, ctx: PolicyContext) -> None:
    location = ctx.reports_location or ""
    if location.startswith("s3://"):
        bucket, _, prefix = location[len("s3://"):].partition("/")
        prefix = prefix.strip("/")
        objects = f"arn:{ctx.partition}:s3:::{bucket}/" + (f"{prefix}/*" if prefix else "*")
        out.add("ReportsAreStoredInS3", ["s3:PutObject", "s3:GetObject"], objects)
        out.add("ReportsAreListedInS3", ["s3:ListBucket"], f"arn:{ctx.partition}:s3:::{bucket}",
                {"StringLike": {"s3:prefix": [f"{prefix}/*" if prefix else "*"]}})
    if ctx.metrics_namespace:
        out.add("ReportPublishesRunMetrics", ["cloudwatch:PutMetricData"], "*",
                {"StringEquals": {"cloudwatch:namespace": ctx.metrics_namespace}})
    url = plan.events_queue or ctx.events_queue_url
    arn = queue_arn(url, ctx) if url else None
    if arn:
        out.add("LaunchWaitsReadDrsEvents", ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"],
                arn)


def policy_actions(policy: Mapping[str, Any]) -> list[str]:
    """Every action of a policy, once, in order (what preflight's permission check simulates)."""
    seen: dict[str, None] = {}
    for statement in policy["Statement"]:
        action = statement["Action"]
        seen.update(dict.fromkeys([action] if isinstance(action, str) else action))
    return list(seen)


MANAGED_POLICY_MAX_CHARS = 6144  # IAM's size quota of a managed policy, whitespace not counted


def policy_size(policy: Mapping[str, Any]) -> int:
    """The size IAM counts: the document without whitespace outside strings."""
    return len(json.dumps(policy, separators=(",", ":")))


def split_policy(policy: Mapping[str, Any], limit: int = MANAGED_POLICY_MAX_CHARS) -> list[dict[str, Any]]:
    """The policy as several documents, each within ``limit`` (one managed policy each), together
    granting exactly the same. A statement too big on its own is cut by resources (Sid + PartN)."""
    pieces: list[dict[str, Any]] = []
    for statement in policy["Statement"]:
        pieces += _cut(dict(statement), limit)
    documents: list[dict[str, Any]] = []
    for piece in pieces:
        if documents and policy_size({**documents[-1], "Statement": [*documents[-1]["Statement"], piece]}) <= limit:
            documents[-1]["Statement"].append(piece)
        else:
            documents.append({"Version": policy["Version"], "Statement": [piece]})
    return documents


def _cut(statement: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
    if policy_size({"Version": "2012-10-17", "Statement": [statement]}) <= limit or len(resources) < 2:
        return [statement]
    size = max(1, len(resources) // 2)
    parts = []
    for n, start in enumerate(range(0, len(resources), size), 1):
        chunk = resources[start:start + size]
        parts += _cut({**statement, "Sid": f"{statement['Sid']}Part{n}",
                       "Resource": chunk[0] if len(chunk) == 1 else chunk}, limit)
    return parts
