"""After the last wave of a recovery: roll it back, or let the plan's default decide (a commit is
test_plan_dags' recovery of the three-tier plan)."""

from __future__ import annotations

import threading

from airflow_provider_drs.reports.storage import report_path

from tests.e2e.helpers import (
    HitlResponder, is_state, launch, read_report, read_report_page, run_dag, running_instance_states, task_states)

DB, APP, WEB1 = "s-3578f52ef3bdd58b4", "s-0e5a9c4b2f7d18e36", "s-3c1730a9e0771ea14"
# The plan's approver as the simple auth manager hands a user over: its id and its name are the
# user name (Airflow 3.1 checks both against the task's assignees).
SIMPLE_AUTH_USER = ("sre-on-call", "sre-on-call")


def live_instances(sim) -> dict[str, dict]:
    """recovery instance id -> instance, of every recovery instance DRS still has."""
    return {i["recoveryInstanceID"]: i for i in sim.client("drs").describe_recovery_instances()["items"]}


def test_a_rolled_back_recovery_terminates_its_own_instances_and_nothing_else(test_dagbag, airflow_sim):
    launch(airflow_sim, [WEB1], is_drill=False)  # the console's recovery of a server outside the plan
    (unrelated,) = live_instances(airflow_sim).values()
    responder = HitlResponder("drs_two_tier_recovery", "approve", airflow_sim, then=(("decide", "Roll back"),),
                              user=SIMPLE_AUTH_USER)
    responder.start()
    dag_run = run_dag(test_dagbag, "drs_two_tier_recovery")
    responder.join(timeout=10)

    states = task_states(dag_run)
    assert responder.answered_all == {"approve": "Approve", "decide": "Roll back"}, states
    assert is_state(dag_run, "success"), states
    assert (states["decide"], states["commit"], states["rollback"], states["record_decision"]) == (
        "success", "skipped", "success", "success")
    # The question named what a rollback terminates: this run's two instances, not the unrelated one.
    question = responder.bodies["decide"]
    assert "launched 2 recovery instance(s)" in question and unrelated["recoveryInstanceID"] not in question
    left = live_instances(airflow_sim)
    assert list(left) == [unrelated["recoveryInstanceID"]], left
    ec2 = running_instance_states(airflow_sim.client("ec2"))
    assert ec2[unrelated["ec2InstanceID"]] == "running"
    report = read_report(dag_run)
    decision = report["decision"]
    assert (decision["decision"], decision["by"], decision["timed_out"]) == ("rollback", "sre-on-call", False)
    assert sorted(t["source_server_id"] for t in decision["terminated"]) == sorted([DB, APP])
    assert all(ec2[t["ec2_instance_id"]] == "terminated" for t in decision["terminated"])
    assert report["outcome"] == "succeeded"  # the recovery worked; rolling it back was a choice
    read_report_page(dag_run)  # still self-contained
    page = report_path(dag_run.dag_id, dag_run.run_id).with_suffix(".html").read_text()
    assert 'id="decision"' in page and "rolled back" in page


def test_an_unanswered_question_takes_the_plans_default(test_dagbag, airflow_sim):
    from tests.airflow_compat import hitl_timeout_sweep

    responder = HitlResponder("drs_unanswered_recovery", "approve", airflow_sim, then=(("decide", None),))
    responder.start()
    sweep, stop = hitl_timeout_sweep(), threading.Event()
    if sweep:  # Airflow 3.3: the scheduler's job, which dag.test() does not run
        threading.Thread(target=lambda: [sweep() for _ in iter(lambda: stop.wait(2), True)], daemon=True).start()
    try:
        dag_run = run_dag(test_dagbag, "drs_unanswered_recovery")
    finally:
        stop.set()
    responder.join(timeout=10)

    states = task_states(dag_run)
    assert is_state(dag_run, "success"), states
    assert (states["commit"], states["rollback"]) == ("skipped", "success"), states
    assert live_instances(airflow_sim) == {}
    decision = read_report(dag_run)["decision"]
    assert (decision["decision"], decision["by"], decision["timed_out"]) == ("rollback", None, True)
    assert [t["source_server_id"] for t in decision["terminated"]] == [APP]
