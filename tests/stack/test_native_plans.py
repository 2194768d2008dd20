"""A plan that runs a DRS native recovery plan, on the production topology: the execution's wait
survives a killed triggerer, every job it starts is tagged with the run while it runs, and the
drill cleanup leaves nothing running."""

from __future__ import annotations

import pytest

from tests.airflow_compat import needs_native_recovery_plans
from tests.native_plans import create_native_plan
from tests.stack.estate import APP, DB, WEB1, Estate, read_report
from tests.stack.triggerers import kill_the_triggerer_holding

pytestmark = [pytest.mark.timeout(900), needs_native_recovery_plans()]
DRILL = "drs_stack_native_drill"


def test_a_native_drill_survives_a_killed_triggerer_and_leaves_nothing_running(stack, api, sim, figures):
    estate = Estate(stack.sim_url)
    sim.set_time_scale(0.5)  # durations halved: the 1-minute wait step lasts 30 s, room to kill a triggerer in it
    create_native_plan(stack.sim_url, "stack-native",
                       [("database", {DB: "CRITICAL"}), ("settle", 1), ("app", {APP: "CRITICAL", WEB1: "OPTIONAL"})])
    stack.stop_service("airflow-triggerer-2")
    run_id = api.trigger(DRILL)
    # The wait ends early and defers again whenever the execution starts a job: a new trigger, which
    # only the live triggerer can take.
    _, _, handover = kill_the_triggerer_holding(stack, DRILL, run_id, "wait_for_native_plan")
    run = api.wait_for_run(DRILL, run_id, timeout=600)
    stack.restart("airflow-triggerer-1")

    assert run["state"] == "success", api.task_states(DRILL, run_id)
    assert sim.calls()["StartRecoveryPlanExecution"] == 1
    assert len(estate.run_jobs(DRILL, run_id)) == 2  # both server steps' jobs carry the run's tags
    assert estate.duplicate_launches() == [] and estate.live_drill_instances() == []
    report = read_report(stack.endpoints.airflow_home, DRILL, run_id)
    assert report["native_plan"]["status"] == "COMPLETED"
    assert [w["name"] for w in report["waves"]] == ["database", "app"]
    assert len(report["cleanup"]["terminated"]) == 3
    figures["native_plan_triggerer_killed"] = {"handover_seconds": round(handover, 1), "run_state": run["state"]}
    print(f"\nNATIVE PLAN triggerer SIGKILL: wait handed over in {handover:.1f} s; run {run['state']}")
