"""The failback DAG of the three-tier plan: web, then app, then database, each failed back."""

from __future__ import annotations

from airflow_provider_drs.hooks.drs_safety import RunRef
from tests.e2e.helpers import HitlResponder, is_state, launch, run_dag, task_states

DB, APP, WEB1, WEB2 = "s-3578f52ef3bdd58b4", "s-0e5a9c4b2f7d18e36", "s-3c1730a9e0771ea14", "s-3d75cdc0d9a28a725"


def test_failback_of_a_three_tier_recovery_runs_in_reverse_order(dagbag, airflow_sim):
    drs = airflow_sim.client("drs")
    launch(airflow_sim, [DB, APP, WEB1, WEB2], is_drill=False)  # the recovery (how it ran does not matter)
    instances = {i["sourceServerID"]: i for i in drs.describe_recovery_instances()["items"] if not i["isDrill"]}
    # The database came from the data centre: its Failback Client was booted there.
    airflow_sim.control.boot_failback_client(instances[DB]["recoveryInstanceID"])
    responder = HitlResponder("drs_three_tier_failback", "approve", airflow_sim)
    responder.start()
    dag_run = run_dag(dagbag, "drs_three_tier_failback")
    responder.join(timeout=10)

    states = task_states(dag_run)
    assert is_state(dag_run, "success"), states
    assert "Waves fail back in this order: web -> app -> database" in responder.body_when_waiting
    # Nothing was touched before the approval.
    assert responder.calls_when_waiting.get("ReverseReplication", 0) == 0
    jobs = [j for j in drs.describe_jobs()["items"] if j["initiatedBy"] == "FAILBACK"]
    assert all(j["status"] == "COMPLETED" for j in jobs)
    by_servers = {frozenset(s["sourceServerID"] for s in j["participatingServers"]): j for j in jobs}
    assert set(by_servers) == {frozenset({WEB1, WEB2}), frozenset({APP}), frozenset({DB})}
    web, app, db = (by_servers[frozenset(s)] for s in ({WEB1, WEB2}, {APP}, {DB}))
    # Each wave launched only once the waves depending on it had failed back.
    assert web["endDateTime"] <= app["creationDateTime"] and app["endDateTime"] <= db["creationDateTime"]
    after = {i["recoveryInstanceID"]: i for i in drs.describe_recovery_instances()["items"]}
    assert {after[i["recoveryInstanceID"]]["failback"]["state"] for i in instances.values()} == {"FAILBACK_COMPLETED"}
    # Reverse replication for the AWS-origin tiers only; the database's came from its Failback Client.
    assert airflow_sim.control.calls().get("ReverseReplication") == 3
    assert all(RunRef.from_tags(j["tags"]) == RunRef(dag_run.dag_id, dag_run.run_id) for j in jobs)
