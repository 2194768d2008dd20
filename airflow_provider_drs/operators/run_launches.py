"""The LAUNCH jobs one DAG run started, wave by wave: what its cleanup, its commit-or-roll-back
question and its rollback act on (and never anything else).

The job ids come from the waves' start_recovery XComs; a wave whose start task died before it could
record its job is covered by looking the job up in DRS (the adoption rule: a LAUNCH job of the same
kind since the run started, for exactly that wave's servers, tagged with this run or untagged).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_drs.operators.launch_safety import run_ref, run_started_at
from airflow_provider_drs.plan_tasks import PREFLIGHT, START_RECOVERY, in_wave

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_drs.hooks.drs import DrsHook


def run_launch_jobs(hook: DrsHook, context: Context, wave_names: Sequence[str], is_drill: bool, log: Any,
                    preflight_task_id: str = PREFLIGHT) -> list[str]:
    ti = context["ti"]
    resolved = ti.xcom_pull(task_ids=preflight_task_id) or {}
    since, own = run_started_at(context), run_ref(context)
    job_ids = []
    for wave in wave_names:
        job_id = ti.xcom_pull(task_ids=in_wave(wave, START_RECOVERY))
        if isinstance(job_id, dict):  # a one-task wave returns {"job_id", "results"}
            job_id = job_id.get("job_id")
        if not job_id and resolved.get(wave):
            job = hook.find_run_launch_job(resolved[wave], since, is_drill=is_drill, run=own)
            if job:
                log.warning("drs.run_launches wave=%s found unrecorded job_id=%s", wave, job["jobID"])
                job_id = job["jobID"]
        if job_id:
            job_ids.append(job_id)
    return job_ids


def instances_of_jobs(hook: DrsHook, jobs: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The recovery instances these jobs (``{job id: job}``, as DescribeJobs gave them) launched
    that still exist (DescribeRecoveryInstances of their servers)."""
    servers = sorted({s["sourceServerID"] for j in jobs.values() for s in j.get("participatingServers", [])})
    if not servers:
        return []
    return [i for i in hook.describe_recovery_instances(source_server_ids=servers) if i.get("jobID") in jobs]


def as_target(instance: dict[str, Any]) -> dict[str, Any]:
    """A recovery instance as terminate tasks record it."""
    return {"recovery_instance_id": instance["recoveryInstanceID"], "ec2_instance_id": instance.get("ec2InstanceID"),
            "source_server_id": instance.get("sourceServerID"), "job_id": instance.get("jobID")}
