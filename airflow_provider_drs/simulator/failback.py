"""Failback of recovery instances: ReverseReplication (AWS-origin sources), the DRS Failback Client
(on-premises sources, booted through the control API), StartFailbackLaunch and StopFailback.

Like jobs, a failback is planned when it starts and read back against the clock: its state is
FAILBACK_IN_PROGRESS until ``ready_at``, then FAILBACK_READY_FOR_LAUNCH (or FAILBACK_ERROR when the
replication was made to fail), and FAILBACK_COMPLETED once its launch job has ended.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import errors, jobs, moto_bridge
from .ids import arn, hex_id, iso, uuid

if TYPE_CHECKING:
    from .inventory import SourceServerSpec
    from .state import DrsState, RecoveryInstance, RegionState

NOT_STARTED, IN_PROGRESS = "FAILBACK_NOT_STARTED", "FAILBACK_IN_PROGRESS"
READY, COMPLETED, ERROR = "FAILBACK_READY_FOR_LAUNCH", "FAILBACK_COMPLETED", "FAILBACK_ERROR"
FIRST_BYTE_SHARE = 0.1  # of the replication time: when the first byte reaches the origin


@dataclass
class Failback:
    initiated: float | None = None       # None: not started, or stopped
    ready_at: float = 0.0
    fails: bool = False                  # ends in FAILBACK_ERROR at ready_at
    client_id: str | None = None         # the Failback Client's (on-premises origin only)
    job_id: str | None = None            # the failback launch job
    completed_at: float | None = None    # that job's end
    reversed_arn: str | None = None      # the origin region's source server; kept across stops

    def state(self, now: float) -> str:
        if self.initiated is None:
            return NOT_STARTED
        if self.completed_at is not None and now >= self.completed_at:
            return COMPLETED
        if now < self.ready_at:
            return IN_PROGRESS
        return ERROR if self.fails else READY

    def to_api(self, now: float) -> dict:
        state = self.state(now)
        item: dict = {"state": state}
        if self.initiated is None:
            return item
        item.update(failbackInitiationTime=iso(self.initiated), failbackToOriginalServer=True)
        first_byte = self.initiated + (self.ready_at - self.initiated) * FIRST_BYTE_SHARE
        if now >= first_byte:
            item["firstByteDateTime"] = iso(first_byte)
        last_seen = iso(self.ready_at if state == ERROR else now)  # a failed replication's agent went quiet
        item["agentLastSeenByServiceDateTime"] = last_seen
        if self.client_id:
            item.update(failbackClientID=self.client_id, failbackClientLastSeenByServiceDateTime=last_seen)
        if self.job_id:
            item["failbackJobID"] = self.job_id
        return item


class FailbackOperations:
    """The failback operations of ``DrsState`` (a mixin: they share its lock, regions and jobs)."""

    def reverse_replication(self: DrsState, region: str, body: dict) -> dict:
        with self.lock:
            state, now = self.region(region), time.time()
            instance = self._failback_candidate(state, body["recoveryInstanceID"], now, aws_origin=True)
            self._start_failback_replication(state, instance, now)
            failback = instance.failback
            if failback.reversed_arn is None:  # the first time: later ones name the same server
                origin = state.servers[instance.source_server_id].spec.origin_region
                failback.reversed_arn = arn(origin, "source-server", "s-" + hex_id(self.rng))
            return {"reversedDirectionSourceServerArn": failback.reversed_arn}

    def boot_failback_client(self: DrsState, region: str, recovery_instance_id: str) -> str:
        """The DRS Failback Client booted on the on-premises origin of this instance, replicating it
        back; returns the client's id."""
        with self.lock:
            state, now = self.region(region), time.time()
            try:
                instance = self._failback_candidate(state, recovery_instance_id, now, aws_origin=False)
            except errors.ApiError as err:
                raise ValueError(err.message) from None
            self._start_failback_replication(state, instance, now)
            instance.failback.client_id = uuid(self.rng)
            return instance.failback.client_id

    def start_failback_launch(self: DrsState, region: str, body: dict) -> dict:
        ids = body["recoveryInstanceIDs"]
        if len(set(ids)) != len(ids):
            raise errors.validation("A recovery instance is listed more than once", "recoveryInstanceIDs")
        with self.lock:
            state, now = self.region(region), time.time()
            missing = [i for i in ids if i not in state.recovery_instances]
            if missing:  # the operation has no ResourceNotFoundException
                raise errors.validation(f"Recovery instances not found in {region}: {', '.join(missing)}",
                                        "recoveryInstanceIDs")
            instances = [state.recovery_instances[i] for i in ids]
            for instance in instances:
                current = instance.failback.state(now)
                if current != READY:
                    raise errors.conflict(
                        f"Recovery instance {instance.recovery_instance_id} is {current}, not "
                        f"{READY}", instance.recovery_instance_id, "RECOVERY_INSTANCE")
            busy = self._busy(state, now)
            for instance in instances:
                other = busy.get(instance.source_server_id)
                if other is not None:
                    raise errors.conflict(
                        f"Source server {instance.source_server_id} is already participating in job "
                        f"{other.job_id} ({other.status(now)}); wait for it to complete", instance.source_server_id)
            self.job_count += 1
            started = now + jobs.JOB_PENDING_SECONDS * self.time_scale
            runs = [self._plan_failback_launch(state.servers[instance.source_server_id].spec,
                                               instance.recovery_instance_id,
                                               started + i * jobs.SERVER_STAGGER_SECONDS * self.time_scale, now)
                    for i, instance in enumerate(instances)]
            # No EC2 instance is launched: failback lands on the origin machine, outside this region.
            job = self._new_job(state, now, "LAUNCH", "FAILBACK", False, runs, body.get("tags") or {})
            for instance in instances:
                instance.failback.job_id, instance.failback.completed_at = job.job_id, job.ended
            return {"job": job.to_api(now)}

    def stop_failback(self: DrsState, region: str, body: dict) -> None:
        """Stops the failback replication, also after FAILBACK_COMPLETED (as DRS does)."""
        with self.lock:
            instance = self.region(region).recovery_instances.get(body["recoveryInstanceID"])
            if instance is None:
                raise errors.not_found(f"Recovery instance {body['recoveryInstanceID']} not found in {region}",
                                       body["recoveryInstanceID"], "RECOVERY_INSTANCE")
            instance.failback = Failback(reversed_arn=instance.failback.reversed_arn)

    # -- helpers -----------------------------------------------------------------------------------
    def _failback_candidate(self: DrsState, state: RegionState, recovery_instance_id: str, now: float,
                            aws_origin: bool) -> RecoveryInstance:
        """The instance, if it may start failback replication by this path; else the refusal."""
        instance = state.recovery_instances.get(recovery_instance_id)
        if instance is None:
            raise errors.not_found(f"Recovery instance {recovery_instance_id} not found in {state.name}",
                                   recovery_instance_id, "RECOVERY_INSTANCE")
        field = "recoveryInstanceID"
        if instance.is_drill:
            raise errors.validation(f"Recovery instance {recovery_instance_id} is a drill instance: only "
                                    "recovery instances fail back", field)
        origin = state.servers[instance.source_server_id].spec.origin_region
        if aws_origin and origin is None:
            raise errors.validation(
                f"Recovery instance {recovery_instance_id} has an on-premises origin: reverse replication "
                "is for AWS-origin instances; on-premises sources fail back through the DRS Failback Client",
                field)
        if not aws_origin and origin is not None:
            raise errors.validation(f"Recovery instance {recovery_instance_id} has an AWS origin: it fails "
                                    "back with ReverseReplication, not the DRS Failback Client", field)
        if moto_bridge.instance_state(state.name, instance.ec2_instance_id) in (None, "terminated"):
            raise errors.validation(f"The EC2 instance {instance.ec2_instance_id} of recovery instance "
                                    f"{recovery_instance_id} is terminated: it cannot fail back", field)
        current = instance.failback.state(now)
        if current in (IN_PROGRESS, READY):
            raise errors.conflict(f"Failback of recovery instance {recovery_instance_id} is already "
                                  f"{current}", recovery_instance_id, "RECOVERY_INSTANCE")
        return instance

    def _start_failback_replication(self: DrsState, state: RegionState, instance: RecoveryInstance,
                                    now: float) -> None:
        spec = state.servers[instance.source_server_id].spec
        seconds = self.inventory.failback_behaviour(spec).replication * self.time_scale
        instance.failback = Failback(now, now + seconds, spec.id in self.faults.failback_failures,
                                     reversed_arn=instance.failback.reversed_arn)

    def _plan_failback_launch(self: DrsState, spec: SourceServerSpec, recovery_instance_id: str, start: float,
                              now: float) -> jobs.ServerRun:
        """One LAUNCH_START lasting the server's launch phase (the origin is already in sync); the
        job names the recovery instance from the start."""
        rng = random.Random(f"{self.seed}/{self.job_count}/{recovery_instance_id}")
        jitter = self.inventory.defaults.jitter
        seconds = self.inventory.launch_behaviour(spec).launch * self.time_scale * (1 + rng.uniform(-jitter, jitter))
        data = {"sourceServerID": spec.id}
        return jobs.ServerRun(spec.id, start, start + seconds, "LAUNCHED", [(start, "LAUNCH_START", data)],
                              recovery_instance_id, now)
