"""A drill never harms a live recovery or another live run; a rejected recovery is an outcome.

Real plan DAGs run by Airflow (dag.test) against the simulator over HTTP; what happened is read
back from the simulator's side (jobs, recovery instances, EC2 states).
"""

from __future__ import annotations

import threading
import time

import pytest

from airflow_provider_drs.hooks.drs_safety import DAG_ID_TAG, RUN_ID_TAG
from tests.waiting import wait_until
from tests.e2e.helpers import (
    HitlResponder,
    cloudwatch_sums,
    is_state,
    launch,
    read_report,
    run_dag,
    running_instance_states,
    subscribe_queue,
    task_states,
    try_numbers,
)

DB, APP, WEB1, WEB2 = "s-3578f52ef3bdd58b4", "s-0e5a9c4b2f7d18e36", "s-3c1730a9e0771ea14", "s-3d75cdc0d9a28a725"
pytestmark = pytest.mark.timeout(300)


def refusal_in(capsys) -> str:
    """The refusal the task logged (task logs go to stdout under dag.test), and what follows it."""
    out = capsys.readouterr().out
    assert "drill refused" in out, out[-3000:]
    return out[out.index("drill refused") - 300:][:3000]


def instances_of(sim, server: str) -> list[dict]:
    return sim.client("drs").describe_recovery_instances(filters={"sourceServerIDs": [server]})["items"]


def drill_jobs_with(sim, servers: set[str]) -> list[dict]:
    return [j for j in sim.client("drs").describe_jobs()["items"] if j["initiatedBy"] == "START_DRILL"
            and servers & {s["sourceServerID"] for s in j["participatingServers"]}]


def test_drill_refuses_a_server_recovered_for_real(dagbag, airflow_sim, capsys):
    launch(airflow_sim, [DB], is_drill=False)
    (real,) = instances_of(airflow_sim, DB)

    dag_run = run_dag(dagbag, "drs_three_tier_drill")

    states = task_states(dag_run)
    assert is_state(dag_run, "failed")
    assert states["preflight"] == "failed" and try_numbers(dag_run)["preflight"] == 1  # no retry
    assert states["database.start_recovery"] == "upstream_failed"
    assert drill_jobs_with(airflow_sim, {DB, APP, WEB1, WEB2}) == []  # nothing launched at all
    assert running_instance_states(airflow_sim.client("ec2"))[real["ec2InstanceID"]] == "running"
    assert instances_of(airflow_sim, DB) == [real]
    refusal = refusal_in(capsys)
    for fact in (DB, real["recoveryInstanceID"], real["ec2InstanceID"], real["jobID"]):
        assert fact in refusal, refusal
    assert read_report(dag_run)["outcome"] == "not_started"


def test_drill_triggered_during_a_recovery_fails_at_once_and_never_launches(dagbag, airflow_sim):
    """The recovery is mid-wave when the drill starts: before, the drill's retry launched once the
    recovery job had completed, and terminated the real instance."""
    airflow_sim.control.set_time_scale(1.0)  # the recovery job runs for several seconds
    recovery = launch(airflow_sim, [DB], is_drill=False, wait=False)
    airflow_sim.control.set_time_scale(0.1)

    dag_run = run_dag(dagbag, "drs_three_tier_drill")

    assert is_state(dag_run, "failed")
    assert task_states(dag_run)["preflight"] == "failed" and try_numbers(dag_run)["preflight"] == 1
    wait_until(lambda: instances_of(airflow_sim, DB), timeout=60)
    (real,) = instances_of(airflow_sim, DB)
    assert real["jobID"] == recovery["jobID"] and not real["isDrill"]
    time.sleep(1)  # nothing may come after, either
    assert drill_jobs_with(airflow_sim, {DB, APP, WEB1, WEB2}) == []
    assert running_instance_states(airflow_sim.client("ec2"))[real["ec2InstanceID"]] == "running"


def test_a_recovery_started_after_preflight_stops_the_drill_at_the_wave(dagbag, airflow_sim):
    """Preflight passed; the web tier is recovered for real while the drill's first waves run: the
    web wave's start refuses (no retry), the earlier waves' drill instances are cleaned up."""
    airflow_sim.control.set_time_scale(0.3)
    drs = airflow_sim.client("drs")
    recovered: dict = {}

    def recover_web_once_the_drill_runs():
        wait_until(lambda: drill_jobs_with(airflow_sim, {DB}), timeout=120, interval=0.05)
        recovered.update(drs.start_recovery(sourceServers=[{"sourceServerID": WEB1}, {"sourceServerID": WEB2}],
                                            isDrill=False)["job"])

    thread = threading.Thread(target=recover_web_once_the_drill_runs, daemon=True)
    thread.start()
    dag_run = run_dag(dagbag, "drs_three_tier_drill")
    thread.join(timeout=10)

    states, tries = task_states(dag_run), try_numbers(dag_run)
    assert is_state(dag_run, "failed")
    assert states["app.wait_for_launch"] == "success"
    assert states["web.start_recovery"] == "failed" and tries["web.start_recovery"] == 1
    assert drill_jobs_with(airflow_sim, {WEB1, WEB2}) == []
    wait_until(lambda: drs.describe_jobs(filters={"jobIDs": [recovered["jobID"]]})["items"][0]["status"] == "COMPLETED",
               timeout=60)
    web_instances = instances_of(airflow_sim, WEB1) + instances_of(airflow_sim, WEB2)
    assert {i["jobID"] for i in web_instances} == {recovered["jobID"]}
    ec2 = running_instance_states(airflow_sim.client("ec2"))
    assert {ec2[i["ec2InstanceID"]] for i in web_instances} == {"running"}
    report = read_report(dag_run)
    assert len(report["cleanup"]["terminated"]) == 2  # the database and app drill instances
    assert {ec2[t["ec2_instance_id"]] for t in report["cleanup"]["terminated"]} == {"terminated"}


