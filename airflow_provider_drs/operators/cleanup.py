"""The drill's cleanup task: terminate every drill instance this run launched, whatever happened.

The run's launch jobs are found as ``run_launches`` says. Launch jobs still running are waited for
first, so no instance appears after the cleanup has looked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_drs.exceptions import DrsJobNotFound, DrsWaitTimeout
from airflow_provider_drs.hooks.drs_wait import PollingPolicy, wait_for_jobs
from airflow_provider_drs.operators.drs import DrsTerminateRecoveryInstancesOperator
from airflow_provider_drs.operators.run_launches import run_launch_jobs
from airflow_provider_drs.plan_tasks import PREFLIGHT

if TYPE_CHECKING:
    from airflow.sdk import Context

LAUNCH_JOB_WAIT_SECONDS = 3 * 3600


class DrillCleanupOperator(DrsTerminateRecoveryInstancesOperator):
    """Terminate the drill instances of this DAG run's waves (never a non-drill instance)."""

    ui_color = "#d4a5a5"
    launches_drills = True  # the kind of launch job (drill or recovery) whose instances it terminates

    def __init__(self, *, wave_names: Sequence[str], preflight_task_id: str = PREFLIGHT, **kwargs: Any):
        super().__init__(**kwargs)
        self.wave_names = list(wave_names)
        self.preflight_task_id = preflight_task_id

    def execute(self, context: Context) -> list[dict[str, Any]]:
        self.job_ids = self._launch_jobs(context)
        self.log.info("drs.cleanup launch_jobs=%s", ",".join(self.job_ids) or "none")
        self._wait_for_launch_jobs(self.job_ids)
        return super().execute(context)

    def _launch_jobs(self, context: Context) -> list[str]:
        return run_launch_jobs(self.hook, context, self.wave_names, self.launches_drills, self.log, self.preflight_task_id)

    def _wait_for_launch_jobs(self, job_ids: list[str]) -> None:
        """Wait (at the fastest pace) for the run's launch jobs to end. Whatever stops the wait, the
        cleanup goes on to terminate what exists: it never skips instances it can see."""
        if not job_ids:
            return
        self.log.info("drs.cleanup waiting for launch jobs to complete: %s", ",".join(job_ids))
        try:
            wait_for_jobs(self.hook, job_ids, PollingPolicy(self.min_poll_interval, self.min_poll_interval),
                          LAUNCH_JOB_WAIT_SECONDS)
        except (DrsWaitTimeout, DrsJobNotFound) as stopped:
            self.log.error("drs.cleanup stopped waiting for the launch jobs (%s); terminating what exists now",
                           stopped)
