"""DRS state per region: source servers, jobs, recovery instances, and the operations on them.

Time only moves when a request looks at it: ``advance`` applies the side effects (a real EC2
instance in moto, the recovery instance, the source server's last launch) of every server whose
planned end has passed. All mutation happens under one lock.
"""

from __future__ import annotations

import base64
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import errors, jobs, moto_bridge
from .failback import Failback, FailbackOperations
from .faults import FaultSet
from .ids import arn, iso, job_id, parse_iso, recovery_instance_id
from .inventory import Inventory, SourceServerSpec
from .launch_configuration import LaunchConfiguration, LaunchConfigurationOperations
from .recovery_plan_executions import RecoveryPlanExecutionOperations
from .recovery_plans import PlanStore, RecoveryPlanOperations
from .snapshots import SnapshotOperations

MAX_SERVERS_PER_JOB = 100  # quota L-B827C881; the API itself accepts 200
DEFAULT_PAGE_SIZE = 100
MAX_TAGS = 50
_EC2_STATES = {"pending", "running", "stopping", "stopped", "shutting-down", "terminated"}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([DHMS])")


def duration_seconds(value: str) -> float:
    """Seconds of the time part of an ISO-8601 duration (PT1M30S -> 90); days count too."""
    days, _, clock = value.partition("T")
    units = {"D": 86400.0, "H": 3600.0, "M": 60.0, "S": 1.0}
    total = sum(float(n) * units[u] for n, u in _DURATION_PART.findall(clock))
    return total + sum(float(n) * 86400 for n, u in _DURATION_PART.findall(days) if u == "D")


@dataclass
class SourceServer:
    spec: SourceServerSpec
    region: str
    added: float
    recovery_instance_id: str | None = None
    last_job: jobs.Job | None = None
    last_run: jobs.ServerRun | None = None
    tags: dict[str, str] = field(default_factory=dict)  # this region's copy: TagResource changes it
    launch_configuration: LaunchConfiguration | None = None  # created on first use (launch_configuration.py)


@dataclass
class RecoveryInstance:
    recovery_instance_id: str
    ec2_instance_id: str
    job_id: str
    source_server_id: str
    is_drill: bool
    point_in_time: float
    launched: float
    hostname: str
    tags: dict[str, str] = field(default_factory=dict)
    failback: Failback = field(default_factory=Failback)


@dataclass
class RegionState:
    name: str
    servers: dict[str, SourceServer]
    jobs: list[jobs.Job] = field(default_factory=list)
    jobs_by_id: dict[str, jobs.Job] = field(default_factory=dict)
    active: list[jobs.Job] = field(default_factory=list)   # not yet settled or not COMPLETED
    recovery_instances: dict[str, RecoveryInstance] = field(default_factory=dict)
    plans: PlanStore = field(default_factory=PlanStore)  # native recovery plans and their executions


def paginate(items: list, body: dict, operation: str, render: Callable[[Any], dict] | None = None) -> dict:
    """DRS-style pagination with an opaque token (the offset, encoded); ``render`` turns each item of
    the page (only those) into its API form."""
    size = body.get("maxResults") or DEFAULT_PAGE_SIZE
    offset = 0
    if body.get("nextToken"):
        try:
            kind, _, number = base64.urlsafe_b64decode(body["nextToken"]).decode().partition(":")
            offset = int(number)
            assert kind == operation
        except Exception:
            raise errors.validation("The nextToken is not valid for " + operation, "nextToken") from None
    chunk = items[offset:offset + size]
    page = {"items": [render(item) for item in chunk] if render else chunk}
    if offset + size < len(items):
        page["nextToken"] = base64.urlsafe_b64encode(f"{operation}:{offset + size}".encode()).decode()
    return page


