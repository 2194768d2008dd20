"""DrsRecoveryPlanExecutionTrigger: wait for a DRS native recovery plan execution to end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from airflow.triggers.base import TriggerEvent

from airflow_provider_drs.drs_api_support import DrsNativePlansUnsupported
from airflow_provider_drs.hooks.drs_plan_executions import (
    TERMINAL_EXECUTION_STATUSES,
    DrsPlanExecutionHook,
    execution_summary,
)
from airflow_provider_drs.hooks.retry import is_transient_error
from airflow_provider_drs.triggers.base import AwsReadingTrigger


class DrsRecoveryPlanExecutionTrigger(AwsReadingTrigger):
    """
    Read GetRecoveryPlanExecution every ``poll_interval`` seconds until the execution is COMPLETED,
    FAILED or CANCELLED, then yield ``{"status": "success", "execution": execution_summary}``. An
    execution takes minutes to hours (each server step is a DRS launch job; a wait step up to 120
    minutes), so one read a poll is all it costs. Whether the servers launched is judged by the
    sensor, in the worker, from the steps' jobs. Reads only: it may run twice.

    ``{"status": "error", "message"}`` when the execution cannot be read: not found, or
    ``max_consecutive_errors`` transient errors in a row.
    """

    serialized_fields = ("execution_arn", "poll_interval", "max_consecutive_errors")

    def __init__(self, execution_arn: str, poll_interval: float = 30.0, max_consecutive_errors: int = 8,
                 **connection: Any):
        super().__init__(**connection)
        self.execution_arn = execution_arn
        self.poll_interval = poll_interval
        self.max_consecutive_errors = max_consecutive_errors

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = DrsPlanExecutionHook(**self.hook_params())
        errors = 0
        async with hook.async_client() as client:
            while True:
                try:
                    execution = await hook.get_execution_async(self.execution_arn, client)
                    errors = 0
                except DrsNativePlansUnsupported as unsupported:
                    yield TriggerEvent({"status": "error", "message": str(unsupported)})
                    return
                except (ClientError, BotoCoreError, OSError) as error:
                    errors += 1
                    if not is_transient_error(error) or errors >= self.max_consecutive_errors:
                        yield TriggerEvent({"status": "error", "execution_arn": self.execution_arn,
                                            "message": f"Reading execution {self.execution_arn} failed: {error}"})
                        return
                    self.log.warning("drs.plan_execution_read_failed execution=%s attempt=%d: %s",
                                     self.execution_arn, errors, error)
                else:
                    if execution.get("status") in TERMINAL_EXECUTION_STATUSES:
                        yield TriggerEvent({"status": "success", "execution_arn": self.execution_arn,
                                            "execution": execution_summary(execution)})
                        return
                    self.log.info("drs.plan_execution execution=%s status=%s", self.execution_arn,
                                  execution.get("status"))
                await asyncio.sleep(self.poll_interval)
