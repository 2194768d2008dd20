"""DrsRecoveryPlanExecutionSensor: wait for a DRS native recovery plan execution and judge it per
server, as a wave is judged, not by the execution's status alone."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor
from airflow.providers.amazon.aws.utils import validate_execute_complete_event
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from airflow_provider_drs.hooks.drs_plan_executions import DrsPlanExecutionHook
from airflow_provider_drs.hooks.drs_verdict import judge_results
from airflow_provider_drs.operators.launch_safety import run_ref
from airflow_provider_drs.plan_tasks import NATIVE_EXECUTION, RESULTS
from airflow_provider_drs.triggers.native_plan import DrsRecoveryPlanExecutionTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context


class DrsRecoveryPlanExecutionSensor(AwsBaseSensor[DrsPlanExecutionHook]):
    """
    Wait (always in the triggerer) for a native recovery plan execution to end, then read its steps,
    their DRS jobs, the jobs' logs and the recovery instances, and judge every server: a CRITICAL
    server that did not launch fails the task (no retry: the execution is over), an OPTIONAL one
    warns. An execution that ended FAILED or CANCELLED fails the task too, even if every listed
    server launched (a step may have failed before its servers were listed).

    Pushed before judging, so cleanup and the report see a failed execution's servers: XCom
    ``native_execution`` (the execution, its steps: name, status, job ids, servers; and per server
    the result of hooks.drs_results plus step, impact_level and job_id) and ``results`` (per server).
    Every job of the execution is tagged with this run as soon as the trigger sees it (it wakes the
    sensor, which tags and waits again), as the wave operator tags its jobs, so the launch-safety
    rules of other runs know whose instances these are while the execution still runs.

    :param execution_arn: the execution (the start operator's XCom).
    :param poll_interval: seconds between reads of the execution (one call each).
    """

    aws_hook_class = DrsPlanExecutionHook
    template_fields = aws_template_fields("execution_arn")
    ui_color = "#f3e5ab"

    def __init__(self, *, execution_arn: str, poll_interval: float = 30.0, max_consecutive_errors: int = 8,
                 **kwargs: Any):
        kwargs.setdefault("poke_interval", poll_interval)
        super().__init__(**kwargs)
        self.execution_arn = execution_arn
        self.poll_interval = poll_interval
        self.max_consecutive_errors = max_consecutive_errors

    def execute(self, context: Context, claimed_jobs: list[str] | None = None) -> Any:
        self.defer(
            trigger=DrsRecoveryPlanExecutionTrigger(
                execution_arn=self.execution_arn, poll_interval=self.poll_interval,
                max_consecutive_errors=self.max_consecutive_errors, claimed_jobs=claimed_jobs,
                **DrsRecoveryPlanExecutionTrigger.connection_of(self)),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout) if self.timeout else None,
        )

    def poke(self, context: Context) -> bool:  # never called: the sensor always defers
        raise NotImplementedError("DrsRecoveryPlanExecutionSensor always defers")

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        event = validate_execute_complete_event(event)
        if event.get("status") == "new_jobs":  # claim them for this run while the execution goes on
            self._tag_jobs(context, event["job_ids"])
            self.execute(context, claimed_jobs=event["job_ids"])  # defers again: never returns
        if event.get("status") != "success":
            raise AirflowException(f"Waiting for execution {self.execution_arn} failed: {event.get('message')}")
        folded = self.hook.execution_results(self.execution_arn)
        self._claim_jobs(context, folded)
        ti = context.get("ti")
        if ti is not None:
            ti.xcom_push(key=NATIVE_EXECUTION, value=folded)
            ti.xcom_push(key=RESULTS, value=folded["results"])
        results = folded["results"]
        optional = [sid for sid, r in results.items() if r.get("impact_level") == "OPTIONAL"]
        job_ids = sorted({j for step in folded["steps"] for j in step["job_ids"]}) or [self.execution_arn]
        for step in folded["steps"]:
            self.log.info("drs.plan_step execution=%s step=%s status=%s jobs=%s servers=%d", self.execution_arn,
                          step["name"], step["status"], ",".join(step["job_ids"]), len(step["servers"]))
        judge_results(self, job_ids, results, optional)
        if folded["status"] != "COMPLETED":
            raise AirflowFailException(
                f"DRS native recovery plan execution {self.execution_arn} ended {folded['status']}"
                f"{': ' + folded['error'] if folded.get('error') else ''}. Steps: "
                + "; ".join(f"{s['name']} {s['status']}" for s in folded["steps"]))
        return folded

    def _claim_jobs(self, context: Context, folded: dict[str, Any]) -> None:
        self._tag_jobs(context, sorted({j for step in folded["steps"] for j in step["job_ids"]}))

    def _tag_jobs(self, context: Context, job_ids: list[str]) -> None:
        """Tag the execution's jobs with this run; a failure is logged, never raised."""
        if context.get("dag_run") is None or not job_ids:
            return
        tags = run_ref(context).tags()
        try:
            jobs = self.hook.describe_jobs(job_ids)
        except Exception as error:
            self.log.error("drs.tag_job_failed jobs=%s: %s", ",".join(job_ids), error)
            return
        for job in jobs.values():
            try:
                self.hook.tag_job(job, tags)
            except Exception as error:
                self.log.error("drs.tag_job_failed job_id=%s: %s", job.get("jobID"), error)
