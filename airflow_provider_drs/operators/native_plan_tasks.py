"""The run-time plan tasks of a plan with ``native_plan``: the wave plan's preflight, drill cleanup
and report, fed from the native plan and its execution instead of from waves."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_drs.drs_api_support import require_native_recovery_plans
from airflow_provider_drs.exceptions import DrsNativePlanUnavailable
from airflow_provider_drs.hooks.drs_plan_executions import (
    DrsPlanExecutionHook,
    resolve_native_plan,
)
from airflow_provider_drs.hooks.drs_recovery_plans import DrsRecoveryPlanHook
from airflow_provider_drs.operators.approval import RecoveryApprovalOperator
from airflow_provider_drs.operators.cleanup import DrillCleanupOperator
from airflow_provider_drs.operators.launch_safety import run_ref
from airflow_provider_drs.operators.preflight import PlanPreflightOperator
from airflow_provider_drs.operators.report import PlanReportOperator
from airflow_provider_drs.plan_tasks import (
    NATIVE_EXECUTION, NATIVE_PLAN, PREFLIGHT, REPLACED, START_NATIVE_PLAN, WAIT_FOR_NATIVE_PLAN)
from airflow_provider_drs.reports.run_report import wave_state

if TYPE_CHECKING:
    from airflow.sdk import Context

# An execution step's status as the state of the wave it stands for in the report.
_STEP_STATES = {"COMPLETED": "success", "FAILED": "failed", "TIMED_OUT": "failed", "SKIPPED": "skipped",
                "NOT_STARTED": "skipped", "EXECUTING": "running", "WAITING": "running"}


class NativeRecoveryApprovalOperator(RecoveryApprovalOperator):
    """The recovery's approval of a native plan: its question names the live recovery instances the
    recovery will replace, reading the native plan's servers when it is asked (not at parse time)."""

    def __init__(self, *, recovery_plan_name: str, **kwargs: Any):
        super().__init__(servers=[], tag_groups={}, **kwargs)
        self.recovery_plan_name = recovery_plan_name

    def replacement_notice(self) -> str:
        try:
            require_native_recovery_plans(f"Approval of native plan {self.recovery_plan_name}")
            plans = DrsRecoveryPlanHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name)
            self.servers = resolve_native_plan(plans, self.recovery_plan_name, self.region_name).servers
        except Exception as error:  # the approver decides without this fact rather than not at all
            self.log.warning("drs.approval could not read native plan %s: %s", self.recovery_plan_name, error)
            return (f"**Could not read the native recovery plan {self.recovery_plan_name}** ({error}); check the "
                    "DRS console first.")
        return f"Servers of native plan {self.recovery_plan_name}: {', '.join(self.servers)}.\n\n" + \
            self._running_drills() + super().replacement_notice()

    def _running_drills(self) -> str:
        """The drill executions approving will cancel (the start task does: a recovery goes first)."""
        try:
            plans = DrsRecoveryPlanHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name)
            plan = plans.find_plan(self.recovery_plan_name)
            executions = DrsPlanExecutionHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name)
            drills = [e for e in executions.active_executions(plan["recoveryPlanArn"]) if e.get("mode") == "DRILL"]
        except Exception as error:  # the approver decides without this fact rather than not at all
            self.log.warning("drs.approval could not read native plan executions: %s", error)
            return ""
        return "".join(f"**A drill of this plan is running** ({e['recoveryPlanExecutionArn']}, started "
                       f"{e.get('startedAt')}): approving cancels it first.\n\n" for e in drills)


class NativePlanPreflightOperator(PlanPreflightOperator):
    """Preflight of a native plan: resolve the plan by name (missing or INVALID stops the run), take
    each server step as a wave, then the wave plan's checks on those servers (readiness, launch
    safety, point in time). Returns ``{step name: [server ids]}``; XCom ``native_plan`` holds the
    plan (name, ARN, steps, optional servers)."""

    def __init__(self, *, recovery_plan_name: str, **kwargs: Any):
        super().__init__(waves={}, **kwargs)
        self.recovery_plan_name = recovery_plan_name

    def execute(self, context: Context) -> dict[str, list[str]]:
        require_native_recovery_plans(f"Preflight of plan {self.plan_name}")
        self.require_connection()
        plans = DrsRecoveryPlanHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name,
                                    verify=self.verify, config=self.botocore_config)
        try:
            plan = resolve_native_plan(plans, self.recovery_plan_name, self.hook.conn_region_name)
        except DrsNativePlanUnavailable as unavailable:
            raise AirflowFailException(f"Preflight of plan {self.plan_name}: {unavailable}") from unavailable
        self.log.info("drs.preflight plan=%s native_plan=%s arn=%s steps=%s", self.plan_name, plan.name, plan.arn,
                      ",".join(plan.steps))
        context["ti"].xcom_push(key=NATIVE_PLAN, value=plan.as_dict())
        self.waves = {step: {"servers": servers, "tag_groups": {}} for step, servers in plan.steps.items()}
        return super().execute(context)


