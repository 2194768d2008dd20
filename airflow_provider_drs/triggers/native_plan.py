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
    Read GetRecoveryPlanExecution and its step summaries every ``poll_interval`` seconds until the
    execution is COMPLETED, FAILED or CANCELLED, then yield ``{"status": "success", "execution":
    execution_summary}``. Whether the servers launched is judged by the sensor, in the worker, from
    the steps' jobs. Reads only: it may run twice.

    A job the execution started that is not in ``claimed_jobs`` ends the wait early with
    ``{"status": "new_jobs", "job_ids": [every job so far]}``: the sensor tags it with its run and
    waits again. DRS does not tag a native plan's jobs, and an untagged drill instance looks like a
    console leftover to other runs' launch-safety checks, which would let another plan's drill
    replace it while this execution still runs (its later steps and waits may take hours).

    ``{"status": "error", "message"}`` when the execution cannot be read: not found, or
    ``max_consecutive_errors`` transient errors in a row.
    """

    serialized_fields = ("execution_arn", "poll_interval", "max_consecutive_errors", "claimed_jobs")

    def __init__(self, execution_arn: str, poll_interval: float = 30.0, max_consecutive_errors: int = 8,
                 claimed_jobs: list[str] | None = None, **connection: Any):
        super().__init__(**connection)
        self.claimed_jobs = list(claimed_jobs or [])
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
                    job_ids = ([] if execution.get("status") in TERMINAL_EXECUTION_STATUSES
                               else await hook.execution_job_ids_async(self.execution_arn, client))
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
                    if set(job_ids) - set(self.claimed_jobs):
                        yield TriggerEvent({"status": "new_jobs", "execution_arn": self.execution_arn,
                                            "job_ids": job_ids})
                        return
                    self.log.info("drs.plan_execution execution=%s status=%s", self.execution_arn,
                                  execution.get("status"))
                await asyncio.sleep(self.poll_interval)