def _other_run(dag_id: str, run_id: str, state: str):
    """A DAG run of another plan, as Airflow's metadata database holds it."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from airflow.sdk.timezone import utcnow
    from airflow.utils.types import DagRunType
    from sqlalchemy import delete

    with create_session() as session:
        session.execute(delete(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
        session.add(DagRun(dag_id=dag_id, run_id=run_id, run_type=DagRunType.MANUAL, state=DagRunState(state),
                           run_after=utcnow()))


def test_a_drill_leaves_another_live_runs_drill_instance_alone_and_replaces_a_finished_runs(dagbag, airflow_sim, capsys):
    other_dag, other_run = "drs_diamond_drill", "manual__other_plan_drill"
    job = launch(airflow_sim, [DB], is_drill=True)
    airflow_sim.client("drs").tag_resource(resourceArn=job["arn"], tags={DAG_ID_TAG: other_dag, RUN_ID_TAG: other_run})
    (theirs,) = instances_of(airflow_sim, DB)
    _other_run(other_dag, other_run, "running")

    refused = run_dag(dagbag, "drs_three_tier_drill")

    assert is_state(refused, "failed") and task_states(refused)["preflight"] == "failed"
    refusal = refusal_in(capsys)
    assert f"run {other_run} of DAG {other_dag}" in refusal and theirs["recoveryInstanceID"] in refusal
    assert instances_of(airflow_sim, DB) == [theirs]
    assert len(drill_jobs_with(airflow_sim, {DB})) == 1  # theirs only

    _other_run(other_dag, other_run, "success")  # that run is over: its instance is a leftover now
    replaced = run_dag(dagbag, "drs_three_tier_drill")

    assert is_state(replaced, "success"), task_states(replaced)
    report = read_report(replaced)
    assert [r["recovery_instance_id"] for r in report["replaced_instances"]] == [theirs["recoveryInstanceID"]]
    assert report["replaced_instances"][0]["owner_run_id"] == other_run
    warnings = [line for line in capsys.readouterr().out.splitlines() if "drs.replaces_instance" in line]
    assert warnings and theirs["recoveryInstanceID"] in warnings[0], warnings
    assert running_instance_states(airflow_sim.client("ec2"))[theirs["ec2InstanceID"]] == "terminated"


def test_second_failover_is_named_in_the_approval(dagbag, airflow_sim):
    launch(airflow_sim, [DB], is_drill=False)
    (first,) = instances_of(airflow_sim, DB)
    responder = HitlResponder("drs_three_tier_recovery", "approve", airflow_sim, then=(("decide", "Commit"),))
    responder.start()
    dag_run = run_dag(dagbag, "drs_three_tier_recovery")
    responder.join(timeout=10)

    assert "Second failover" in responder.body_when_waiting
    assert first["recoveryInstanceID"] in responder.body_when_waiting and first["ec2InstanceID"] in responder.body_when_waiting
    assert responder.calls_when_waiting.get("StartRecovery", 0) == 1  # only ours, from before the run
    assert is_state(dag_run, "success"), task_states(dag_run)
    report = read_report(dag_run)
    assert [r["recovery_instance_id"] for r in report["replaced_instances"]] == [first["recoveryInstanceID"]]
    assert report["approval"]["decision"] == "approved" and report["approval"]["by"] == "SRE on call"


def test_a_rejected_recovery_is_an_outcome_not_a_failure(dagbag, airflow_sim):
    inbox = subscribe_queue(airflow_sim, "arn:aws:sns:us-east-1:123456789012:dr-notify")
    responder = HitlResponder("drs_three_tier_recovery", "approve", airflow_sim, choice="Reject")
    responder.start()
    dag_run = run_dag(dagbag, "drs_three_tier_recovery")
    responder.join(timeout=10)

    states = task_states(dag_run)
    assert responder.answered == "Reject"
    assert is_state(dag_run, "success"), states
    assert (states["preflight"], states["database.start_recovery"]) == ("skipped", "skipped")
    assert (states["report"], states["notify"], states["verdict"]) == ("success", "success", "success")
    assert try_numbers(dag_run)["notify"] == 1
    report = read_report(dag_run)
    assert report["outcome"] == "rejected"
    assert report["approval"]["decision"] == "rejected" and report["approval"]["by"] == "SRE on call"
    assert report["approval"]["at"]
    assert airflow_sim.control.calls().get("StartRecovery", 0) == 0
    subjects = sorted(m["Subject"] for m in inbox())
    assert subjects[-1] == "[DRS recovery] three-tier: rejected by SRE on call, nothing launched"
    # A "no" is neither a success nor a failure to alarm on.
    assert cloudwatch_sums(airflow_sim, "three-tier", "recovery") == {"ServersLaunched": 0.0, "ServersFailed": 0.0}
