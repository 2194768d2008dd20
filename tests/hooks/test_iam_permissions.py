"""Preflight's permission check against the simulator's SimulatePrincipalPolicy: a connection whose
IAM user holds only part of the plan's policy is warned of exactly the rest; one that may not
simulate gets a reason and no warning; nothing here fails a run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_drs.hooks.iam_permissions import IamPermissionsHook, context_entries, principal_of
from airflow_provider_drs.operators.preflight import PlanPreflightOperator
from airflow_provider_drs.plans import load_catalogue
from airflow_provider_drs.plans.iam_policy import PolicyContext, build_policy, policy_actions

PLANS = Path(__file__).parents[2] / "dags" / "plans"
ACCOUNT = "123456789012"


@pytest.fixture
def policy():
    plan = load_catalogue(str(PLANS)).plans["three-tier"]
    return build_policy(plan, "drill", PolicyContext(region=plan.region, metrics_namespace="DRSOrchestration"))


def _limited_connection(sim, monkeypatch, statements: list[dict], name: str = "aws_limited") -> str:
    """An Airflow connection whose keys belong to a simulator IAM user holding ``statements``."""
    iam = sim.client("iam")
    iam.create_user(UserName="airflow-dr")
    iam.put_user_policy(UserName="airflow-dr", PolicyName="partial",
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}))
    key = iam.create_access_key(UserName="airflow-dr")["AccessKey"]
    monkeypatch.setenv(f"AIRFLOW_CONN_{name.upper()}", json.dumps({
        "conn_type": "aws", "login": key["AccessKeyId"], "password": key["SecretAccessKey"],
        "extra": {"endpoint_url": sim.endpoint_url, "region_name": "us-east-1"}}))
    return name


def _all_but(policy: dict, left_out: set[str]) -> list[dict]:
    """The policy's statements minus some actions, plus the right to simulate (as it would be granted)."""
    statements = []
    for statement in policy["Statement"]:
        kept = [a for a in statement["Action"] if a not in left_out]
        if kept:
            statements.append({k: v for k, v in {**statement, "Action": kept}.items() if k != "Sid"})
    return [*statements, {"Effect": "Allow", "Action": "iam:SimulatePrincipalPolicy", "Resource": "*"}]


def test_partial_policy_warns_naming_exactly_the_missing_actions(sim, monkeypatch, policy):
    lacking = {"ec2:DetachVolume", "drs:TerminateRecoveryInstances", "ssm:StartAutomationExecution"}
    conn = _limited_connection(sim, monkeypatch, _all_but(policy, lacking))
    check = IamPermissionsHook(aws_conn_id=conn, region_name="us-east-1").check(policy)
    assert check.unchecked is None and check.principal == f"arn:aws:iam::{ACCOUNT}:user/airflow-dr"
    assert set(check.missing) == lacking
    assert check.missing["ssm:StartAutomationExecution"] == [
        "arn:aws:ssm:us-east-1::automation-definition/AWS-RestartEC2Instance:*"]

    preflight = PlanPreflightOperator(task_id="preflight", plan_name="three-tier", waves={}, iam_policy=policy,
                                      aws_conn_id=conn, region_name="us-east-1")
    [finding] = preflight._permission_findings()
    assert finding["check"] == "permissions" and finding["stopped_the_run"] is False
    for action in lacking:
        assert action in finding["message"]
    assert "drs:StartRecovery" not in finding["message"]


def test_full_policy_means_no_warning(sim, monkeypatch, policy):
    conn = _limited_connection(sim, monkeypatch, _all_but(policy, set()))
    check = IamPermissionsHook(aws_conn_id=conn, region_name="us-east-1").check(policy)
    assert check.missing == {} and check.unchecked is None
    assert set(policy_actions(policy)) - {"iam:SimulatePrincipalPolicy"}  # the check did simulate something


