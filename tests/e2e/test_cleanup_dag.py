"""A plan's cleanup DAG (drs_<plan>_cleanup), run by Airflow (dag.test) against the simulator: it
terminates the drill instances a dead run left, never a real recovery instance, and an instance
whose launching run is unknown only with force."""

from __future__ import annotations

import pytest

from airflow_provider_drs.hooks.drs_safety import RunRef
from tests.e2e.helpers import launch, task_states

DB, APP, WEB1, WEB2 = "s-3578f52ef3bdd58b4", "s-0e5a9c4b2f7d18e36", "s-3c1730a9e0771ea14", "s-3d75cdc0d9a28a725"
pytestmark = pytest.mark.timeout(300)


def ec2_state_of(sim, server: str) -> str | None:
    """The EC2 state of the server's recovery instance, None when DRS lists none."""
    instances = sim.client("drs").describe_recovery_instances(filters={"sourceServerIDs": [server]})["items"]
    if not instances:
        return None
    (ec2_id,) = [i["ec2InstanceID"] for i in instances]
    reservations = sim.client("ec2").describe_instances(InstanceIds=[ec2_id])["Reservations"]
    return reservations[0]["Instances"][0]["State"]["Name"]


def test_the_cleanup_dag_clears_what_a_dead_drill_left_and_nothing_real(dagbag, airflow_sim):
    drs = airflow_sim.client("drs")
    dead_drill = launch(airflow_sim, [DB, APP], is_drill=True)  # its run was deleted before its cleanup
    drs.tag_resource(resourceArn=dead_drill["arn"], tags=RunRef("drs_three_tier_drill", "manual__killed").tags())
    launch(airflow_sim, [WEB2], is_drill=True)    # from the console: nobody knows its run
    launch(airflow_sim, [WEB1], is_drill=False)   # a real recovery: never touched
    dag = dagbag.dags["drs_three_tier_cleanup"]

    dag_run = dag.test()
    assert str(dag_run.state) in ("success", "DagRunState.SUCCESS"), task_states(dag_run)
    assert {s: ec2_state_of(airflow_sim, s) for s in (DB, APP, WEB1, WEB2)} == {
        DB: None, APP: None, WEB1: "running", WEB2: "running"}  # terminated drill instances leave DRS's list

    dag_run = dag.test(run_conf={"force": True})
    assert str(dag_run.state) in ("success", "DagRunState.SUCCESS"), task_states(dag_run)
    assert (ec2_state_of(airflow_sim, WEB2), ec2_state_of(airflow_sim, WEB1)) == (None, "running")
    assert airflow_sim.control.calls()["TerminateRecoveryInstances"] == 2
