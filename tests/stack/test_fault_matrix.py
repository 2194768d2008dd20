"""The fault matrix on the production topology: processes killed, DRS throttled and failing, runs
overlapping, a drill cancelled. Each case checks, from the simulator's side, that no wave launched
twice, that no drill instance was left running and that no real recovery instance was touched,
and records its figures (printed at the end, and in .stack-figures.json)."""

from __future__ import annotations

import functools
import time
from collections import defaultdict

import pytest

from tests.stack.estate import APP, Estate, read_report
from tests.stack.triggerers import kill_the_triggerer_holding
from tests.waiting import wait_until as _wait_until

pytestmark = pytest.mark.timeout(900)
wait_until = functools.partial(_wait_until, interval=0.25)  # each look asks the API server or PostgreSQL
DRILL, RECOVERY, DIAMOND = "drs_three_tier_drill", "drs_three_tier_recovery", "drs_diamond_drill"


def assert_invariants(estate: Estate, real_before: dict[str, str] | None = None) -> None:
    """0 duplicate StartRecovery, 0 drill instance left running, 0 real recovery instance touched."""
    assert estate.duplicate_launches() == [], estate.duplicate_launches()
    assert estate.live_drill_instances() == [], estate.live_drill_instances()
    if real_before:
        live = estate.live_recovery_instances()
        assert {rid: live.get(rid) for rid in real_before} == real_before


def state_of(api, dag_id: str, run_id: str, task_id: str) -> str | None:
    return api.task_states(dag_id, run_id).get(task_id)


def report(stack, dag_id: str, run_id: str) -> dict:
    return read_report(stack.endpoints.airflow_home, dag_id, run_id)


def test_1_a_triggerer_killed_while_waves_wait_hands_over_to_the_other(stack, api, sim, figures):
    """Only triggerer-1 runs when the wave defers; triggerer-2 is started, then triggerer-1 is
    SIGKILLed: the wait moves to triggerer-2 once triggerer-1's heartbeat is stale."""
    estate = Estate(stack.sim_url)
    sim.set_time_scale(4.0)  # waves of about 25 s: room to kill a triggerer mid-wait
    stack.stop_service("airflow-triggerer-2")
    run_id = api.trigger(DRILL)
    first, second, handover = kill_the_triggerer_holding(stack, DRILL, run_id, "database.wait_for_launch")
    run = api.wait_for_run(DRILL, run_id, timeout=600)
    stack.restart("airflow-triggerer-1")

    assert run["state"] == "success", api.task_states(DRILL, run_id)
    assert second != first and sim.calls()["StartRecovery"] == 3
    assert_invariants(estate)
    figures["1_triggerer_killed"] = {"handover_seconds": round(handover, 1),
                                     "triggerer_health_check_threshold": 15, "run_state": run["state"]}
    print(f"\nFAULT 1 triggerer SIGKILL: trigger handed over in {handover:.1f} s; run {run['state']}")


def test_2_a_worker_killed_during_start_recovery_the_retry_adopts_the_job(stack, api, sim, figures):
    """StartRecovery is held in the air (latency); the Celery worker is SIGKILLed meanwhile and a
    new one started. DRS still starts the job; the task's retry adopts it instead of launching again."""
    estate = Estate(stack.sim_url)
    sim.latency(8, ["StartRecovery"])
    run_id = api.trigger(DRILL)
    wait_until(lambda: sim.call_counts()["in_flight"].get("StartRecovery"), 180, what="StartRecovery in the air")
    killed_at = time.monotonic()
    stack.kill("airflow-worker")
    stack.restart("airflow-worker")
    wait_until(lambda: sim.calls().get("StartRecovery"), 30, what="the StartRecovery in the air is processed")
    sim.latency(0)
    lost = wait_until(lambda: (state := state_of(api, DRILL, run_id, "database.start_recovery"))
                      not in ("running", None) and state, 180, what="the lost task is noticed")
    detected = time.monotonic() - killed_at
    run = api.wait_for_run(DRILL, run_id, timeout=600)
    recovered = time.monotonic() - killed_at

    start = next(ti for ti in api.task_instances(DRILL, run_id) if ti["task_id"] == "database.start_recovery")
    assert run["state"] == "success", api.task_states(DRILL, run_id)
    assert start["try_number"] == 2  # the first try died with its worker; the second adopted
    assert sim.calls()["StartRecovery"] == 3 and len(estate.run_jobs(DRILL, run_id)) == 3
    assert_invariants(estate)
    figures["2_worker_killed_in_start_recovery"] = {
        "lost_task_detected_seconds": round(detected, 1), "state_when_detected": lost,
        "kill_to_run_end_seconds": round(recovered, 1), "task_instance_heartbeat_timeout": 30, "retry_delay": 30}
    print(f"\nFAULT 2 worker SIGKILL in StartRecovery: lost task noticed after {detected:.1f} s ({lost}); "
          f"retry adopted the job; run {run['state']} {recovered:.1f} s after the kill")


