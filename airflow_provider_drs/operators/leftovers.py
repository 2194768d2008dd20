"""The task of a plan's cleanup DAG: terminate the drill instances that dead runs left behind."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_drs.hooks.drs_safety import sweep_leftover_drills
from airflow_provider_drs.hooks.readiness import resolve_servers_now
from airflow_provider_drs.operators.drs import DrsTerminateRecoveryInstancesOperator
from airflow_provider_drs.operators.launch_safety import airflow_run_state
from airflow_provider_drs.plan_tasks import LEFTOVERS

if TYPE_CHECKING:
    from airflow.sdk import Context


class PlanLeftoverCleanupOperator(DrsTerminateRecoveryInstancesOperator):
    """
    Find every live drill instance of a plan's servers (listed and tag-selected, resolved now) and
    terminate those whose drill run is over: finished, or deleted from Airflow. With ``force``, also
    those launched outside this provider or by a run this Airflow does not know. A drill instance
    of a run still going, and every real recovery instance, are left alone, each with its reason in
    the log and in the ``leftovers`` XCom. Then waits for the TERMINATE jobs, like its parent.

    :param plan_name: the plan; its drill DAG's id names the runs that are this plan's.
    :param drill_dag_id: that DAG id.
    :param waves: ``Plan.wave_specs()``: each wave's listed servers and tag-selected groups.
    :param force: also clear drill instances whose launching run is unknown (templated: the DAG
        passes its ``force`` param).
    """

    template_fields = (*DrsTerminateRecoveryInstancesOperator.template_fields, "force")

    def __init__(self, *, plan_name: str, drill_dag_id: str, waves: Mapping[str, Mapping[str, Any]],
                 force: bool | str = False, **kwargs: Any):
        super().__init__(**kwargs)
        self.plan_name, self.drill_dag_id, self.waves, self.force = plan_name, drill_dag_id, dict(waves), force

    def _select_drill_instances(self, context: Context) -> list[dict[str, Any]]:
        resolved = resolve_servers_now(self.hook, self.waves)
        servers = [sid for ids in resolved.values() for sid in ids]
        force = str(self.force).strip().lower() in ("true", "1", "yes")
        sweep = sweep_leftover_drills(self.hook.launch_holdings(servers), self.drill_dag_id,
                                      lambda ref: airflow_run_state(context, ref), force)
        for holding, reason in sweep.kept:
            self.log.info("drs.leftovers plan=%s kept %s: %s", self.plan_name, holding.describe(), reason)
        for holding, reason in sweep.terminate:
            self.log.warning("drs.leftovers plan=%s terminating %s: %s", self.plan_name, holding.describe(), reason)
        context["ti"].xcom_push(key=LEFTOVERS, value=(
            [{**h.as_dict(), "action": "terminate", "reason": reason} for h, reason in sweep.terminate]
            + [{**h.as_dict(), "action": "keep", "reason": reason} for h, reason in sweep.kept]))
        if not all(h.is_drill for h, _ in sweep.terminate):  # the rule never selects one; refuse if it did
            raise RuntimeError("refusing: a non-drill recovery instance was selected for termination")
        self.log.info("drs.leftovers plan=%s servers=%d terminate=%d kept=%d force=%s", self.plan_name,
                      len(servers), len(sweep.terminate), len(sweep.kept), force)
        return [{"recovery_instance_id": h.recovery_instance_id, "ec2_instance_id": h.ec2_instance_id,
                 "source_server_id": h.source_server_id, "job_id": h.job_id} for h, _ in sweep.terminate]
