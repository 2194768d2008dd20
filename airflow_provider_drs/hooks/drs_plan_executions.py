"""Executions of DRS native recovery plans: start (adopting this run's own), read, cancel, and fold an
execution's steps and jobs into per-server results like a wave's.

The DRS facts behind the rules (botocore's drs model, 2020-02-26):
- StartRecoveryPlanExecution takes a ``clientToken`` (an idempotency token, at most 64 characters):
  the same token answers the same execution, so a retried task derives it from its DAG run and
  never starts a second one. The execution's ``tags`` name the run too (RunRef), for the lookup
  that finds this run's execution when the token's window has passed.
- An execution is CREATED -> IN_PROGRESS -> COMPLETED | FAILED, or CANCELLING -> CANCELLED. Its
  status is not the verdict: each server step lists its servers (``serverArn``, ``impactLevel``
  CRITICAL | OPTIONAL) with the DRS ``jobID`` that launched them, and each server is judged from
  that job's ``participatingServers[].launchStatus`` as a wave's are (hooks.drs_results).
- Only GetRecoveryPlanExecution answers the execution's tags; ListRecoveryPlanExecutions does not.
- DRS never terminates what an execution launched: a drill's cleanup is ours.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from airflow_provider_drs.drs_api_support import require_native_recovery_plans
from airflow_provider_drs.exceptions import DrsNativePlanUnavailable
from airflow_provider_drs.hooks.drs import DrsHook, _refused
from airflow_provider_drs.hooks.drs_results import empty_result, fold_job, job_summary
from airflow_provider_drs.hooks.drs_safety import RunRef

TERMINAL_EXECUTION_STATUSES = frozenset({"COMPLETED", "FAILED", "CANCELLED"})
ACTIVE_EXECUTION_STATUSES = frozenset({"CREATED", "IN_PROGRESS", "CANCELLING"})
CLIENT_TOKEN_MAX = 64


def execution_client_token(run: RunRef, plan_arn: str, mode: str) -> str:
    """The idempotency token of one DAG run's execution of one plan: the same on every try."""
    digest = hashlib.sha256(f"{run.dag_id}\n{run.run_id}\n{plan_arn}\n{mode}".encode()).hexdigest()
    return f"airflow-{digest}"[:CLIENT_TOKEN_MAX]


def server_id_of(server_arn: str) -> str:
    """``arn:aws:drs:REGION:ACCOUNT:source-server/s-...`` -> ``s-...`` (an id is kept as it is)."""
    return server_arn.rsplit("/", 1)[-1]


@dataclass
class NativePlan:
    """A native recovery plan as a run needs it: its ARN and its server steps' servers, in order."""

    name: str
    arn: str
    steps: dict[str, list[str]] = field(default_factory=dict)  # server step name -> server ids
    optional: list[str] = field(default_factory=list)

    @property
    def servers(self) -> list[str]:
        return list(dict.fromkeys(s for servers in self.steps.values() for s in servers))

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "arn": self.arn, "steps": self.steps, "optional": self.optional,
                "servers": self.servers}


def resolve_native_plan(plans: Any, name: str, region: str | None) -> NativePlan:
    """The plan named ``name`` through ``plans`` (a DrsRecoveryPlanHook); raises
    DrsNativePlanUnavailable, saying what to do, when it is missing or INVALID."""
    summary = plans.find_plan(name)
    if summary is None:
        raise DrsNativePlanUnavailable(
            f"DRS native recovery plan {name!r} not found in {region}. Nothing was launched. Check the plan's "
            "name and region (aws drs list-recovery-plans), or create it (drs-plan export-native).")
    if summary.get("status") == "INVALID":
        raise DrsNativePlanUnavailable(
            f"DRS native recovery plan {name!r} ({summary['recoveryPlanArn']}) is INVALID: DRS will not run it. "
            "Nothing was launched. Fix its steps in the DRS console (a deleted or disconnected source server, "
            "say), then run again.")
    plan = NativePlan(name, summary["recoveryPlanArn"])
    for step in plans.plan_steps(plan.arn):
        servers = ((step.get("configuration") or {}).get("serverStepConfiguration") or {}).get("servers")
        if servers is None:
            continue  # a wait step
        plan.steps[step["stepName"]] = [server_id_of(s["serverArn"]) for s in servers]
        plan.optional += [server_id_of(s["serverArn"]) for s in servers if s.get("impactLevel") == "OPTIONAL"]
    return plan


