"""The simulator's IAM SimulatePrincipalPolicy (moto has none): decisions from the principal's
inline, attached and group policies, conditions against ContextEntries, the model's XML shape."""

from __future__ import annotations

import json

import botocore.session
import pytest
from botocore.exceptions import ClientError

from .shape_check import violations

MODEL = botocore.session.get_session().get_service_model("iam")
ACCOUNT = "123456789012"  # the simulator's account (simulator/ids.py)


def _doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture
def iam(sim):
    return sim.client("iam")


@pytest.fixture
def user(iam):
    """A user with an inline policy (allow + explicit deny), an attached managed policy with a
    condition, and a group whose policy allows SNS."""
    iam.create_user(UserName="airflow")
    iam.put_user_policy(UserName="airflow", PolicyName="drs", PolicyDocument=_doc(
        {"Effect": "Allow", "Action": "drs:StartRecovery", "Resource": f"arn:aws:drs:us-east-1:{ACCOUNT}:source-server/*"},
        {"Effect": "Deny", "Action": "ec2:TerminateInstances", "Resource": "*"}))
    arn = iam.create_policy(PolicyName="via-drs", PolicyDocument=_doc(
        {"Effect": "Allow", "Action": ["ec2:StartInstances", "ec2:TerminateInstances"], "Resource": "*",
         "Condition": {"Bool": {"aws:ViaAWSService": "true"}}}))["Policy"]["Arn"]
    iam.attach_user_policy(UserName="airflow", PolicyArn=arn)
    iam.create_group(GroupName="notifiers")
    iam.put_group_policy(GroupName="notifiers", PolicyName="sns", PolicyDocument=_doc(
        {"Effect": "Allow", "Action": "sns:*", "Resource": "*"}))
    iam.add_user_to_group(GroupName="notifiers", UserName="airflow")
    return f"arn:aws:iam::{ACCOUNT}:user/airflow"


def _raw_results(iam):
    seen = []
    iam.meta.events.register("after-call.iam.SimulatePrincipalPolicy",
                             lambda parsed, **_: seen.append({k: v for k, v in parsed.items() if k != "ResponseMetadata"}))
    return seen


def test_decisions_follow_the_principals_policies(iam, user):
    seen = _raw_results(iam)
    answer = iam.simulate_principal_policy(
        PolicySourceArn=user, ResourceArns=[f"arn:aws:drs:us-east-1:{ACCOUNT}:source-server/s-3578f52ef3bdd58b4"],
        ActionNames=["drs:StartRecovery", "ec2:TerminateInstances", "s3:PutObject", "sns:Publish", "ec2:StartInstances"])
    decisions = {r["EvalActionName"]: r for r in answer["EvaluationResults"]}
    assert {a: r["EvalDecision"] for a, r in decisions.items()} == {
        "drs:StartRecovery": "allowed", "ec2:TerminateInstances": "explicitDeny", "s3:PutObject": "implicitDeny",
        "sns:Publish": "allowed", "ec2:StartInstances": "implicitDeny"}
    assert decisions["drs:StartRecovery"]["MatchedStatements"][0]["SourcePolicyId"] == "drs"
    assert decisions["sns:Publish"]["MatchedStatements"][0] == {"SourcePolicyId": "sns", "SourcePolicyType": "group"}
    assert decisions["ec2:TerminateInstances"]["MatchedStatements"][0]["SourcePolicyType"] == "user"
    assert decisions["ec2:StartInstances"]["MissingContextValues"] == ["aws:ViaAWSService"]
    assert answer["IsTruncated"] is False
    problems = violations(MODEL.operation_model("SimulatePrincipalPolicy").output_shape, seen[0])
    assert not problems, "\n".join(problems)


def test_context_entries_satisfy_conditions_and_deny_still_wins(iam, user):
    answer = iam.simulate_principal_policy(
        PolicySourceArn=user, ActionNames=["ec2:StartInstances", "ec2:TerminateInstances"],
        ContextEntries=[{"ContextKeyName": "aws:ViaAWSService", "ContextKeyValues": ["true"],
                         "ContextKeyType": "boolean"}])
    decisions = {r["EvalActionName"]: r for r in answer["EvaluationResults"]}
    assert decisions["ec2:StartInstances"]["EvalDecision"] == "allowed"
    assert decisions["ec2:StartInstances"]["MatchedStatements"][0]["SourcePolicyType"] == "user-managed"
    assert decisions["ec2:TerminateInstances"]["EvalDecision"] == "explicitDeny"  # the inline Deny wins


def test_a_role_principal_and_an_unknown_one(iam):
    iam.create_role(RoleName="dr-orchestrator", AssumeRolePolicyDocument=_doc(
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}))
    iam.put_role_policy(RoleName="dr-orchestrator", PolicyName="reads", PolicyDocument=_doc(
        {"Effect": "Allow", "Action": "drs:Describe*", "Resource": "*"}))
    role = f"arn:aws:iam::{ACCOUNT}:role/dr-orchestrator"
    answer = iam.simulate_principal_policy(PolicySourceArn=role, ActionNames=["drs:DescribeJobs", "drs:StartRecovery"])
    assert [r["EvalDecision"] for r in answer["EvaluationResults"]] == ["allowed", "implicitDeny"]
    with pytest.raises(ClientError) as caught:
        iam.simulate_principal_policy(PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:role/nobody", ActionNames=["drs:X"])
    assert caught.value.response["Error"]["Code"] == "NoSuchEntity"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_a_caller_not_allowed_to_simulate_is_refused(sim, iam, user):
    key = iam.create_access_key(UserName="airflow")["AccessKey"]
    own = sim.client("iam", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                     aws_session_token=None)
    assert sim.client("sts", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                      aws_session_token=None).get_caller_identity()["Arn"] == user
    with pytest.raises(ClientError) as caught:
        own.simulate_principal_policy(PolicySourceArn=user, ActionNames=["drs:StartRecovery"])
    assert caught.value.response["Error"]["Code"] == "AccessDenied"
    iam.put_user_policy(UserName="airflow", PolicyName="self-check", PolicyDocument=_doc(
        {"Effect": "Allow", "Action": "iam:SimulatePrincipalPolicy", "Resource": user}))
    server = f"arn:aws:drs:us-east-1:{ACCOUNT}:source-server/s-3578f52ef3bdd58b4"
    answer = own.simulate_principal_policy(PolicySourceArn=user, ActionNames=["drs:StartRecovery"],
                                           ResourceArns=[server])
    assert answer["EvaluationResults"][0]["EvalDecision"] == "allowed"
    # The default resource '*' is not covered by a statement scoped to source servers, as in IAM.
    answer = own.simulate_principal_policy(PolicySourceArn=user, ActionNames=["drs:StartRecovery"])
    assert answer["EvaluationResults"][0]["EvalDecision"] == "implicitDeny"