class DrsState(FailbackOperations, SnapshotOperations, LaunchConfigurationOperations, RecoveryPlanOperations,
               RecoveryPlanExecutionOperations):
    def __init__(self, inventory: Inventory, time_scale: float, seed: int, faults: FaultSet):
        self.inventory, self.time_scale, self.seed, self.faults = inventory, time_scale, seed, faults
        self.on_job_started: Callable[[jobs.Job], None] | None = None  # e.g. the launch-event publisher
        self.lock = threading.RLock()
        self.network: dict[str, dict[str, str]] = {}
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.regions: dict[str, RegionState] = {}
            self.rng = random.Random(f"drs/{self.seed}")
            self.job_count = 0

    def region(self, name: str) -> RegionState:
        state = self.regions.get(name)
        if state is None:  # the inventory exists in every region asked for, unless pinned
            now = time.time()
            servers = {s.id: SourceServer(s, name, now - 86400, tags=dict(s.tags)) for s in self.inventory.source_servers
                       if s.region in (None, name)}
            state = self.regions[name] = RegionState(name, servers)
        return state

    # -- time ----------------------------------------------------------------------------------
    def advance(self, region: str, now: float | None = None) -> None:
        with self.lock:
            state = self.region(region)
            now = time.time() if now is None else now
            if state.active:
                due = sorted(((run, job) for job in state.active for run in job.servers
                              if not run.applied and run.end <= now), key=lambda pair: pair[0].end)
                for run, job in due:
                    self._apply(state, job, run)
                state.active = [j for j in state.active
                                if not (now >= j.ended and all(r.applied for r in j.servers))]
            if state.plans.executions:  # after the jobs: a step's verdict reads their outcome
                self.advance_recovery_plans(state, now)

    def _apply(self, state: RegionState, job: jobs.Job, run: jobs.ServerRun) -> None:
        run.applied = True
        if job.initiated_by == "FAILBACK":  # nothing lands here: the failback state reads the job's end
            return
        server = state.servers[run.source_server_id]
        if job.type == "TERMINATE":
            instance = state.recovery_instances.pop(run.recovery_instance_id, None)
            if instance:
                moto_bridge.terminate_instance(state.name, instance.ec2_instance_id)
            if server.recovery_instance_id == run.recovery_instance_id:
                server.recovery_instance_id = None
            return
        if run.outcome != "LAUNCHED":
            return
        # A new launch replaces the server's previous recovery instance, as DRS does.
        previous = state.recovery_instances.pop(server.recovery_instance_id or "", None)
        if previous:
            moto_bridge.terminate_instance(state.name, previous.ec2_instance_id)
        spec = server.spec
        ec2_id = self._launch_instance(state, server)
        state.recovery_instances[run.recovery_instance_id] = RecoveryInstance(
            run.recovery_instance_id, ec2_id, job.job_id, spec.id, job.is_drill,
            run.point_in_time or job.created - duration_seconds(spec.lag), run.end, spec.hostname)
        server.recovery_instance_id = run.recovery_instance_id

    def _busy(self, state: RegionState, now: float) -> dict[str, jobs.Job]:
        return {run.source_server_id: job for job in state.active if job.status(now) != "COMPLETED"
                for run in job.servers}

    def _new_job(self, state: RegionState, now: float, kind: str, initiated_by: str, is_drill: bool,
                 runs: list[jobs.ServerRun], tags: dict) -> jobs.Job:
        new_id = job_id(self.rng)
        ended = max(r.end for r in runs) + jobs.JOB_END_SECONDS * self.time_scale
        job = jobs.Job(new_id, arn(state.name, "job", new_id), kind, initiated_by, is_drill, state.name,
                       now, now + jobs.JOB_PENDING_SECONDS * self.time_scale, ended, runs, dict(tags))
        state.jobs.append(job)
        state.jobs_by_id[new_id] = job
        state.active.append(job)
        # DRS's launch-result event announces drill and recovery launches, not failback ones.
        if self.on_job_started is not None and initiated_by != "FAILBACK":
            self.on_job_started(job)
        return job

    # -- operations ------------------------------------------------------------------------------
    def start_recovery(self, region: str, body: dict) -> dict:
        requested = body["sourceServers"]
        ids = [s["sourceServerID"] for s in requested]
        if len(set(ids)) != len(ids):
            raise errors.validation("A source server is listed more than once", "sourceServers")
        if len(ids) > MAX_SERVERS_PER_JOB:
            raise errors.quota_exceeded(
                f"A job can include at most {MAX_SERVERS_PER_JOB} source servers; {len(ids)} were given. "
                "Split the servers into several StartRecovery calls or raise quota L-B827C881.")
        with self.lock:
            state, now = self.region(region), time.time()
            for server_id in ids:
                if server_id not in state.servers:
                    raise errors.not_found(f"Source server {server_id} not found in {region}", server_id,
                                           "SOURCE_SERVER")
            busy = self._busy(state, now)
            for server_id in ids:
                if server_id in busy:
                    other = busy[server_id]
                    raise errors.conflict(
                        f"Source server {server_id} is already participating in job {other.job_id} "
                        f"({other.status(now)}); wait for it to complete", server_id)
            snapshots = self.requested_snapshots(state, requested, now)
            self.job_count += 1
            is_drill = bool(body.get("isDrill", False))
            started = now + jobs.JOB_PENDING_SECONDS * self.time_scale
            runs = []
            for index, item in enumerate(requested):
                server = state.servers[item["sourceServerID"]]
                behaviour = self.inventory.launch_behaviour(server.spec)
                fault = self.faults.server_failures.get(server.spec.id)
                if fault:
                    behaviour = behaviour.model_copy(update={"fail_at": fault[0], "raw_error": fault[1]})
                rng = random.Random(f"{self.seed}/{self.job_count}/{server.spec.id}")
                run = jobs.plan_launch(server.spec.id, behaviour, server.spec.replication_state,
                                       started + index * jobs.SERVER_STAGGER_SECONDS * self.time_scale,
                                       self.time_scale, rng, self.inventory.defaults.jitter,
                                       "recoverySnapshotID" in item)
                run.point_in_time = snapshots.get(server.spec.id)
                if run.outcome == "LAUNCHED":
                    run.recovery_instance_id = recovery_instance_id(self.rng)
                    # Like DRS, the job often lacks recoveryInstanceID: hidden for every other
                    # server (chosen by the seed), shown a little after launch for the rest.
                    if (index + self.seed) % 2 == 0:
                        run.reveal_recovery_id_at = run.end + 1.0 * self.time_scale
                runs.append(run)
            job = self._new_job(state, now, "LAUNCH", "START_DRILL" if is_drill else "START_RECOVERY",
                                is_drill, runs, body.get("tags") or {})
            for run in runs:
                state.servers[run.source_server_id].last_job = job
                state.servers[run.source_server_id].last_run = run
            return {"job": job.to_api(now)}

    def terminate_recovery_instances(self, region: str, body: dict) -> dict:
        ids = body["recoveryInstanceIDs"]
        with self.lock:
            state, now = self.region(region), time.time()
            missing = [i for i in ids if i not in state.recovery_instances]
            if missing:
                raise errors.validation(f"Recovery instances not found in {region}: {', '.join(missing)}",
                                        "recoveryInstanceIDs")
            busy = self._busy(state, now)
            for rid in ids:
                server_id = state.recovery_instances[rid].source_server_id
                if server_id in busy:
                    raise errors.conflict(
                        f"Recovery instance {rid} of source server {server_id} is in job "
                        f"{busy[server_id].job_id}; wait for it to complete", rid, "RECOVERY_INSTANCE")
            self.job_count += 1
            started = now + jobs.JOB_PENDING_SECONDS * self.time_scale
            runs = [jobs.plan_cleanup(state.recovery_instances[rid].source_server_id, rid,
                                      started + i * jobs.SERVER_STAGGER_SECONDS * self.time_scale,
                                      self.time_scale, random.Random(f"{self.seed}/{self.job_count}/{rid}"),
                                      self.inventory.defaults.jitter) for i, rid in enumerate(ids)]
            job = self._new_job(state, now, "TERMINATE", "TERMINATE_RECOVERY_INSTANCES", False, runs, {})
            return {"job": job.to_api(now)}

    def describe_jobs(self, region: str, body: dict) -> dict:
        filters = body.get("filters") or {}
        try:
            since = parse_iso(filters["fromDate"]) if filters.get("fromDate") else None
            until = parse_iso(filters["toDate"]) if filters.get("toDate") else None
        except ValueError:
            raise errors.validation("fromDate/toDate must be ISO-8601 datetimes", "filters") from None
        wanted = set(filters.get("jobIDs") or ())
        with self.lock:
            now, state = time.time(), self.region(region)
            selected = [j for j in state.jobs if (not wanted or j.job_id in wanted)
                        and (since is None or j.created >= since) and (until is None or j.created <= until)]
            return paginate(selected, body, "DescribeJobs", lambda job: job.to_api(now))

    def describe_job_log_items(self, region: str, body: dict) -> dict:
        with self.lock:
            job = self.region(region).jobs_by_id.get(body["jobID"])
            if job is None:  # DRS answers an unknown job with an empty log, not an error
                return {"items": []}
            return paginate(job.log_items(time.time()), body, "DescribeJobLogItems")

    def describe_source_servers(self, region: str, body: dict) -> dict:
        filters = body.get("filters") or {}
        wanted = set(filters.get("sourceServerIDs") or ())
        with self.lock:
            now, state = time.time(), self.region(region)
            items = [self._server_api(state, s, now) for s in state.servers.values()
                     if not wanted or s.spec.id in wanted]
            return paginate(items, body, "DescribeSourceServers")

    def describe_recovery_instances(self, region: str, body: dict) -> dict:
        filters = body.get("filters") or {}
        ids, servers = set(filters.get("recoveryInstanceIDs") or ()), set(filters.get("sourceServerIDs") or ())
        with self.lock:
            state, now = self.region(region), time.time()
            items = [self._instance_api(state, r, now) for r in state.recovery_instances.values()
                     if (not ids or r.recovery_instance_id in ids) and (not servers or r.source_server_id in servers)]
            return paginate(items, body, "DescribeRecoveryInstances")

    def _taggable(self, resource_arn: str) -> dict[str, str]:
        """The live tag dict of a DRS resource (source server, job or recovery instance)."""
        parts = resource_arn.split(":", 5)
        if len(parts) != 6 or parts[2] != "drs" or "/" not in parts[5]:
            raise errors.validation(f"{resource_arn} is not a DRS resource ARN", "resourceArn")
        kind, _, resource_id = parts[5].partition("/")
        state = self.region(parts[3])
        if kind == "source-server" and resource_id in state.servers:
            return state.servers[resource_id].tags
        if kind == "job" and resource_id in state.jobs_by_id:
            return state.jobs_by_id[resource_id].tags
        if kind == "recovery-instance" and resource_id in state.recovery_instances:
            return state.recovery_instances[resource_id].tags
        if kind == "recovery-plan" and resource_arn in state.plans.plans:
            return state.plans.plans[resource_arn].tags
        if kind == "recovery-plan-execution" and resource_arn in state.plans.executions:
            return state.plans.executions[resource_arn].tags
        raise errors.not_found(f"Resource {resource_arn} not found", resource_arn, kind.upper().replace("-", "_"))

    def list_tags(self, resource_arn: str) -> dict:
        with self.lock:
            return {"tags": dict(self._taggable(resource_arn))}

    def set_replication(self, region: str, server_id: str, replication_state: str, lag: str) -> None:
        """A server's replication falls behind or stalls (until the next reset)."""
        with self.lock:
            server = self.region(region).servers.get(server_id)
            if server is None:
                raise ValueError(f"no source server {server_id} in {region}")
            # Validated like an inventory entry: an unknown state or a bad duration is refused here.
            server.spec = type(server.spec).model_validate(
                {**server.spec.model_dump(), "replication_state": replication_state, "lag": lag})

    def tag_resource(self, resource_arn: str, tags: dict[str, str]) -> dict:
        with self.lock:
            current = self._taggable(resource_arn)
            if len({**current, **tags}) > MAX_TAGS:
                raise errors.validation(f"A resource can have at most {MAX_TAGS} tags", "tags")
            current.update(tags)
            return {}

    def untag_resource(self, resource_arn: str, keys: list[str]) -> dict:
        with self.lock:
            current = self._taggable(resource_arn)
            for key in keys:
                current.pop(key, None)
            return {}

    # -- response shapes ---------------------------------------------------------------------------
    def _server_api(self, state: RegionState, server: SourceServer, now: float) -> dict:
        spec = server.spec
        disk_bytes = 100 * 1024 ** 3
        item = {
            "sourceServerID": spec.id, "arn": arn(state.name, "source-server", spec.id), "tags": dict(server.tags),
            "lastLaunchResult": "NOT_STARTED", "replicationDirection": "FAILOVER", "agentVersion": "4.8.0",
            "dataReplicationInfo": {
                "lagDuration": spec.lag, "dataReplicationState": spec.replication_state,
                "stagingAvailabilityZone": state.name + "a",
                "replicatedDisks": [{"deviceName": "disk0", "totalStorageBytes": disk_bytes,
                                     "replicatedStorageBytes": disk_bytes, "rescannedStorageBytes": 0,
                                     "backloggedStorageBytes": 0}],
            },
            "lifeCycle": {"addedToServiceDateTime": iso(server.added), "firstByteDateTime": iso(server.added + 60),
                          "elapsedReplicationDuration": f"PT{int(now - server.added)}S",
                          "lastSeenByServiceDateTime": iso(now - duration_seconds(spec.lag))},
            "sourceProperties": {
                "lastUpdatedDateTime": iso(server.added), "recommendedInstanceType": spec.instance_type,
                "identificationHints": {"hostname": spec.hostname, "fqdn": spec.hostname.lower() + ".corp.local"},
                "networkInterfaces": [{"macAddress": "00:50:56:00:00:01", "ips": [spec.private_ip or "10.0.0.10"], "isPrimary": True}],
                "disks": [{"deviceName": "disk0", "bytes": disk_bytes}],
                "cpus": [{"cores": 2, "modelName": "Intel(R) Xeon(R) CPU"}], "ramBytes": 8 * 1024 ** 3,
                "os": {"fullString": spec.os}, "supportsNitroInstances": True, "architecture": "x86_64",
            },
            "stagingArea": {"status": "NOT_EXTENDED"},
        }
        if server.recovery_instance_id:
            item["recoveryInstanceId"] = server.recovery_instance_id
        if server.last_job is not None:
            run, job = server.last_run, server.last_job
            item["lastLaunchResult"] = ("PENDING" if not run.applied
                                        else "SUCCEEDED" if run.outcome == "LAUNCHED" else "FAILED")
            item["lifeCycle"]["lastLaunch"] = {
                "initiated": {"apiCallDateTime": iso(job.created), "jobID": job.job_id,
                              "type": "DRILL" if job.is_drill else "RECOVERY"},
                "status": run.launch_status(now)}
        return item

    def _instance_api(self, state: RegionState, instance: RecoveryInstance, now: float) -> dict:
        ec2_state = moto_bridge.instance_state(state.name, instance.ec2_instance_id)
        origin_region = state.servers[instance.source_server_id].spec.origin_region
        return {
            "recoveryInstanceID": instance.recovery_instance_id,
            "arn": arn(state.name, "recovery-instance", instance.recovery_instance_id),
            "ec2InstanceID": instance.ec2_instance_id,
            "ec2InstanceState": ec2_state.upper() if ec2_state in _EC2_STATES else "NOT_FOUND",
            "jobID": instance.job_id, "sourceServerID": instance.source_server_id, "isDrill": instance.is_drill,
            "pointInTimeSnapshotDateTime": iso(instance.point_in_time), "tags": dict(instance.tags),
            "originEnvironment": "AWS" if origin_region else "ON_PREMISES",
            "originAvailabilityZone": (origin_region or state.name) + "a",
            "failback": instance.failback.to_api(now),
            "recoveryInstanceProperties": {
                "lastUpdatedDateTime": iso(instance.launched),
                "identificationHints": {"hostname": instance.hostname, "awsInstanceID": instance.ec2_instance_id},
            },
        }
