"""`drs-plan iam-policy`: for every sample plan and mode, a policy IAM would accept, whose every
action is a real operation of its service (botocore's models), scoped to what the plan names."""

from __future__ import annotations

import json
import re
from pathlib import Path

import botocore.session
import pytest

from airflow_provider_drs.cli import main
from airflow_provider_drs.plans import load_catalogue
from airflow_provider_drs.plans.iam_policy import (
    MANAGED_POLICY_MAX_CHARS,
    POLICY_MODES,
    PolicyContext,
    build_policy,
    policy_actions,
    policy_size,
    split_policy,
)

PLANS_DIR = Path(__file__).parents[2] / "dags" / "plans"
SAMPLE_PLANS = sorted(p.stem for p in PLANS_DIR.glob("*.yaml"))
IAM_PREFIX_TO_BOTOCORE = {"drs": "drs", "ec2": "ec2", "ssm": "ssm", "sns": "sns", "s3": "s3", "sqs": "sqs",
                          "cloudwatch": "cloudwatch", "cloudformation": "cloudformation", "iam": "iam"}
# Permission-only actions: IAM checks them, but no API operation has their name.
PERMISSION_ONLY = {
    "iam:PassRole",  # checked when RunInstances (DRS's launch) or an Automation hands a role to a service
    "drs:CreateRecoveryInstanceForDrs",  # checked by StartRecovery for each recovery instance it creates
    "s3:ListBucket",  # authorizes ListObjectsV2 (the report history lists report keys)
}
CONDITION_OPERATORS = {"StringEquals", "StringLike", "StringNotEquals", "Bool", "Null", "ArnLike", "ArnEquals",
                       "ForAnyValue:StringEquals", "ForAllValues:StringEquals", "IpAddress", "NumericLessThan"}
RECOVERY_ONLY = {"drs:ReverseReplication", "drs:StartFailbackLaunch", "drs:StopFailback"}


def _policy(capsys, *argv: str) -> dict:
    assert main(["iam-policy", *argv, "--plans", str(PLANS_DIR)]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def operations():
    session = botocore.session.get_session()
    return {prefix: set(session.get_service_model(name).operation_names)
            for prefix, name in IAM_PREFIX_TO_BOTOCORE.items()}


@pytest.mark.parametrize("mode", POLICY_MODES)
@pytest.mark.parametrize("plan", SAMPLE_PLANS)
def test_policy_follows_iam_grammar_and_names_real_actions(plan, mode, capsys, operations):
    policy = _policy(capsys, plan, "--mode", mode, "--reports", "s3://dr-reports/runs",
                     "--events-queue", "https://sqs.us-east-1.amazonaws.com/123456789012/drs-launch-results")
    assert policy["Version"] == "2012-10-17" and set(policy) == {"Version", "Statement"}
    assert isinstance(policy["Statement"], list) and policy["Statement"]
    sids = [s["Sid"] for s in policy["Statement"]]
    assert len(sids) == len(set(sids)), sids
    for statement in policy["Statement"]:
        assert set(statement) <= {"Sid", "Effect", "Action", "Resource", "Condition"}, statement
        assert re.fullmatch(r"[A-Za-z0-9]+", statement["Sid"]), statement["Sid"]
        assert statement["Effect"] == "Allow"
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        assert actions and resources
        for resource in resources:
            assert resource == "*" or re.fullmatch(r"arn:aws:[a-z0-9-]+:[a-z0-9-]*:(\d{12}|\*)?:.+", resource), resource
        for operator, keys in statement.get("Condition", {}).items():
            assert operator in CONDITION_OPERATORS, operator
            assert isinstance(keys, dict) and keys
        for action in actions:
            prefix, _, op = action.partition(":")
            assert re.fullmatch(r"[A-Z][A-Za-z0-9]+", op), action
            if action in PERMISSION_ONLY:
                continue
            assert prefix in operations, f"{action}: service {prefix} unknown to the test's map"
            assert op in operations[prefix], f"{action} is not an operation of botocore's {prefix} model"


def test_drill_policy_has_no_recovery_only_action(capsys):
    drill = set(policy_actions(_policy(capsys, "orders", "--mode", "drill")))
    recovery = set(policy_actions(_policy(capsys, "orders", "--mode", "recovery")))
    assert not drill & RECOVERY_ONLY
    assert {"drs:ReverseReplication", "drs:StartFailbackLaunch"} <= recovery
    # orders' only automation runs in recoveries: a drill may not start it.
    assert "ssm:StartAutomationExecution" not in drill and "ssm:StartAutomationExecution" in recovery
    # Both launch, with DRS doing EC2 work under the caller's credentials.
    for actions in (drill, recovery):
        assert {"drs:StartRecovery", "ec2:StartInstances", "ec2:DetachVolume", "ec2:DeleteVolume"} <= actions


def _statement(policy: dict, sid: str) -> dict:
    found = [s for s in policy["Statement"] if s["Sid"] == sid]
    assert found, f"no statement {sid} in {[s['Sid'] for s in policy['Statement']]}"
    return found[0]


def _resources(statement: dict) -> list[str]:
    return statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]


