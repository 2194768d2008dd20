"""Does the connection's principal hold the plan's IAM policy? (preflight's permission check)

The principal comes from sts:GetCallerIdentity (an assumed-role session maps to its role); each
statement of the policy `drs-plan iam-policy` prints is simulated with iam:SimulatePrincipalPolicy
on the statement's resources, with context values that satisfy the statement's own conditions (so a
role that grants an action under the same conditions counts as holding it). The answer lists the
actions the principal lacks. It only informs: a principal that may not simulate gets a reason, and
nothing here ever fails a run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

_ASSUMED_ROLE = re.compile(r"^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role/([^/]+)/.+$")
_TYPES = {"Bool": "boolean", "Null": "string"}
SIMULATION_WORKERS = 4
# The check runs in every preflight, a real recovery's too, and IAM is a global service that may be
# slow or throttling on a bad day: short timeouts and a budget for the whole check, after which the
# run goes on with the check reported as not done.
CHECK_BUDGET_SECONDS = 30.0
IAM_CONFIG = Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 3, "mode": "standard"})


def principal_of(caller_arn: str) -> tuple[str, str | None]:
    """(principal ARN to simulate, role name to look its path up by) of a GetCallerIdentity ARN."""
    match = _ASSUMED_ROLE.match(caller_arn)
    if not match:
        return caller_arn, None
    partition, account, role = match.groups()
    return f"arn:{partition}:iam::{account}:role/{role}", role


def context_entries(condition: Mapping[str, Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """ContextEntries under which ``condition`` holds: the request DRS (or the plan) really makes."""
    entries: dict[str, dict[str, Any]] = {}
    for operator, keys in (condition or {}).items():
        quantifier, _, op = operator.rpartition(":")
        for key, value in keys.items():
            values = [value] if isinstance(value, str) else [str(v) for v in value]
            if op == "Null":
                if values[0] == "false":  # the key must exist: any value does
                    entries[key] = {"ContextKeyName": key, "ContextKeyValues": ["drs-plan"],
                                    "ContextKeyType": "string"}
                continue
            values = [v.replace("*", "x") for v in values] if op.endswith("Like") else values
            kind = _TYPES.get(op, "string") + ("List" if quantifier else "")
            entries[key] = {"ContextKeyName": key, "ContextKeyValues": values if quantifier else values[:1],
                            "ContextKeyType": kind}
    return list(entries.values())


def simulations(policy: Mapping[str, Any]) -> list[tuple[list[str], str, list[dict[str, Any]]]]:
    """(actions, resource, context entries): one SimulatePrincipalPolicy call each. Statements on
    the same resource under the same conditions share a call (a preflight on the worst day should
    not wait on dozens of IAM round trips)."""
    calls: dict[tuple[str, str], tuple[list[str], str, list[dict[str, Any]]]] = {}
    for statement in policy["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        context = context_entries(statement.get("Condition"))
        for resource in resources:
            key = (resource, json.dumps(context, sort_keys=True))
            known = calls.setdefault(key, ([], resource, context))[0]
            known.extend(a for a in actions if a not in known)
    return list(calls.values())


@dataclass
class PermissionCheck:
    principal: str | None = None
    missing: dict[str, list[str]] = field(default_factory=dict)  # action -> resources it is denied on
    unchecked: str | None = None  # why the check could not run

    def message(self) -> str:
        if self.unchecked:
            return f"IAM permissions not checked: {self.unchecked}"
        if not self.missing:
            return f"{self.principal} holds every action of the plan's IAM policy"
        listed = "; ".join(f"{action} on {', '.join(resources)}" for action, resources in sorted(self.missing.items()))
        return (f"{self.principal} lacks {len(self.missing)} action(s) of the plan's IAM policy (drs-plan "
                f"iam-policy prints it): {listed}")


class IamPermissionsHook(AwsBaseHook):
    """iam:SimulatePrincipalPolicy for the connection's own principal."""

    def __init__(self, *args: Any, budget_seconds: float = CHECK_BUDGET_SECONDS, **kwargs: Any):
        kwargs["client_type"] = "iam"
        kwargs.setdefault("config", IAM_CONFIG)
        super().__init__(*args, **kwargs)
        self.budget_seconds = budget_seconds

    def caller_arn(self) -> str:
        sts = AwsBaseHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name, client_type="sts",
                          config=self.config).conn
        return sts.get_caller_identity()["Arn"]

    def check(self, policy: Mapping[str, Any]) -> PermissionCheck:
        try:
            principal, role = principal_of(self.caller_arn())
        except (ClientError, BotoCoreError) as error:
            return PermissionCheck(unchecked=f"sts:GetCallerIdentity failed ({error})")
        if role:
            try:  # a role with a path: the session ARN does not show it, GetRole does
                principal = self.conn.get_role(RoleName=role)["Role"]["Arn"]
            except (ClientError, BotoCoreError):
                pass
        result = PermissionCheck(principal=principal)
        client = self.conn
        calls = simulations(policy)
        # A few calls at once (boto3 clients are thread-safe): dozens of sequential IAM round trips
        # would hold preflight for seconds before a recovery.
        pool = ThreadPoolExecutor(max_workers=SIMULATION_WORKERS)
        futures = [pool.submit(_simulate, client, principal, *call) for call in calls]
        _, late = wait(futures, timeout=self.budget_seconds)
        pool.shutdown(wait=False, cancel_futures=True)  # never wait on IAM past the budget
        if late:
            return PermissionCheck(principal=principal, unchecked=(
                f"{len(late)} of {len(calls)} iam:SimulatePrincipalPolicy calls unanswered after "
                f"{self.budget_seconds:.0f} s (IAM slow or throttling); the run goes on unchecked"))
        answers = [future.result() for future in futures]
        for (_, resource, _), answer in zip(calls, answers):
            if isinstance(answer, Exception):
                return PermissionCheck(principal=principal, unchecked=_why_unchecked(principal, answer))
            for item in answer:
                if item["EvalDecision"] != "allowed":
                    result.missing.setdefault(item["EvalActionName"], []).append(resource)
        return result


def _simulate(client: Any, principal: str, actions: list[str], resource: str,
              context: list[dict[str, Any]]) -> list[dict[str, Any]] | Exception:
    kwargs: dict[str, Any] = {"PolicySourceArn": principal, "ActionNames": actions}
    if resource != "*":
        kwargs["ResourceArns"] = [resource]
    if context:
        kwargs["ContextEntries"] = context
    try:
        pages = client.get_paginator("simulate_principal_policy").paginate(**kwargs)
        return [r for page in pages for r in page["EvaluationResults"]]
    except (ClientError, BotoCoreError) as error:
        return error


def _why_unchecked(principal: str, error: Exception) -> str:
    code = error.response["Error"]["Code"] if isinstance(error, ClientError) else type(error).__name__
    if code in ("AccessDenied", "AccessDeniedException"):
        return (f"{principal} may not call iam:SimulatePrincipalPolicy ({code}); allow it on the role itself to "
                "have preflight check the policy")
    return f"iam:SimulatePrincipalPolicy for {principal} failed: {error}"
