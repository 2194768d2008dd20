"""DRS jobs as timelines: every event and status is planned when the job starts and read back
against the wall clock, so state advances lazily, deterministically and cheaply on each request.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from .ids import hex_id, iso
from .inventory import LaunchBehaviour

JOB_PENDING_SECONDS = 0.5   # PENDING before JOB_START
JOB_END_SECONDS = 0.2       # after the last server settles
SERVER_STAGGER_SECONDS = 0.05
CLEANUP_SECONDS = 1.0
# Without a fresh snapshot DRS launches from the last one; without any snapshot it cannot launch.
USES_PREVIOUS_SNAPSHOT = {"STALLED", "DISCONNECTED", "PAUSED", "STOPPED"}
NO_SNAPSHOT_YET = {"INITIATING", "INITIAL_SYNC"}


@dataclass
class ServerRun:
    """One server's part in one job: planned events and the outcome at ``end``."""

    source_server_id: str
    start: float
    end: float
    outcome: str                          # LAUNCHED | FAILED | TERMINATED
    events: list[tuple[float, str, dict]]
    recovery_instance_id: str | None      # launch: planned id; terminate: the instance to remove
    reveal_recovery_id_at: float | None   # None: never shown in the job (DRS often omits it)
    applied: bool = False                 # side effects (EC2, recovery instance) done
    point_in_time: float | None = None    # the recovery snapshot's time, when StartRecovery named one

    def launch_status(self, now: float) -> str:
        if now < self.start:
            return "PENDING"
        return "IN_PROGRESS" if now < self.end else self.outcome


@dataclass
class Job:
    job_id: str
    arn: str
    type: str                             # LAUNCH | TERMINATE
    initiated_by: str
    is_drill: bool
    region: str
    created: float
    started: float
    ended: float
    servers: list[ServerRun]
    tags: dict[str, str] = field(default_factory=dict)
    settled: bool = False                 # every ServerRun applied

    def status(self, now: float) -> str:
        if now < self.started:
            return "PENDING"
        return "STARTED" if now < self.ended else "COMPLETED"

    def to_api(self, now: float) -> dict:
        participating = []
        for run in self.servers:
            item = {"sourceServerID": run.source_server_id, "launchStatus": run.launch_status(now)}
            if run.reveal_recovery_id_at is not None and now >= run.reveal_recovery_id_at:
                item["recoveryInstanceID"] = run.recovery_instance_id
            participating.append(item)
        job = {
            "jobID": self.job_id, "arn": self.arn, "type": self.type, "initiatedBy": self.initiated_by,
            "creationDateTime": iso(self.created), "status": self.status(now),
            "participatingServers": participating, "tags": dict(self.tags),
        }
        if now >= self.ended:
            job["endDateTime"] = iso(self.ended)
        return job

    def log_items(self, now: float) -> list[dict]:
        planned = [(self.started, 0, "JOB_START", {})]
        for index, run in enumerate(self.servers):
            planned += [(t, 1 + index, event, data) for t, event, data in run.events]
        planned.append((self.ended, len(self.servers) + 1, "JOB_END", {}))
        planned.sort(key=lambda item: (item[0], item[1]))
        return [{"logDateTime": iso(t), "event": event, "eventData": data}
                for t, _, event, data in planned if t <= now]


def plan_launch(server_id: str, behaviour: LaunchBehaviour, replication_state: str, start: float,
                scale: float, rng: random.Random, jitter: float, snapshot_given: bool) -> ServerRun:
    """Events of one server in a LAUNCH job, in DRS's order; stops at the failing phase."""

    def span(seconds: float) -> float:
        return seconds * scale * (1 + rng.uniform(-jitter, jitter))

    data = {"sourceServerID": server_id}
    fail_at, raw_error = behaviour.fail_at, behaviour.raw_error
    if replication_state in NO_SNAPSHOT_YET and not fail_at:
        fail_at = "SNAPSHOT"
        raw_error = f"No point-in-time snapshot exists yet: replication state is {replication_state}"
    error = {**data, "rawError": raw_error or f"Simulated {fail_at} failure"}
    t, events = start, []

    if snapshot_given or replication_state in USES_PREVIOUS_SNAPSHOT:
        if fail_at == "SNAPSHOT":
            events.append((t, "USING_PREVIOUS_SNAPSHOT_FAILED", error))
            return ServerRun(server_id, start, t, "FAILED", events, None, None)
        events.append((t, "USING_PREVIOUS_SNAPSHOT", data))
    else:
        events.append((t, "SNAPSHOT_START", data))
        t += span(behaviour.snapshot)
        if fail_at == "SNAPSHOT":
            events.append((t, "SNAPSHOT_FAIL", error))
            return ServerRun(server_id, start, t, "FAILED", events, None, None)
        events.append((t, "SNAPSHOT_END", data))

    events.append((t, "CONVERSION_START", {**data, "conversionServerID": "i-" + hex_id(rng)}))
    t += span(behaviour.conversion)
    if fail_at == "CONVERSION":
        events.append((t, "CONVERSION_FAIL", error))
        return ServerRun(server_id, start, t, "FAILED", events, None, None)
    events.append((t, "CONVERSION_END", data))

    events.append((t, "LAUNCH_START", data))  # no LAUNCH_FINISHED: DRS has none
    t += span(behaviour.launch)
    if fail_at == "LAUNCH":
        events.append((t, "LAUNCH_FAILED", error))
        return ServerRun(server_id, start, t, "FAILED", events, None, None)
    return ServerRun(server_id, start, t, "LAUNCHED", events, None, None)


def plan_cleanup(server_id: str, recovery_instance_id: str, start: float, scale: float,
                 rng: random.Random, jitter: float) -> ServerRun:
    end = start + CLEANUP_SECONDS * scale * (1 + rng.uniform(-jitter, jitter))
    data = {"sourceServerID": server_id}
    events = [(start, "CLEANUP_START", data), (end, "CLEANUP_END", data)]
    return ServerRun(server_id, start, end, "TERMINATED", events, recovery_instance_id, start)
