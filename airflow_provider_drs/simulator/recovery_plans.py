"""DRS native recovery plans: plans and their steps (Create/Get/Update/Delete/List, Reorder).

A plan is a straight line of at most 20 steps; a step either launches servers (1..100, each
CRITICAL or OPTIONAL) or waits (1..120 minutes). Executions of plans live in
recovery_plan_executions.py. Simulator choices where the DRS docs are silent:
- names are unique per region (plans) and per plan (steps): ConflictException;
- a source server appears at most once in a plan, across all its steps: ValidationException;
- a plan is INVALID while it has no server step (botocore's model: "INVALID means the plan has no
  SERVER type steps and cannot be executed"), ACTIVE otherwise; an INVALID plan cannot start;
- a step's type (server or wait) never changes (UpdateRecoveryPlanStep: ValidationException);
- a clientToken replays the first answer (the resource as it is now); the same token with other
  parameters is a ConflictException, as AWS's idempotent operations refuse a mismatch.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import errors
from .ids import ACCOUNT_ID, arn, iso, recovery_plan_id, recovery_plan_step_id

if TYPE_CHECKING:
    from .state import DrsState, RegionState

MAX_STEPS = 20
QUOTA_STEPS_PER_PLAN = "L-DRS-RECOVERY-PLAN-STEPS"  # the simulator's name: AWS does not publish one
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED"}


@dataclass
class PlanStep:
    arn: str
    name: str
    configuration: dict          # the API's RecoveryPlanStepConfiguration (a union: one member)
    created: float
    updated: float

    def server_ids(self) -> list[str]:
        servers = self.configuration.get("serverStepConfiguration", {}).get("servers", [])
        return [server_id_of(s["serverArn"]) for s in servers]


@dataclass
class RecoveryPlan:
    arn: str
    name: str
    description: str | None
    created: float
    updated: float
    tags: dict[str, str] = field(default_factory=dict)
    steps: list[PlanStep] = field(default_factory=list)


@dataclass
class PlanStore:
    """One region's plans, executions and idempotency tokens (a RegionState field)."""

    plans: dict[str, RecoveryPlan] = field(default_factory=dict)             # by ARN, in creation order
    executions: dict[str, object] = field(default_factory=dict)              # by ARN (executions module)
    tokens: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)  # (op, token) -> (fingerprint, ARN)


def server_id_of(server_arn: str) -> str:
    return server_arn.rsplit("/", 1)[-1]


def _fingerprint(body: dict) -> str:
    return json.dumps({k: v for k, v in body.items() if k != "clientToken"}, sort_keys=True)


