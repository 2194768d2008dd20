"""The tasks of pre and post wave actions: SSM Automation, SSM Run Command and approvals.

Parameters may hold plan references (`{{ instance:s-... }}`, `{{ ssm:/p }}`, `{{ cfn:S.O }}`),
which are not Jinja: the fields holding them are kept out of Airflow templating and resolved when
the task runs, against this run's wave results and AWS.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.ssm import SsmRunCommandOperator
from airflow.providers.standard.operators.hitl import ApprovalOperator

from airflow_provider_drs.hooks.references import AwsReferenceResolver
from airflow_provider_drs.operators.ssm_automation import SsmStartAutomationOperator
from airflow_provider_drs.plan_tasks import FINISHED_AT, RESULTS, WAIT_FOR_LAUNCH, in_wave
from airflow_provider_drs.plans import parse_references, render_value
from airflow_provider_drs.version_compat import NoFormFields

if TYPE_CHECKING:
    from airflow.sdk import Context


def instance_servers(value: Any) -> set[str]:
    """Server ids named by `{{ instance:... }}` anywhere in a nested value."""
    if isinstance(value, str):
        return {r.value for r in parse_references(value) if r.kind == "instance"}
    if isinstance(value, Mapping):
        return set().union(*(instance_servers(v) for v in value.values())) if value else set()
    if isinstance(value, (list, tuple)):
        return set().union(*(instance_servers(v) for v in value)) if value else set()
    return set()


def resolve_references(task: Any, context: Context, value: Any) -> Any:
    """Substitute every reference in ``value``, reading instance ids from the waves' results."""
    instances = {}
    for server_id in instance_servers(value):
        wave = task.server_waves.get(server_id)
        results = context["ti"].xcom_pull(task_ids=in_wave(wave, WAIT_FOR_LAUNCH), key=RESULTS) if wave else None
        instances[server_id] = ((results or {}).get(server_id) or {}).get("ec2_instance_id")
    resolver = AwsReferenceResolver(task.aws_conn_id, task.region_name, instances)
    return render_value(value, resolver)


class _RecordsItsEnd:
    """Mixin: push when the action succeeded, whether it finished in execute or after deferring.
    The Task SDK does not give the report task other tasks' end times."""

    def _finished(self, context: Context, result: Any) -> Any:
        context["ti"].xcom_push(key=FINISHED_AT, value=datetime.now(timezone.utc).isoformat())
        return result

    def execute(self, context: Context) -> Any:
        return self._finished(context, super().execute(context))  # type: ignore[misc]

    def execute_complete(self, context: Context, event: Any = None) -> Any:
        return self._finished(context, super().execute_complete(context, event))  # type: ignore[misc]


class _ResolvesPlanReferences:
    """Mixin: resolve the references in ``reference_field`` when the task runs. (No __init__ here:
    Airflow's operator metaclass only wraps the __init__ of operator classes.)"""

    reference_field: str
    server_waves: dict[str, str]

    def execute(self, context: Context) -> Any:
        setattr(self, self.reference_field, resolve_references(self, context, getattr(self, self.reference_field)))
        return super().execute(context)  # type: ignore[misc]


class PlanApprovalOperator(NoFormFields, _RecordsItsEnd, ApprovalOperator):
    """Airflow's approval (human-in-the-loop) task, recording when it was approved."""


class PlanSsmAutomationOperator(_RecordsItsEnd, _ResolvesPlanReferences, SsmStartAutomationOperator):
    """SsmStartAutomationOperator whose parameters may hold plan references."""

    reference_field = "parameters"
    template_fields = tuple(f for f in SsmStartAutomationOperator.template_fields if f != "parameters")

    def __init__(self, *, server_waves: Mapping[str, str], **kwargs: Any):
        super().__init__(**kwargs)
        self.server_waves = dict(server_waves)


class PlanSsmRunCommandOperator(_RecordsItsEnd, _ResolvesPlanReferences, SsmRunCommandOperator):
    """The Amazon provider's Run Command operator, with plan references in its arguments."""

    reference_field = "run_command_kwargs"
    template_fields = tuple(f for f in SsmRunCommandOperator.template_fields if f != "run_command_kwargs")

    def __init__(self, *, server_waves: Mapping[str, str], **kwargs: Any):
        super().__init__(**kwargs)
        self.server_waves = dict(server_waves)
