"""Waiting on DRS jobs: the one polling policy, the one missing-job rule and the one synchronous wait.

Every wait on DRS jobs uses these: the worker-side wait of the operators, a recovery waiting for a
drill's launch job to end, the drill cleanup waiting for its launch jobs, the sensor in poke mode
(one ``JobWatch.read`` a poke) and, for the policy and the missing-job rule, the triggerer's shared
poller (``triggers.drs_poller``). Like ``hooks.ssm_automation.ExecutionWatch``, ``JobWatch`` keeps
the bookkeeping of one wait between reads; the loop around it is the caller's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_drs.exceptions import DrsJobNotFound, DrsWaitTimeout
from airflow_provider_drs.hooks.drs_results import note_launches

if TYPE_CHECKING:
    from airflow_provider_drs.hooks.drs import DrsHook

# DescribeJobs may not list a job for a moment right after StartRecovery: this many reads in a row
# without it, and the job is taken as not there (wrong region or account).
MISSING_JOB_TOLERANCE = 3


def missing_jobs_message(job_ids: Sequence[str], region_name: str | None) -> str:
    plural = "s" if len(job_ids) > 1 else ""
    return (f"DRS job{plural} {', '.join(sorted(job_ids))} not found in region {region_name}: check the region "
            "and account of the AWS connection.")


@dataclass
class PollingPolicy:
    """How often a job is read: slowly while its servers snapshot and convert (a fraction of its
    age, so a 20-minute conversion is read every 30 s and a 10-second one every second or two),
    at the minimum once a server launches, so completion is noticed within about that long.

    When DRS's launch-result events reach the wait (``events_interval`` set), they tell completion
    and reads only make up for lost events: every ``events_interval`` seconds, whatever the phase."""

    min_interval: float = 2.0
    max_interval: float = 30.0
    slow_factor: float = 0.1
    max_consecutive_errors: int = 8
    events_interval: float | None = None

    def interval(self, age: float, launching: bool, events: bool = True) -> float:
        """Seconds to the next read; ``events=False``: this job gets no events (not a launch job)."""
        if events and self.events_interval is not None:
            return self.events_interval
        if launching:
            return self.min_interval
        return min(self.max_interval, max(self.min_interval, age * self.slow_factor))


class JobWatch:
    """One wait for some DRS jobs, between reads: the launches seen (their times are the report's
    launch times when the job log is late), whether any server launches, the missing streak."""

    def __init__(self, job_ids: Sequence[str], policy: PollingPolicy, clock: Callable[[], float] = time.monotonic):
        self.job_ids = list(job_ids)
        self.policy, self.clock = policy, clock
        self.started = clock()
        self.jobs: dict[str, dict[str, Any]] = {}
        self.observed_launched: dict[str, str] = {}
        self.launching = False
        self.missing_reads = 0

    def read(self, hook: DrsHook) -> bool:
        """Read the jobs once; True when every one is COMPLETED. Raises DrsJobNotFound once a job has
        been missing MISSING_JOB_TOLERANCE reads in a row."""
        self.jobs = hook.describe_jobs(self.job_ids)
        missing = [job_id for job_id in self.job_ids if job_id not in self.jobs]
        self.missing_reads = self.missing_reads + 1 if missing else 0
        if self.missing_reads >= MISSING_JOB_TOLERANCE:
            raise DrsJobNotFound(missing_jobs_message(missing, hook.region_name))
        now = hook.now_iso()
        for job in self.jobs.values():
            self.launching = note_launches(job, self.observed_launched, now) or self.launching
        return not missing and all(job.get("status") == "COMPLETED" for job in self.jobs.values())

    def next_interval(self) -> float:
        return self.policy.interval(self.clock() - self.started, self.launching)

    def results(self, hook: DrsHook) -> dict[str, dict[str, Any]]:
        """Per-server results of all the jobs (see ``hooks.drs_results``)."""
        results: dict[str, dict[str, Any]] = {}
        for job_id in self.job_ids:
            results.update(hook.get_job_results(job_id, self.observed_launched))
        return results


def wait_for_jobs(hook: DrsHook, job_ids: Sequence[str], policy: PollingPolicy, timeout: float | None = None,
                  sleep: Callable[[float], None] = time.sleep, log: Any = None) -> JobWatch:
    """Read the jobs until every one is COMPLETED, at the policy's pace; the watch holds what was seen.
    Raises DrsWaitTimeout after ``timeout`` seconds (None: no limit) and DrsJobNotFound."""
    watch = JobWatch(job_ids, policy)
    deadline = watch.started + timeout if timeout else None
    while not watch.read(hook):
        if deadline is not None and watch.clock() >= deadline:
            running = sorted(j for j in watch.job_ids if watch.jobs.get(j, {}).get("status") != "COMPLETED")
            raise DrsWaitTimeout(f"DRS jobs {', '.join(running)} did not complete within {timeout:g} s.")
        pause = watch.next_interval()
        if deadline is not None:
            pause = max(0.0, min(pause, deadline - watch.clock()))
        if log is not None:
            log.info("drs.wait jobs=%s launching=%s next_read_in=%.1fs", ",".join(watch.job_ids),
                     watch.launching, pause)
        sleep(pause)
    return watch
