"""Health-gated waves (ready_when) under dag.test(): a gate the simulator delays holds the dependent
wave until it passes; a gate that fails fails the wave, and the drill still cleans up."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

from tests.waiting import wait_until
from tests.e2e.helpers import is_state, read_report, read_report_page, run_dag, running_instance_states, task_states

DB, APP, WEB2 = "s-3578f52ef3bdd58b4", "s-0e5a9c4b2f7d18e36", "s-3d75cdc0d9a28a725"


def xcom(dag_run, task_id: str, key: str = "return_value"):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.query(XComModel).filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id, task_id=task_id,
                                                 key=key).one()
        return XComModel.deserialize_value(row)


def at(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_a_delayed_gate_holds_the_dependent_wave_until_it_passes(test_dagbag, airflow_sim):
    control = airflow_sim.control
    control.instance_health(DB, status_delay=3.0)  # status checks initializing 3 s after the launch
    # The database refuses connections until a probe has been refused (and a second more): the
    # gate must send it again, whatever dag.test()'s own pace.
    control.probe_rule(target=DB, contains="/5432", output="bash: connect: Connection refused")
    refused = {}

    def refuse_until_refused_once():
        health = airflow_sim.simulation.health
        wait_until(lambda: any(i.failed and time.time() >= i.end for c in list(health.commands.values())
                               for i in c.invocations.values()), 180, 0.05)
        time.sleep(1.0)
        refused["until"] = time.time()
        control.probe_rule(target=DB, contains="/5432", fail_for=0)

    watcher = threading.Thread(target=refuse_until_refused_once, daemon=True)
    watcher.start()
    dag_run = run_dag(test_dagbag, "drs_gated_drill")
    watcher.join(5)
    assert "until" in refused, "no probe was ever refused"

    states = task_states(dag_run)
    assert is_state(dag_run, "success"), states
    assert states["database.wait_until_ready"] == states["app.wait_until_ready"] == "success"
    gate = xcom(dag_run, "database.wait_until_ready")
    assert gate[DB]["state"] == "passed" and gate[DB]["ec2_status_ok"] and gate[DB]["probes"]
    ready_at = at(gate[DB]["ready_at"])
    launched_at = at(xcom(dag_run, "database.wait_for_launch", "results")[DB]["launched_at"])
    assert ready_at >= launched_at + 3.0  # not before its status checks passed
    assert ready_at >= refused["until"]  # the refused probe was sent again until it passed
    # The app wave's job was created only after the database passed its gate.
    drs = airflow_sim.client("drs")
    app_job = xcom(dag_run, "app.start_recovery")
    (job,) = drs.describe_jobs(filters={"jobIDs": [app_job]})["items"]
    assert at(job["creationDateTime"]) >= ready_at
    # The database's probes ran on the database's instance, and the failed ones said why.
    health = airflow_sim.simulation.health
    db_instance = gate[DB]["ec2_instance_id"]
    db_commands = [c for c in health.commands.values() if db_instance in c.invocations]
    assert len(db_commands) >= 2 and any(c.invocations[db_instance].failed for c in db_commands)
    # The app wave's probe resolved {{ instance:s-... }} to the database's recovered instance.
    app_gate = xcom(dag_run, "app.wait_until_ready")
    assert {app_gate[APP]["state"], app_gate[WEB2]["state"]} == {"passed"}
    app_scripts = [c.parameters["commands"][0] for c in health.commands.values()
                   if app_gate[APP]["ec2_instance_id"] in c.invocations]
    assert app_scripts and all(f"http://{db_instance}:5432/" in s for s in app_scripts)
    # Cleanup still terminated everything the drill launched.
    ec2 = running_instance_states(airflow_sim.client("ec2"))
    launched = [db_instance, app_gate[APP]["ec2_instance_id"], app_gate[WEB2]["ec2_instance_id"]]
    assert {ec2[i] for i in launched} == {"terminated"}
    # The report: the database wave is back when its gate passed; its server's wait until ready is
    # a bar of the timeline.
    report = read_report(dag_run)
    assert report["outcome"] == "succeeded"
    database = next(w for w in report["waves"] if w["name"] == "database")
    assert database["gate"] == {"state": "passed", "passed_at": gate[DB]["ready_at"]}
    assert database["servers"][0]["ready_at"] == gate[DB]["ready_at"]
    assert at(report["rto"]["service_back_at"]) >= ready_at
    page = read_report_page(dag_run)
    assert any((b["server"], b["phase"]) == (DB, "ready") for b in page.bars)


def test_a_failing_gate_fails_the_wave_and_the_drill_still_cleans_up(test_dagbag, airflow_sim):
    airflow_sim.control.probe_rule(target=DB, contains="pg_isready", output="no response")
    dag_run = run_dag(test_dagbag, "drs_gate_fails_drill")

    states = task_states(dag_run)
    assert is_state(dag_run, "failed"), states
    assert states["database.wait_until_ready"] == "failed"
    assert states["app.start_recovery"] in ("upstream_failed", None), states  # the app never launched
    assert states["cleanup"] == "success" and states["verdict"] == "failed"
    drs = airflow_sim.client("drs")
    jobs = drs.describe_jobs()["items"]
    launches = [j for j in jobs if j["type"] == "LAUNCH"]
    assert [s["sourceServerID"] for j in launches for s in j["participatingServers"]] == [DB]
    ec2 = running_instance_states(airflow_sim.client("ec2"))
    assert ec2 and set(ec2.values()) == {"terminated"}, ec2
    report = read_report(dag_run)
    assert report["outcome"] == "failed"
    assert "the ready_when gate did not pass in waves: database" in report["rto"]["why_not_achieved"]
    server = report["waves"][0]["servers"][0]
    assert server["gate"]["failed_check"] == "probes" and "no response" in server["gate"]["detail"]