def test_3_the_scheduler_killed_and_restarted_mid_run(stack, api, sim, figures):
    estate = Estate(stack.sim_url)
    sim.set_time_scale(2.0)
    run_id = api.trigger(DRILL)
    wait_until(lambda: state_of(api, DRILL, run_id, "database.wait_for_launch") == "deferred", 180, what="wave 1 waits")
    stack.kill("airflow-scheduler")
    time.sleep(5)
    restarted_at = time.monotonic()
    stack.restart("airflow-scheduler")
    wait_until(lambda: state_of(api, DRILL, run_id, "app.start_recovery") in ("running", "success", "deferred"),
               300, what="the run moves on after the restart")
    back = time.monotonic() - restarted_at
    run = api.wait_for_run(DRILL, run_id, timeout=600)

    assert run["state"] == "success", api.task_states(DRILL, run_id)
    assert sim.calls()["StartRecovery"] == 3
    assert_invariants(estate)
    figures["3_scheduler_killed"] = {"restart_to_next_wave_seconds": round(back, 1), "run_state": run["state"]}
    print(f"\nFAULT 3 scheduler SIGKILL + restart: next wave started {back:.1f} s after the restart; run {run['state']}")


def test_4_throttled_and_failing_drs(stack, api, sim, figures):
    estate = Estate(stack.sim_url)
    sim.throttle("*", per_second=2, retry_after_seconds=1)
    sim.error_rate(0.3)
    started = time.monotonic()
    run_id = api.trigger(DRILL)
    run = api.wait_for_run(DRILL, run_id, timeout=900)
    took = time.monotonic() - started
    counts = sim.call_counts()
    sim.clear_faults()

    assert run["state"] == "success", api.task_states(DRILL, run_id)
    assert counts["served"]["StartRecovery"] == 3
    assert sum(counts["refused"].values()) > 0
    assert_invariants(estate)
    figures["4_throttled_and_5xx"] = {"run_seconds": round(took, 1), "refused": counts["refused"],
                                      "served": counts["served"]}
    print(f"\nFAULT 4 2 req/s per operation + 30% 5xx: run {run['state']} in {took:.1f} s; "
          f"{sum(counts['refused'].values())} requests refused, {sum(counts['served'].values())} served")


def test_5_a_critical_server_failing_at_conversion(stack, api, sim, figures):
    estate = Estate(stack.sim_url)
    sim.fail_server(APP, "CONVERSION", "Conversion server ran out of disk")
    run_id = api.trigger(DRILL)
    run = api.wait_for_run(DRILL, run_id, timeout=600)

    states = api.task_states(DRILL, run_id)
    assert run["state"] == "failed"
    assert states["app.wait_for_launch"] == "failed" and states["web.start_recovery"] == "upstream_failed"
    assert states["cleanup"] == "success" and sim.calls()["StartRecovery"] == 2
    failed = report(stack, DRILL, run_id)
    app_row = next(s for w in failed["waves"] for s in w["servers"] if s["source_server_id"] == APP)
    assert (app_row["failed_phase"], app_row["raw_error"]) == ("CONVERSION", "Conversion server ran out of disk")
    assert APP in failed["rto"]["why_not_achieved"] and len(failed["cleanup"]["terminated"]) == 1
    assert_invariants(estate)
    figures["5_critical_conversion_failure"] = {"run_state": run["state"], "cleanup_terminated": 1}
    print(f"\nFAULT 5 critical server fails at conversion: run {run['state']}, later waves never started, "
          "cleanup terminated the database's drill instance")


