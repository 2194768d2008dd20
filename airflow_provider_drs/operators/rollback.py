"""Rolling a recovery back: terminate the recovery instances this DAG run launched, and only those.

Chosen at the commit-or-roll-back question (operators/decision.py). The instances are those of the
run's own START_RECOVERY jobs (run_launches): a recovery instance another run or the console
launched, drill instances, and instances this run replaced are never selected. The source servers
keep replicating, so the plan can be recovered again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_drs.hooks.drs_safety import RunRef
from airflow_provider_drs.operators.cleanup import DrillCleanupOperator
from airflow_provider_drs.operators.launch_safety import run_ref
from airflow_provider_drs.operators.run_launches import as_target, instances_of_jobs

if TYPE_CHECKING:
    from airflow.sdk import Context


class RecoveryRollbackOperator(DrillCleanupOperator):
    """Terminate the recovery instances of this run's waves; returns what it terminated."""

    ui_color = "#ef9a9a"
    launches_drills = False

    def _select_drill_instances(self, context: Context) -> list[dict[str, Any]]:
        own = run_ref(context)
        jobs = self.hook.describe_jobs(self.job_ids) if self.job_ids else {}
        foreign = [job_id for job_id, job in jobs.items()
                   if job.get("initiatedBy") != "START_RECOVERY" or RunRef.from_tags(job.get("tags")) not in (None, own)]
        if foreign:  # the rule that found the jobs never picks these; refuse rather than trust it
            raise RuntimeError(f"refusing to roll back: jobs {', '.join(foreign)} are not this run's recovery jobs")
        instances = [i for i in instances_of_jobs(self.hook, jobs) if not i.get("isDrill")]
        for instance in instances:
            self.log.warning("drs.rollback terminating recovery instance %s (EC2 %s) of %s, launched by job %s",
                             instance["recoveryInstanceID"], instance.get("ec2InstanceID"),
                             instance.get("sourceServerID"), instance.get("jobID"))
        return [as_target(i) for i in instances]
