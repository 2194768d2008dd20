"""The names a plan DAG's tasks share. The factory names the tasks with them; the run-time tasks
(cleanup, report, post actions, notify) read their neighbours' XComs by them. Plain strings and no
imports, so every layer may use them.
"""

from __future__ import annotations

# Task ids of a plan DAG (a wave's tasks sit in the wave's TaskGroup: see in_wave).
BEGIN = "begin"
APPROVE = "approve"
PREFLIGHT = "preflight"
CLEANUP = "cleanup"
REPORT = "report"
NOTIFY = "notify"
VERDICT = "verdict"
START_RECOVERY = "start_recovery"
WAIT_FOR_LAUNCH = "wait_for_launch"
WAIT_UNTIL_READY = "wait_until_ready"  # a wave's ready_when gate, the last task of its group
DELAY = "delay"  # a wave's delay_minutes: a deferred wait, the first task of its group
DECIDE = "decide"  # recovery: commit or roll back, after the last wave
COMMIT = "commit"
ROLLBACK = "rollback"
RECORD_DECISION = "record_decision"  # adds the decision (and what a rollback terminated) to the report
FIND_RECOVERY_INSTANCES = "find_recovery_instances"  # the failback DAG: per wave, what it fails back
REVERSE_REPLICATION = "reverse_replication"  # failback wave tasks
WAIT_FOR_REPLICATION = "wait_for_replication"
START_FAILBACK_LAUNCH = "start_failback_launch"
WAIT_FOR_FAILBACK = "wait_for_failback"
STOP_FAILBACK = "stop_failback"
CLEAR_LEFTOVERS = "clear_leftover_drill_instances"  # the cleanup DAG's task
START_NATIVE_PLAN = "start_native_plan"  # a native plan's DAG: start its execution (returns the ARN)
WAIT_FOR_NATIVE_PLAN = "wait_for_native_plan"  # ... and wait for it (XCom native_execution)
RESTORE_LAUNCH_SETTINGS = "restore_launch_settings"  # drill: production launch settings back after launches

POINT_IN_TIME = "point_in_time"  # the drill and recovery DAGs' run parameter (Airflow params)

# XCom keys (the return value of a task is its default XCom, read without a key).
JOB_ID = "job_id"  # start_recovery: the DRS job id, pushed the moment it is known
JOB = "job"  # wait_for_launch: the job's summary
RESULTS = "results"  # wait_for_launch: per-server results, pushed before they are judged
TERMINATED = "terminated"  # cleanup and terminate tasks: the drill instances terminated
LEFTOVERS = "leftovers"  # the cleanup DAG: every live instance of the plan's servers, kept or terminated, and why
SERVERS = "servers"  # preflight: what DRS said of each server
READINESS = "readiness"  # preflight: the readiness findings
SNAPSHOTS = "snapshots"  # preflight: server -> {snapshot_id, timestamp} chosen by the run's point_in_time
REPLACED = "replaced_instances"  # preflight and start_recovery: live instances a recovery replaces
DECISION = "decision"  # approval: the human's answer, who gave it and when
GATE = "gate"  # wait_until_ready: the per-server gate records, pushed before they are judged
LAUNCH_SETTINGS = "launch_settings"  # preflight: per server the launch settings changed, and drift
NATIVE_PLAN = "native_plan"  # start_native_plan: the native plan (name, arn, servers)
NATIVE_EXECUTION = "native_execution"  # wait_for_native_plan: the execution, per step and per server
FINISHED_AT = "finished_at"  # action tasks: when they succeeded (UTC ISO); times the post actions


def in_wave(wave: str, task_id: str) -> str:
    """The id of a task inside a wave's TaskGroup."""
    return f"{wave}.{task_id}"