def test_6a_a_drill_triggered_twice_runs_once_at_a_time(stack, api, sim, figures):
    estate = Estate(stack.sim_url)
    first, second = api.trigger(DRILL), api.trigger(DRILL)
    runs = [api.wait_for_run(DRILL, run_id, timeout=900) for run_id in (first, second)]

    assert [r["state"] for r in runs] == ["success", "success"]
    assert runs[1]["start_date"] >= runs[0]["end_date"]  # max_active_runs=1 queued the second
    assert sim.calls()["StartRecovery"] == 6
    assert len(estate.run_jobs(DRILL, first)) == len(estate.run_jobs(DRILL, second)) == 3
    assert_invariants(estate)
    figures["6a_drill_twice"] = {"states": [r["state"] for r in runs]}
    print("\nFAULT 6a drill triggered twice: the second waited for the first; both succeeded, 3 launches each")


def test_6b_a_drill_of_another_plan_during_a_recovery_is_refused(stack, api, sim, figures):
    """Plan diamond shares every server with plan three-tier, whose real recovery is mid-wave."""
    estate = Estate(stack.sim_url)
    sim.set_time_scale(3.0)
    recovery = api.trigger(RECOVERY)
    api.wait_for_task_state(RECOVERY, recovery, "approve", {"awaiting_input"}, timeout=180)
    api.answer(RECOVERY, recovery, "approve", "Approve")
    api.wait_for_task_state(RECOVERY, recovery, "database.wait_for_launch", {"deferred"}, timeout=180)
    drill = api.trigger(DIAMOND)
    drill_run = api.wait_for_run(DIAMOND, drill, timeout=600)
    # After its last wave the recovery asks: commit, or roll back? (answered through the REST API)
    api.wait_for_task_state(RECOVERY, recovery, "decide", {"awaiting_input"}, timeout=900)
    api.answer(RECOVERY, recovery, "decide", "Commit")
    recovery_run = api.wait_for_run(RECOVERY, recovery, timeout=300)

    assert drill_run["state"] == "failed" and api.task_states(DIAMOND, drill)["preflight"] == "failed"
    states = api.task_states(RECOVERY, recovery)
    assert recovery_run["state"] == "success", states
    assert (states["commit"], states["rollback"]) == ("success", "skipped"), states
    jobs = estate.jobs()
    assert {j["initiatedBy"] for j in jobs} == {"START_RECOVERY"}  # the drill launched nothing
    by_server = defaultdict(list)
    for job in jobs:
        for server in job["participatingServers"]:
            by_server[server["sourceServerID"]].append((job["creationDateTime"], job["endDateTime"]))
    for spans in by_server.values():  # never two live jobs for one server
        spans.sort()
        assert all(later[0] >= earlier[1] for earlier, later in zip(spans, spans[1:]))
    assert len(estate.live_recovery_instances()) == 4
    assert_invariants(estate)
    figures["6b_drill_during_recovery"] = {"drill": drill_run["state"], "recovery": recovery_run["state"]}
    print("\nFAULT 6b drill of plan diamond during plan three-tier's recovery: drill refused at preflight, "
          "nothing launched; the recovery succeeded")


def test_7_a_drill_marked_failed_mid_wave_leaks_nothing(stack, api, sim, figures):
    estate = Estate(stack.sim_url)
    sim.set_time_scale(3.0)
    run_id = api.trigger(DRILL)
    api.wait_for_task_state(DRILL, run_id, "app.wait_for_launch", {"deferred"}, timeout=300)
    cancelled_at = time.monotonic()
    api.set_run_state(DRILL, run_id, "failed")
    run = api.wait_for_run(DRILL, run_id, timeout=600)
    wait_until(lambda: state_of(api, DRILL, run_id, "cleanup") in ("success", "failed"), 300, what="cleanup ran")
    cleaned = time.monotonic() - cancelled_at

    states = api.task_states(DRILL, run_id)
    assert run["state"] == "failed"
    assert states["web.start_recovery"] in ("skipped", "upstream_failed", None), states
    assert states["cleanup"] == "success" and states["report"] == "success", states
    assert sim.calls()["StartRecovery"] == 2  # database and app; web never started
    cancelled = report(stack, DRILL, run_id)
    assert len(cancelled["cleanup"]["terminated"]) == 2
    assert_invariants(estate)
    figures["7_drill_marked_failed"] = {"cancel_to_cleaned_seconds": round(cleaned, 1)}
    print(f"\nFAULT 7 drill marked failed mid-wave: no further wave; cleanup terminated 2 drill instances "
          f"{cleaned:.1f} s after the cancel")
