"""Executions of DRS native recovery plans: the state machine, driven by ``DrsState.advance``.

Execution: CREATED -> IN_PROGRESS -> COMPLETED | FAILED, or CANCELLING -> CANCELLED. Steps run in
plan order, one at a time, each a snapshot of the plan's step taken at start (later plan edits do
not change a running execution). A server step starts ONE job through StartRecovery (so faults,
snapshots, launch events and DescribeJobs see it like any other) and is EXECUTING until that job is
COMPLETED; it then COMPLETES when every CRITICAL server LAUNCHED, else FAILS (OPTIONAL failures do
not count). A wait step is WAITING for its minutes x time_scale, then COMPLETED.

Simulator choices where the DRS docs are silent (docs/simulator-recovery-plans.md):
- nothing moves between requests: a step that ends starts the next one at the next request
  (every request advances the region), so a polling client sees the execution progress;
- TIMED_OUT is never produced; a step whose StartRecovery is refused (server busy in another job,
  snapshot gone) FAILS at once with that refusal as its errorDetail;
- a retry launches again only the step's servers that did not LAUNCH, in one new job;
- cancel of a FAILED execution closes it (CANCELLED); remaining steps become SKIPPED; a WAITING
  step is cut short (SKIPPED); a running server step keeps its job and its verdict, and launched
  instances stay (DRS never terminates what a plan launched).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import errors
from .ids import arn, iso, recovery_plan_execution_id, recovery_plan_execution_step_id
from .recovery_plans import TERMINAL, RecoveryPlan, server_id_of

if TYPE_CHECKING:
    from .state import DrsState, RegionState

SETTLED_STEP = {"COMPLETED", "SKIPPED"}
SKIPPABLE = {"NOT_STARTED", "FAILED", "TIMED_OUT"}


@dataclass
class ExecutionStep:
    arn: str
    index: int                            # 1-based
    name: str
    servers: list[dict] | None            # server step: [{serverArn, impactLevel, jobID?}]
    wait_minutes: int | None              # wait step
    created: float
    updated: float
    status: str = "NOT_STARTED"
    attempt: int = 1
    job_id: str | None = None             # the running (or last) job of this step
    wait_until: float = 0.0
    error: dict | None = None

    def configuration(self) -> dict:
        if self.servers is not None:
            return {"executionServerStepConfiguration": {"servers": [dict(s) for s in self.servers]}}
        return {"waitStepConfiguration": {"waitDurationMinutes": self.wait_minutes}}


@dataclass
class Execution:
    arn: str
    plan_arn: str
    plan_name: str
    mode: str                              # DRILL | RECOVERY
    started: float
    steps: list[ExecutionStep]
    snapshots: dict[str, str]              # server id -> recoverySnapshotID asked for at start
    tags: dict[str, str] = field(default_factory=dict)
    status: str = "CREATED"
    completed: float | None = None
    error: dict | None = None


class RecoveryPlanExecutionOperations:
    """Execution operations of ``DrsState`` (a mixin: they share its lock, regions and jobs)."""

    # -- lookups ------------------------------------------------------------------------------------
    def _execution(self: DrsState, state: RegionState, execution_arn: str) -> Execution:
        execution = state.plans.executions.get(execution_arn)
        if execution is None:
            raise errors.not_found(f"Recovery plan execution {execution_arn} not found in {state.name}",
                                   execution_arn, "RECOVERY_PLAN_EXECUTION")
        return execution

    def _execution_step(self: DrsState, state: RegionState, step_arn: str) -> tuple[Execution, ExecutionStep]:
        execution = state.plans.executions.get(step_arn.split("/step/", 1)[0])
        for step in execution.steps if execution else ():
            if step.arn == step_arn:
                return execution, step
        raise errors.not_found(f"Recovery plan execution step {step_arn} not found in {state.name}", step_arn,
                               "RECOVERY_PLAN_EXECUTION_STEP")

    # -- operations ---------------------------------------------------------------------------------
    def start_recovery_plan_execution(self: DrsState, region: str, body: dict) -> dict:
        with self.lock:
            state, now = self.region(region), time.time()
            store = state.plans
            replayed = self._replayed(store, "StartRecoveryPlanExecution", body)
            if replayed:
                return {"recoveryPlanExecution": self._execution_api(self._execution(state, replayed))}
            plan = self._plan(state, body["recoveryPlanArn"])
            self._refuse_while_running(state, plan, f"start recovery plan {plan.name}")
            if self._plan_status(state, plan) != "ACTIVE":
                raise errors.validation(f"Recovery plan {plan.name} is INVALID: it has no server step to run; add "
                                        "one with CreateRecoveryPlanStep", "recoveryPlanArn")
            in_plan = {s for step in plan.steps for s in step.server_ids()}
            snapshots = {}
            for item in body.get("sourceServers") or ():
                if item["sourceServerID"] not in in_plan:
                    raise errors.validation(f"Source server {item['sourceServerID']} is not in recovery plan "
                                            f"{plan.name}", "sourceServers")
                snapshots[item["sourceServerID"]] = item["recoverySnapshotID"]
            self.requested_snapshots(state, body.get("sourceServers") or [], now)  # refuses an unknown snapshot now
            execution = self._new_execution(state, plan, body["mode"], snapshots, body.get("tags") or {}, now)
            store.executions[execution.arn] = execution
            self._remember(store, "StartRecoveryPlanExecution", body, execution.arn)
            return {"recoveryPlanExecution": self._execution_api(execution)}

    def _new_execution(self: DrsState, state: RegionState, plan: RecoveryPlan, mode: str, snapshots: dict,
                       tags: dict, now: float) -> Execution:
        execution_arn = arn(state.name, "recovery-plan-execution", recovery_plan_execution_id(self.rng))
        steps = []
        for index, step in enumerate(plan.steps, 1):
            server_config = step.configuration.get("serverStepConfiguration")
            servers = None if server_config is None else [
                {"serverArn": s["serverArn"], "impactLevel": s.get("impactLevel", "CRITICAL")}
                for s in server_config["servers"]]
            wait = step.configuration.get("waitStepConfiguration", {}).get("waitDurationMinutes")
            step_arn = f"{execution_arn}/step/{recovery_plan_execution_step_id(self.rng)}"
            steps.append(ExecutionStep(step_arn, index, step.name, servers, wait, now, now))
        return Execution(execution_arn, plan.arn, plan.name, mode, now, steps, snapshots, dict(tags))

    def get_recovery_plan_execution(self: DrsState, region: str, body: dict) -> dict:
        with self.lock:
            state = self.region(region)
            execution = self._execution(state, body["recoveryPlanExecutionArn"])
            return {"recoveryPlanExecution": self._execution_api(execution)}

    def list_recovery_plan_executions(self: DrsState, region: str, body: dict) -> dict:
        from .recovery_plans import _renamed
        from .state import paginate

        with self.lock:
            state = self.region(region)
            selected = [e for e in state.plans.executions.values()
                        if body.get("recoveryPlanArn") in (None, e.plan_arn) and body.get("status") in (None, e.status)]
            page = paginate(selected, body, "ListRecoveryPlanExecutions", self._execution_summary)
            return _renamed(page, "recoveryPlanExecutions")

    def cancel_recovery_plan_execution(self: DrsState, region: str, body: dict) -> dict:
        with self.lock:
            state, now = self.region(region), time.time()
            execution = self._execution(state, body["recoveryPlanExecutionArn"])
            if execution.status in ("COMPLETED", "CANCELLED", "CANCELLING"):
                raise errors.conflict(f"Recovery plan execution {execution.arn} is {execution.status}: nothing to "
                                      "cancel", execution.arn, "RECOVERY_PLAN_EXECUTION")
            running = next((s for s in execution.steps if s.status == "EXECUTING"), None)
            if running is not None:
                execution.status = "CANCELLING"  # until the running step's job ends (advance)
            else:
                self._finish_cancel(execution, now)
            return {"recoveryPlanExecution": self._execution_api(execution)}

    def delete_recovery_plan_execution(self: DrsState, region: str, body: dict) -> dict:
        with self.lock:
            state = self.region(region)
            execution = self._execution(state, body["recoveryPlanExecutionArn"])
            if execution.status not in TERMINAL:
                raise errors.conflict(f"Recovery plan execution {execution.arn} is {execution.status}: only an ended "
                                      "execution (COMPLETED, FAILED, CANCELLED) can be deleted; cancel it first",
                                      execution.arn, "RECOVERY_PLAN_EXECUTION")
            del state.plans.executions[execution.arn]
            return {"recoveryPlanExecutionArn": execution.arn}

    def list_recovery_plan_execution_steps(self: DrsState, region: str, body: dict) -> dict:
        from .recovery_plans import _renamed
        from .state import paginate

        with self.lock:
            execution = self._execution(self.region(region), body["recoveryPlanExecutionArn"])
            wanted = (body.get("filter") or {}).get("status")
            steps = [s for s in execution.steps if wanted in (None, s.status)]
            page = paginate(steps, body, "ListRecoveryPlanExecutionSteps", self._execution_step_summary)
            return _renamed(page, "recoveryPlanExecutionSteps")

    def get_recovery_plan_execution_step(self: DrsState, region: str, body: dict) -> dict:
        with self.lock:
            _, step = self._execution_step(self.region(region), body["recoveryPlanExecutionStepArn"])
            return {"recoveryPlanExecutionStep": self._execution_step_api(step)}

    def retry_recovery_plan_execution_step(self: DrsState, region: str, body: dict) -> dict:
        with self.lock:
            state, now = self.region(region), time.time()
            execution, step = self._execution_step(state, body["recoveryPlanExecutionStepArn"])
            if step.servers is None or step.status != "FAILED":
                raise errors.conflict(f"Step {step.name} is a {'server' if step.servers is not None else 'wait'} step "
                                      f"in status {step.status}: only a FAILED server step can be retried",
                                      step.arn, "RECOVERY_PLAN_EXECUTION_STEP")
            if execution.status != "FAILED":
                raise errors.conflict(f"Recovery plan execution {execution.arn} is {execution.status}, not FAILED",
                                      execution.arn, "RECOVERY_PLAN_EXECUTION")
            self._refuse_while_running(state, self._plan_or_stub(state, execution), "retry the step")
            step.attempt += 1
            step.error = None
            execution.status, execution.completed, execution.error = "IN_PROGRESS", None, None
            self._start_server_step(state, execution, step, now, only_unlaunched=True)
            if step.status == "FAILED":  # refused at once (a server busy in another job, say)
                self._fail_execution(execution, step, now)
            return {"recoveryPlanExecutionStep": self._execution_step_api(step)}

    def update_recovery_plan_execution_step(self: DrsState, region: str, body: dict) -> dict:
        with self.lock:
            state, now = self.region(region), time.time()
            execution, step = self._execution_step(state, body["recoveryPlanExecutionStepArn"])
            if execution.status in ("COMPLETED", "CANCELLED", "CANCELLING"):
                raise errors.conflict(f"Recovery plan execution {execution.arn} is {execution.status}",
                                      execution.arn, "RECOVERY_PLAN_EXECUTION")
            if "servers" in body or "waitDurationMinutes" in body:
                self._update_pending_step(state, execution, step, body)
            if "status" in body:
                if body["status"] != "SKIPPED":
                    raise errors.validation("status can only be set to SKIPPED", "status")
                if step.status not in SKIPPABLE:
                    raise errors.conflict(f"Step {step.name} is {step.status}: only a NOT_STARTED, FAILED or TIMED_OUT "
                                          "step can be skipped", step.arn, "RECOVERY_PLAN_EXECUTION_STEP")
                was_failed = step.status != "NOT_STARTED"
                step.status, step.error = "SKIPPED", None
                if was_failed and execution.status == "FAILED":  # resumes at the following step
                    self._refuse_while_running(state, self._plan_or_stub(state, execution), "resume the execution")
                    execution.status, execution.completed, execution.error = "IN_PROGRESS", None, None
            step.updated = now
            return {"recoveryPlanExecutionStep": self._execution_step_api(step)}

    def _update_pending_step(self: DrsState, state: RegionState, execution: Execution, step: ExecutionStep,
                             body: dict) -> None:
        if step.status != "NOT_STARTED":
            raise errors.conflict(f"Step {step.name} is {step.status}: servers and waitDurationMinutes can only "
                                  "change before the step starts", step.arn, "RECOVERY_PLAN_EXECUTION_STEP")
        if "servers" in body:
            if step.servers is None:
                raise errors.validation(f"Step {step.name} is a wait step: it has no servers", "servers")
            others = {server_id_of(s["serverArn"]) for o in execution.steps if o is not step and o.servers
                      for s in o.servers}
            seen: set[str] = set()
            for item in body["servers"]:
                server_id = server_id_of(item["serverArn"])
                if item["serverArn"].split(":")[3] != state.name or server_id not in state.servers:
                    raise errors.validation(f"Source server {item['serverArn']} is not a source server of DRS in "
                                            f"{state.name}", "servers")
                if server_id in seen or server_id in others:
                    raise errors.validation(f"Source server {server_id} is already in this execution", "servers")
                seen.add(server_id)
            step.servers = [{"serverArn": s["serverArn"], "impactLevel": s.get("impactLevel", "CRITICAL")}
                            for s in body["servers"]]
        if "waitDurationMinutes" in body:
            if step.wait_minutes is None:
                raise errors.validation(f"Step {step.name} is a server step: it does not wait", "waitDurationMinutes")
            step.wait_minutes = body["waitDurationMinutes"]

    def _plan_or_stub(self: DrsState, state: RegionState, execution: Execution) -> RecoveryPlan:
        """The execution's plan, or a stand-in with its ARN when the plan was deleted since."""
        return state.plans.plans.get(execution.plan_arn) or RecoveryPlan(execution.plan_arn, execution.plan_name,
                                                                       None, 0, 0)

    # -- the state machine ---------------------------------------------------------------------------
    def advance_recovery_plans(self: DrsState, state: RegionState, now: float) -> None:
        for execution in list(state.plans.executions.values()):
            if execution.status not in TERMINAL:
                self._drive(state, execution, now)

    def _drive(self: DrsState, state: RegionState, execution: Execution, now: float) -> None:
        while execution.status not in TERMINAL:
            step = next((s for s in execution.steps if s.status not in SETTLED_STEP), None)
            if step is None:
                execution.status = "CANCELLED" if execution.status == "CANCELLING" else "COMPLETED"
                execution.completed = now
                return
            if step.status == "FAILED":
                return self._fail_execution(execution, step, now) if execution.status != "CANCELLING" \
                    else self._finish_cancel(execution, now)
            if execution.status == "CANCELLING" and step.status != "EXECUTING":
                return self._finish_cancel(execution, now)
            if step.status == "NOT_STARTED":
                execution.status = "IN_PROGRESS"
                if step.servers is None:
                    step.status, step.wait_until = "WAITING", now + step.wait_minutes * 60 * self.time_scale
                    step.updated = now
                else:
                    self._start_server_step(state, execution, step, now, only_unlaunched=False)
                continue
            if step.status == "WAITING":
                if now < step.wait_until:
                    return
                step.status, step.updated = "COMPLETED", step.wait_until
                continue
            if not self._settle_server_step(state, step, now):  # EXECUTING
                return

    def _start_server_step(self: DrsState, state: RegionState, execution: Execution, step: ExecutionStep,
                           now: float, only_unlaunched: bool) -> None:
        servers = step.servers
        if only_unlaunched:  # a retry: launch again what did not launch
            job = state.jobs_by_id.get(step.job_id or "")
            launched = {r.source_server_id for r in job.servers if r.outcome == "LAUNCHED"} if job else set()
            servers = [s for s in servers if server_id_of(s["serverArn"]) not in launched]
        requested = []
        for item in servers:
            server_id = server_id_of(item["serverArn"])
            entry = {"sourceServerID": server_id}
            if server_id in execution.snapshots:
                entry["recoverySnapshotID"] = execution.snapshots[server_id]
            requested.append(entry)
        step.updated = now
        try:
            job = self.start_recovery(state.name, {"sourceServers": requested,
                                                   "isDrill": execution.mode == "DRILL"})["job"]
        except errors.ApiError as err:
            step.status = "FAILED"
            step.error = {"code": err.code, "message": f"StartRecovery was refused: {err.message}"}
            return
        step.status, step.job_id = "EXECUTING", job["jobID"]
        for item in step.servers:
            if item in servers:
                item["jobID"] = job["jobID"]

    def _settle_server_step(self: DrsState, state: RegionState, step: ExecutionStep, now: float) -> bool:
        """The step's verdict once its job is COMPLETED; False while the job runs."""
        job = state.jobs_by_id[step.job_id]
        if job.status(now) != "COMPLETED":
            return False
        outcome = {}
        for item in step.servers:  # each server's last job in this step (a retry relaunches some)
            server_job = state.jobs_by_id[item["jobID"]]
            run = next(r for r in server_job.servers if r.source_server_id == server_id_of(item["serverArn"]))
            outcome[server_id_of(item["serverArn"])] = (item.get("impactLevel", "CRITICAL"), run.outcome)
        failed = sorted(s for s, (level, result) in outcome.items() if level == "CRITICAL" and result != "LAUNCHED")
        step.updated = job.ended
        if failed:
            step.status = "FAILED"
            step.error = {"code": "CRITICAL_SERVER_LAUNCH_FAILED",
                          "message": f"Critical source server(s) did not launch in job {job.job_id}: "
                                     f"{', '.join(failed)}; see DescribeJobLogItems for the cause"}
        else:
            step.status = "COMPLETED"
        return True

    def _fail_execution(self: DrsState, execution: Execution, step: ExecutionStep, now: float) -> None:
        execution.status, execution.completed = "FAILED", now
        execution.error = {"code": "STEP_FAILED",
                           "message": f"Step {step.index} ({step.name}) failed: {step.error['message']}"}

    def _finish_cancel(self: DrsState, execution: Execution, now: float) -> None:
        for step in execution.steps:
            if step.status in ("NOT_STARTED", "WAITING"):
                step.status, step.updated = "SKIPPED", now
        execution.status, execution.completed = "CANCELLED", now

    # -- response shapes ---------------------------------------------------------------------------
    def _execution_summary(self: DrsState, execution: Execution) -> dict:
        item = {"recoveryPlanExecutionArn": execution.arn, "recoveryPlanArn": execution.plan_arn,
                "mode": execution.mode, "status": execution.status, "startedAt": iso(execution.started)}
        if execution.error:
            item["errorDetail"] = dict(execution.error)
        return item

    def _execution_api(self: DrsState, execution: Execution) -> dict:
        item = {**self._execution_summary(execution), "tags": dict(execution.tags)}
        if execution.completed is not None:
            item["completedAt"] = iso(execution.completed)
        return item

    def _execution_step_summary(self: DrsState, step: ExecutionStep) -> dict:
        item = {"recoveryPlanExecutionStepArn": step.arn, "stepName": step.name, "stepIndex": step.index,
                "status": step.status, "configuration": step.configuration()}
        if step.error:
            item["errorDetail"] = dict(step.error)
        return item

    def _execution_step_api(self: DrsState, step: ExecutionStep) -> dict:
        return {**self._execution_step_summary(step), "attempt": step.attempt, "createdAt": iso(step.created),
                "updatedAt": iso(step.updated)}
