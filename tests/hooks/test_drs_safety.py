"""The launch safety rules on DRS answers in the real response format (hooks.drs_safety)."""

from __future__ import annotations

from airflow_provider_drs.hooks.drs_safety import (
    DAG_ID_TAG,
    RUN_ID_TAG,
    RunRef,
    assess_drill,
    holdings,
    replaced_by_recovery,
    sweep_leftover_drills,
)

DB, APP = "s-3578f52ef3bdd58b4", "s-0e5a9c4b2f7d18e36"
OWN = RunRef("drs_three_tier_drill", "manual__own")
OTHER = RunRef("drs_other_drill", "scheduled__other")


def instance(server: str, is_drill: bool, job_id: str, state: str = "RUNNING") -> dict:
    return {"recoveryInstanceID": f"i-{job_id[-8:]}0000000", "ec2InstanceID": f"i-ec2{job_id[-8:]}",
            "ec2InstanceState": state, "sourceServerID": server, "isDrill": is_drill, "jobID": job_id}


def job(job_id: str, initiated_by: str, status: str, servers: list[str], owner: RunRef | None = None) -> dict:
    return {"jobID": job_id, "type": "LAUNCH" if initiated_by.startswith("START") else "TERMINATE",
            "initiatedBy": initiated_by, "status": status, "tags": owner.tags() if owner else {},
            "participatingServers": [{"sourceServerID": s, "launchStatus": "PENDING"} for s in servers]}


def never_asked(ref):
    raise AssertionError(f"run state of {ref} should not be needed")


def test_a_live_recovery_instance_refuses_a_drill_and_names_everything():
    jobs = {"drsjob-recovery000001": job("drsjob-recovery000001", "START_RECOVERY", "COMPLETED", [DB])}
    live = instance(DB, False, "drsjob-recovery000001")
    result = assess_drill(holdings([DB, APP], [live], jobs), OWN, never_asked)
    (refusal,) = result.refusals
    for fact in (DB, live["recoveryInstanceID"], live["ec2InstanceID"], "drsjob-recovery000001", "real recovery"):
        assert fact in refusal, refusal
    assert result.replaced == []


def test_gone_instances_and_other_servers_are_not_in_the_way():
    instances = [instance(DB, False, "drsjob-recovery000001", "TERMINATED"),
                 instance(DB, False, "drsjob-recovery000002", "NOT_FOUND"),
                 instance(APP, False, "drsjob-recovery000003")]
    assert holdings([DB], instances, {}) == []


def test_an_active_recovery_or_failback_job_refuses_a_drill_a_terminate_job_does_not():
    jobs = {"drsjob-recovery000001": job("drsjob-recovery000001", "START_RECOVERY", "STARTED", [DB]),
            "drsjob-failback000001": job("drsjob-failback000001", "FAILBACK", "PENDING", [APP]),
            "drsjob-terminate00001": job("drsjob-terminate00001", "TERMINATE_RECOVERY_INSTANCES", "STARTED", [DB])}
    result = assess_drill(holdings([DB, APP], [], jobs), OWN, never_asked)
    assert len(result.refusals) == 2
    assert any("drsjob-recovery000001" in r and "STARTED" in r for r in result.refusals)
    assert any("drsjob-failback000001" in r and "FAILBACK" in r for r in result.refusals)


def test_a_launch_in_progress_is_seen_from_the_source_server_even_beyond_the_jobs_read():
    server = {"sourceServerID": DB, "lifeCycle": {"lastLaunch": {
        "initiated": {"jobID": "drsjob-oldrecovery0001", "type": "RECOVERY"}, "status": "IN_PROGRESS"}}}
    (held,) = holdings([DB], [], {}, [server])
    assert (held.job_id, held.is_drill, held.initiated_by) == ("drsjob-oldrecovery0001", False, "START_RECOVERY")
    assert assess_drill([held], OWN, never_asked).refused


def test_own_jobs_are_never_in_the_way():
    jobs = {"drsjob-owndrill000001": job("drsjob-owndrill000001", "START_DRILL", "STARTED", [DB], OWN)}
    found = holdings([DB], [instance(DB, True, "drsjob-owndrill000001")], jobs)
    assert len(found) == 2
    result = assess_drill(found, OWN, never_asked)
    assert not result.refused and result.replaced == []


def test_another_drill_in_flight_refuses_whoever_owns_it():
    jobs = {"drsjob-otherdrill0001": job("drsjob-otherdrill0001", "START_DRILL", "STARTED", [DB])}
    (refusal,) = assess_drill(holdings([DB], [], jobs), OWN, never_asked).refusals
    assert "another drill is launching" in refusal


def test_another_runs_drill_instance_depends_on_that_runs_state():
    jobs = {"drsjob-otherdrill0001": job("drsjob-otherdrill0001", "START_DRILL", "COMPLETED", [DB], OTHER)}
    found = holdings([DB], [instance(DB, True, "drsjob-otherdrill0001")], jobs)
    assert found[0].owner == OTHER
    running = assess_drill(found, OWN, lambda ref: "running")
    assert running.refused and f"run {OTHER.run_id} of DAG {OTHER.dag_id}" in running.refusals[0]
    assert "still running" in running.refusals[0]
    unknown = assess_drill(found, OWN, lambda ref: None)
    assert unknown.refused and "does not know" in unknown.refusals[0]
    for over in ("success", "failed"):
        result = assess_drill(found, OWN, lambda ref, state=over: state)
        assert not result.refused and [h.job_id for h in result.replaced] == ["drsjob-otherdrill0001"]


