"""delay_minutes under dag.test(): the wave's deferred wait runs after the wave it depends on and
before the wave's recovery job, for the whole delay, and the report finds nothing wrong with it."""

from __future__ import annotations

from datetime import datetime

from tests.e2e.helpers import is_state, read_report, run_dag, task_states

DB, APP = "s-3578f52ef3bdd58b4", "s-0e5a9c4b2f7d18e36"


def task_times(dag_run) -> dict[str, tuple[datetime, datetime]]:
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = session.query(TaskInstance).filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id).all()
        return {ti.task_id: (ti.start_date, ti.end_date) for ti in tis}


def test_a_delayed_wave_waits_between_its_upstream_wave_and_its_job(test_dagbag, airflow_sim):
    dag_run = run_dag(test_dagbag, "drs_delayed_drill")
    states = task_states(dag_run)
    assert is_state(dag_run, "success"), states
    assert states["app.delay"] == "success" and "database.delay" not in states
    times = task_times(dag_run)
    delay_start, delay_end = times["app.delay"]
    assert times["database.wait_for_launch"][1] <= delay_start
    assert (delay_end - delay_start).total_seconds() >= 59  # the whole minute (a retried start would restart it)
    assert delay_end <= times["app.start_recovery"][0]
    report = read_report(dag_run)
    waves = {w["name"]: w for w in report["waves"]}
    assert waves["app"]["state"] == "success" and report["rto"]["met"] is True
    assert [s["source_server_id"] for s in waves["app"]["servers"]] == [APP]
