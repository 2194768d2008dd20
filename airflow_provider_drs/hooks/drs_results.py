"""Fold one DRS job, its log items and its recovery instances into per-server results.

Pure functions, no I/O: the hook, the trigger, the sensor and the reports all judge a job the same
way. The DRS facts behind the rules:
- a job's COMPLETED status says nothing about success; each server's ``launchStatus`` does;
- ``recoveryInstanceID`` may be missing from the job, so the EC2 instance id comes from
  DescribeRecoveryInstances, matched by source server and job;
- there is no LAUNCH_FINISHED log event: the launch time is the time of DRS's "Source Server Launch
  Result" event when it arrived (``announced``), else the moment a poller first saw the server
  LAUNCHED (``observed_launched``), else the job's JOB_END time, and the result says which it is;
- a launch-result event is DRS's final word on that server, ahead of a DescribeJobs read made
  before it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# Log event -> (phase key in the result, is it a failure of that phase)
_PHASE_EVENTS: dict[str, tuple[str, str | None]] = {
    "SNAPSHOT_START": ("snapshot_start", None),
    "SNAPSHOT_END": ("snapshot_end", None),
    "USING_PREVIOUS_SNAPSHOT": ("snapshot_end", None),
    "SNAPSHOT_FAIL": ("failed", "SNAPSHOT"),
    "USING_PREVIOUS_SNAPSHOT_FAILED": ("failed", "SNAPSHOT"),
    "CONVERSION_START": ("conversion_start", None),
    "CONVERSION_END": ("conversion_end", None),
    "CONVERSION_FAIL": ("failed", "CONVERSION"),
    "LAUNCH_START": ("launch_start", None),
    "LAUNCH_FAILED": ("failed", "LAUNCH"),
    "NETWORK_RECOVERY_FAIL": ("failed", "NETWORK"),
    "DEPLOY_NETWORK_CONFIGURATION_FAILED": ("failed", "NETWORK"),
    "UPDATE_NETWORK_CONFIGURATION_FAILED": ("failed", "NETWORK"),
    "UPDATE_LAUNCH_TEMPLATE_FAILED": ("failed", "LAUNCH_TEMPLATE"),
    "CLEANUP_START": ("cleanup_start", None),
    "CLEANUP_END": ("cleanup_end", None),
    "CLEANUP_FAIL": ("failed", "CLEANUP"),
    "SERVER_SKIPPED": ("failed", "SKIPPED"),
}
# The phase a server was in when it failed without a failure event (e.g. a cancelled job).
_PHASE_ORDER = [
    ("launch_start", "LAUNCH"),
    ("conversion_start", "CONVERSION"),
    ("snapshot_start", "SNAPSHOT"),
]
TERMINAL_LAUNCH_STATUSES = frozenset({"LAUNCHED", "FAILED", "TERMINATED"})


def empty_result(server_id: str) -> dict[str, Any]:
    return {
        "source_server_id": server_id,
        "launch_status": "PENDING",
        "recovery_instance_id": None,
        "ec2_instance_id": None,
        "ec2_instance_state": None,
        "is_drill": None,
        "failed_phase": None,
        "raw_error": None,
        "launched_at": None,
        "launched_at_source": None,
        "point_in_time_snapshot": None,
        "phases": {},
    }


def fold_job(
    job: Mapping[str, Any],
    log_items: Iterable[Mapping[str, Any]] = (),
    recovery_instances: Iterable[Mapping[str, Any]] = (),
    observed_launched: Mapping[str, str] | None = None,
    announced: Mapping[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """Per-server results of one job, keyed by source server id, in the job's server order.

    :param job: a Job as DescribeJobs returns it.
    :param log_items: that job's DescribeJobLogItems items, in any order.
    :param recovery_instances: DescribeRecoveryInstances items; those of other jobs are ignored.
    :param observed_launched: server id -> ISO time a poller first saw it LAUNCHED.
    :param announced: server id -> the launch result DRS announced (``launch_status``, ``time``).
    """
    observed_launched = observed_launched or {}
    announced = announced or {}
    job_id = job.get("jobID")
    results: dict[str, dict[str, Any]] = {}
    for server in job.get("participatingServers", []):
        result = empty_result(server["sourceServerID"])
        result["launch_status"] = server.get("launchStatus", "PENDING")
        result["recovery_instance_id"] = server.get("recoveryInstanceID")
        event = announced.get(server["sourceServerID"])
        if event is not None and result["launch_status"] not in TERMINAL_LAUNCH_STATUSES:
            result["launch_status"] = event.launch_status
        results[server["sourceServerID"]] = result

    job_end = _fold_log_items(results, log_items)

    for instance in recovery_instances:
        result = results.get(instance.get("sourceServerID"))
        if result is None or (instance.get("jobID") and instance.get("jobID") != job_id):
            continue
        result["recovery_instance_id"] = instance.get("recoveryInstanceID") or result["recovery_instance_id"]
        result["ec2_instance_id"] = instance.get("ec2InstanceID")
        result["ec2_instance_state"] = instance.get("ec2InstanceState")
        result["is_drill"] = instance.get("isDrill")
        result["point_in_time_snapshot"] = instance.get("pointInTimeSnapshotDateTime")

    for server_id, result in results.items():
        if result["launch_status"] == "LAUNCHED":
            event = announced.get(server_id)
            if event is not None and event.launch_status == "LAUNCHED" and event.time:
                result["launched_at"], result["launched_at_source"] = event.time, "event"
            elif server_id in observed_launched:
                result["launched_at"], result["launched_at_source"] = observed_launched[server_id], "observed"
            elif job_end:
                result["launched_at"], result["launched_at_source"] = job_end, "job_end"
        elif result["launch_status"] == "FAILED" and result["failed_phase"] is None:
            result["failed_phase"] = next(
                (phase for key, phase in _PHASE_ORDER if key in result["phases"]), "PENDING"
            )
    return results


def _fold_log_items(results: dict[str, dict[str, Any]], log_items: Iterable[Mapping[str, Any]]) -> str | None:
    """Record each server's phase times from the log; return the JOB_END time, if any."""
    job_end = None
    for item in sorted(log_items, key=lambda item: item.get("logDateTime", "")):
        event, when = item.get("event"), item.get("logDateTime")
        data = item.get("eventData") or {}
        if event == "JOB_END":
            job_end = when
            continue
        result = results.get(data.get("sourceServerID"))
        if result is None or event not in _PHASE_EVENTS:
            continue
        key, failed_phase = _PHASE_EVENTS[event]
        result["phases"].setdefault(key, when)  # the first occurrence wins: DRS may repeat events
        if failed_phase:
            result["failed_phase"] = failed_phase
            result["raw_error"] = data.get("rawError") or result["raw_error"]
    return job_end


