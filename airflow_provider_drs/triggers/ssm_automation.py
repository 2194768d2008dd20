"""SsmAutomationTrigger: wait, in the triggerer, for one SSM Automation execution to end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import TriggerEvent

from airflow_provider_drs.hooks.ssm_automation import ExecutionWatch, SsmAutomationHook, automation_event
from airflow_provider_drs.triggers.base import AwsReadingTrigger


class SsmAutomationTrigger(AwsReadingTrigger):
    """
    Poll one SSM Automation execution until it reaches a terminal status.

    The trigger only reads (GetAutomationExecution): it never starts or stops anything, so it is
    safe to run twice. It yields exactly one event::

        {"status": "success" | "error", "execution_id": str, "execution_status": str | None,
         "outputs": {name: [str, ...]}, "message": str}

    ``status`` is ``success`` only for the ``Success`` and ``CompletedWithSuccess`` statuses. An
    execution still running after ``max_attempts`` polls, an unknown execution id, or more than
    ``max_transient_errors`` transient errors in a row (throttling, 5xx, connection errors, beyond
    botocore's own retries) give an ``error`` event whose ``message`` says what happened.

    :param execution_id: the AutomationExecutionId to watch.
    :param poll_interval: seconds between two polls (default 5).
    :param max_attempts: polls before giving up (default 720: one hour at 5 s).
    :param max_transient_errors: transient errors tolerated in a row (default 5).
    :param aws_conn_id: the Airflow connection used for AWS credentials.
    :param region_name: AWS region name; overrides the connection's.
    :param verify: whether to verify SSL certificates.
    :param botocore_config: botocore client configuration (key-values).
    """

    serialized_fields = ("execution_id", "poll_interval", "max_attempts", "max_transient_errors")

    def __init__(
        self,
        *,
        execution_id: str,
        poll_interval: float = 5,
        max_attempts: int = 720,
        max_transient_errors: int = 5,
        **connection: Any,
    ) -> None:
        super().__init__(**connection)
        self.execution_id = execution_id
        self.poll_interval = poll_interval
        self.max_attempts = max_attempts
        self.max_transient_errors = max_transient_errors

    def hook(self) -> SsmAutomationHook:
        return SsmAutomationHook(**self.hook_params())

    async def run(self) -> AsyncIterator[TriggerEvent]:
        yield TriggerEvent(await self._wait())

    def _error(self, message: str, execution_status: str | None = None) -> dict[str, Any]:
        return {
            "status": "error",
            "execution_id": self.execution_id,
            "execution_status": execution_status,
            "outputs": {},
            "message": message,
        }

    async def _wait(self) -> dict[str, Any]:
        hook = self.hook()
        watch = ExecutionWatch(self.execution_id, self.max_attempts, self.max_transient_errors, self.log)
        try:
            async with await hook.get_async_conn() as client:
                for attempt in range(1, self.max_attempts + 1):
                    try:
                        execution = await hook.get_automation_execution_async(self.execution_id, client)
                    except Exception as error:
                        if not watch.tolerate(error):
                            raise
                    else:
                        if watch.read(execution, attempt):
                            return automation_event(execution, execution_id=self.execution_id)
                    if attempt < self.max_attempts:
                        await asyncio.sleep(self.poll_interval)
        except Exception as error:
            self.log.error("ssm.automation execution_id=%s error=%r", self.execution_id, error)
            return self._error(
                f"SSM Automation {self.execution_id}: could not read its status ({error}). Check the "
                "execution id, and the region and credentials of the AWS connection "
                f"{self.aws_conn_id!r}.",
                watch.status,
            )
        return self._error(watch.still_running(self.poll_interval), watch.status)
