"""SsmStartAutomationOperator: run an SSM Automation runbook and wait for it (sync or deferred).

For SSM *Run Command* use the Amazon provider's
:class:`~airflow.providers.amazon.aws.operators.ssm.SsmRunCommandOperator`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.exceptions import AirflowProviderDeprecationWarning
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils import validate_execute_complete_event
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import conf

from airflow_provider_drs.exceptions import SsmAutomationFailed
from airflow_provider_drs.hooks.ssm_automation import TERMINAL_STATUSES, SsmAutomationHook, automation_event
from airflow_provider_drs.triggers.ssm_automation import SsmAutomationTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context

# Slack given to Airflow's own deferral timeout so that the trigger's clearer timeout event wins.
_DEFER_TIMEOUT_SLACK = timedelta(minutes=5)


class SsmStartAutomationOperator(AwsBaseOperator[SsmAutomationHook]):
    """
    Start an AWS Systems Manager Automation runbook and (by default) wait for it to end.

    Returns (XCom) ``{"execution_id": str, "status": str, "outputs": {name: [str, ...]}}``. An
    execution that does not end in ``Success`` (or ``CompletedWithSuccess``) fails the task with
    :class:`~airflow_provider_drs.exceptions.SsmAutomationFailed`, whose message names the
    execution id and the step that failed. Killing the task stops the execution it started
    (while the task waits in a worker; a deferred wait runs in the triggerer, which only reads).

    :param document_name: runbook name or ARN, e.g. ``AWS-RestartEC2Instance``. (templated)
    :param parameters: runbook parameters. SSM wants ``{name: [str, ...]}``; scalars, lists,
        numbers and booleans are accepted and normalised. ``None`` values are dropped. (templated)
    :param document_version: runbook version; ``$DEFAULT`` when not given. (templated)
    :param automation_kwargs: other StartAutomationExecution arguments (``Mode``, ``Targets``,
        ``TargetParameterName``, ``MaxConcurrency``, ``MaxErrors``, ``Tags``...), passed as is.
    :param wait_for_completion: wait for the execution to end (default True). When False the
        task returns right after the start, with the execution's current status.
    :param deferrable: wait in the triggerer instead of a worker slot (default: the
        ``[operators] default_deferrable`` setting).
    :param waiter_delay: seconds between status polls (default 5). The Amazon provider's name,
        as on its SSM Run Command operator; ``poll_interval`` is the deprecated spelling.
    :param waiter_max_attempts: polls before giving up (default 720, one hour at 5 s). The execution
        is then left running and the task fails. ``max_attempts`` is the deprecated spelling.
    :param max_transient_errors: throttling/5xx/connection errors tolerated in a row while
        polling, on top of botocore's own retries (default 5).
    :param aws_conn_id: the Airflow connection used for AWS credentials.
    :param region_name: AWS region name; overrides the connection's.
    :param verify: whether to verify SSL certificates.
    :param botocore_config: botocore client configuration (key-values).
    """

    aws_hook_class = SsmAutomationHook
    template_fields: Sequence[str] = aws_template_fields("document_name", "parameters", "document_version")
    template_fields_renderers = {"parameters": "json"}
    ui_color = "#f3c8e4"

    def __init__(
        self,
        *,
        document_name: str,
        parameters: dict[str, Any] | None = None,
        document_version: str | None = None,
        automation_kwargs: dict[str, Any] | None = None,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        waiter_delay: float = 5,
        waiter_max_attempts: int = 720,
        max_transient_errors: int = 5,
        poll_interval: float | None = None,
        max_attempts: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if poll_interval is not None or max_attempts is not None:
            warnings.warn("SsmStartAutomationOperator: poll_interval and max_attempts are now waiter_delay and "
                          "waiter_max_attempts (the Amazon provider's names)", AirflowProviderDeprecationWarning,
                          stacklevel=2)
            waiter_delay = waiter_delay if poll_interval is None else poll_interval
            waiter_max_attempts = waiter_max_attempts if max_attempts is None else max_attempts
        self.document_name = document_name
        self.parameters = parameters
        self.document_version = document_version
        self.automation_kwargs = automation_kwargs or {}
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts
        self.max_transient_errors = max_transient_errors
        self.execution_id: str | None = None

    def execute(self, context: Context) -> dict[str, Any]:
        self.execution_id = self.hook.start_automation_execution(
            self.document_name,
            self.parameters,
            document_version=self.document_version,
            **self.automation_kwargs,
        )
        execution_id = self.execution_id

        if not self.wait_for_completion:
            execution = self.hook.get_automation_execution(execution_id)
            return {
                "execution_id": execution_id,
                "status": execution.get("AutomationExecutionStatus", "Pending"),
                "outputs": {k: list(v) for k, v in (execution.get("Outputs") or {}).items()},
            }

        if self.deferrable:
            self.log.info(
                "ssm.automation execution_id=%s document=%s status=deferring waiter_delay=%s",
                execution_id,
                self.document_name,
                self.waiter_delay,
            )
            self.defer(
                trigger=SsmAutomationTrigger(
                    execution_id=execution_id,
                    poll_interval=self.waiter_delay,
                    max_attempts=self.waiter_max_attempts,
                    max_transient_errors=self.max_transient_errors,
                    **SsmAutomationTrigger.connection_of(self),
                ),
                method_name="execute_complete",
                timeout=timedelta(seconds=self.waiter_delay * self.waiter_max_attempts) + _DEFER_TIMEOUT_SLACK,
            )

        execution = self.hook.wait_for_automation_execution(
            execution_id,
            poll_interval=self.waiter_delay,
            max_attempts=self.waiter_max_attempts,
            max_transient_errors=self.max_transient_errors,
        )
        return self._result(automation_event(execution, execution_id=execution_id))

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        event = validate_execute_complete_event(event)
        self.execution_id = event.get("execution_id")
        return self._result(event)

    def _result(self, event: dict[str, Any]) -> dict[str, Any]:
        execution_id = event.get("execution_id")
        if event.get("status") != "success":
            raise SsmAutomationFailed(
                f"{event.get('message') or event}. Details: `aws ssm get-automation-execution "
                f"--automation-execution-id {execution_id}` or the Systems Manager console, "
                "Automation executions."
            )
        self.log.info(
            "ssm.automation execution_id=%s document=%s status=%s outputs=%s",
            execution_id,
            self.document_name,
            event.get("execution_status"),
            ",".join(sorted(event.get("outputs") or {})) or "-",
        )
        return {
            "execution_id": execution_id,
            "status": event.get("execution_status"),
            "outputs": event.get("outputs") or {},
        }

    def on_kill(self) -> None:
        """Stop the execution this task started, unless it already ended."""
        if not self.execution_id:
            return
        try:
            status = self.hook.get_automation_execution(self.execution_id).get("AutomationExecutionStatus")
            if status in TERMINAL_STATUSES:
                return
            self.hook.stop_automation_execution(self.execution_id)
        except Exception as error:  # on_kill must not raise: the task is going away anyway
            self.log.warning(
                "ssm.automation execution_id=%s status=stop_failed error=%r. Stop it by hand: "
                "`aws ssm stop-automation-execution --automation-execution-id %s`",
                self.execution_id,
                error,
                self.execution_id,
            )