class NativeDrillCleanupOperator(DrillCleanupOperator):
    """Drill cleanup of a native plan. First the execution is cancelled unless it is over, and
    awaited until it is (so it launches nothing more); then, as for waves, its launch jobs are
    awaited and exactly the drill instances they launched are terminated (a non-drill instance of
    those jobs stops the cleanup before anything is terminated). An execution the start task never
    recorded is found by its tags (this run)."""

    aws_hook_class = DrsPlanExecutionHook

    def __init__(self, *, start_task_id: str = START_NATIVE_PLAN, cancel_timeout: float = 3600.0, **kwargs: Any):
        super().__init__(wave_names=[], **kwargs)
        self.start_task_id = start_task_id
        self.cancel_timeout = cancel_timeout

    def _launch_jobs(self, context: Context) -> list[str]:
        ti = context["ti"]
        arn = ti.xcom_pull(task_ids=self.start_task_id)
        plan = ti.xcom_pull(task_ids=self.preflight_task_id, key=NATIVE_PLAN)
        if not arn and plan:
            found = self.hook.find_run_execution(plan["arn"], run_ref(context))
            arn = found["recoveryPlanExecutionArn"] if found else None
            if arn:
                self.log.warning("drs.cleanup found unrecorded execution=%s of this run", arn)
        if not arn:
            return []
        ended = self.hook.cancel_and_settle(arn, self.min_poll_interval, self.cancel_timeout)
        self.log.info("drs.cleanup execution=%s status=%s", arn, ended.get("status"))
        return self.hook.execution_job_ids(arn)


class NativePlanReportOperator(PlanReportOperator):
    """The run report of a native plan: each server step as a wave (its servers, job, per-server
    results and timeline, judged against the plan's RTO like waves), and ``native_plan``: the plan,
    the execution ARN and status, and every step (wait steps too)."""

    def _wave_entries(self, ti: Any, states: Mapping[str, str | None],
                      resolved: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        execution = ti.xcom_pull(task_ids=WAIT_FOR_NATIVE_PLAN, key=NATIVE_EXECUTION)
        plan = ti.xcom_pull(task_ids=PREFLIGHT, key=NATIVE_PLAN) or {}
        replaced = list(ti.xcom_pull(task_ids=START_NATIVE_PLAN, key=REPLACED) or [])
        run_state = wave_state({t: states.get(t) for t in (START_NATIVE_PLAN, WAIT_FOR_NATIVE_PLAN)})
        if execution:
            steps = [s for s in execution["steps"] if s["kind"] == "servers"]
        else:  # the wait never read the execution: the plan's steps, nothing launched on record
            steps = [{"name": n, "servers": s, "optional": [o for o in plan.get("optional", []) if o in s],
                      "jobs": [], "status": None} for n, s in (plan.get("steps") or {}).items()]
        results = (execution or {}).get("results") or {}
        waves, previous = [], []
        for step in steps:
            step_results = {sid: results[sid] for sid in step["servers"] if sid in results}
            waves.append({"name": step["name"], "depends_on": previous, "optional": list(step["optional"]),
                          "servers": resolved.get(step["name"], step["servers"]),
                          "job": step["jobs"][0] if step["jobs"] else None, "post_tasks": [],
                          "post_actions_finished": [], "gate": None,
                          "state": _STEP_STATES.get(step["status"] or "", run_state),
                          "results": step_results or None})
            previous = [step["name"]]
        return waves, replaced

    def _add_to_report(self, report: dict[str, Any], ti: Any) -> None:
        execution = ti.xcom_pull(task_ids=WAIT_FOR_NATIVE_PLAN, key=NATIVE_EXECUTION) or {}
        plan = ti.xcom_pull(task_ids=PREFLIGHT, key=NATIVE_PLAN) or {}
        arn = execution.get("execution_arn") or ti.xcom_pull(task_ids=START_NATIVE_PLAN)
        report["native_plan"] = {
            "name": plan.get("name"), "arn": plan.get("arn"), "execution_arn": arn,
            "status": execution.get("status"), "error": execution.get("error"),
            "started_at": execution.get("started_at"), "completed_at": execution.get("completed_at"),
            "steps": [{k: s.get(k) for k in ("name", "index", "status", "kind", "wait_minutes", "job_ids", "error")}
                      for s in execution.get("steps", [])],
            "summary": f"ran as DRS native recovery plan {plan.get('name')} (execution {arn or 'not started'})",
        }
