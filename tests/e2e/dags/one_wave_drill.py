"""A hand-written drill DAG using the provider's operators directly (no plan, no factory)."""

from datetime import datetime, timezone

from airflow.sdk import DAG

from airflow_provider_drs.operators.drs import DrsStartRecoveryOperator, DrsTerminateRecoveryInstancesOperator
from airflow_provider_drs.sensors.drs import DrsJobSensor

with DAG(dag_id="one_wave_drill", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc), catchup=False):
    start = DrsStartRecoveryOperator(
        task_id="start_recovery",
        source_server_ids=["s-3578f52ef3bdd58b4", "s-0e5a9c4b2f7d18e36"],
        is_drill=True,
    )
    wait = DrsJobSensor(task_id="wait_for_launch", job_id=start.output, min_poll_interval=0.2, max_poll_interval=1)
    cleanup = DrsTerminateRecoveryInstancesOperator(
        task_id="cleanup", job_ids=[start.output], trigger_rule="all_done", deferrable=True,
        min_poll_interval=0.2, max_poll_interval=1,
    )
    start >> wait >> cleanup
