"""DrsFailbackTrigger: wait, in the triggerer, until recovery instances reach a failback state."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

from airflow.triggers.base import TriggerEvent

from airflow_provider_drs.hooks.drs import DrsHook
from airflow_provider_drs.hooks.drs_failback import read_progress
from airflow_provider_drs.hooks.retry import is_transient_error
from airflow_provider_drs.triggers.base import AwsReadingTrigger


class DrsFailbackTrigger(AwsReadingTrigger):
    """
    Poll DescribeRecoveryInstances (one call per 200 instances) until every instance reaches the
    target (``ready``: FAILBACK_READY_FOR_LAUNCH; ``completed``: FAILBACK_COMPLETED), or one fails.
    Reads only, so running it twice is harmless. Yields one event::

        {"status": "success" | "error", "states": {recovery_instance_id: state}, "message": str}

    Replication back to the origin takes hours for large disks: the default pace is one read a
    minute. The task's ``timeout`` (of its defer) bounds the wait.
    """

    serialized_fields = ("recovery_instance_ids", "target", "poll_interval", "max_consecutive_errors")

    def __init__(self, *, recovery_instance_ids: Sequence[str], target: str, poll_interval: float = 60.0,
                 max_consecutive_errors: int = 8, **connection: Any):
        super().__init__(**connection)
        self.recovery_instance_ids = list(recovery_instance_ids)
        self.target = target
        self.poll_interval = poll_interval
        self.max_consecutive_errors = max_consecutive_errors

    async def run(self) -> AsyncIterator[TriggerEvent]:
        yield TriggerEvent(await self._wait())

    async def _wait(self) -> dict[str, Any]:
        hook = DrsHook(**self.hook_params())
        errors = 0
        async with hook.async_client() as client:
            while True:
                try:
                    instances = await hook.describe_recovery_instances_async(self.recovery_instance_ids, client=client)
                except Exception as error:
                    errors += 1
                    if not is_transient_error(error) or errors > self.max_consecutive_errors:
                        return {"status": "error", "states": {}, "message": f"could not read the recovery instances "
                                f"({error}); check the region and credentials of {self.aws_conn_id!r}"}
                    await asyncio.sleep(self.poll_interval)
                    continue
                errors = 0
                progress = read_progress(instances, self.recovery_instance_ids, self.target)
                if progress.failed:
                    return {"status": "error", "states": progress.states, "message": "; ".join(
                        f"{rid}: {why}" for rid, why in sorted(progress.failed.items()))}
                if progress.done:
                    return {"status": "success", "states": progress.states, "message": progress.summary()}
                self.log.info("drs.failback_wait target=%s %s", self.target, progress.summary())
                await asyncio.sleep(self.poll_interval)
