"""DrsHook against the DRS simulator over real HTTP."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_drs.exceptions import DrsJobLimitExceeded, DrsJobNotFound, DrsRequestError, DrsServerInActiveJob
from airflow_provider_drs.hooks.drs_safety import RunRef
from airflow_provider_drs.hooks import drs as drs_hook_module
from airflow_provider_drs.hooks.drs import DrsHook

DB, APP, WEB1, WEB2 = "s-3578f52ef3bdd58b4", "s-0e5a9c4b2f7d18e36", "s-3c1730a9e0771ea14", "s-3d75cdc0d9a28a725"
ALL = [DB, APP, WEB1, WEB2]


@pytest.fixture
def hook(sim):
    return DrsHook(aws_conn_id="aws_sim", region_name="us-east-1")


def wait_completed(hook, job_id, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = hook.get_job(job_id)
        if job["status"] == "COMPLETED":
            return job
        time.sleep(0.1)
    raise AssertionError(f"{job_id} did not complete in {timeout}s")


def test_list_source_servers_by_id_and_tag(hook):
    servers = {s["source_server_id"]: s for s in hook.list_source_servers()}
    assert sorted(servers) == sorted(ALL)
    assert servers[DB]["hostname"] == "EC2AMAZ-FQTJG64"
    assert servers[DB]["replication_state"] == "CONTINUOUS"
    assert servers[DB]["tags"]["Tier"] == "database"
    web = hook.list_source_servers(tags={"Tier": "web"})
    assert sorted(s["source_server_id"] for s in web) == [WEB1, WEB2]
    assert [s["source_server_id"] for s in hook.list_source_servers([APP])] == [APP]


def test_recovery_reaches_launched_for_every_default_server(hook, sim):
    job = hook.start_recovery(ALL, is_drill=True)
    assert job["jobID"].startswith("drsjob-") and job["initiatedBy"] == "START_DRILL"
    wait_completed(hook, job["jobID"])
    results = hook.get_job_results(job["jobID"])
    assert {sid: r["launch_status"] for sid, r in results.items()} == dict.fromkeys(ALL, "LAUNCHED")
    ec2_ids = {r["ec2_instance_id"] for r in results.values()}
    assert None not in ec2_ids and len(ec2_ids) == 4
    for r in results.values():
        assert r["is_drill"] is True
        assert r["phases"]["snapshot_start"] <= r["phases"]["conversion_start"] <= r["phases"]["launch_start"]
        assert r["launched_at_source"] == "job_end"
    # The EC2 instances really run in the same endpoint's EC2.
    ec2 = sim.client("ec2")
    reservations = ec2.describe_instances(InstanceIds=sorted(ec2_ids))["Reservations"]
    states = {i["InstanceId"]: i["State"]["Name"] for r in reservations for i in r["Instances"]}
    assert states == dict.fromkeys(ec2_ids, "running")


def test_start_recovery_is_one_call_without_tags(hook, sim):
    before = sim.control.calls().get("StartRecovery", 0)
    hook.start_recovery([DB, APP], is_drill=True)
    assert sim.control.calls()["StartRecovery"] == before + 1


@pytest.mark.parametrize(
    ("ids", "error", "match"),
    [
        ([], DrsRequestError, "at least one"),
        ([DB, DB], DrsRequestError, "more than once: s-3578f52ef3bdd58b4"),
        (["s-123"], DrsRequestError, "Malformed source server ids: s-123"),
    ],
)
def test_bad_requests_refused_before_calling_aws(hook, sim, ids, error, match):
    with pytest.raises(error, match=match):
        hook.start_recovery(ids, is_drill=True)
    assert sim.control.calls().get("StartRecovery", 0) == 0


def test_per_job_limit_refused_before_calling_aws(sim):
    hook = DrsHook(aws_conn_id="aws_sim", region_name="us-east-1", max_servers_per_job=3)
    with pytest.raises(DrsJobLimitExceeded, match="4 servers in one job, over the limit of 3"):
        hook.start_recovery(ALL, is_drill=True)
    assert sim.control.calls().get("StartRecovery", 0) == 0


def test_conflict_names_server_and_job(hook):
    first = hook.start_recovery([DB, APP], is_drill=True)
    with pytest.raises(DrsServerInActiveJob) as conflict:
        hook.start_recovery([APP], is_drill=True)
    assert conflict.value.job_id == first["jobID"]
    assert f"{APP} is in job {first['jobID']}" in str(conflict.value)


def test_unknown_job(hook):
    with pytest.raises(DrsJobNotFound, match="drsjob-00000000000000000 not found in region us-east-1"):
        hook.get_job("drsjob-00000000000000000")


def test_find_run_launch_job_matches_exactly_these_servers_this_kind_and_this_run(hook):
    since = datetime.now(timezone.utc) - timedelta(seconds=5)
    own, other = RunRef("drs_a_drill", "manual__1"), RunRef("drs_b_drill", "manual__2")
    job = hook.start_recovery([DB, APP], is_drill=True)
    hook.start_recovery([WEB1], is_drill=True)
    assert hook.find_run_launch_job([APP, DB], since, is_drill=True, run=own)["jobID"] == job["jobID"]
    assert hook.find_run_launch_job([DB], since, is_drill=True, run=own) is None
    assert hook.find_run_launch_job([DB, APP], since, is_drill=False, run=own) is None  # not a recovery
    assert hook.find_run_launch_job([DB, APP], datetime.now(timezone.utc) + timedelta(minutes=1), True, own) is None
    hook.tag_job(job, other.tags())  # another run's job is never ours
    assert hook.find_run_launch_job([DB, APP], since, is_drill=True, run=own) is None
    hook.tag_job(job, own.tags())
    wait_completed(hook, job["jobID"])  # a completed job is still found, for the caller to judge
    assert hook.find_run_launch_job([DB, APP], since, is_drill=True, run=own)["status"] == "COMPLETED"


def test_launch_holdings_sees_instances_jobs_and_their_owners(hook):
    own = RunRef("drs_a_drill", "manual__1")
    assert hook.launch_holdings([DB, APP]) == []
    recovery = hook.start_recovery([DB], is_drill=False)
    drill = hook.start_recovery([APP], is_drill=True)
    hook.tag_job(drill, own.tags())
    active = {(h.source_server_id, h.job_id, h.is_instance, h.owner) for h in hook.launch_holdings([DB, APP])}
    assert active == {(DB, recovery["jobID"], False, None), (APP, drill["jobID"], False, own)}
    wait_completed(hook, recovery["jobID"]), wait_completed(hook, drill["jobID"])
    live = hook.launch_holdings([DB, APP, WEB1])
    assert {(h.source_server_id, h.job_id, h.is_drill, h.owner) for h in live} == {
        (DB, recovery["jobID"], False, None), (APP, drill["jobID"], True, own)}
    assert all(h.is_instance and h.ec2_state == "RUNNING" for h in live)


def test_terminate_recovery_instances(hook, sim):
    job = hook.start_recovery([WEB1, WEB2], is_drill=True)
    wait_completed(hook, job["jobID"])
    instances = hook.describe_recovery_instances(source_server_ids=[WEB1, WEB2])
    assert len(instances) == 2
    (terminate,) = hook.terminate_recovery_instances([i["recoveryInstanceID"] for i in instances])
    assert terminate["type"] == "TERMINATE"
    wait_completed(hook, terminate["jobID"])
    events = [i["event"] for i in hook.get_job_log_items(terminate["jobID"])]
    assert events.count("CLEANUP_START") == 2 and events.count("CLEANUP_END") == 2
    ec2_ids = [i["ec2InstanceID"] for i in instances]
    reservations = sim.client("ec2").describe_instances(InstanceIds=ec2_ids)["Reservations"]
    assert {i["State"]["Name"] for r in reservations for i in r["Instances"]} == {"terminated"}


def test_throttling_honours_retry_after(hook, sim):
    sim.control.throttle("DescribeJobs", per_second=2, retry_after_seconds=1)
    job = hook.start_recovery([DB], is_drill=True)
    started = time.monotonic()
    for _ in range(5):
        assert hook.get_job(job["jobID"])["jobID"] == job["jobID"]
    # 5 calls at 2/s with Retry-After 1 s: at least one wait of about a second.
    assert time.monotonic() - started >= 1.0
    assert sim.control.attempts()["DescribeJobs"] > 5  # throttled attempts were retried
    assert sim.control.call_counts()["refused"]["DescribeJobs"] >= 1


def test_server_errors_are_retried(hook, sim):
    sim.control.error_rate(0.3, operations=["DescribeSourceServers"])
    made = 0
    while sim.control.attempts().get("DescribeSourceServers", 0) == made and made < 30:
        assert len(hook.list_source_servers()) == 4  # every call succeeds in the end
        made += 1
    assert sim.control.attempts()["DescribeSourceServers"] > made  # some attempts got a 500 and were retried
    assert sim.control.calls()["DescribeSourceServers"] == made  # and each call was served once


def test_async_counterparts(hook):
    job = hook.start_recovery([DB, WEB1], is_drill=True)
    wait_completed(hook, job["jobID"])

    async def read():
        async with hook.async_client() as client:
            jobs = await hook.describe_jobs_async([job["jobID"]], client)
            return jobs, await hook.get_job_results_async(jobs[job["jobID"]], {DB: "2026-01-01T00:00:00Z"}, client)

    jobs, results = asyncio.run(read())
    assert jobs[job["jobID"]]["status"] == "COMPLETED"
    assert results == hook.get_job_results(job["jobID"], {DB: "2026-01-01T00:00:00Z"})
    assert results[DB]["launched_at"] == "2026-01-01T00:00:00Z"


# --- failback ------------------------------------------------------------------------------------
def recovered_instance(hook, server_id):
    wait_completed(hook, hook.start_recovery([server_id], is_drill=False)["jobID"])
    return hook.describe_recovery_instances(source_server_ids=[server_id])[0]["recoveryInstanceID"]


def wait_failback(hook, recovery_instance_id, state, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        (instance,) = hook.describe_recovery_instances([recovery_instance_id])
        if instance["failback"]["state"] == state:
            return instance
        time.sleep(0.05)
    raise AssertionError(f"{recovery_instance_id} did not reach {state} in {timeout}s")


def test_failback_of_an_on_premises_source(hook, sim):
    sim.control.set_time_scale(0.01)  # failback replication: 60 s of simulated time, 0.6 s here
    rid = recovered_instance(hook, DB)
    assert hook.describe_recovery_instances([rid])[0]["failback"] == {"state": "FAILBACK_NOT_STARTED"}
    with pytest.raises(DrsRequestError, match=f"ReverseReplication for {rid}: .*DRS Failback Client"):
        hook.reverse_replication(rid)
    with pytest.raises(DrsRequestError, match=f"StartFailbackLaunch for {rid}: .*FAILBACK_NOT_STARTED"):
        hook.start_failback_launch([rid])
    client_id = sim.control.boot_failback_client(rid)
    ready = wait_failback(hook, rid, "FAILBACK_READY_FOR_LAUNCH")
    assert ready["failback"]["failbackClientID"] == client_id
    (job,) = hook.start_failback_launch([rid], tags={"Purpose": "failback"})
    assert (job["type"], job["initiatedBy"], job["tags"]) == ("LAUNCH", "FAILBACK", {"Purpose": "failback"})
    wait_completed(hook, job["jobID"])
    (done,) = asyncio.run(hook.describe_recovery_instances_async([rid]))
    assert done["failback"]["state"] == "FAILBACK_COMPLETED" and done["failback"]["failbackJobID"] == job["jobID"]
    hook.stop_failback(rid)
    assert hook.describe_recovery_instances([rid])[0]["failback"]["state"] == "FAILBACK_NOT_STARTED"
    with pytest.raises(DrsRequestError, match="StopFailback for i-0123456789abcdef0: .*not found"):
        hook.stop_failback("i-0123456789abcdef0")


def test_reverse_replication_of_an_aws_origin_source(monkeypatch):
    from airflow_provider_drs.simulator import simulator

    estate = {"defaults": {"failback": {"replication": 5}},
              "source_servers": [{"id": DB, "hostname": "CLOUD-DB-01", "origin_region": "eu-west-1"}]}
    with simulator(inventory=estate, time_scale=0.1) as own:
        monkeypatch.setenv("AIRFLOW_CONN_AWS_SIM", json.dumps(
            {"conn_type": "aws", "login": "testing", "password": "testing",
             "extra": {"endpoint_url": own.endpoint_url, "region_name": "us-east-1"}}))
        hook = DrsHook(aws_conn_id="aws_sim", region_name="us-east-1")
        rid = recovered_instance(hook, DB)
        reversed_arn = hook.reverse_replication(rid)
        assert reversed_arn.startswith("arn:aws:drs:eu-west-1:123456789012:source-server/s-")
        with pytest.raises(DrsRequestError, match="already FAILBACK_IN_PROGRESS"):
            hook.reverse_replication(rid)
        wait_failback(hook, rid, "FAILBACK_READY_FOR_LAUNCH")
        (job,) = hook.start_failback_launch([rid])
        wait_completed(hook, job["jobID"])
        hook.stop_failback(rid)
        assert own.control.calls()["ReverseReplication"] == 2 and own.control.calls()["StopFailback"] == 1


def test_start_failback_launch_takes_200_instances_a_call(hook, sim, monkeypatch):
    from botocore.session import get_session

    model = get_session().get_service_model("drs")
    assert drs_hook_module.RECOVERY_INSTANCE_CHUNK == model.shape_for(
        "StartFailbackRequestRecoveryInstanceIDs").metadata["max"] == 200
    sim.control.set_time_scale(0.01)
    ids = [recovered_instance(hook, server) for server in (DB, APP, WEB1)]
    sim.control.boot_failback_client(ids[0])  # the database is on premises
    for rid in ids[1:]:  # the app and web tiers come from EC2
        hook.reverse_replication(rid)
    for rid in ids:
        wait_failback(hook, rid, "FAILBACK_READY_FOR_LAUNCH")
    monkeypatch.setattr(drs_hook_module, "RECOVERY_INSTANCE_CHUNK", 2)  # 3 instances: 2 calls, as 201 would be
    sent = []
    hook.conn.meta.events.register("provide-client-params.drs.StartFailbackLaunch",
                                   lambda params, **_: sent.append(params["recoveryInstanceIDs"]))
    jobs = hook.start_failback_launch(ids, tags={"Purpose": "failback"})
    assert sent == [sorted(ids)[:2], sorted(ids)[2:]]
    assert len({j["jobID"] for j in jobs}) == 2 and sim.control.calls()["StartFailbackLaunch"] == 2
    assert sorted(s["recoveryInstanceID"] for j in jobs for s in j["participatingServers"]) == sorted(ids)
