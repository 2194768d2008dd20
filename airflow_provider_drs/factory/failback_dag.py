"""The failback DAG of a plan, ``drs_<plan>_failback``: manual, approval first, waves in reverse.

begin -> approve -> find_recovery_instances -> waves, each wave after the waves that depend on it
(the web tier fails back before the app tier, the app tier before the database). Per wave:
reverse_replication -> wait_for_replication -> start_failback_launch -> wait_for_failback
[-> stop_failback, when the plan's failback.stop_replication says so].
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.providers.common.compat.sdk import conf
from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import DAG, TaskGroup, chain

from airflow_provider_drs.factory.actions import hitl_users
from airflow_provider_drs.factory.dag_builder import START_DATE
from airflow_provider_drs.operators.failback import (
    DrsReverseReplicationOperator, DrsStartFailbackLaunchOperator, DrsStopFailbackOperator, FailbackSelectionOperator)
from airflow_provider_drs.plan_tasks import (
    APPROVE, FIND_RECOVERY_INSTANCES, REVERSE_REPLICATION, START_FAILBACK_LAUNCH, STOP_FAILBACK, WAIT_FOR_FAILBACK,
    WAIT_FOR_REPLICATION)
from airflow_provider_drs.plans import Plan, WaveGraph
from airflow_provider_drs.sensors.drs_failback import DrsFailbackSensor
from airflow_provider_drs.version_compat import hitl_answer_window

DOC = """# Fail plan {plan} back to its source

Fails back the plan's recovered servers (their live, non-drill recovery instances) wave by wave,
in reverse dependency order: **{order}**. Per wave: start replicating back to the origin
(ReverseReplication for an AWS-origin source, which is also its reprotect; for an on-premises
source, boot the DRS Failback Client on the origin machine when the log asks), wait until the
replication is ready, launch the failback (StartFailbackLaunch) and wait for it to complete{stop}.
A failed step stops the waves after it; every step is safe to retry.
"""


def build_failback_dag(plan: Plan, graph: WaveGraph | None = None) -> DAG:
    graph = graph or WaveGraph(plan)
    conn = {"aws_conn_id": plan.aws_conn_id, "region_name": plan.region}
    stop = plan.failback.stop_replication
    order = list(reversed(graph.order))  # one valid order, for the docs; the edges are what runs
    with DAG(
        dag_id=plan.failback_dag_id(),
        description=f"Fail plan {plan.name} back to its source, wave by wave in reverse"[:200],
        schedule=None,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["drs", "failback", f"plan:{plan.name}"],
        doc_md=DOC.format(plan=plan.name, order=" -> ".join(order),
                          stop=", then stop the failback replication (StopFailback)" if stop else ""),
        default_args={"retries": 2, "retry_delay": timedelta(seconds=30)},
    ) as dag:
        timeout = plan.recovery.approval_timeout_minutes
        approve = ApprovalOperator(
            task_id=APPROVE, subject=f"Fail plan {plan.name} back from {plan.region} to its source?",
            body=f"Waves fail back in this order: {' -> '.join(order)}. The recovered instances keep running "
                 "until each wave's failback launch completes.",
            retries=0, assigned_users=hitl_users(plan.recovery.approvers),
            **({"defaults": [ApprovalOperator.REJECT]} if timeout else {}),
            **hitl_answer_window(timedelta(minutes=timeout) if timeout else None))
        find = FailbackSelectionOperator(task_id=FIND_RECOVERY_INSTANCES, plan_name=plan.name,
                                         waves=plan.wave_specs(), **conn)
        approve >> find
        poll_interval = conf.getfloat("drs", "failback_poll_interval", fallback=60.0)  # replication takes hours
        groups = {name: _wave_group(name, stop, poll_interval, conn) for name in order}
        for name, (first, last) in groups.items():
            dependents = [w.name for w in plan.waves if name in w.depends_on]
            if not dependents:
                find >> first
            for dependent in dependents:
                groups[dependent][1] >> first
    return dag


def _wave_group(name: str, stop: bool, poll_interval: float, conn: dict[str, Any]) -> tuple[Any, Any]:
    ids = f"{{{{ ti.xcom_pull(task_ids='{FIND_RECOVERY_INSTANCES}')['{name}'] | tojson }}}}"
    with TaskGroup(group_id=name, tooltip=f"failback of wave {name}"):
        # A wave with nothing to fail back skips its steps; the waves after it still go.
        steps = [
            DrsReverseReplicationOperator(task_id=REVERSE_REPLICATION, recovery_instance_ids=ids,
                                          trigger_rule="none_failed", **conn),
            DrsFailbackSensor(task_id=WAIT_FOR_REPLICATION, recovery_instance_ids=ids, target="ready",
                              poll_interval=poll_interval, **conn),
            DrsStartFailbackLaunchOperator(task_id=START_FAILBACK_LAUNCH, recovery_instance_ids=ids, **conn),
            DrsFailbackSensor(task_id=WAIT_FOR_FAILBACK, recovery_instance_ids=ids, target="completed",
                              poll_interval=poll_interval, **conn),
        ]
        if stop:
            steps.append(DrsStopFailbackOperator(task_id=STOP_FAILBACK, recovery_instance_ids=ids, **conn))
        chain(*steps)
    return steps[0], steps[-1]

