"""A plan that runs a DRS native recovery plan, on the production topology: the execution's wait
survives a killed triggerer, every job it starts is tagged with the run while it runs, and the
drill cleanup leaves nothing running."""

from __future__ import annotations

import functools
import time

import pytest

from tests.airflow_compat import needs_native_recovery_plans
from tests.native_plans import create_native_plan
from tests.stack.estate import APP, DB, WEB1, Estate, read_report
from tests.waiting import wait_until as _wait_until

pytestmark = [pytest.mark.timeout(900), needs_native_recovery_plans()]
wait_until = functools.partial(_wait_until, interval=0.25)
DRILL = "drs_stack_native_drill"


def test_a_native_drill_survives_a_killed_triggerer_and_leaves_nothing_running(stack, api, sim, figures):
    estate = Estate(stack.sim_url)
    sim.set_time_scale(0.5)  # the simulator's durations halved: the 1-minute wait step lasts 30 s, room to kill a
    # triggerer during it
    create_native_plan(stack.sim_url, "stack-native",
                       [("database", {DB: "CRITICAL"}), ("settle", 1), ("app", {APP: "CRITICAL", WEB1: "OPTIONAL"})])
    stack.stop_service("airflow-triggerer-2")
    run_id = api.trigger(DRILL)
    trigger = "(select t.triggerer_id from trigger t join task_instance ti on ti.trigger_id = t.id " \
              f"where ti.dag_id = '{DRILL}' and ti.run_id = '{run_id}' and ti.task_id = 'wait_for_native_plan')"
    first = wait_until(lambda: stack.sql(f"select {trigger}"), 180, what="the execution's trigger is assigned")
    stack.restart("airflow-triggerer-2")
    wait_until(lambda: stack.alive_jobs("TriggererJob") >= 2, 90, what="triggerer-2 heartbeats")
    killed_at = time.monotonic()
    stack.kill("airflow-triggerer-1")
    # The wait ends early and defers again whenever the execution starts a job: a new trigger, which
    # only the live triggerer can take.
    wait_until(lambda: (owner := stack.sql(f"select {trigger}")) not in ("", first) and owner, 120,
               what="the wait moves to the other triggerer")
    handover = time.monotonic() - killed_at
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
