"""One DescribeJobs poller per triggerer process, shared by every DRS job trigger in it.

Waves in parallel and many DAG runs put many DrsJobTriggers into one triggerer. Polling each job
on its own costs one DescribeJobs call per job per interval; DescribeJobs takes up to 1,000 job ids,
so one poller asks for every watched job in one call whenever any of them is due. The call count
is then set by the most urgent job, not by the number of jobs.

Each job is read at the pace of its trigger's ``hooks.drs_wait.PollingPolicy``: slowly while its
servers convert, at the minimum once one launches (LAUNCH_START in the job log, or a server already
LAUNCHED/FAILED). The launch phase shows first in the job log, so jobs in their slow phase also have
their log read, oldest first, a couple per polling round: as soon as one is launching, the poller
ticks fast and every job rides along. Both call rates are thus bounded per poller, whatever the
number of jobs. Triggers never change anything in AWS.

When the trigger has an events queue (``triggers.drs_events``), DRS's launch-result events settle
a LAUNCH job's servers as they arrive: the job is done once every server has a result, from an
event or from a read. Reads then only make up for lost events (``PollingPolicy.events_interval``)
and no job log is read to spot launches.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from airflow_provider_drs.hooks.drs import DrsHook
from airflow_provider_drs.hooks.drs_events import LaunchResult
from airflow_provider_drs.hooks.drs_results import TERMINAL_LAUNCH_STATUSES, note_launches
from airflow_provider_drs.hooks.drs_wait import MISSING_JOB_TOLERANCE, PollingPolicy, missing_jobs_message
from airflow_provider_drs.hooks.retry import is_transient_error

# Job log reads (one call per job) allowed per polling round, across all watched jobs.
LOG_CHECKS_PER_TICK = 2
# Waits ending within this long share one DescribeRecoveryInstances call for their final read.
FINAL_READ_WINDOW = 0.05


@dataclass
class WatchedJob:
    job_id: str
    policy: PollingPolicy
    registered_at: float
    next_due: float
    next_log_check: float
    job: dict[str, Any] | None = None
    launch_phase: bool = False
    observed_launched: dict[str, str] = field(default_factory=dict)
    missing: int = 0
    error: str | None = None
    watchers: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)
    announced: dict[str, LaunchResult] = field(default_factory=dict)  # server id -> DRS's launch result
    settled_by: str | None = None       # "read" (DescribeJobs) or "events"

    def finish(self, error: str | None = None, settled_by: str = "read") -> None:
        self.error, self.settled_by = error, settled_by
        self.done.set()

    @property
    def uses_events(self) -> bool:
        """Events settle this job: there is a queue, and DRS announces results of LAUNCH jobs only."""
        return self.policy.events_interval is not None and (self.job is None or self.job.get("type") == "LAUNCH")

    def interval(self, now: float) -> float:
        return self.policy.interval(now - self.registered_at, self.launch_phase, events=self.uses_events)

    def all_announced(self) -> bool:
        """Every server of the job has a launch result, from an event or from the last read."""
        servers = (self.job or {}).get("participatingServers") or []
        return bool(servers) and all(
            s["sourceServerID"] in self.announced or s.get("launchStatus") in TERMINAL_LAUNCH_STATUSES
            for s in servers)


class JobPoller:
    """Polls every watched job of one (connection, region) in as few DescribeJobs calls as it can."""

    _registry: dict[tuple, JobPoller] = {}

    def __init__(self, key: tuple, hook: DrsHook, loop: asyncio.AbstractEventLoop):
        self.key = key
        self.hook = hook
        self.loop = loop
        self.jobs: dict[str, WatchedJob] = {}
        self.client: Any = None
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.consecutive_errors = 0
        self._instance_requests: list[tuple[set[str], asyncio.Future]] = []
        self._instance_batch: asyncio.Task | None = None

    @classmethod
    def for_hook(cls, hook_params: dict[str, Any]) -> JobPoller:
        loop = asyncio.get_running_loop()
        key = (id(loop), tuple(sorted((k, repr(v)) for k, v in hook_params.items())))
        poller = cls._registry.get(key)
        if poller is None or poller.loop is not loop:  # a loop id may be reused after a loop closed
            poller = cls._registry[key] = cls(key, DrsHook(**hook_params), loop)
        return poller

    @classmethod
    def of_loop(cls, loop: asyncio.AbstractEventLoop) -> list[JobPoller]:
        """The pollers of one event loop (one triggerer process runs one loop)."""
        return [poller for poller in cls._registry.values() if poller.loop is loop]

    def watch(self, job_id: str, policy: PollingPolicy) -> WatchedJob:
        now = time.monotonic()
        watched = self.jobs.get(job_id)
        if watched is None:
            watched = self.jobs[job_id] = WatchedJob(job_id, policy, now, now, now + policy.max_interval)
        watched.watchers += 1
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="drs-job-poller")
        self._wakeup.set()
        return watched

    def on_launch_result(self, result: LaunchResult) -> bool:
        """Take DRS's word that a server's launch ended. True when the job is watched here (the
        event is then consumed), False when it is some other triggerer's to take."""
        watched = self.jobs.get(result.job_id)
        if watched is None:
            return False
        if watched.done.is_set():
            return True
        watched.announced[result.source_server_id] = result
        if watched.job is None:  # its servers are not known yet: read it now
            watched.next_due = time.monotonic()
            self._wakeup.set()
        elif watched.uses_events and watched.all_announced():
            watched.finish(settled_by="events")
            self._wakeup.set()
        return True

    async def recovery_instances(self, server_ids: list[str]) -> list[dict[str, Any]]:
        """The recovery instances of these servers, read in one DescribeRecoveryInstances call with
        those of every other wait of this poller that ends at about the same time (DescribeJobLogItems
        takes one job; this call takes up to 200 servers a page)."""
        future = self.loop.create_future()
        self._instance_requests.append((set(server_ids), future))
        if self._instance_batch is None or self._instance_batch.done():
            self._instance_batch = self.loop.create_task(self._read_instances(), name="drs-final-read")
        return await future

    async def _read_instances(self) -> None:
        # Rounds until no wait is left asking: requests made while a round's call is in flight
        # go in the next round (between the emptiness check and the end of the task nothing
        # awaits, so a request made after it starts a new task).
        while self._instance_requests:
            await asyncio.sleep(FINAL_READ_WINDOW)
            requests, self._instance_requests = self._instance_requests, []
            servers = sorted(set().union(*(ids for ids, _ in requests)))
            try:
                if self.client is not None:
                    items = await self.hook.describe_recovery_instances_async(None, servers, self.client)
                else:
                    items = await self.hook.describe_recovery_instances_async(None, servers)
            except Exception as error:  # each wait decides for itself whether to retry
                for _, future in requests:
                    if not future.done():
                        future.set_exception(error)
                continue
            for ids, future in requests:
                if not future.done():
                    future.set_result([item for item in items if item.get("sourceServerID") in ids])

    def reschedule(self) -> None:
        """Bring reads forward after the policies changed (an events queue became unreadable)."""
        now = time.monotonic()
        for watched in self._active_jobs():
            watched.next_due = min(watched.next_due, now + watched.interval(now))
        self._wakeup.set()

    def unwatch(self, watched: WatchedJob) -> None:
        watched.watchers -= 1
        if watched.watchers <= 0 and self.jobs.get(watched.job_id) is watched:
            del self.jobs[watched.job_id]
            self._wakeup.set()

    async def _run(self) -> None:
        try:
            async with self.hook.async_client() as client:
                self.client = client
                # Stay up while any trigger still holds a job: finished ones read their results
                # through this client, and one client is far cheaper than one per trigger.
                while self.jobs:
                    await self._tick(client)
                    await self._sleep_until_due()
        except Exception as error:  # the client itself failed: every watcher must hear of it
            for watched in self._active_jobs():
                watched.finish(f"DRS job poller failed: {error!r}")
        finally:
            self.client = None
            task = asyncio.current_task()
            if self._active_jobs() and not (task and task.cancelling()):
                # A wait came in while the client closed: it must be polled too.
                self._task = self.loop.create_task(self._run(), name="drs-job-poller")
            elif JobPoller._registry.get(self.key) is self and not self.jobs:
                del JobPoller._registry[self.key]

    def _active_jobs(self) -> list[WatchedJob]:
        return [w for w in self.jobs.values() if not w.done.is_set()]

    async def _sleep_until_due(self) -> None:
        active = self._active_jobs()
        delay = max(0.0, min(w.next_due for w in active) - time.monotonic()) if active else None
        self._wakeup.clear()
        try:
            await asyncio.wait_for(self._wakeup.wait(), timeout=delay)
        except asyncio.TimeoutError:
            pass

    async def _tick(self, client: Any) -> None:
        now = time.monotonic()
        active = self._active_jobs()
        if not any(w.next_due <= now for w in active):
            return
        # Everyone rides along: the call costs the same for 1 id as for 1,000.
        try:
            jobs = await self.hook.describe_jobs_async([w.job_id for w in active], client)
        except (ClientError, BotoCoreError, OSError, asyncio.TimeoutError) as error:
            self._on_error(error, active)
            return
        self.consecutive_errors = 0
        seen_at = DrsHook.now_iso()
        for watched in active:
            self._update(watched, jobs.get(watched.job_id), seen_at, now)
        await self._check_launch_phase(client, now)

    def _update(self, watched: WatchedJob, job: dict[str, Any] | None, seen_at: str, now: float) -> None:
        if job is None:
            watched.missing += 1
            if watched.missing >= MISSING_JOB_TOLERANCE:
                watched.finish(missing_jobs_message([watched.job_id], self.hook.region_name))
            watched.next_due = now + watched.policy.min_interval
            return
        watched.missing, watched.job = 0, job
        if note_launches(job, watched.observed_launched, seen_at):
            watched.launch_phase = True
        if job.get("status") == "COMPLETED":
            watched.finish()
            return
        if watched.uses_events and watched.all_announced():
            watched.finish(settled_by="events" if watched.announced else "read")
            return
        watched.next_due = now + watched.interval(now)

    async def _check_launch_phase(self, client: Any, now: float) -> None:
        """Read the log of jobs still converting, to spot LAUNCH_START.

        At most LOG_CHECKS_PER_TICK jobs a tick, oldest first (they are nearest to launching): once
        any watched job is launching the poller ticks fast and every job rides along, so these
        reads need not grow with the number of jobs.
        """
        candidates = sorted(
            (w for w in self._active_jobs()
             if not w.launch_phase and not w.uses_events and (w.job or {}).get("status") == "STARTED"
             and w.next_log_check <= now),
            key=lambda w: w.registered_at,
        )
        for watched in candidates[:LOG_CHECKS_PER_TICK]:
            watched.next_log_check = now + watched.interval(now)
            try:
                items = await self.hook.get_job_log_items_async(watched.job_id, client)
            except (ClientError, BotoCoreError, OSError, asyncio.TimeoutError):
                continue  # only the speed-up is lost; DescribeJobs still tells completion
            if any(item.get("event") in ("LAUNCH_START", "LAUNCH_FAILED") for item in items):
                watched.launch_phase = True
                watched.next_due = min(watched.next_due, now + watched.policy.min_interval)

    def _on_error(self, error: Exception, active: list[WatchedJob]) -> None:
        fatal = not is_transient_error(error)  # no amount of waiting fixes these
        self.consecutive_errors += 1
        budget = min(w.policy.max_consecutive_errors for w in active)
        if fatal or self.consecutive_errors > budget:
            why = "refused" if fatal else f"failed {self.consecutive_errors} times in a row"
            for watched in active:
                watched.finish(f"DescribeJobs {why} while watching {watched.job_id}: {error}")
            return
        # botocore already retried (honouring Retry-After); back off before the next round.
        backoff = min(max(w.policy.max_interval for w in active), 2.0**self.consecutive_errors)
        for watched in active:
            watched.next_due = time.monotonic() + backoff