def test_documents_servers_and_tags_are_the_plans(capsys):
    orders = _policy(capsys, "orders", "--mode", "recovery", "--account", "123456789012")
    assert _resources(_statement(orders, "ActionsStartThePlansAutomations")) == [
        "arn:aws:ssm:us-east-1::automation-definition/AWS-PublishSNSNotification:*"]  # AWS-owned: no account
    assert _resources(_statement(orders, "ActionsAndProbesRunThePlansCommands")) == [
        "arn:aws:ssm:us-east-1::document/AWS-RunShellScript", "arn:aws:ec2:us-east-1:123456789012:instance/*"]
    assert _resources(_statement(orders, "ReferencesReadTheirSsmParameters")) == [
        "arn:aws:ssm:us-east-1:123456789012:parameter/dr/notify-topic"]

    three = _policy(capsys, "three-tier", "--mode", "drill")
    listed = _statement(three, "DrsLaunchesThePlansListedServers")
    assert _resources(listed) == [f"arn:aws:drs:us-east-1:*:source-server/{s}" for s in
                                  ("s-3578f52ef3bdd58b4", "s-3c1730a9e0771ea14", "s-3d75cdc0d9a28a725")]
    tagged = _statement(three, "DrsLaunchesServersTaggedForGroup1App")
    assert tagged["Condition"] == {"StringEquals": {"aws:ResourceTag/Tier": "app"}}
    assert _resources(_statement(three, "ActionsStartThePlansAutomations")) == [
        "arn:aws:ssm:us-east-1::automation-definition/AWS-RestartEC2Instance:*"]
    # three-tier has no launch settings: a drill leaves them alone, a recovery reads and restores them.
    assert "drs:UpdateLaunchConfiguration" not in policy_actions(three)
    assert "drs:UpdateLaunchConfiguration" in policy_actions(_policy(capsys, "three-tier", "--mode", "recovery"))


def test_provider_settings_add_scoped_statements(capsys):
    policy = _policy(capsys, "diamond", "--reports", "s3://dr-reports/runs", "--metrics-namespace", "DRS",
                     "--events-queue", "https://sqs.eu-west-1.amazonaws.com/123456789012/drs-events")
    assert _resources(_statement(policy, "ReportsAreStoredInS3")) == ["arn:aws:s3:::dr-reports/runs/*"]
    assert _statement(policy, "ReportPublishesRunMetrics")["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": "DRS"}}
    assert _resources(_statement(policy, "LaunchWaitsReadDrsEvents")) == [
        "arn:aws:sqs:eu-west-1:123456789012:drs-events"]
    bare = _policy(capsys, "diamond", "--reports", "-", "--metrics-namespace", "-")
    assert not {"s3:PutObject", "cloudwatch:PutMetricData", "sqs:ReceiveMessage"} & set(policy_actions(bare))


def test_bad_account_is_a_usage_error(capsys):
    assert main(["iam-policy", "orders", "--plans", str(PLANS_DIR), "--account", "12ab"]) == 2
    assert "12-digit" in capsys.readouterr().err


def test_builder_rejects_unknown_mode():
    plan = load_catalogue(str(PLANS_DIR)).plans["diamond"]
    with pytest.raises(ValueError, match="mode must be"):
        build_policy(plan, "failback", PolicyContext(region="us-east-1"))


def test_a_native_plan_is_granted_every_drs_call_its_dags_make(operations):
    """A `native_plan:` plan's policy holds each DRS operation the native hooks call (read from their
    source, so a new call without a grant fails here), and only operations botocore's model knows."""
    import inspect
    import re

    from airflow_provider_drs.drs_api_support import has_native_recovery_plans
    from airflow_provider_drs.hooks import drs_plan_executions, drs_recovery_plans

    plan = load_catalogue(str(PLANS_DIR)).plans["diamond"]
    assert "drs:StartRecoveryPlanExecution" not in policy_actions(
        build_policy(plan, "all", PolicyContext(region="us-east-1")))
    native = plan.model_copy(update={"native_plan": "diamond", "waves": []})
    granted = set(policy_actions(build_policy(native, "drill", PolicyContext(region="us-east-1"))))
    if not has_native_recovery_plans():  # this botocore predates the API: its names can't be read here
        pytest.skip("botocore without DRS recovery plans")
    import boto3

    to_api = boto3.client("drs", region_name="us-east-1").meta.method_to_api_mapping
    run_calls = set(re.findall(r"\.([a-z_]+)\(", inspect.getsource(drs_plan_executions)))
    # What running reads of the plan itself (DrsRecoveryPlanHook's read side; its writes are export's).
    run_calls |= {"list_recovery_plans", "list_recovery_plan_steps", "get_recovery_plan"}
    called = {f"drs:{to_api[name]}" for name in run_calls if name in to_api}
    assert "drs:StartRecoveryPlanExecution" in called and "drs:CancelRecoveryPlanExecution" in called
    assert called <= granted, sorted(called - granted)
    assert {a for a in granted if a.startswith("drs:") and a.partition(":")[2] not in operations["drs"]} <= PERMISSION_ONLY


def test_split_policies_fit_the_managed_policy_quota_and_grant_the_same(capsys):
    whole = _policy(capsys, "orders", "--account", "123456789012")
    assert main(["iam-policy", "orders", "--plans", str(PLANS_DIR), "--account", "123456789012", "--split"]) == 0
    parts = json.loads(capsys.readouterr().out)
    assert len(parts) >= 2
    for part in parts:
        assert part["Version"] == "2012-10-17" and policy_size(part) <= MANAGED_POLICY_MAX_CHARS
    assert [s for part in parts for s in part["Statement"]] == whole["Statement"]


def test_a_statement_too_big_alone_is_cut_by_resources():
    servers = [f"arn:aws:drs:us-east-1:*:source-server/s-{n:017d}" for n in range(300)]
    policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "DrsLaunchesThePlansListedServers", "Effect": "Allow", "Action": ["drs:StartRecovery"],
         "Resource": servers}]}
    parts = split_policy(policy)
    statements = [s for part in parts for s in part["Statement"]]
    assert all(policy_size(part) <= MANAGED_POLICY_MAX_CHARS for part in parts)
    assert [r for s in statements for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])] \
        == servers
    sids = [s["Sid"] for s in statements]
    assert len(set(sids)) == len(sids) and all(re.fullmatch(r"[A-Za-z0-9]+", sid) for sid in sids)