def execution_summary(execution: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a RecoveryPlanExecution that the tasks and the report need."""
    error = execution.get("errorDetail") or {}
    return {
        "execution_arn": execution.get("recoveryPlanExecutionArn"),
        "plan_arn": execution.get("recoveryPlanArn"),
        "mode": execution.get("mode"),
        "status": execution.get("status"),
        "started_at": execution.get("startedAt"),
        "completed_at": execution.get("completedAt"),
        "error": f"{error.get('code')}: {error.get('message')}" if error else None,
    }


def fold_execution(
    execution: Mapping[str, Any],
    steps: Sequence[Mapping[str, Any]],
    jobs: Mapping[str, Mapping[str, Any]],
    log_items: Mapping[str, Sequence[Mapping[str, Any]]],
    recovery_instances: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """An execution as per-step, per-server results. Pure: every argument is a DRS answer.

    :param steps: RecoveryPlanExecutionStep items (GetRecoveryPlanExecutionStep), any order.
    :param jobs: job id -> Job (DescribeJobs) of the jobs the server steps name.
    :param log_items: job id -> its DescribeJobLogItems items.
    :param recovery_instances: DescribeRecoveryInstances items of the steps' servers.
    :return: ``execution_summary`` plus ``steps`` (name, index, status, kind, wait_minutes, job_ids,
        servers: the server ids) and ``results`` (server id -> a wave's per-server result, plus
        ``step``, ``impact_level`` and ``job_id``). A server whose step launched nothing (skipped,
        not started, cancelled) is PENDING with ``failed_phase`` saying why, so a verdict counts it.
    """
    folded_steps: list[dict[str, Any]] = []
    results: dict[str, dict[str, Any]] = {}
    for step in sorted(steps, key=lambda s: s.get("stepIndex", 0)):
        config = step.get("configuration") or {}
        servers = (config.get("executionServerStepConfiguration") or {}).get("servers") or []
        wait = config.get("waitStepConfiguration")
        error = step.get("errorDetail") or {}
        job_ids = sorted({s["jobID"] for s in servers if s.get("jobID")})
        folded = {
            "name": step.get("stepName"),
            "index": step.get("stepIndex"),
            "status": step.get("status"),
            "kind": "wait" if wait else "servers",
            "wait_minutes": (wait or {}).get("waitDurationMinutes"),
            "job_ids": job_ids,
            "servers": [server_id_of(s["serverArn"]) for s in servers],
            "optional": [server_id_of(s["serverArn"]) for s in servers if s.get("impactLevel") == "OPTIONAL"],
            "error": f"{error.get('code')}: {error.get('message')}" if error else None,
            "started_at": step.get("createdAt"),
            "updated_at": step.get("updatedAt"),
        }
        folded["jobs"] = [job_summary(jobs[j]) for j in job_ids if j in jobs]
        by_job = {j: fold_job(jobs[j], log_items.get(j, ()), recovery_instances) for j in job_ids if j in jobs}
        for server in servers:
            sid = server_id_of(server["serverArn"])
            job_id = server.get("jobID")
            result = (by_job.get(job_id) or {}).get(sid)
            if result is None:
                result = empty_result(sid)
                result["failed_phase"] = f"NOT_LAUNCHED (step {folded['name']} {folded['status']})"
            results[sid] = {**result, "step": folded["name"], "impact_level": server.get("impactLevel", "CRITICAL"),
                            "job_id": job_id}
        folded_steps.append(folded)
    return {**execution_summary(execution), "steps": folded_steps, "results": results}


class DrsPlanExecutionHook(DrsHook):
    """DrsHook plus the execution calls of DRS native recovery plans. Every call path starts with
    ``require_native_recovery_plans``: an older botocore fails here with what to upgrade."""

    def _native(self, what: str) -> Any:
        require_native_recovery_plans(what)
        return self.conn

    # --- executions ------------------------------------------------------------------------------
    def start_execution(self, plan_arn: str, mode: str, run: RunRef,
                        snapshot_ids: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Start (or, same run, same token, get back) an execution of the plan in DRILL or RECOVERY
        mode; servers in ``snapshot_ids`` launch from that recovery snapshot."""
        conn = self._native("Starting a DRS native recovery plan")
        request: dict[str, Any] = {"recoveryPlanArn": plan_arn, "mode": mode,
                                   "clientToken": execution_client_token(run, plan_arn, mode), "tags": run.tags()}
        if snapshot_ids:
            request["sourceServers"] = [{"sourceServerID": s, "recoverySnapshotID": snap}
                                        for s, snap in sorted(snapshot_ids.items())]
        try:
            execution = conn.start_recovery_plan_execution(**request)["recoveryPlanExecution"]
        except ClientError as error:
            raise _refused(error, "StartRecoveryPlanExecution", plan_arn) from error
        self.log.info("drs.plan_execution_started plan=%s execution=%s mode=%s status=%s", plan_arn,
                      execution["recoveryPlanExecutionArn"], mode, execution.get("status"))
        return execution

    def get_execution(self, execution_arn: str) -> dict[str, Any]:
        conn = self._native("Reading a DRS native recovery plan execution")
        return conn.get_recovery_plan_execution(recoveryPlanExecutionArn=execution_arn)["recoveryPlanExecution"]

    def list_executions(self, plan_arn: str, status: str | None = None) -> list[dict[str, Any]]:
        """Execution summaries of the plan (no tags: see get_execution), all pages."""
        conn = self._native("Listing DRS native recovery plan executions")
        request: dict[str, Any] = {"recoveryPlanArn": plan_arn}
        if status:
            request["status"] = status
        executions: list[dict[str, Any]] = []
        while True:
            page = conn.list_recovery_plan_executions(**request)
            executions.extend(page.get("recoveryPlanExecutions", []))
            if not page.get("nextToken"):
                return executions
            request["nextToken"] = page["nextToken"]

    def active_executions(self, plan_arn: str) -> list[dict[str, Any]]:
        """The plan's executions that are not over, each read in full (with its tags)."""
        return [self.get_execution(e["recoveryPlanExecutionArn"]) for e in self.list_executions(plan_arn)
                if e.get("status") in ACTIVE_EXECUTION_STATUSES]

    def find_run_execution(self, plan_arn: str, run: RunRef) -> dict[str, Any] | None:
        """This run's execution of the plan, running or over (its tags name the run), if any."""
        for summary in self.list_executions(plan_arn):
            execution = self.get_execution(summary["recoveryPlanExecutionArn"])
            if RunRef.from_tags(execution.get("tags")) == run:
                return execution
        return None

    def cancel_execution(self, execution_arn: str) -> dict[str, Any]:
        """Ask DRS to stop the execution (it goes CANCELLING, then CANCELLED): no further step starts."""
        conn = self._native("Cancelling a DRS native recovery plan execution")
        try:
            execution = conn.cancel_recovery_plan_execution(recoveryPlanExecutionArn=execution_arn)["recoveryPlanExecution"]
        except ClientError as error:
            raise _refused(error, "CancelRecoveryPlanExecution", execution_arn) from error
        self.log.warning("drs.plan_execution_cancelled execution=%s status=%s", execution_arn, execution.get("status"))
        return execution

    def cancel_and_settle(self, execution_arn: str, poll_interval: float = 5.0, timeout: float = 3600.0) -> dict[str, Any]:
        """Cancel the execution unless it is over, then wait until it is (CANCELLING ends when the
        running step's job ends): afterwards it launches nothing more. Returns it as it ended, or
        as it was when ``timeout`` ran out (the caller goes on with what exists)."""
        execution = self.get_execution(execution_arn)
        if execution.get("status") in ("CREATED", "IN_PROGRESS"):
            try:
                execution = self.cancel_execution(execution_arn)
            except Exception as error:  # it may have ended meanwhile: read it again below
                self.log.warning("drs.plan_execution_cancel_failed execution=%s: %s", execution_arn, error)
        deadline = time.monotonic() + timeout
        while execution.get("status") not in TERMINAL_EXECUTION_STATUSES and time.monotonic() < deadline:
            time.sleep(poll_interval)
            execution = self.get_execution(execution_arn)
        return execution

    # --- steps -----------------------------------------------------------------------------------
    def execution_steps(self, execution_arn: str) -> list[dict[str, Any]]:
        """Every step of the execution, each read in full (the servers and their job ids)."""
        conn = self._native("Reading the steps of a DRS native recovery plan execution")
        request: dict[str, Any] = {"recoveryPlanExecutionArn": execution_arn}
        summaries: list[dict[str, Any]] = []
        while True:
            page = conn.list_recovery_plan_execution_steps(**request)
            summaries.extend(page.get("recoveryPlanExecutionSteps", []))
            if not page.get("nextToken"):
                break
            request["nextToken"] = page["nextToken"]
        steps = []
        for summary in summaries:
            if "executionServerStepConfiguration" in (summary.get("configuration") or {}):
                summary = {**summary, **conn.get_recovery_plan_execution_step(
                    recoveryPlanExecutionStepArn=summary["recoveryPlanExecutionStepArn"])["recoveryPlanExecutionStep"]}
            steps.append(summary)
        return steps

    def execution_job_ids(self, execution_arn: str) -> list[str]:
        """Every DRS job the execution's server steps started so far."""
        return sorted({s["jobID"] for step in self.execution_steps(execution_arn)
                       for s in ((step.get("configuration") or {}).get("executionServerStepConfiguration") or {})
                       .get("servers", []) if s.get("jobID")})

    def execution_results(self, execution_arn: str) -> dict[str, Any]:
        """The execution, its steps and every server's result (see fold_execution)."""
        execution = self.get_execution(execution_arn)
        steps = self.execution_steps(execution_arn)
        job_ids = sorted({s["jobID"] for step in steps
                          for s in ((step.get("configuration") or {}).get("executionServerStepConfiguration") or {})
                          .get("servers", []) if s.get("jobID")})
        jobs = self.describe_jobs(job_ids) if job_ids else {}
        log_items = {job_id: self.get_job_log_items(job_id) for job_id in jobs}
        servers = sorted({s["sourceServerID"] for job in jobs.values() for s in job.get("participatingServers", [])})
        instances = self.describe_recovery_instances(source_server_ids=servers) if servers else []
        return fold_execution(execution, steps, jobs, log_items, instances)

    # --- for triggers ----------------------------------------------------------------------------
    async def get_execution_async(self, execution_arn: str, client: Any) -> dict[str, Any]:
        require_native_recovery_plans("Waiting for a DRS native recovery plan execution")
        answer = await client.get_recovery_plan_execution(recoveryPlanExecutionArn=execution_arn)
        return answer["recoveryPlanExecution"]

    async def execution_job_ids_async(self, execution_arn: str, client: Any) -> list[str]:
        """The jobs the execution's server steps started so far, from the step summaries (one page:
        a plan has at most 20 steps); a started step whose summary lists no job is read in full."""
        answer = await client.list_recovery_plan_execution_steps(recoveryPlanExecutionArn=execution_arn)
        job_ids: set[str] = set()
        for step in answer.get("recoveryPlanExecutionSteps", []):
            servers = ((step.get("configuration") or {}).get("executionServerStepConfiguration") or {}).get("servers")
            if servers is None:
                continue  # a wait step
            found = {s["jobID"] for s in servers if s.get("jobID")}
            if not found and step.get("status") not in ("NOT_STARTED", "SKIPPED"):
                full = await client.get_recovery_plan_execution_step(
                    recoveryPlanExecutionStepArn=step["recoveryPlanExecutionStepArn"])
                configuration = full["recoveryPlanExecutionStep"].get("configuration") or {}
                found = {s["jobID"] for s in (configuration.get("executionServerStepConfiguration") or {})
                         .get("servers", []) if s.get("jobID")}
            job_ids |= found
        return sorted(job_ids)
