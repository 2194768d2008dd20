"""Pre and post wave actions as tasks: which operator runs each kind of plan action, and its task id.
The operators themselves (and how they resolve plan references at run time) are in
``operators.plan_actions``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_drs.operators.plan_actions import (
    PlanApprovalOperator, PlanSsmAutomationOperator, PlanSsmRunCommandOperator)
from airflow_provider_drs.plans import Action
from airflow_provider_drs.version_compat import hitl_answer_window

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator


def action_task_id(stage: str, index: int, action: Action) -> str:
    """``pre_1_ssm_automation``, ``post_2_approval``: a wave's action task ids (within its group)."""
    return f"{stage}_{index}_{action.kind}"


def hitl_users(user_ids: Sequence[str]) -> list[dict[str, str]] | None:
    """A plan's ``approvers`` as Airflow's HITL users; None lets every user allowed to answer."""
    return [{"id": user, "name": user} for user in user_ids] or None


def action_task(action: Action, task_id: str, plan_conn: Mapping[str, Any],
                server_waves: Mapping[str, str], poll_interval: float) -> BaseOperator:
    """The Airflow task for one plan action."""
    spec = action.spec
    if action.kind == "approval":
        return PlanApprovalOperator(
            task_id=task_id, subject=spec.subject, body=spec.body, assigned_users=hitl_users(spec.approvers),
            **hitl_answer_window(timedelta(minutes=spec.timeout_minutes) if spec.timeout_minutes else None))
    if action.kind == "ssm_automation":
        return PlanSsmAutomationOperator(
            task_id=task_id, document_name=spec.document, parameters=dict(spec.parameters),
            server_waves=server_waves, deferrable=True, waiter_delay=poll_interval, **plan_conn,
        )
    kwargs: dict[str, Any] = {"Parameters": dict(spec.parameters)}
    if spec.instance_ids:
        kwargs["InstanceIds"] = list(spec.instance_ids)
    else:
        kwargs["Targets"] = [{"Key": t.Key, "Values": list(t.Values)} for t in spec.targets]
    return PlanSsmRunCommandOperator(
        task_id=task_id, document_name=spec.document, run_command_kwargs=kwargs, server_waves=server_waves,
        waiter_delay=max(1, int(poll_interval)), **plan_conn,
    )
