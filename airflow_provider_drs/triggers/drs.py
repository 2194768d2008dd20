"""DrsJobTrigger: wait for DRS jobs to complete, then read their per-server results."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from airflow.triggers.base import TriggerEvent

from airflow_provider_drs.hooks.drs_results import fold_job, job_summary
from airflow_provider_drs.hooks.drs_wait import PollingPolicy
from airflow_provider_drs.hooks.retry import is_transient_error
from airflow_provider_drs.triggers.base import AwsReadingTrigger
from airflow_provider_drs.triggers.drs_events import LaunchEventReceiver
from airflow_provider_drs.triggers.drs_poller import JobPoller

# The final read (log items + recovery instances) is retried this often before giving up.
FINAL_READ_ATTEMPTS = 5


class DrsJobTrigger(AwsReadingTrigger):
    """
    Poll DRS jobs until each is COMPLETED, then read each job's log and recovery instances once and
    yield one event with the per-server results (see ``hooks.drs_results.fold_job``).

    Polling goes through a poller shared by every DrsJobTrigger of the triggerer process (one
    DescribeJobs call for up to 1,000 jobs) at an adaptive interval: slow while servers convert,
    ``min_poll_interval`` once launches have started. With ``events_queue_url`` (an SQS queue fed
    DRS's launch-result events, see ``drs-plan events-setup``) a launch job is done as soon as every
    server's result has arrived, and reads only make up for lost events, every
    ``events_poll_interval`` seconds. The trigger changes nothing in AWS and may safely run twice.

    The event: ``{"status": "success" | "error", "message", "job_ids", "jobs": {job_id: {"status",
    "type", "initiated_by", "settled_by", "results": {server_id: result}}}, "results": {server_id:
    result}}``. "success" means every job COMPLETED, or (``settled_by`` "events") every server of it
    has its launch result; whether they launched is for the caller to judge.
    """

    serialized_fields = ("job_ids", "min_poll_interval", "max_poll_interval", "max_consecutive_errors",
                         "events_queue_url", "events_poll_interval")

    def __init__(
        self,
        job_ids: Sequence[str],
        min_poll_interval: float = 2.0,
        max_poll_interval: float = 30.0,
        max_consecutive_errors: int = 8,
        events_queue_url: str | None = None,
        events_poll_interval: float = 60.0,
        **connection: Any,
    ):
        super().__init__(**connection)
        self.job_ids = [job_ids] if isinstance(job_ids, str) else list(job_ids)
        self.min_poll_interval = min_poll_interval
        self.max_poll_interval = max(max_poll_interval, min_poll_interval)
        self.max_consecutive_errors = max_consecutive_errors
        self.events_queue_url = events_queue_url or None
        self.events_poll_interval = events_poll_interval

    @classmethod
    def for_task(cls, task: Any, job_ids: Sequence[str]) -> DrsJobTrigger:
        """The trigger a DRS task defers to: the task's connection, polling and events settings."""
        return cls(job_ids=job_ids, min_poll_interval=task.min_poll_interval,
                   max_poll_interval=task.max_poll_interval, max_consecutive_errors=task.max_consecutive_errors,
                   events_queue_url=task.events_queue_url, events_poll_interval=task.events_poll_interval,
                   **cls.connection_of(task))

    async def run(self) -> AsyncIterator[TriggerEvent]:
        poller = JobPoller.for_hook(self.hook_params())
        policy = PollingPolicy(self.min_poll_interval, self.max_poll_interval,
                               max_consecutive_errors=self.max_consecutive_errors,
                               events_interval=self.events_poll_interval if self.events_queue_url else None)
        receiver = None
        if self.events_queue_url:
            receiver = LaunchEventReceiver.for_queue(self.events_queue_url, self.hook_params())
            receiver.hold(policy)
        watched = [poller.watch(job_id, policy) for job_id in self.job_ids]
        try:
            await asyncio.gather(*(w.done.wait() for w in watched))
            errors = [w.error for w in watched if w.error]
            if errors:
                yield TriggerEvent(self._event("error", "; ".join(errors)))
                return
            jobs = await self._final_read(poller, watched)
        except (ClientError, BotoCoreError, OSError) as error:
            yield TriggerEvent(self._event("error", f"Reading the results of {', '.join(self.job_ids)} failed: {error}"))
            return
        finally:
            for w in watched:
                poller.unwatch(w)
            if receiver is not None:
                receiver.release(policy)
        results = {sid: r for job in jobs.values() for sid, r in job["results"].items()}
        yield TriggerEvent(self._event("success", f"DRS jobs completed: {', '.join(self.job_ids)}", jobs, results))

    async def _final_read(self, poller: JobPoller, watched: list) -> dict[str, Any]:
        if poller.client is None:  # the poller's client is gone: read with one of our own
            async with poller.hook.async_client() as client:
                return {w.job_id: await self._read_job(poller, w, client) for w in watched}
        return {w.job_id: await self._read_job(poller, w, poller.client) for w in watched}

    async def _read_job(self, poller: JobPoller, watched: Any, client: Any) -> dict[str, Any]:
        """One job's summary and per-server results: its log, and its servers' recovery instances
        read together with those of the other waits ending now; retried on transient errors."""
        servers = [s["sourceServerID"] for s in watched.job.get("participatingServers", [])]
        for attempt in range(1, FINAL_READ_ATTEMPTS + 1):
            try:
                log_items = await poller.hook.get_job_log_items_async(watched.job_id, client)
                instances = await poller.recovery_instances(servers) if servers else []
                results = fold_job(watched.job, log_items, instances, watched.observed_launched, watched.announced)
                break
            except (ClientError, BotoCoreError, OSError) as error:
                if attempt == FINAL_READ_ATTEMPTS or not is_transient_error(error):
                    raise
                await asyncio.sleep(min(self.max_poll_interval, 2.0**attempt))
        return {**job_summary(watched.job), "settled_by": watched.settled_by, "results": results}

    def _event(self, status: str, message: str, jobs: dict | None = None, results: dict | None = None) -> dict:
        return {
            "status": status,
            "message": message,
            "job_ids": self.job_ids,
            "jobs": jobs or {},
            "results": results or {},
        }
