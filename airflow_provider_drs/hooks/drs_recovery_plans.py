"""DRS native recovery plans: read them, and keep one in step with a drs-plan plan.

DRS facts (botocore's drs model, 2020-02-26): a native recovery plan is a straight line of at most
20 steps, ordered by ``stepOrder`` (1..20); a step is a server step (1..100 servers, each
CRITICAL or OPTIONAL, by source server ARN) or a wait step (1..120 minutes). ListRecoveryPlans'
summaries carry no tags: GetRecoveryPlan does. Every call here first checks that the installed
botocore knows the API (drs_api_support).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

from airflow_provider_drs.drs_api_support import require_native_recovery_plans
from airflow_provider_drs.exceptions import DrsForeignNativePlan
from airflow_provider_drs.hooks.native_plan_sync import Write, client_token, describe, diff_steps
from airflow_provider_drs.hooks.retry import RetryAfterMixin
from airflow_provider_drs.plans.native import NativeStep

# drs-plan's mark on the native plans it made: the plan's name, and the file it came from.
PLAN_TAG = "drs-plan:plan"
FILE_TAG = "drs-plan:file"


def _hour() -> int:
    """In the idempotency tokens: a retry (seconds later) repeats the request, while the same plan
    exported again after it was deleted, hours later, is a new one (DRS would answer the old token
    with the deleted plan)."""
    return int(time.time() // 3600)


@dataclass
class NativeSync:
    """What an export did (or, dry, would do): the writes in the order made."""

    plan_arn: str | None
    writes: list[Write] = field(default_factory=list)


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

    def source_servers(self) -> dict[str, dict[str, Any]]:
        """Every source server DRS knows here: id -> {arn, hostname, tags} (DescribeSourceServers)."""
        servers = {}
        for page in self.conn.get_paginator("describe_source_servers").paginate(filters={}):
            for server in page.get("items", []):
                hints = (server.get("sourceProperties") or {}).get("identificationHints") or {}
                servers[server["sourceServerID"]] = {"arn": server["arn"], "hostname": hints.get("hostname"),
                                                     "tags": server.get("tags") or {}}
        return servers

    # --- writing ---------------------------------------------------------------------------------
    def sync_plan(self, name: str, steps: Sequence[NativeStep], *, plan_name: str, plan_file: str | None,
                  description: str, adopt: bool = False, dry_run: bool = False) -> NativeSync:
        """Make the native plan ``name`` hold ``steps`` (in order) and ``description``, writing only
        what differs; create it (tagged as drs-plan's) when missing. Returns the writes made (or
        that would be made, ``dry_run``).

        A native plan of that name that drs-plan did not make for ``plan_name`` (no PLAN_TAG, or
        another plan's) is refused with DrsForeignNativePlan, unless ``adopt``: then it is tagged
        as this plan's and synced.
        """
        require_native_recovery_plans(f"Exporting to the native recovery plan {name!r}")
        tags = {PLAN_TAG: plan_name, **({FILE_TAG: os.path.basename(plan_file)[:256]} if plan_file else {})}
        summary = self.find_plan(name)
        if summary is None:
            sync = NativeSync(None, [Write("CreateRecoveryPlan", name, f"tagged {PLAN_TAG}={plan_name}")])
            if not dry_run:
                # Same plan, same request: a create retried after a lost answer makes no second plan.
                token = client_token("CreateRecoveryPlan", name, description, tags, [s.name for s in steps], _hour())
                created = self.conn.create_recovery_plan(name=name, description=description, tags=tags,
                                                         clientToken=token)["recoveryPlan"]
                sync.plan_arn = created["recoveryPlanArn"]
            self._sync_steps(sync, name, [], steps, dry_run)
            return sync
        sync = NativeSync(summary["recoveryPlanArn"])
        plan = self.get_plan(sync.plan_arn)
        owner = (plan.get("tags") or {}).get(PLAN_TAG)
        if owner != plan_name:
            whose = (f"drs-plan made it for the plan {owner!r}" if owner
                     else f"it has no {PLAN_TAG} tag: drs-plan did not make it")
            if not adopt:
                raise DrsForeignNativePlan(
                    f"Refusing to change the native recovery plan {name!r} ({sync.plan_arn}): {whose}, and an export "
                    f"rewrites its steps. Export under another name (--name), or pass --adopt to make it the plan "
                    f"{plan_name!r}'s (its steps are then replaced by the plan's).")
            sync.writes.append(Write("TagResource", name, f"adopted: {PLAN_TAG}={plan_name} ({whose})"))
            if not dry_run:
                self.conn.tag_resource(resourceArn=sync.plan_arn, tags=tags)
        if (plan.get("description") or "") != description:
            sync.writes.append(Write("UpdateRecoveryPlan", name, "description"))
            if not dry_run:
                self.conn.update_recovery_plan(recoveryPlanArn=sync.plan_arn, description=description)
        self._sync_steps(sync, name, self.plan_steps(sync.plan_arn), steps, dry_run)
        return sync

    def _sync_steps(self, sync: NativeSync, name: str, existing: list[dict[str, Any]],
                    steps: Sequence[NativeStep], dry_run: bool) -> None:
        diff = diff_steps(existing, steps)
        before = [s["recoveryPlanStepArn"] for s in existing]
        for step in diff.delete:
            sync.writes.append(Write("DeleteRecoveryPlanStep", f"{name}/{step['stepName']}"))
            if not dry_run:
                self.conn.delete_recovery_plan_step(recoveryPlanStepArn=step["recoveryPlanStepArn"])
        for current, step in diff.update:
            sync.writes.append(Write("UpdateRecoveryPlanStep", f"{name}/{step.name}",
                                     f"{describe(NativeStep.from_api(current))} -> {describe(step)}"))
            if not dry_run:
                self.conn.update_recovery_plan_step(recoveryPlanStepArn=current["recoveryPlanStepArn"],
                                                    stepName=step.name, configuration=step.configuration())
        for step in diff.create:
            sync.writes.append(Write("CreateRecoveryPlanStep", f"{name}/{step.name}", describe(step)))
            if not dry_run:
                token = client_token("CreateRecoveryPlanStep", sync.plan_arn, step.name, step.configuration(), before,
                                     _hour())
                self.conn.create_recovery_plan_step(recoveryPlanArn=sync.plan_arn, stepName=step.name,
                                                    configuration=step.configuration(), clientToken=token)
        wanted = [s.name for s in steps]
        if dry_run:
            if diff.reorder_needed(steps):
                sync.writes.append(Write("ReorderRecoveryPlanSteps", name, " -> ".join(wanted)))
            return
        if not (diff.delete or diff.create or diff.reorder_needed(steps)):
            return
        # Where DRS put the created steps is read back, not assumed.
        now = self.plan_steps(sync.plan_arn)
        if [s["stepName"] for s in now] != wanted:
            arns = {s["stepName"]: s["recoveryPlanStepArn"] for s in now}
            sync.writes.append(Write("ReorderRecoveryPlanSteps", name, " -> ".join(wanted)))
            self.conn.reorder_recovery_plan_steps(recoveryPlanArn=sync.plan_arn,
                                                  orderedStepArns=[arns[n] for n in wanted])
