"""DrsHook: the only code of the provider that calls AWS Elastic Disaster Recovery."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from botocore.exceptions import ClientError

from airflow_provider_drs.exceptions import (
    DrsJobLimitExceeded,
    DrsJobNotFound,
    DrsRequestError,
    DrsServerInActiveJob,
)
from airflow_provider_drs.hooks.drs_results import fold_job
from airflow_provider_drs.hooks.drs_safety import ACTIVE_JOB_STATUSES, Holding, RunRef, holdings
from airflow_provider_drs.hooks.retry import RetryAfterMixin

# Quota L-B827C881 "max source servers in a single Drill or Recovery job": 100 by default, while
# the StartRecovery API itself accepts 200. Raise it here only after raising the quota.
DEFAULT_MAX_SERVERS_PER_JOB = 100
DESCRIBE_JOBS_MAX_IDS = 1000
RECOVERY_INSTANCE_CHUNK = 200
SOURCE_SERVER_ID = re.compile(r"^s-[0-9a-zA-Z]{17}$")
# Active jobs are young: jobs created this long ago are read to find the ones still running.
ACTIVE_JOB_WINDOW = timedelta(days=2)


def to_drs_datetime(value: datetime | str) -> str:
    """DRS filters take ISO-8601 UTC with a trailing Z (pattern of ISO8601DatetimeString)."""
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def chunks(items: Sequence[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def _refused(error: ClientError, operation: str, target: str) -> Exception:
    """DRS's refusal of a failback request as a DrsRequestError naming the target and DRS's reason
    (the ClientError stays its ``__cause__``); throttling and server errors are left as they are."""
    if _error_code(error) in ("ValidationException", "ResourceNotFoundException", "ConflictException"):
        message = error.response.get("Error", {}).get("Message", "")
        return DrsRequestError(f"DRS refused {operation} for {target}: {message}")
    return error


def _some(ids: Sequence[str], shown: int = 5) -> str:
    """The first ids of a batch, for a message that stays readable with 200 of them."""
    more = f" and {len(ids) - shown} more" if len(ids) > shown else ""
    return ", ".join(ids[:shown]) + more


class DrsHook(RetryAfterMixin, AwsBaseHook):
    """
    Interact with AWS Elastic Disaster Recovery (DRS).

    A thin, careful wrapper around ``boto3.client("drs")``: connection, region, role and the
    per-service ``endpoint_url`` (the DRS simulator, say) come from the Airflow AWS connection.
    Calls are retried by botocore's standard mode, and a throttled call waits what DRS's
    ``Retry-After`` asked for.

    :param max_servers_per_job: refuse a StartRecovery with more servers than this (the service
        quota L-B827C881, 100 unless raised for the account).
    """

    def __init__(self, *args: Any, max_servers_per_job: int = DEFAULT_MAX_SERVERS_PER_JOB, **kwargs: Any) -> None:
        kwargs["client_type"] = "drs"
        super().__init__(*args, **kwargs)
        self.max_servers_per_job = max_servers_per_job

    # --- client plumbing -------------------------------------------------------------------------
    @asynccontextmanager
    async def async_client(self):
        """An aiobotocore DRS client, for triggers: ``async with hook.async_client() as client``."""
        async with await self.get_async_conn() as client:
            yield client

    @staticmethod
    def now_iso() -> str:
        """Now, in the ISO-8601 UTC form DRS uses (for observed launch times)."""
        return to_drs_datetime(datetime.now(timezone.utc))

    # --- source servers --------------------------------------------------------------------------
    def describe_source_servers(
        self, source_server_ids: Sequence[str] | None = None, tags: Mapping[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """Source servers, filtered by ids (server side) and by tags (client side: DRS can't)."""
        filters = {"sourceServerIDs": list(source_server_ids)} if source_server_ids else {}
        servers = [
            server
            for page in self.conn.get_paginator("describe_source_servers").paginate(filters=filters)
            for server in page.get("items", [])
        ]
        if tags:
            servers = [s for s in servers if all(s.get("tags", {}).get(k) == v for k, v in tags.items())]
        return servers

    def list_source_servers(
        self, source_server_ids: Sequence[str] | None = None, tags: Mapping[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """A summary per source server: id, hostname, replication state, lag, tags."""
        return [summarize_source_server(s) for s in self.describe_source_servers(source_server_ids, tags)]

    # --- recovery jobs ---------------------------------------------------------------------------
    def start_recovery(self, source_server_ids: Sequence[str], is_drill: bool,
                       snapshot_ids: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Start ONE recovery (or drill) job for all the given servers and return the job.

        ``snapshot_ids`` (server id -> recovery snapshot id) launches those servers from that point-in-
        time snapshot; the others take a fresh snapshot (the latest data). No ``tags`` argument is
        sent: tags on StartRecovery were seen to skip the conversion phase.
        """
        ids = self._check_job_servers(source_server_ids)
        snapshot_ids = snapshot_ids or {}
        servers = [{"sourceServerID": s, **({"recoverySnapshotID": snapshot_ids[s]} if s in snapshot_ids else {})}
                   for s in ids]
        try:
            job = self.conn.start_recovery(sourceServers=servers, isDrill=is_drill)["job"]
        except ClientError as error:
            raise self._start_error(error, ids) from error
        self.log.info("drs.start_recovery job_id=%s is_drill=%s servers=%s snapshots=%s", job["jobID"], is_drill,
                      ",".join(ids), ",".join(f"{s}={p}" for s, p in snapshot_ids.items()) or "latest")
        return job

    def _check_job_servers(self, source_server_ids: Sequence[str]) -> list[str]:
        ids = list(source_server_ids)
        if not ids:
            raise DrsRequestError("No source servers to recover: give at least one source server id.")
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise DrsRequestError(
                f"Source servers listed more than once: {', '.join(duplicates)}. List each server once."
            )
        malformed = [i for i in ids if not SOURCE_SERVER_ID.match(i)]
        if malformed:
            raise DrsRequestError(
                f"Malformed source server ids: {', '.join(malformed)}. A DRS source server id is "
                "'s-' followed by 17 letters or digits."
            )
        if len(ids) > self.max_servers_per_job:
            raise DrsJobLimitExceeded(
                f"{len(ids)} servers in one job, over the limit of {self.max_servers_per_job} "
                "(quota L-B827C881). Split the wave, or raise the quota and max_servers_per_job."
            )
        return ids

    def _start_error(self, error: ClientError, ids: list[str]) -> Exception:
        code, message = _error_code(error), error.response.get("Error", {}).get("Message", "")
        if code == "ConflictException":
            server_id = error.response.get("resourceId")
            busy = self._active_jobs_of(ids)
            detail = "; ".join(f"{s} is in job {j['jobID']}" for s, j in busy.items()) or message
            job = next(iter(busy.values()), None)
            return DrsServerInActiveJob(
                f"DRS refused StartRecovery: a server is already in an active job ({detail}). Wait for "
                "that job to end, or adopt it, before starting another.",
                server_id=server_id or next(iter(busy), None),
                job_id=job["jobID"] if job else None,
                job=job,
            )
        if code == "ServiceQuotaExceededException":
            return DrsJobLimitExceeded(f"DRS refused StartRecovery for {len(ids)} servers: {message}")
        if code in ("ValidationException", "ResourceNotFoundException"):
            return DrsRequestError(f"DRS refused StartRecovery for {', '.join(ids)}: {message}")
        return error

    def active_jobs_of(self, source_server_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """server id -> the active job it takes part in."""
        wanted, busy = set(source_server_ids), {}
        for job in self.iter_jobs(since=datetime.now(timezone.utc) - ACTIVE_JOB_WINDOW):
            if job.get("status") in ACTIVE_JOB_STATUSES:
                for server in job.get("participatingServers", []):
                    if server["sourceServerID"] in wanted:
                        busy[server["sourceServerID"]] = job
        return busy

    def _active_jobs_of(self, source_server_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The active jobs for a conflict error's message: none when they cannot be read."""
        try:
            return self.active_jobs_of(source_server_ids)
        except ClientError:
            return {}  # only a nicer message is lost; the caller raises the original conflict

    def iter_jobs(self, job_ids: Sequence[str] | None = None, since: datetime | str | None = None):
        """Jobs (paginated), optionally only these ids (1,000 a call) or created since a time."""
        paginator = self.conn.get_paginator("describe_jobs")
        base: dict[str, Any] = {"fromDate": to_drs_datetime(since)} if since else {}
        for ids in chunks(list(job_ids), DESCRIBE_JOBS_MAX_IDS) if job_ids else [None]:
            filters = {**base, "jobIDs": ids} if ids else base
            for page in paginator.paginate(filters=filters, PaginationConfig=_one_page_for(ids)):
                yield from page.get("items", [])

    def describe_jobs(self, job_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """job id -> job, for up to any number of ids (DescribeJobs takes 1,000 a call)."""
        return {job["jobID"]: job for job in self.iter_jobs(job_ids=job_ids)} if job_ids else {}

    def get_job(self, job_id: str) -> dict[str, Any]:
        job = self.describe_jobs([job_id]).get(job_id)
        if job is None:
            raise DrsJobNotFound(
                f"DRS job {job_id} not found in region {self.region_name}. Check the region and "
                "account of the AWS connection."
            )
        return job

    def get_job_log_items(self, job_id: str) -> list[dict[str, Any]]:
        paginator = self.conn.get_paginator("describe_job_log_items")
        return [item for page in paginator.paginate(jobID=job_id) for item in page.get("items", [])]

    def find_run_launch_job(
        self, source_server_ids: Sequence[str], since: datetime | str, is_drill: bool, run: RunRef | None = None,
    ) -> dict[str, Any] | None:
        """The LAUNCH job this run started for exactly these servers, if any (active or completed).

        A candidate is a LAUNCH job of the same kind (drill or recovery) created since ``since``
        (the run's start) whose servers are exactly these, and that is tagged with ``run`` or not
        tagged at all (the run died between StartRecovery and tagging). A job another run tagged is
        never returned. An active job is preferred, then the newest.
        """
        wanted = set(source_server_ids)
        initiated_by = "START_DRILL" if is_drill else "START_RECOVERY"
        matches = [
            job
            for job in self.iter_jobs(since=since)
            if job.get("type") == "LAUNCH" and job.get("initiatedBy") == initiated_by
            and {s["sourceServerID"] for s in job.get("participatingServers", [])} == wanted
            and RunRef.from_tags(job.get("tags")) in (None, run)
        ]
        if not matches:
            return None
        matches.sort(key=lambda job: (job.get("status") in ACTIVE_JOB_STATUSES, job.get("creationDateTime", "")))
        return matches[-1]

    def tag_job(self, job: Mapping[str, Any], tags: Mapping[str, str]) -> None:
        """Tag a job after it started (TagResource; StartRecovery's own ``tags`` skip conversion)."""
        self.conn.tag_resource(resourceArn=job["arn"], tags=dict(tags))
        self.log.info("drs.tag_job job_id=%s tags=%s", job["jobID"], ",".join(f"{k}={v}" for k, v in tags.items()))

    def launch_holdings(self, source_server_ids: Sequence[str]) -> list[Holding]:
        """Every live recovery instance and active job of these servers, with the run owning each
        (see ``hooks.drs_safety``): what a launch of them now would replace or collide with."""
        ids = list(dict.fromkeys(source_server_ids))
        if not ids:
            return []
        instances = self.describe_recovery_instances(source_server_ids=ids)
        servers = self.describe_source_servers(ids)
        jobs = {job["jobID"]: job for job in self.iter_jobs(since=datetime.now(timezone.utc) - ACTIVE_JOB_WINDOW)}
        last_launches = [((s.get("lifeCycle") or {}).get("lastLaunch") or {}).get("initiated", {}).get("jobID")
                         for s in servers]
        unknown = {i.get("jobID") for i in instances} | set(last_launches)
        unknown = sorted(j for j in unknown if j and j not in jobs)
        jobs.update(self.describe_jobs(unknown))
        return holdings(ids, instances, jobs, servers)

    # --- recovery instances ----------------------------------------------------------------------
    def describe_recovery_instances(
        self,
        recovery_instance_ids: Sequence[str] | None = None,
        source_server_ids: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Recovery instances, filtered by ids or source servers (200 ids a call, paginated)."""
        paginator = self.conn.get_paginator("describe_recovery_instances")
        instances: list[dict[str, Any]] = []
        for filters in _recovery_instance_filters(recovery_instance_ids, source_server_ids):
            for page in paginator.paginate(filters=filters):
                instances.extend(page.get("items", []))
        return instances

    def terminate_recovery_instances(self, recovery_instance_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Start TERMINATE jobs for the given recovery instances (200 a job); return the jobs."""
        jobs = []
        for ids in chunks(sorted(set(recovery_instance_ids)), RECOVERY_INSTANCE_CHUNK):
            job = self.conn.terminate_recovery_instances(recoveryInstanceIDs=ids)["job"]
            self.log.info("drs.terminate job_id=%s recovery_instances=%s", job["jobID"], ",".join(ids))
            jobs.append(job)
        return jobs

    # --- failback --------------------------------------------------------------------------------
    def reverse_replication(self, recovery_instance_id: str) -> str:
        """Start replicating an AWS-origin recovery instance back to its origin region (failback's
        first step); return the source server ARN there. DRS refuses an on-premises origin: that
        one fails back through the DRS Failback Client booted on the origin machine."""
        try:
            response = self.conn.reverse_replication(recoveryInstanceID=recovery_instance_id)
        except ClientError as error:
            raise _refused(error, "ReverseReplication", recovery_instance_id) from error
        reversed_arn = response["reversedDirectionSourceServerArn"]
        self.log.info("drs.reverse_replication recovery_instance=%s reversed_source_server=%s",
                      recovery_instance_id, reversed_arn)
        return reversed_arn

    def start_failback_launch(
        self, recovery_instance_ids: Sequence[str], tags: Mapping[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """Start failback launch jobs for recovery instances in FAILBACK_READY_FOR_LAUNCH (200 a
        job, the API's maximum); return the jobs. A refused batch raises, leaving the jobs of the
        batches before it running."""
        jobs = []
        extra = {"tags": dict(tags)} if tags else {}
        for ids in chunks(sorted(set(recovery_instance_ids)), RECOVERY_INSTANCE_CHUNK):
            try:
                job = self.conn.start_failback_launch(recoveryInstanceIDs=ids, **extra)["job"]
            except ClientError as error:
                raise _refused(error, "StartFailbackLaunch", _some(ids)) from error
            self.log.info("drs.start_failback_launch job_id=%s recovery_instances=%s", job["jobID"], ",".join(ids))
            jobs.append(job)
        return jobs

    def stop_failback(self, recovery_instance_id: str) -> None:
        """Stop the failback replication of a recovery instance (back to FAILBACK_NOT_STARTED; after
        a completed failback too, which is how its replication ends)."""
        try:
            self.conn.stop_failback(recoveryInstanceID=recovery_instance_id)
        except ClientError as error:
            raise _refused(error, "StopFailback", recovery_instance_id) from error
        self.log.info("drs.stop_failback recovery_instance=%s", recovery_instance_id)

    # --- per-server results ----------------------------------------------------------------------
    def get_job_results(
        self, job_id: str, observed_launched: Mapping[str, str] | None = None
    ) -> dict[str, dict[str, Any]]:
        """The job folded with its log and recovery instances into per-server results."""
        job = self.get_job(job_id)
        servers = [s["sourceServerID"] for s in job.get("participatingServers", [])]
        instances = self.describe_recovery_instances(source_server_ids=servers) if servers else []
        return fold_job(job, self.get_job_log_items(job_id), instances, observed_launched)

    # --- async counterparts of the polling calls (for triggers) ----------------------------------
    async def describe_jobs_async(self, job_ids: Sequence[str], client: Any = None) -> dict[str, dict[str, Any]]:
        """job id -> job, 1,000 ids a call. Pass ``client`` to reuse one aiobotocore client."""
        if client is None:
            async with self.async_client() as client:
                return await self.describe_jobs_async(job_ids, client)
        jobs: dict[str, dict[str, Any]] = {}
        for ids in chunks(list(job_ids), DESCRIBE_JOBS_MAX_IDS):
            pages = client.get_paginator("describe_jobs").paginate(filters={"jobIDs": ids},
                                                                   PaginationConfig=_one_page_for(ids))
            async for page in pages:
                jobs.update({job["jobID"]: job for job in page.get("items", [])})
        return jobs

    async def get_job_log_items_async(self, job_id: str, client: Any = None) -> list[dict[str, Any]]:
        if client is None:
            async with self.async_client() as client:
                return await self.get_job_log_items_async(job_id, client)
        items: list[dict[str, Any]] = []
        async for page in client.get_paginator("describe_job_log_items").paginate(jobID=job_id):
            items.extend(page.get("items", []))
        return items

    async def describe_recovery_instances_async(
        self,
        recovery_instance_ids: Sequence[str] | None = None,
        source_server_ids: Sequence[str] | None = None,
        client: Any = None,
    ) -> list[dict[str, Any]]:
        if client is None:
            async with self.async_client() as client:
                return await self.describe_recovery_instances_async(
                    recovery_instance_ids, source_server_ids, client
                )
        instances: list[dict[str, Any]] = []
        for filters in _recovery_instance_filters(recovery_instance_ids, source_server_ids):
            async for page in client.get_paginator("describe_recovery_instances").paginate(filters=filters):
                instances.extend(page.get("items", []))
        return instances

    async def get_job_results_async(
        self, job: Mapping[str, Any], observed_launched: Mapping[str, str] | None = None, client: Any = None
    ) -> dict[str, dict[str, Any]]:
        """Fold an already-read job with its log and recovery instances (two more reads)."""
        if client is None:
            async with self.async_client() as client:
                return await self.get_job_results_async(job, observed_launched, client)
        servers = [s["sourceServerID"] for s in job.get("participatingServers", [])]
        log_items = await self.get_job_log_items_async(job["jobID"], client)
        instances = await self.describe_recovery_instances_async(None, servers, client) if servers else []
        return fold_job(job, log_items, instances, observed_launched)


def _one_page_for(job_ids: Sequence[str] | None) -> dict[str, int]:
    """Ask for all the listed jobs in one page (``maxResults``: no maximum in the DRS API reference;
    a service that pages smaller still answers with a nextToken). Without it the service's default
    page turns one read of 1,000 jobs into many calls."""
    return {"PageSize": len(job_ids)} if job_ids else {}


def _recovery_instance_filters(
    recovery_instance_ids: Sequence[str] | None, source_server_ids: Sequence[str] | None
) -> list[dict[str, list[str]]]:
    if recovery_instance_ids:
        return [{"recoveryInstanceIDs": ids} for ids in chunks(list(recovery_instance_ids), RECOVERY_INSTANCE_CHUNK)]
    if source_server_ids:
        return [{"sourceServerIDs": ids} for ids in chunks(list(source_server_ids), RECOVERY_INSTANCE_CHUNK)]
    return [{}]


def summarize_source_server(server: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a SourceServer an operator cares about before a recovery."""
    replication = server.get("dataReplicationInfo") or {}
    properties = server.get("sourceProperties") or {}
    return {
        "source_server_id": server["sourceServerID"],
        "hostname": (properties.get("identificationHints") or {}).get("hostname"),
        "replication_state": replication.get("dataReplicationState"),
        "lag": replication.get("lagDuration"),
        "tags": dict(server.get("tags") or {}),
        "arn": server.get("arn"),
        "last_launch": (server.get("lastLaunchResult")),
        "recovery_instance_id": server.get("recoveryInstanceId"),
    }