def test_an_untagged_drill_instance_is_a_leftover_that_may_be_replaced():
    jobs = {"drsjob-consoledrill01": job("drsjob-consoledrill01", "START_DRILL", "COMPLETED", [DB])}
    result = assess_drill(holdings([DB], [instance(DB, True, "drsjob-consoledrill01")], jobs), OWN, never_asked)
    assert not result.refused and result.replaced[0].owner is None


def test_a_recovery_replaces_every_live_instance_but_its_own():
    jobs = {"drsjob-owndrill000001": job("drsjob-owndrill000001", "START_RECOVERY", "COMPLETED", [APP], OWN)}
    instances = [instance(DB, True, "drsjob-consoledrill01"), instance(APP, False, "drsjob-owndrill000001")]
    found = holdings([DB, APP], instances, jobs)
    assert [h.source_server_id for h in replaced_by_recovery(found, OWN)] == [DB]
    assert [h.source_server_id for h in replaced_by_recovery(found)] == [DB, APP]


def test_run_ref_round_trips_through_job_tags():
    assert RunRef.from_tags(OWN.tags()) == OWN
    assert RunRef.from_tags({DAG_ID_TAG: "x"}) is None and RunRef.from_tags(None) is None
    assert set(OWN.tags()) == {DAG_ID_TAG, RUN_ID_TAG}


APP2, WEB = "s-3c1730a9e0771ea14", "s-3d75cdc0d9a28a725"
DEAD = RunRef("drs_three_tier_drill", "manual__deleted")


def estate_for_cleanup() -> list:
    """One instance per case: a finished run's drill, a deleted run's drill, a running drill of
    another plan, an untagged drill, and a real recovery."""
    jobs = {
        "drsjob-finished00001": job("drsjob-finished00001", "START_DRILL", "COMPLETED", [DB], OWN),
        "drsjob-deletedrun001": job("drsjob-deletedrun001", "START_DRILL", "COMPLETED", [APP], DEAD),
        "drsjob-otherrunning1": job("drsjob-otherrunning1", "START_DRILL", "COMPLETED", [APP2], OTHER),
        "drsjob-consoledrill1": job("drsjob-consoledrill1", "START_DRILL", "COMPLETED", [WEB]),
        "drsjob-realrecovery1": job("drsjob-realrecovery1", "START_RECOVERY", "COMPLETED", ["s-00000000000000001"]),
    }
    instances = [instance(DB, True, "drsjob-finished00001"), instance(APP, True, "drsjob-deletedrun001"),
                 instance(APP2, True, "drsjob-otherrunning1"), instance(WEB, True, "drsjob-consoledrill1"),
                 instance("s-00000000000000001", False, "drsjob-realrecovery1")]
    return holdings([DB, APP, APP2, WEB, "s-00000000000000001"], instances, jobs)


def states(ref):
    return {OWN: "success", OTHER: "running"}.get(ref)  # DEAD: deleted, unknown to Airflow


def test_the_cleanup_clears_the_drills_of_runs_that_are_over_and_keeps_the_rest_saying_why():
    sweep = sweep_leftover_drills(estate_for_cleanup(), "drs_three_tier_drill", states)
    assert sorted(h.job_id for h, _ in sweep.terminate) == ["drsjob-deletedrun001", "drsjob-finished00001"]
    kept = {h.job_id: reason for h, reason in sweep.kept}
    assert "never touched" in kept["drsjob-realrecovery1"]
    assert "still running" in kept["drsjob-otherrunning1"]
    assert "force" in kept["drsjob-consoledrill1"]


def test_force_clears_unknown_drills_but_never_a_recovery_nor_a_running_drill():
    sweep = sweep_leftover_drills(estate_for_cleanup(), "drs_three_tier_drill", states, force=True)
    assert sorted(h.job_id for h, _ in sweep.terminate) == [
        "drsjob-consoledrill1", "drsjob-deletedrun001", "drsjob-finished00001"]
    assert all(h.is_drill for h, _ in sweep.terminate)
    assert sorted(h.job_id for h, _ in sweep.kept) == ["drsjob-otherrunning1", "drsjob-realrecovery1"]


def test_an_unknown_run_of_another_dag_needs_force():
    unknown_other = RunRef("drs_elsewhere_drill", "manual__x")
    jobs = {"drsjob-elsewhere0001": job("drsjob-elsewhere0001", "START_DRILL", "COMPLETED", [DB], unknown_other)}
    found = holdings([DB], [instance(DB, True, "drsjob-elsewhere0001")], jobs)
    assert sweep_leftover_drills(found, "drs_three_tier_drill", lambda ref: None).terminate == []
    assert len(sweep_leftover_drills(found, "drs_three_tier_drill", lambda ref: None, force=True).terminate) == 1
