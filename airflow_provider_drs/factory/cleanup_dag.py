"""The cleanup DAG of a plan, ``drs_<plan>_cleanup``: manual, no approval, drill instances only."""

from __future__ import annotations

from airflow.sdk import DAG, Param

from airflow_provider_drs.factory.dag_builder import START_DATE, polling
from airflow_provider_drs.operators.leftovers import PlanLeftoverCleanupOperator
from airflow_provider_drs.plan_tasks import CLEAR_LEFTOVERS
from airflow_provider_drs.plans import Plan

DOC = """# Clear the drill instances of plan {plan} left behind

Terminates every live **drill** instance of the plan's servers whose drill run is over: finished,
or deleted from Airflow (a worker lost mid-run, a run deleted before its cleanup). Use it after such
a run, and as the quarterly "nothing left behind" check: a run that finds nothing terminates nothing.

- Never touches a real recovery instance, nor the drill instances of a drill still running.
- `force`: also clear drill instances launched outside this provider (console, CLI), or by a run
  this Airflow does not know. The task log and its `leftovers` XCom list every instance found, and
  what was done with it and why.
"""


def build_cleanup_dag(plan: Plan) -> DAG:
    with DAG(
        dag_id=plan.cleanup_dag_id(),
        description=f"Terminate drill instances that dead runs of plan {plan.name} left behind"[:200],
        schedule=None,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["drs", "cleanup", f"plan:{plan.name}"],
        doc_md=DOC.format(plan=plan.name),
        params={"force": Param(False, type="boolean", title="force",
                               description="Also terminate drill instances whose launching run is unknown "
                                           "(launched outside this provider, or by another Airflow).")},
    ) as dag:
        PlanLeftoverCleanupOperator(
            task_id=CLEAR_LEFTOVERS, plan_name=plan.name, drill_dag_id=plan.dag_id("drill"),
            waves=plan.wave_specs(), force="{{ params.force }}", deferrable=True, retries=1,
            aws_conn_id=plan.aws_conn_id, region_name=plan.region, **polling(),
        )
    return dag
