"""The pure folding of a DRS job into per-server results, on payloads in the DescribeJobs /
DescribeJobLogItems / DescribeRecoveryInstances response format."""

import json
from pathlib import Path

import pytest

from airflow_provider_drs.hooks.drs_results import describe_failure, failed_servers, fold_job, summarize

PAYLOADS = Path(__file__).parent / "payloads"


@pytest.fixture
def mixed():
    return json.loads((PAYLOADS / "launch_job_mixed.json").read_text())


def test_success_is_judged_per_server_not_per_job(mixed):
    results = fold_job(mixed["job"], mixed["log_items"], mixed["recovery_instances"])
    assert mixed["job"]["status"] == "COMPLETED"
    assert summarize(results) == {
        "LAUNCHED": ["s-3578f52ef3bdd58b4", "s-3c1730a9e0771ea14"],
        "FAILED": ["s-3d75cdc0d9a28a725"],
    }


def test_ec2_instance_comes_from_recovery_instances_even_without_job_recovery_instance_id(mixed):
    results = fold_job(mixed["job"], mixed["log_items"], mixed["recovery_instances"])
    web = results["s-3c1730a9e0771ea14"]
    assert "recoveryInstanceID" not in mixed["job"]["participatingServers"][1]
    assert web["recovery_instance_id"] == "i-0b2c3d4e5f6071829"
    assert web["ec2_instance_id"] == "i-0ee55ff66aa77bb88"
    assert web["is_drill"] is True
    assert results["s-3578f52ef3bdd58b4"]["ec2_instance_id"] == "i-0aa11bb22cc33dd44"


def test_recovery_instance_of_another_job_is_ignored(mixed):
    results = fold_job(mixed["job"], mixed["log_items"], mixed["recovery_instances"])
    failed = results["s-3d75cdc0d9a28a725"]
    assert failed["ec2_instance_id"] is None
    assert failed["recovery_instance_id"] is None


def test_phase_times_and_failure_details(mixed):
    results = fold_job(mixed["job"], mixed["log_items"], mixed["recovery_instances"])
    db = results["s-3578f52ef3bdd58b4"]
    assert db["phases"] == {
        "snapshot_start": "2026-11-02T06:00:03.001Z",
        "snapshot_end": "2026-11-02T06:01:40.000Z",
        "conversion_start": "2026-11-02T06:02:10.000Z",
        "conversion_end": "2026-11-02T06:12:02.000Z",
        "launch_start": "2026-11-02T06:13:05.000Z",
    }
    failed = results["s-3d75cdc0d9a28a725"]
    assert failed["failed_phase"] == "CONVERSION"
    assert failed["raw_error"] == "Failed to convert boot volume: unsupported kernel 2.6.18"
    assert failed["phases"]["snapshot_end"] == "2026-11-02T06:00:03.003Z"  # USING_PREVIOUS_SNAPSHOT
    assert failed["launched_at"] is None


def test_launch_time_without_launch_finished_event(mixed):
    observed = {"s-3578f52ef3bdd58b4": "2026-11-02T06:16:00.000Z"}
    results = fold_job(mixed["job"], mixed["log_items"], mixed["recovery_instances"], observed)
    assert (results["s-3578f52ef3bdd58b4"]["launched_at"], results["s-3578f52ef3bdd58b4"]["launched_at_source"]) == (
        "2026-11-02T06:16:00.000Z",
        "observed",
    )
    # Nobody saw the web server launch: the job's end is the honest upper bound.
    assert (results["s-3c1730a9e0771ea14"]["launched_at"], results["s-3c1730a9e0771ea14"]["launched_at_source"]) == (
        "2026-11-02T06:21:47.000Z",
        "job_end",
    )


def test_log_order_does_not_matter(mixed):
    shuffled = list(reversed(mixed["log_items"]))
    assert fold_job(mixed["job"], shuffled, mixed["recovery_instances"]) == fold_job(
        mixed["job"], mixed["log_items"], mixed["recovery_instances"]
    )


def test_failure_policy_split_and_message(mixed):
    results = fold_job(mixed["job"], mixed["log_items"], mixed["recovery_instances"])
    critical, tolerated = failed_servers(results, optional=["s-3d75cdc0d9a28a725"])
    assert critical == [] and [r["source_server_id"] for r in tolerated] == ["s-3d75cdc0d9a28a725"]
    critical, _ = failed_servers(results)
    assert describe_failure(critical[0]) == (
        "s-3d75cdc0d9a28a725: FAILED at CONVERSION (Failed to convert boot volume: unsupported kernel 2.6.18)"
    )


def test_job_still_running_reports_pending_and_in_progress():
    job = {
        "jobID": "drsjob-11111111111111111",
        "status": "STARTED",
        "participatingServers": [
            {"sourceServerID": "s-3578f52ef3bdd58b4", "launchStatus": "IN_PROGRESS"},
            {"sourceServerID": "s-0e5a9c4b2f7d18e36", "launchStatus": "PENDING"},
        ],
    }
    items = [{"logDateTime": "2026-11-02T06:00:03Z", "event": "SNAPSHOT_START", "eventData": {"sourceServerID": "s-3578f52ef3bdd58b4"}}]
    results = fold_job(job, items)
    assert summarize(results) == {"IN_PROGRESS": ["s-3578f52ef3bdd58b4"], "PENDING": ["s-0e5a9c4b2f7d18e36"]}
    assert results["s-0e5a9c4b2f7d18e36"]["phases"] == {}


def test_failed_without_failure_event_takes_last_phase_reached():
    job = {
        "jobID": "drsjob-22222222222222222",
        "status": "COMPLETED",
        "participatingServers": [{"sourceServerID": "s-3578f52ef3bdd58b4", "launchStatus": "FAILED"}],
    }
    items = [
        {"logDateTime": "2026-11-02T06:00:03Z", "event": "SNAPSHOT_START", "eventData": {"sourceServerID": "s-3578f52ef3bdd58b4"}},
        {"logDateTime": "2026-11-02T06:01:03Z", "event": "LAUNCH_START", "eventData": {"sourceServerID": "s-3578f52ef3bdd58b4"}},
        {"logDateTime": "2026-11-02T06:05:00Z", "event": "JOB_CANCEL", "eventData": {}},
    ]
    assert fold_job(job, items)["s-3578f52ef3bdd58b4"]["failed_phase"] == "LAUNCH"
