"""The drill's cleanup task: terminate every drill instance this run launched, whatever happened.

The job ids come from the waves' start_recovery XComs; a wave whose start task died before it
could record its job is covered by looking the job up in DRS (same rule as adoption: a LAUNCH drill
job since the run started, for exactly that wave's servers). Launch jobs still running are waited
for first, so no instance appears after the cleanup has looked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_drs.exceptions import DrsJobNotFound, DrsWaitTimeout
from airflow_provider_drs.hooks.drs_wait import PollingPolicy, wait_for_jobs
from airflow_provider_drs.operators.drs import DrsTerminateRecoveryInstancesOperator
from airflow_provider_drs.operators.launch_safety import run_ref, run_started_at
from airflow_provider_drs.plan_tasks import PREFLIGHT, START_RECOVERY, in_wave

if TYPE_CHECKING:
    from airflow.sdk import Context

LAUNCH_JOB_WAIT_SECONDS = 3 * 3600


class DrillCleanupOperator(DrsTerminateRecoveryInstancesOperator):
    """Terminate the drill instances of this DAG run's waves (never a non-drill instance)."""

    ui_color = "#d4a5a5"

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
        ti = context["ti"]
        resolved = ti.xcom_pull(task_ids=self.preflight_task_id) or {}
        since, own = run_started_at(context), run_ref(context)
        job_ids = []
        for wave in self.wave_names:
            job_id = ti.xcom_pull(task_ids=in_wave(wave, START_RECOVERY))
            if isinstance(job_id, dict):  # a one-task wave returns {"job_id", "results"}
                job_id = job_id.get("job_id")
            if not job_id and resolved.get(wave):
                job = self.hook.find_run_launch_job(resolved[wave], since, is_drill=True, run=own)
                if job:
                    self.log.warning("drs.cleanup wave=%s found unrecorded job_id=%s", wave, job["jobID"])
                    job_id = job["jobID"]
            if job_id:
                job_ids.append(job_id)
        return job_ids

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