def test_a_connection_that_may_not_simulate_gets_a_reason_not_a_warning(sim, monkeypatch, policy, capsys):
    conn = _limited_connection(sim, monkeypatch, [{"Effect": "Allow", "Action": "drs:*", "Resource": "*"}])
    check = IamPermissionsHook(aws_conn_id=conn, region_name="us-east-1").check(policy)
    assert check.missing == {} and "may not call iam:SimulatePrincipalPolicy (AccessDenied)" in check.unchecked
    preflight = PlanPreflightOperator(task_id="preflight", plan_name="three-tier", waves={}, iam_policy=policy,
                                      aws_conn_id=conn, region_name="us-east-1")
    capsys.readouterr()
    assert preflight._permission_findings() == []
    assert "IAM permissions not checked" in capsys.readouterr().out  # the one info line (Airflow logs to stdout)


def test_assumed_role_maps_to_its_role_and_conditions_become_context():
    assert principal_of(f"arn:aws:sts::{ACCOUNT}:assumed-role/dr-airflow/session-1") == (
        f"arn:aws:iam::{ACCOUNT}:role/dr-airflow", "dr-airflow")
    assert principal_of(f"arn:aws:iam::{ACCOUNT}:user/u") == (f"arn:aws:iam::{ACCOUNT}:user/u", None)
    entries = context_entries({"Bool": {"aws:ViaAWSService": "true"},
                               "Null": {"aws:ResourceTag/AWSElasticDisasterRecoveryManaged": "false"},
                               "ForAnyValue:StringEquals": {"aws:CalledVia": ["drs.amazonaws.com"]}})
    assert {e["ContextKeyName"]: (e["ContextKeyValues"], e["ContextKeyType"]) for e in entries} == {
        "aws:ViaAWSService": (["true"], "boolean"),
        "aws:ResourceTag/AWSElasticDisasterRecoveryManaged": (["drs-plan"], "string"),
        "aws:CalledVia": (["drs.amazonaws.com"], "stringList")}


def test_an_assumed_role_session_is_checked_as_its_role_path_included(sim, monkeypatch):
    iam = sim.client("iam")
    iam.create_role(RoleName="dr-airflow", Path="/dr/", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}))
    iam.put_role_policy(RoleName="dr-airflow", PolicyName="reads", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["drs:Describe*", "iam:*"], "Resource": "*"}]}))
    creds = sim.client("sts").assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/dr/dr-airflow",
                                          RoleSessionName="preflight")["Credentials"]
    monkeypatch.setenv("AIRFLOW_CONN_AWS_ROLE", json.dumps({
        "conn_type": "aws", "login": creds["AccessKeyId"], "password": creds["SecretAccessKey"],
        "extra": {"aws_session_token": creds["SessionToken"], "endpoint_url": sim.endpoint_url,
                  "region_name": "us-east-1"}}))
    policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "Reads", "Effect": "Allow", "Action": ["drs:DescribeJobs"], "Resource": "*"},
        {"Sid": "Launches", "Effect": "Allow", "Action": ["drs:StartRecovery"],
         "Resource": f"arn:aws:drs:us-east-1:{ACCOUNT}:source-server/s-3578f52ef3bdd58b4"}]}
    check = IamPermissionsHook(aws_conn_id="aws_role", region_name="us-east-1").check(policy)
    assert check.unchecked is None, check.unchecked
    assert check.principal == f"arn:aws:iam::{ACCOUNT}:role/dr/dr-airflow"
    assert check.missing == {"drs:StartRecovery": [f"arn:aws:drs:us-east-1:{ACCOUNT}:source-server/s-3578f52ef3bdd58b4"]}


def test_a_slow_iam_never_holds_preflight_past_the_budget(sim, monkeypatch, policy):
    """IAM is global and may be slow or throttling on the day of a real recovery: the check gives up
    after its budget and says so; the run goes on."""
    import time

    conn = _limited_connection(sim, monkeypatch, _all_but(policy, set()))
    sim.control.latency(20.0, ["iam:SimulatePrincipalPolicy"])  # each answer 20 s late
    started = time.monotonic()
    check = IamPermissionsHook(aws_conn_id=conn, region_name="us-east-1", budget_seconds=1.0).check(policy)
    assert time.monotonic() - started < 12  # not the 20 s of an answer (the rest: a loaded machine's setup)
    assert check.unchecked and "unanswered after 1 s" in check.unchecked and not check.missing