class RecoveryPlanOperations:
    """The plan and step operations of ``DrsState`` (a mixin: they share its lock and regions)."""

    # -- idempotency ------------------------------------------------------------------------------
    def _replayed(self: DrsState, store: PlanStore, operation: str, body: dict) -> str | None:
        """The ARN an earlier call with this clientToken created, or None for a new token."""
        token = body.get("clientToken")
        if not token or (operation, token) not in store.tokens:
            return None
        fingerprint, resource_arn = store.tokens[(operation, token)]
        if fingerprint != _fingerprint(body):
            raise errors.conflict(f"clientToken {token} was already used for {operation} with other parameters",
                                  resource_arn, "CLIENT_TOKEN")
        return resource_arn

    def _remember(self: DrsState, store: PlanStore, operation: str, body: dict, resource_arn: str) -> None:
        if body.get("clientToken"):
            store.tokens[(operation, body["clientToken"])] = (_fingerprint(body), resource_arn)

    # -- lookups ------------------------------------------------------------------------------------
    def _plan(self: DrsState, state: RegionState, plan_arn: str) -> RecoveryPlan:
        plan = state.plans.plans.get(plan_arn)
        if plan is None:
            raise errors.not_found(f"Recovery plan {plan_arn} not found in {state.name}", plan_arn, "RECOVERY_PLAN")
        return plan

    def _step(self: DrsState, state: RegionState, step_arn: str) -> tuple[RecoveryPlan, PlanStep]:
        plan_arn = step_arn.split("/step/", 1)[0]
        plan = state.plans.plans.get(plan_arn)
        for step in plan.steps if plan else ():
            if step.arn == step_arn:
                return plan, step
        raise errors.not_found(f"Recovery plan step {step_arn} not found in {state.name}", step_arn,
                               "RECOVERY_PLAN_STEP")

    def _refuse_while_running(self: DrsState, state: RegionState, plan: RecoveryPlan, what: str) -> None:
        for execution in state.plans.executions.values():
            if execution.plan_arn == plan.arn and execution.status not in TERMINAL:
                raise errors.conflict(
                    f"Cannot {what}: execution {execution.arn} of recovery plan {plan.name} is "
                    f"{execution.status}; cancel it or wait for it to end", plan.arn, "RECOVERY_PLAN")

    def _plan_status(self: DrsState, state: RegionState, plan: RecoveryPlan) -> str:
        has_servers = any("serverStepConfiguration" in step.configuration for step in plan.steps)
        return "ACTIVE" if has_servers else "INVALID"

    def _check_servers(self: DrsState, state: RegionState, plan: RecoveryPlan, servers: list[dict], field_name: str,
                       replacing: PlanStep | None = None) -> None:
        """Every server known in the region, listed once in the step and once in the whole plan."""
        seen: set[str] = set()
        for item in servers:
            server_arn = item["serverArn"]
            server_id, region = server_id_of(server_arn), server_arn.split(":")[3]
            if region != state.name or server_id not in state.servers:
                raise errors.validation(f"Source server {server_arn} is not a source server of DRS in {state.name}; "
                                        "list them with DescribeSourceServers", field_name)
            if server_id in seen:
                raise errors.validation(f"Source server {server_id} is listed more than once in the step", field_name)
            seen.add(server_id)
            for other in plan.steps:
                if other is not replacing and server_id in other.server_ids():
                    raise errors.validation(
                        f"Source server {server_id} is already in step {other.name} of recovery plan {plan.name}: "
                        "a server can be in at most one step of a plan", field_name)

    # -- plans --------------------------------------------------------------------------------------
    def create_recovery_plan(self: DrsState, region: str, body: dict) -> dict:
        with self.lock:
            state, now = self.region(region), time.time()
            store = state.plans
            replayed = self._replayed(store, "CreateRecoveryPlan", body)
            if replayed:
                return {"recoveryPlan": self._plan_api(state, self._plan(state, replayed))}
            self._unique_plan_name(state, body["name"])
            plan_arn = arn(region, "recovery-plan", recovery_plan_id(self.rng))
            plan = RecoveryPlan(plan_arn, body["name"], body.get("description"), now, now, dict(body.get("tags") or {}))
            store.plans[plan_arn] = plan
            self._remember(store, "CreateRecoveryPlan", body, plan_arn)
            return {"recoveryPlan": self._plan_api(state, plan)}

    def _unique_plan_name(self: DrsState, state: RegionState, name: str, other_than: str | None = None) -> None:
        for plan in state.plans.plans.values():
            if plan.name == name and plan.arn != other_than:
                raise errors.conflict(f"A recovery plan named {name!r} already exists in {state.name}: {plan.arn}",
                                      plan.arn, "RECOVERY_PLAN")

    def get_recovery_plan(self: DrsState, region: str, body: dict) -> dict:
        with self.lock:
            state = self.region(region)
            return {"recoveryPlan": self._plan_api(state, self._plan(state, body["recoveryPlanArn"]))}

    def update_recovery_plan(self: DrsState, region: str, body: dict) -> dict:
        with self.lock:
            state = self.region(region)
            plan = self._plan(state, body["recoveryPlanArn"])
            if "name" in body:
                self._unique_plan_name(state, body["name"], plan.arn)
                plan.name = body["name"]
            if "description" in body:
                plan.description = body["description"]
            plan.updated = time.time()
            return {"recoveryPlan": self._plan_api(state, plan)}

    def delete_recovery_plan(self: DrsState, region: str, body: dict) -> dict:
        with self.lock:
            state = self.region(region)
            plan = self._plan(state, body["recoveryPlanArn"])
            self._refuse_while_running(state, plan, f"delete recovery plan {plan.name}")
            del state.plans.plans[plan.arn]  # its ended executions stay listed, as history
            return {"recoveryPlanArn": plan.arn}

    def list_recovery_plans(self: DrsState, region: str, body: dict) -> dict:
        from .state import paginate

        with self.lock:
            state = self.region(region)
            page = paginate(list(state.plans.plans.values()), body, "ListRecoveryPlans",
                            lambda plan: self._plan_summary(state, plan))
            return _renamed(page, "recoveryPlans")

    # -- steps --------------------------------------------------------------------------------------
    def create_recovery_plan_step(self: DrsState, region: str, body: dict) -> dict:
        with self.lock:
            state, now = self.region(region), time.time()
            store = state.plans
            replayed = self._replayed(store, "CreateRecoveryPlanStep", body)
            if replayed:
                return {"recoveryPlanStep": self._step_api(*self._step(state, replayed))}
            plan = self._plan(state, body["recoveryPlanArn"])
            self._refuse_while_running(state, plan, f"change recovery plan {plan.name}")
            configuration = _one_configuration(body["configuration"], "configuration")
            self._unique_step_name(plan, body["stepName"])
            if "serverStepConfiguration" in configuration:
                self._check_servers(state, plan, configuration["serverStepConfiguration"]["servers"],
                                    "configuration.serverStepConfiguration.servers")
            if len(plan.steps) >= MAX_STEPS:  # after the request's own checks: a bad request says what is bad
                raise errors.ApiError(
                    402, "ServiceQuotaExceededException",
                    f"Recovery plan {plan.name} already has {MAX_STEPS} steps, the most a plan can have",
                    resourceId=plan.arn, resourceType="RECOVERY_PLAN", serviceCode="drs",
                    quotaCode=QUOTA_STEPS_PER_PLAN)
            order = body.get("stepOrder", len(plan.steps) + 1)
            if order > len(plan.steps) + 1:
                raise errors.validation(f"stepOrder {order} leaves a gap: recovery plan {plan.name} has "
                                        f"{len(plan.steps)} steps (omit stepOrder to append)", "stepOrder")
            step_arn = f"{plan.arn}/step/{recovery_plan_step_id(self.rng)}"
            step = PlanStep(step_arn, body["stepName"], configuration, now, now)
            plan.steps.insert(order - 1, step)
            plan.updated = now
            self._remember(store, "CreateRecoveryPlanStep", body, step.arn)
            return {"recoveryPlanStep": self._step_api(plan, step)}

    def _unique_step_name(self: DrsState, plan: RecoveryPlan, name: str, other_than: PlanStep | None = None) -> None:
        for step in plan.steps:
            if step.name == name and step is not other_than:
                raise errors.conflict(f"Recovery plan {plan.name} already has a step named {name!r}", step.arn,
                                      "RECOVERY_PLAN_STEP")

    def get_recovery_plan_step(self: DrsState, region: str, body: dict) -> dict:
        with self.lock:
            return {"recoveryPlanStep": self._step_api(*self._step(self.region(region), body["recoveryPlanStepArn"]))}

    def update_recovery_plan_step(self: DrsState, region: str, body: dict) -> dict:
        with self.lock:
            state, now = self.region(region), time.time()
            plan, step = self._step(state, body["recoveryPlanStepArn"])
            self._refuse_while_running(state, plan, f"change recovery plan {plan.name}")
            if "stepName" in body:
                self._unique_step_name(plan, body["stepName"], step)
            if "configuration" in body:
                configuration = _one_configuration(body["configuration"], "configuration")
                if set(configuration) != set(step.configuration):
                    raise errors.validation(f"Step {step.name} is a {_kind(step.configuration)} step: a step's type "
                                            "cannot change (delete it and create another)", "configuration")
                if "serverStepConfiguration" in configuration:
                    self._check_servers(state, plan, configuration["serverStepConfiguration"]["servers"],
                                        "configuration.serverStepConfiguration.servers", replacing=step)
                step.configuration = configuration
            if "stepName" in body:
                step.name = body["stepName"]
            step.updated = plan.updated = now
            return {"recoveryPlanStep": self._step_api(plan, step)}

    def delete_recovery_plan_step(self: DrsState, region: str, body: dict) -> dict:
        with self.lock:
            state = self.region(region)
            plan, step = self._step(state, body["recoveryPlanStepArn"])
            self._refuse_while_running(state, plan, f"change recovery plan {plan.name}")
            plan.steps.remove(step)
            plan.updated = time.time()
            return {"recoveryPlanStepArn": step.arn}

    def list_recovery_plan_steps(self: DrsState, region: str, body: dict) -> dict:
        from .state import paginate

        with self.lock:
            plan = self._plan(self.region(region), body["recoveryPlanArn"])
            page = paginate(plan.steps, body, "ListRecoveryPlanSteps", lambda step: self._step_api(plan, step))
            return _renamed(page, "recoveryPlanSteps")

    def reorder_recovery_plan_steps(self: DrsState, region: str, body: dict) -> dict:
        with self.lock:
            state = self.region(region)
            plan = self._plan(state, body["recoveryPlanArn"])
            self._refuse_while_running(state, plan, f"change recovery plan {plan.name}")
            ordered, by_arn = body["orderedStepArns"], {step.arn: step for step in plan.steps}
            unknown = [a for a in ordered if a not in by_arn]
            repeated = sorted({a for a in ordered if ordered.count(a) > 1})
            missing = [a for a in by_arn if a not in ordered]
            if unknown or repeated or missing:
                detail = "; ".join(f"{label}: {', '.join(arns)}" for label, arns in
                                   (("not steps of this plan", unknown), ("listed more than once", repeated),
                                    ("missing", missing)) if arns)
                raise errors.validation(f"orderedStepArns must name every step of recovery plan {plan.name} "
                                        f"exactly once ({detail})", "orderedStepArns")
            plan.steps = [by_arn[a] for a in ordered]
            plan.updated = time.time()
            return {"recoveryPlanSteps": [self._step_api(plan, step) for step in plan.steps]}

    # -- response shapes ---------------------------------------------------------------------------
    def _plan_summary(self: DrsState, state: RegionState, plan: RecoveryPlan) -> dict:
        return {"recoveryPlanArn": plan.arn, "name": plan.name, "status": self._plan_status(state, plan),
                "createdAt": iso(plan.created), "updatedAt": iso(plan.updated)}

    def _plan_api(self: DrsState, state: RegionState, plan: RecoveryPlan) -> dict:
        item = {**self._plan_summary(state, plan), "tags": dict(plan.tags)}
        if plan.description is not None:
            item["description"] = plan.description
        return item

    def _step_api(self: DrsState, plan: RecoveryPlan, step: PlanStep) -> dict:
        return {"recoveryPlanStepArn": step.arn, "stepOrder": plan.steps.index(step) + 1, "stepName": step.name,
                "configuration": json.loads(json.dumps(step.configuration)),
                "createdAt": iso(step.created), "updatedAt": iso(step.updated)}


def _one_configuration(configuration: dict, field_name: str) -> dict:
    """A step configuration is a union: exactly one of serverStepConfiguration, waitStepConfiguration."""
    present = [k for k, v in configuration.items() if v is not None]
    if len(present) != 1:
        raise errors.validation(f"{field_name} must have exactly one of serverStepConfiguration, "
                                f"waitStepConfiguration ({len(present)} given)", field_name)
    return {present[0]: configuration[present[0]]}


def _kind(configuration: dict) -> str:
    return "server" if "serverStepConfiguration" in configuration else "wait"


def _renamed(page: dict, key: str) -> dict:
    out = {key: page["items"]}
    if "nextToken" in page:
        out["nextToken"] = page["nextToken"]
    return out


def source_server_arn(region: str, server_id: str) -> str:
    return f"arn:aws:drs:{region}:{ACCOUNT_ID}:source-server/{server_id}"
