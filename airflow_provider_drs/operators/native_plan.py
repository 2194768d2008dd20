"""Start an execution of a DRS native recovery plan, at most once per DAG run."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_drs.drs_api_support import require_native_recovery_plans
from airflow_provider_drs.exceptions import DrsNativePlanUnavailable
from airflow_provider_drs.hooks.drs_plan_executions import (
    TERMINAL_EXECUTION_STATUSES,
    DrsPlanExecutionHook,
    NativePlan,
    resolve_native_plan,
)
from airflow_provider_drs.hooks.drs_recovery_plans import DrsRecoveryPlanHook
from airflow_provider_drs.hooks.drs_safety import RunRef
from airflow_provider_drs.operators.launch_safety import check_launch, run_ref, run_started_at
from airflow_provider_drs.plan_tasks import NATIVE_PLAN, REPLACED

if TYPE_CHECKING:
    from airflow.sdk import Context

EXECUTION_STATE_KEY = "drs_plan_execution_arn"
DRILL_CANCEL_TIMEOUT_SECONDS = 3600  # a cancelled drill ends when its running step's job does


class DrsStartRecoveryPlanExecutionOperator(AwsBaseOperator[DrsPlanExecutionHook]):
    """
    Start ONE execution of the DRS native recovery plan ``recovery_plan_name``, as a DRILL or a
    RECOVERY, and return its ARN (the waiting is DrsRecoveryPlanExecutionSensor's).

    Refused (no retry) when the plan does not exist, is INVALID, or has an execution that is not over
    and is not this run's: DRS runs one execution of a plan at a time. One exception: a RECOVERY
    cancels a running DRILL execution first (a real recovery goes before a drill). A retried task never
    starts a second execution: it resumes the one its earlier try recorded (Airflow's task state
    store), else adopts this run's own (its tags name the run), else starts with a client token
    derived from the run, which DRS answers with the same execution. A drill is checked right before
    the start, on every server of the plan, by the same launch-safety rules as a wave.

    :param recovery_plan_name: the native plan's name (ListRecoveryPlans).
    :param is_drill: DRILL (True) or RECOVERY (False) mode.
    :param recovery_snapshots: server id -> the recovery snapshot to launch it from (an id or a
        ``{"snapshot_id": ...}``, as preflight's XCom ``snapshots``; a mapping or its JSON).
    :param poll_interval: seconds between reads of a drill execution this recovery cancelled.
    :return: the execution ARN; XCom ``native_plan`` holds the plan (name, ARN, servers).
    """

    aws_hook_class = DrsPlanExecutionHook
    template_fields = aws_template_fields("recovery_plan_name", "is_drill", "recovery_snapshots")
    ui_color = "#f7c59f"

    def __init__(self, *, recovery_plan_name: str, is_drill: bool = True,
                 recovery_snapshots: Mapping[str, Any] | str | None = None, poll_interval: float = 5.0,
                 **kwargs: Any):
        super().__init__(**kwargs)
        self.poll_interval = poll_interval
        self.recovery_plan_name = recovery_plan_name
        self.is_drill = is_drill
        self.recovery_snapshots = recovery_snapshots

    @property
    def mode(self) -> str:
        return "DRILL" if self.is_drill else "RECOVERY"

    def execute(self, context: Context) -> str:
        require_native_recovery_plans(f"Task {self.task_id}")
        own = run_ref(context)
        plan = self._plan()
        plan_arn, servers = plan.arn, plan.servers
        context["ti"].xcom_push(key=NATIVE_PLAN, value=plan.as_dict())
        execution = self._stored_execution(context) or self._own_or_conflict(plan_arn, own, context)
        if execution is None:
            replaced = check_launch(self.hook, context, servers, bool(self.is_drill), self.log,
                                    f"Task {self.task_id} (native plan {self.recovery_plan_name})")
            context["ti"].xcom_push(key=REPLACED, value=[h.as_dict() for h in replaced])
            execution = self.hook.start_execution(plan_arn, self.mode, own, self._snapshot_ids(servers))
        arn = execution["recoveryPlanExecutionArn"]
        store = context.get("task_state_store")
        if store is not None:
            store.set(EXECUTION_STATE_KEY, arn)
        return arn

    def _plan(self) -> NativePlan:
        plans = DrsRecoveryPlanHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name,
                                    verify=self.verify, config=self.botocore_config)
        try:
            return resolve_native_plan(plans, self.recovery_plan_name, self.hook.conn_region_name)
        except DrsNativePlanUnavailable as unavailable:
            raise AirflowFailException(str(unavailable)) from unavailable

    def _stored_execution(self, context: Context) -> dict[str, Any] | None:
        store = context.get("task_state_store")
        arn = store.get(EXECUTION_STATE_KEY) if store is not None else None
        if not arn:
            return None
        execution = self.hook.get_execution(arn)
        self.log.warning("drs.resume_plan_execution execution=%s status=%s: an earlier try of this task started "
                         "it (task state store); resuming it", arn, execution.get("status"))
        return execution

    def _own_or_conflict(self, plan_arn: str, own: RunRef, context: Context) -> dict[str, Any] | None:
        """This run's execution (running or over) to adopt; refuse when another one is running."""
        since = run_started_at(context).isoformat()
        for execution in self.hook.active_executions(plan_arn):
            if RunRef.from_tags(execution.get("tags")) == own:
                return self._adopt(execution)
            owner = RunRef.from_tags(execution.get("tags"))
            if not self.is_drill and execution.get("mode") == "DRILL":
                self._cancel_drill(execution, owner)
                continue
            raise AirflowFailException(
                f"Conflict: execution {execution['recoveryPlanExecutionArn']} of plan {self.recovery_plan_name} is "
                f"{execution.get('status')} ({execution.get('mode')}), started at {execution.get('startedAt')} by "
                f"{owner or 'someone outside this Airflow'}. Nothing was launched: wait for it to end, or cancel "
                "it (aws drs cancel-recovery-plan-execution) if it should not run, then run again.")
        # An earlier try's execution may be over already (a short plan): adopt it, never rerun it.
        for summary in self.hook.list_executions(plan_arn):
            if _iso_at_least(summary.get("startedAt"), since):
                execution = self.hook.get_execution(summary["recoveryPlanExecutionArn"])
                if RunRef.from_tags(execution.get("tags")) == own:
                    return self._adopt(execution)
        return None

    def _cancel_drill(self, execution: dict[str, Any], owner: RunRef | None) -> None:
        """A real recovery goes before a drill: DRS runs one execution of a plan at a time, and a drill
        with wait steps may hold the plan for hours. The drill is cancelled (its approval said so) and
        awaited until it launches nothing more; its drill instances are its own cleanup's to remove,
        and this recovery's launches replace them anyway."""
        arn = execution["recoveryPlanExecutionArn"]
        self.log.warning("drs.cancel_drill_for_recovery execution=%s started_by=%s status=%s: cancelling the drill "
                         "so the recovery can start", arn, owner or "someone outside this Airflow", execution.get("status"))
        ended = self.hook.cancel_and_settle(arn, self.poll_interval, DRILL_CANCEL_TIMEOUT_SECONDS)
        if ended.get("status") not in TERMINAL_EXECUTION_STATUSES:
            raise AirflowFailException(
                f"Drill execution {arn} of plan {self.recovery_plan_name} was cancelled but is still "
                f"{ended.get('status')} after {DRILL_CANCEL_TIMEOUT_SECONDS // 60} min (its running step's job has not "
                "ended). Nothing was launched for the recovery: check the job in the DRS console, then run again.")

    def _adopt(self, execution: dict[str, Any]) -> dict[str, Any]:
        self.log.warning("drs.adopt_plan_execution execution=%s status=%s started=%s: this run already started "
                         "it; adopting instead of starting a second one", execution["recoveryPlanExecutionArn"],
                         execution.get("status"), execution.get("startedAt"))
        return execution

    def _snapshot_ids(self, servers: list[str]) -> dict[str, str]:
        chosen = self.recovery_snapshots
        if isinstance(chosen, str):
            chosen = json.loads(chosen) if chosen.strip() not in ("", "None", "null") else None
        return {s: v["snapshot_id"] if isinstance(v, Mapping) else v for s, v in (chosen or {}).items()
                if s in servers and v}


def _iso_at_least(value: str | None, since: str) -> bool:
    """DRS's ISO time is not before ``since`` (both compared as instants)."""
    if not value:
        return False
    return datetime.fromisoformat(value.replace("Z", "+00:00")) >= datetime.fromisoformat(since)
