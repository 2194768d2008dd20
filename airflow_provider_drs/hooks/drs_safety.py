"""What a new launch of a source server would disturb, and whether a drill may go ahead.

Pure functions over DRS answers (DescribeRecoveryInstances, DescribeJobs, DescribeSourceServers).
The DRS facts behind the rules:
- DRS keeps one recovery instance per source server: any new launch, drill or recovery, terminates
  the server's previous recovery instance when the new one comes up. A drill of a server that was
  recovered for real therefore destroys the running production instance;
- a server takes part in at most one active job; DRS refuses a launch meanwhile (ConflictException),
  but once that job completes a retried launch goes through, so a refusal must not be retried;
- DRS cannot say which Airflow run started a job: the start operator tags each job it starts with
  its DAG id and run id (TagResource on the job, never StartRecovery's ``tags``, which was seen to
  skip the conversion phase), and these tags are how another run is recognised.

A drill is refused when a server has a live non-drill recovery instance, is in an active job that
is not a drill of this run (a recovery, a failback, another run's drill), or has a live drill
instance of another run that is still going (or of a run this Airflow does not know). A drill
instance left by a run that is over, or launched outside this provider, may be replaced: the
caller warns about it. A recovery refuses nothing here (the worst day must not be blocked by a
drill); it only learns which live instances it will replace, to say so before it is approved.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

DAG_ID_TAG = "airflow-provider-drs:dag-id"
RUN_ID_TAG = "airflow-provider-drs:run-id"

ACTIVE_JOB_STATUSES = frozenset({"PENDING", "STARTED"})
ACTIVE_LAUNCH_STATUSES = frozenset({"PENDING", "IN_PROGRESS"})
# An EC2 instance in these states is gone (or going): replacing its recovery instance harms nothing.
GONE_EC2_STATES = frozenset({"TERMINATED", "NOT_FOUND", "SHUTTING-DOWN"})
# Jobs that release a server rather than hold it (DRS refuses a launch meanwhile; a retry is fine).
RELEASING_JOBS = frozenset({"TERMINATE_RECOVERY_INSTANCES"})
# Airflow DAG run states of a run that is over.
FINISHED_RUN_STATES = frozenset({"success", "failed"})


@dataclass(frozen=True)
class RunRef:
    """One Airflow DAG run, as recorded in the tags of the DRS jobs it started."""

    dag_id: str
    run_id: str

    @classmethod
    def from_tags(cls, tags: Mapping[str, str] | None) -> RunRef | None:
        tags = tags or {}
        if tags.get(DAG_ID_TAG) and tags.get(RUN_ID_TAG):
            return cls(tags[DAG_ID_TAG], tags[RUN_ID_TAG])
        return None

    def tags(self) -> dict[str, str]:
        return {DAG_ID_TAG: self.dag_id, RUN_ID_TAG: self.run_id}

    def __str__(self) -> str:
        return f"run {self.run_id} of DAG {self.dag_id}"


@dataclass(frozen=True)
class Holding:
    """Something on a source server that a new launch of it would replace or collide with: a live
    recovery instance (``recovery_instance_id`` set) or an active job (``job_status`` set)."""

    source_server_id: str
    is_drill: bool
    job_id: str | None
    owner: RunRef | None = None
    initiated_by: str | None = None
    job_status: str | None = None
    recovery_instance_id: str | None = None
    ec2_instance_id: str | None = None
    ec2_state: str | None = None

    @property
    def is_instance(self) -> bool:
        return self.recovery_instance_id is not None

    def describe(self) -> str:
        kind = "drill" if self.is_drill else "recovery"
        if self.is_instance:
            text = (f"server {self.source_server_id} has a live {kind} instance {self.recovery_instance_id} "
                    f"(EC2 {self.ec2_instance_id}, {self.ec2_state}) launched by job {self.job_id}")
        else:
            text = (f"server {self.source_server_id} is in active job {self.job_id} "
                    f"({self.initiated_by}, {self.job_status})")
        return text + (f", {self.owner}" if self.owner else "")

    def as_dict(self) -> dict[str, Any]:
        return {"source_server_id": self.source_server_id, "is_drill": self.is_drill, "job_id": self.job_id,
                "owner_dag_id": self.owner.dag_id if self.owner else None,
                "owner_run_id": self.owner.run_id if self.owner else None,
                "recovery_instance_id": self.recovery_instance_id, "ec2_instance_id": self.ec2_instance_id,
                "ec2_state": self.ec2_state}


def holdings(server_ids: Iterable[str], recovery_instances: Iterable[Mapping[str, Any]],
             jobs: Mapping[str, Mapping[str, Any]],
             source_servers: Iterable[Mapping[str, Any]] = ()) -> list[Holding]:
    """Every live recovery instance and active job of these servers.

    :param recovery_instances: DescribeRecoveryInstances items (any servers; others are ignored).
    :param jobs: job id -> job: the recent jobs, plus the jobs that launched those instances and
        the servers' last launches (their tags name the run that owns them).
    :param source_servers: DescribeSourceServers items: ``lifeCycle.lastLaunch`` names a launch in
        progress even when it is older than the jobs read.
    """
    wanted = set(server_ids)
    found: list[Holding] = []
    for instance in recovery_instances:
        server = instance.get("sourceServerID")
        state = (instance.get("ec2InstanceState") or "").upper()
        if server not in wanted or state in GONE_EC2_STATES:
            continue
        job = jobs.get(instance.get("jobID") or "") or {}
        found.append(Holding(
            source_server_id=server, is_drill=bool(instance.get("isDrill")), job_id=instance.get("jobID"),
            owner=RunRef.from_tags(job.get("tags")), initiated_by=job.get("initiatedBy"),
            recovery_instance_id=instance.get("recoveryInstanceID"),
            ec2_instance_id=instance.get("ec2InstanceID"), ec2_state=state or None,
        ))
    active = {job_id: job for job_id, job in jobs.items() if job.get("status") in ACTIVE_JOB_STATUSES}
    for server in source_servers:
        last = (server.get("lifeCycle") or {}).get("lastLaunch") or {}
        job_id = (last.get("initiated") or {}).get("jobID")
        if server.get("sourceServerID") in wanted and last.get("status") in ACTIVE_LAUNCH_STATUSES and job_id \
                and job_id not in active:
            initiated = last["initiated"]
            job = jobs.get(job_id) or {}
            active[job_id] = {"jobID": job_id, "status": job.get("status", "STARTED"), "tags": job.get("tags"),
                              "initiatedBy": job.get("initiatedBy") or
                              ("START_DRILL" if initiated.get("type") == "DRILL" else "START_RECOVERY"),
                              "participatingServers": [{"sourceServerID": server["sourceServerID"]}]}
    for job_id, job in active.items():
        if job.get("initiatedBy") in RELEASING_JOBS:
            continue
        for participant in job.get("participatingServers") or ():
            if participant.get("sourceServerID") in wanted:
                found.append(Holding(
                    source_server_id=participant["sourceServerID"], is_drill=job.get("initiatedBy") == "START_DRILL",
                    job_id=job_id, owner=RunRef.from_tags(job.get("tags")), initiated_by=job.get("initiatedBy"),
                    job_status=job.get("status"),
                ))
    return found


@dataclass
class DrillAssessment:
    """What a drill of some servers would do: refuse (``refusals``, each a full sentence) or go
    ahead, replacing the leftover drill instances in ``replaced``."""

    refusals: list[str] = field(default_factory=list)
    replaced: list[Holding] = field(default_factory=list)

    @property
    def refused(self) -> bool:
        return bool(self.refusals)


def assess_drill(found: Sequence[Holding], own: RunRef, run_state: Callable[[RunRef], str | None]) -> DrillAssessment:
    """Apply the drill rules (module docstring) to ``found``.

    :param own: the run asking; its own jobs and instances are never in the way.
    :param run_state: the Airflow state of another run (``running``, ``success``...), None when
        this Airflow does not know it.
    """
    result = DrillAssessment()
    states: dict[RunRef, str | None] = {}

    def state_of(ref: RunRef) -> str | None:
        if ref not in states:
            states[ref] = run_state(ref)
        return states[ref]

    for holding in found:
        if holding.owner == own:
            continue
        what = holding.describe()
        if not holding.is_drill:
            action = ("a drill would replace (terminate) it" if holding.is_instance
                      else "a drill would replace the instance it launches")
            result.refusals.append(f"{what}: this is a real recovery and {action}. A drill never touches a "
                                   "recovered server; drill it again once that recovery is failed back.")
        elif not holding.is_instance:
            result.refusals.append(f"{what}: another drill is launching this server. Let that run finish "
                                   "(two drills cannot share a server).")
        elif holding.owner is None:
            result.replaced.append(holding)  # launched outside this provider (console, CLI): a leftover
        elif state_of(holding.owner) in FINISHED_RUN_STATES:
            result.replaced.append(holding)
        elif state_of(holding.owner) is None:
            result.refusals.append(f"{what}, a run this Airflow does not know (another Airflow?). If that run is "
                                   f"over, terminate drill instance {holding.recovery_instance_id}, then drill again.")
        else:
            result.refusals.append(f"{what}, which is still {state_of(holding.owner)}: a drill would replace "
                                   "that run's instance. Let that run finish (two plans share this server).")
    return result


def replaced_by_recovery(found: Sequence[Holding], own: RunRef | None = None) -> list[Holding]:
    """The live recovery instances (drill or not) that a recovery of these servers replaces."""
    return [h for h in found if h.is_instance and (own is None or h.owner != own)]


@dataclass
class LeftoverSweep:
    """What a plan's cleanup DAG does with the live instances of its servers: ``terminate`` (drill
    instances whose run is over) and ``kept``, each with the reason."""

    terminate: list[tuple[Holding, str]] = field(default_factory=list)
    kept: list[tuple[Holding, str]] = field(default_factory=list)


def sweep_leftover_drills(found: Sequence[Holding], own_drill_dag_id: str,
                          run_state: Callable[[RunRef], str | None], force: bool = False) -> LeftoverSweep:
    """The drill instances left behind by runs that are over, among ``found`` (``holdings``).

    A drill instance is a leftover when the run that launched it is finished, or is unknown to this
    Airflow while it was a run of this plan's own drill DAG (the run was deleted). Launched outside
    this provider, or by an unknown run of another DAG, it is cleared only with ``force``. A drill
    instance of a run still going is its run's to clean; a real recovery instance is never touched.
    """
    sweep = LeftoverSweep()
    for holding in found:
        if not holding.is_instance:
            continue  # a launch in progress: nothing to terminate yet
        if not holding.is_drill:
            sweep.kept.append((holding, "a real recovery instance: never touched by a cleanup"))
            continue
        state = run_state(holding.owner) if holding.owner else None
        if state in FINISHED_RUN_STATES:
            sweep.terminate.append((holding, f"its drill run is over ({state})"))
        elif holding.owner is not None and state is None and holding.owner.dag_id == own_drill_dag_id:
            sweep.terminate.append((holding, "its drill run is no longer in Airflow (deleted)"))
        elif state is not None:
            sweep.kept.append((holding, f"its drill is still {state}: that run's own cleanup terminates it"))
        elif force:
            sweep.terminate.append((holding, "force: its launching run is unknown"))
        elif holding.owner is None:
            sweep.kept.append((holding, "launched outside this provider, or by a job DRS no longer lists: run "
                                        "the cleanup with force to terminate it"))
        else:
            sweep.kept.append((holding, "launched by a run this Airflow does not know, of another DAG: run the "
                                        "cleanup with force to terminate it"))
    return sweep
