"""DRS native recovery plans: read them, and keep one in step with a drs-plan plan.

DRS facts (botocore's drs model, 2020-02-26): a native recovery plan is a straight line of at most
20 steps, ordered by ``stepOrder`` (1..20); a step is a server step (1..100 servers, each
CRITICAL or OPTIONAL, by source server ARN) or a wait step (1..120 minutes). ListRecoveryPlans'
summaries carry no tags: GetRecoveryPlan does. Every call here first checks that the installed
botocore knows the API (drs_api_support).
"""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

from airflow_provider_drs.drs_api_support import require_native_recovery_plans
from airflow_provider_drs.hooks.retry import RetryAfterMixin


class DrsRecoveryPlanHook(RetryAfterMixin, AwsBaseHook):
    """Read and write DRS native recovery plans (``boto3.client("drs")``, from the AWS connection)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "drs"
        super().__init__(*args, **kwargs)

    # --- reading ---------------------------------------------------------------------------------
    def find_plan(self, name: str) -> dict[str, Any] | None:
        """The RecoveryPlanSummary of the native plan named exactly ``name`` (all pages), or None."""
        require_native_recovery_plans(f"Looking up the native recovery plan {name!r}")
        for page in self.conn.get_paginator("list_recovery_plans").paginate():
            for plan in page.get("recoveryPlans", []):
                if plan.get("name") == name:
                    return plan
        return None

    def plan_steps(self, plan_arn: str) -> list[dict[str, Any]]:
        """The plan's steps (RecoveryPlanStep dicts, all pages), in ``stepOrder``."""
        require_native_recovery_plans(f"Reading the steps of the native recovery plan {plan_arn}")
        steps = [
            step
            for page in self.conn.get_paginator("list_recovery_plan_steps").paginate(recoveryPlanArn=plan_arn)
            for step in page.get("recoveryPlanSteps", [])
        ]
        return sorted(steps, key=lambda step: step.get("stepOrder", 0))

    def get_plan(self, plan_arn: str) -> dict[str, Any]:
        """The full RecoveryPlan (with its description and tags)."""
        require_native_recovery_plans(f"Reading the native recovery plan {plan_arn}")
        return self.conn.get_recovery_plan(recoveryPlanArn=plan_arn)["recoveryPlan"]