def note_launches(job: Mapping[str, Any], observed: dict[str, str], seen_at: str) -> bool:
    """Record in ``observed`` when each server of the job was first seen LAUNCHED (the launch time
    DRS does not log). True once any server has finished launching, the cue to poll fast."""
    finished = False
    for server in job.get("participatingServers", []):
        status = server.get("launchStatus")
        if status == "LAUNCHED":
            observed.setdefault(server["sourceServerID"], seen_at)
        finished = finished or status in ("LAUNCHED", "FAILED")
    return finished


def summarize(results: Mapping[str, Mapping[str, Any]]) -> dict[str, list[str]]:
    """Server ids grouped by launch status, for log lines and messages."""
    summary: dict[str, list[str]] = {}
    for server_id, result in results.items():
        summary.setdefault(result["launch_status"], []).append(server_id)
    return summary


def failed_servers(
    results: Mapping[str, Mapping[str, Any]], optional: Iterable[str] = ()
) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """(critical failures, optional failures): every server that did not reach LAUNCHED."""
    optional_ids = set(optional)
    critical, tolerated = [], []
    for server_id, result in results.items():
        if result["launch_status"] != "LAUNCHED":
            (tolerated if server_id in optional_ids else critical).append(result)
    return critical, tolerated


def describe_failure(result: Mapping[str, Any]) -> str:
    """One line about a server that did not launch: id, status, phase and DRS's rawError."""
    text = f"{result['source_server_id']}: {result['launch_status']}"
    if result.get("failed_phase"):
        text += f" at {result['failed_phase']}"
    if result.get("raw_error"):
        text += f" ({result['raw_error']})"
    return text


def job_summary(job: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a DescribeJobs Job that reports need, in the trigger event's spelling."""
    return {
        "job_id": job.get("jobID"),
        "status": job.get("status"),
        "type": job.get("type"),
        "initiated_by": job.get("initiatedBy"),
        "creation_date_time": job.get("creationDateTime"),
        "end_date_time": job.get("endDateTime"),
    }
