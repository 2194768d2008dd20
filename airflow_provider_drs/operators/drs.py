"""DRS operators: start one recovery job per wave (adopting it on retry), terminate drill instances."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils import validate_execute_complete_event
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, conf

from airflow_provider_drs.exceptions import DrsNotADrillInstance, DrsServerInActiveJob, DrsWaitTimeout
from airflow_provider_drs.hooks.drs import DrsHook
from airflow_provider_drs.hooks.drs_results import describe_failure
from airflow_provider_drs.hooks.drs_safety import RELEASING_JOBS, RunRef
from airflow_provider_drs.hooks.drs_verdict import as_id_list, judge_results
from airflow_provider_drs.hooks.drs_wait import PollingPolicy, wait_for_jobs
from airflow_provider_drs.links.drs import DrsJobLink, DrsRecoveryInstancesLink, persist_instance_link
from airflow_provider_drs.operators.launch_safety import check_launch, run_ref, run_started_at
from airflow_provider_drs.plan_tasks import JOB_ID, REPLACED, TERMINATED
from airflow_provider_drs.triggers.drs import DrsJobTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context

JOB_STATE_KEY = "drs_job_id"


class _DrsJobWaitMixin:
    """Waiting for DRS jobs, in the triggerer (deferrable) or in the worker (a polling loop)."""

    min_poll_interval: float
    max_poll_interval: float
    max_consecutive_errors: int
    # DRS announces launch results only: a wait on other jobs (TERMINATE) always polls.
    events_queue_url: str | None = None
    events_poll_interval: float = 60.0

    def _defer_for(self, job_ids: list[str], method_name: str, timeout: float | None) -> None:
        self.defer(  # type: ignore[attr-defined]
            trigger=DrsJobTrigger.for_task(self, job_ids),
            method_name=method_name,
            timeout=timedelta(seconds=timeout) if timeout else None,
        )

    def _wait_in_worker(self, hook: DrsHook, job_ids: list[str], timeout: float | None) -> dict[str, Any]:
        """Poll until every job is COMPLETED; return the per-server results of all of them."""
        policy = PollingPolicy(self.min_poll_interval, self.max_poll_interval)
        try:
            watch = wait_for_jobs(hook, job_ids, policy, timeout, log=self.log)  # type: ignore[attr-defined]
        except DrsWaitTimeout as timed_out:
            raise AirflowException(str(timed_out)) from timed_out
        return watch.results(hook)


class DrsStartRecoveryOperator(_DrsJobWaitMixin, AwsBaseOperator[DrsHook]):
    """
    Start ONE DRS recovery (or drill) job for all the given source servers and return its job id.

    StartRecovery is not idempotent. Before starting, the operator looks for a LAUNCH job created
    since this DAG run started whose servers are exactly these, and adopts it instead of starting a
    second one: a retried task (say, after its worker died right after the call) never launches
    the servers twice. So a wave's servers are launched at most once per DAG run; to launch them
    again, trigger a new run. Every job it starts or adopts is tagged with its DAG and run id.

    Right before StartRecovery, a drill checks that it harms nothing (``hooks.drs_safety``): it
    fails at once, without retry, when a server has a live recovery instance or is in a job that
    is not a drill of this run, or has a live drill instance of another run still going.

    :param source_server_ids: DRS source server ids (a list, a JSON list or comma-separated).
    :param is_drill: True for a drill, False for a real recovery.
    :param wait_for_completion: also wait for the job and judge it per server (one-task wave);
        then return ``{"job_id", "results"}`` instead of the job id.
    :param optional_server_ids: with wait_for_completion, servers that may fail with a warning.
    :param deferrable: wait in the triggerer rather than the worker.
    :param adopt_existing_job: look for this run's job before starting one (default True).
    :param max_servers_per_job: refuse more servers than this (quota L-B827C881, default 100).
    :param drill_conflict_wait: a recovery (``is_drill=False``) whose servers are in a running drill
        job waits up to this many seconds for that job to end, then starts; drills never wait.
    :param recovery_snapshots: server id -> the recovery snapshot to launch it from (an id, or a
        ``{"snapshot_id": ...}`` as preflight's XCom ``snapshots`` holds; a mapping or its JSON);
        servers not in it, and every server when it is empty, launch from the latest data.
    :param events_queue_url: deferrable waits: the SQS queue of DRS's launch-result events (see
        ``drs-plan events-setup``); the job is done when every server's result has arrived, and
        DescribeJobs is read only every ``events_poll_interval`` seconds, for lost events.
    """

    aws_hook_class = DrsHook
    template_fields = aws_template_fields("source_server_ids", "is_drill", "optional_server_ids",
                                          "events_queue_url", "recovery_snapshots")
    operator_extra_links = (DrsJobLink(), DrsRecoveryInstancesLink())
    ui_color = "#f7c59f"

    def __init__(
        self,
        *,
        source_server_ids: Sequence[str] | str,
        is_drill: bool = True,
        wait_for_completion: bool = False,
        optional_server_ids: Sequence[str] | str = (),
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        adopt_existing_job: bool = True,
        max_servers_per_job: int = 100,
        min_poll_interval: float = 2.0,
        max_poll_interval: float = 30.0,
        max_consecutive_errors: int = 8,
        wait_timeout: float | None = None,
        drill_conflict_wait: float = 3 * 3600,
        events_queue_url: str | None = None,
        events_poll_interval: float = 60.0,
        recovery_snapshots: Mapping[str, Any] | str | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.recovery_snapshots = recovery_snapshots
        self.events_queue_url = events_queue_url or None
        self.events_poll_interval = events_poll_interval
        self.source_server_ids = source_server_ids
        self.is_drill = is_drill
        self.drill_conflict_wait = drill_conflict_wait
        self.wait_for_completion = wait_for_completion
        self.optional_server_ids = optional_server_ids
        self.deferrable = deferrable
        self.adopt_existing_job = adopt_existing_job
        self.max_servers_per_job = max_servers_per_job
        self.min_poll_interval = min_poll_interval
        self.max_poll_interval = max_poll_interval
        self.max_consecutive_errors = max_consecutive_errors
        self.wait_timeout = wait_timeout

    @property
    def _hook_parameters(self) -> dict[str, Any]:
        return {**super()._hook_parameters, "max_servers_per_job": self.max_servers_per_job}

    def execute(self, context: Context) -> Any:
        server_ids = as_id_list(self.source_server_ids)
        own = run_ref(context)
        job = None
        if self.adopt_existing_job:
            job = self._stored_job(context) or self._adoptable_job(context, server_ids)
        if job is None:
            # Checked again right before the call: a recovery may have started since preflight.
            replaced = check_launch(self.hook, context, server_ids, bool(self.is_drill), self.log,
                                    f"Task {self.task_id} ({', '.join(server_ids)})")
            context["ti"].xcom_push(key=REPLACED, value=[h.as_dict() for h in replaced])
            try:
                job = self.hook.start_recovery(server_ids, is_drill=bool(self.is_drill),
                                               snapshot_ids=self._snapshot_ids(server_ids))
            except DrsServerInActiveJob as conflict:
                # botocore may have retried a StartRecovery whose answer was lost: the conflict is
                # then with our own job, which adoption recognises (exactly these servers, this run).
                job = self._adoptable_job(context, server_ids) if self.adopt_existing_job else None
                if job is None:
                    job = self._after_conflict(conflict, server_ids)
            self._store(context, job["jobID"])
        if RunRef.from_tags(job.get("tags")) != own:
            self._claim(job, own)
        job_id = job["jobID"]
        DrsJobLink.persist(context=context, operator=self, region_name=self.hook.conn_region_name,
                           aws_partition=self.hook.conn_partition, job_id=job_id)
        if not self.wait_for_completion:
            return job_id
        context["ti"].xcom_push(key=JOB_ID, value=job_id)
        persist_instance_link(self, context, {})  # empty until launched; Airflow reads it on deferral
        if self.deferrable:
            self._defer_for([job_id], "execute_complete", self.wait_timeout)
        results = self._wait_in_worker(self.hook, [job_id], self.wait_timeout)
        return self._finish(context, job_id, results)

    # The job id goes to Airflow's task state store (3.3+) the moment it is known, so a retry on
    # another worker resumes it without a search. (ResumableJobMixin, which the Glue operator uses,
    # wraps this store around a synchronous poll loop; this task returns at once and a deferrable
    # sensor waits, so it uses the store directly.) The adoption lookup stays as the safety net for
    # a worker lost while StartRecovery was in the air, and for Airflow without the store.
    def _store(self, context: Context, job_id: str) -> None:
        store = context.get("task_state_store")
        if store is not None:
            store.set(JOB_STATE_KEY, job_id)

    def _stored_job(self, context: Context) -> dict[str, Any] | None:
        store = context.get("task_state_store")
        job_id = store.get(JOB_STATE_KEY) if store is not None else None
        job = self.hook.describe_jobs([job_id]).get(job_id) if job_id else None
        if job is not None:
            self.log.warning("drs.resume_job job_id=%s status=%s: an earlier try of this task started it "
                             "(task state store); resuming it instead of starting a second job",
                             job_id, job.get("status"))
        return job

    def _claim(self, job: dict[str, Any], own: RunRef) -> None:
        """Tag the job with this run, so other runs know whose instances these are. A failure is
        logged, not raised: the job runs either way, and failing here would only orphan it."""
        try:
            self.hook.tag_job(job, own.tags())
        except Exception as error:
            self.log.error("drs.tag_job_failed job_id=%s: %s; other runs will take its instances for a "
                           "leftover drill's", job.get("jobID"), error)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        event = validate_execute_complete_event(event)
        job_id = (event.get("job_ids") or ["?"])[0]
        if event.get("status") != "success":
            raise AirflowException(f"Waiting for DRS job {job_id} failed: {event.get('message')}")
        return self._finish(context, job_id, event["results"])

    def _finish(self, context: Context, job_id: str, results: dict[str, Any]) -> dict[str, Any]:
        persist_instance_link(self, context, results)
        judge_results(self, [job_id], results, as_id_list(self.optional_server_ids))
        return {"job_id": job_id, "results": results}

    def _after_conflict(self, conflict: DrsServerInActiveJob, server_ids: list[str]) -> dict[str, Any]:
        """DRS refused: a server is in another job. A drill fails at once (no retry: the retry
        would launch once that job ends, replacing what it launched). A real recovery whose servers
        are held by a drill (a scheduled drill running on the worst day) waits for that drill's
        job to end, then starts. Anything else is raised, to be retried."""
        job = conflict.job or {}
        holder = job.get("initiatedBy")
        owner = RunRef.from_tags(job.get("tags"))
        if self.is_drill and holder not in RELEASING_JOBS:
            raise AirflowFailException(
                f"{conflict} Drill refused, nothing was launched: job {conflict.job_id} ({holder or 'unknown'}"
                f"{', ' + str(owner) if owner else ''}) holds these servers, and a drill must not replace "
                "what it launches."
            )
        if self.is_drill or holder != "START_DRILL":
            raise conflict
        self.log.warning("drs.recovery_waits_for_drill drill_job_id=%s servers=%s: a drill holds these "
                         "servers; the recovery starts when its launch job ends (DRS cannot cancel it)",
                         conflict.job_id, ",".join(server_ids))
        try:  # read at the fastest pace: the recovery starts the moment the drill's job ends
            wait_for_jobs(self.hook, [conflict.job_id], PollingPolicy(self.min_poll_interval, self.min_poll_interval),
                          self.drill_conflict_wait)
        except DrsWaitTimeout:
            raise conflict from None
        return self.hook.start_recovery(server_ids, is_drill=False, snapshot_ids=self._snapshot_ids(server_ids))

    def _snapshot_ids(self, server_ids: list[str]) -> dict[str, str]:
        """The recovery snapshot id of each of these servers that has one chosen."""
        chosen = self.recovery_snapshots
        if isinstance(chosen, str):
            chosen = json.loads(chosen) if chosen.strip() not in ("", "None", "null") else None
        chosen = chosen or {}
        return {s: v["snapshot_id"] if isinstance(v, Mapping) else v for s, v in chosen.items()
                if s in server_ids and v}

    def _adoptable_job(self, context: Context, server_ids: list[str]) -> dict[str, Any] | None:
        """The LAUNCH job this run already started for these servers (see find_run_launch_job)."""
        job = self.hook.find_run_launch_job(server_ids, run_started_at(context), bool(self.is_drill),
                                            run_ref(context))
        if job is not None:
            self.log.warning(
                "drs.adopt_job job_id=%s status=%s created=%s servers=%s: this run already started it; "
                "adopting instead of starting a second job",
                job["jobID"], job.get("status"), job.get("creationDateTime"), ",".join(server_ids),
            )
        return job


class DrsTerminateRecoveryInstancesOperator(_DrsJobWaitMixin, AwsBaseOperator[DrsHook]):
    """
    Terminate the drill instances launched by the given jobs (or of the given source servers).

    Only drill instances are ever touched. Selected by ``job_ids``, a non-drill instance is an
    error raised before anything is terminated (those jobs were a real recovery); selected by
    ``source_server_ids``, non-drill instances are left alone with a warning. Starts one TERMINATE
    job per 200 instances, waits for them (deferrable) and returns what it terminated:
    ``[{"recovery_instance_id", "ec2_instance_id", "source_server_id", "job_id"}]``.

    :param job_ids: LAUNCH jobs whose drill instances to terminate.
    :param source_server_ids: alternatively, terminate every drill instance of these servers.
    """

    aws_hook_class = DrsHook
    template_fields = aws_template_fields("job_ids", "source_server_ids")
    ui_color = "#d4a5a5"

    def __init__(
        self,
        *,
        job_ids: Sequence[str] | str | None = None,
        source_server_ids: Sequence[str] | str | None = None,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        min_poll_interval: float = 2.0,
        max_poll_interval: float = 30.0,
        max_consecutive_errors: int = 8,
        wait_timeout: float | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.job_ids = job_ids
        self.source_server_ids = source_server_ids
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.min_poll_interval = min_poll_interval
        self.max_poll_interval = max_poll_interval
        self.max_consecutive_errors = max_consecutive_errors
        self.wait_timeout = wait_timeout

    def execute(self, context: Context) -> list[dict[str, Any]]:
        targets = self._select_drill_instances(context)
        if not targets:
            self.log.info("drs.terminate nothing to terminate")
            return []
        jobs = self.hook.terminate_recovery_instances([t["recovery_instance_id"] for t in targets])
        terminate_job_ids = [job["jobID"] for job in jobs]
        context["ti"].xcom_push(key=TERMINATED, value=targets)
        if not self.wait_for_completion:
            return targets
        if self.deferrable:
            self._defer_for(terminate_job_ids, "execute_complete", self.wait_timeout)
        self._check_cleanup(terminate_job_ids, self._wait_in_worker(self.hook, terminate_job_ids, self.wait_timeout))
        return targets

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        event = validate_execute_complete_event(event)
        if event.get("status") != "success":
            raise AirflowException(f"Waiting for the TERMINATE jobs failed: {event.get('message')}")
        self._check_cleanup(event["job_ids"], event["results"])
        return context["ti"].xcom_pull(task_ids=self.task_id, key=TERMINATED) or []

    def _select_drill_instances(self, context: Context) -> list[dict[str, Any]]:
        job_ids = set(as_id_list(self.job_ids))
        server_ids = as_id_list(self.source_server_ids)
        if job_ids:
            jobs = self.hook.describe_jobs(sorted(job_ids))
            server_ids = sorted({s["sourceServerID"] for j in jobs.values() for s in j.get("participatingServers", [])})
        if not server_ids:
            return []
        instances = self.hook.describe_recovery_instances(source_server_ids=server_ids)
        if job_ids:
            instances = [i for i in instances if i.get("jobID") in job_ids]
            not_drills = [i["recoveryInstanceID"] for i in instances if not i.get("isDrill")]
            if not_drills:
                raise DrsNotADrillInstance(
                    f"Refusing to terminate: recovery instances {', '.join(not_drills)} of jobs "
                    f"{', '.join(sorted(job_ids))} are not drill instances (a real recovery). Nothing was terminated."
                )
        else:
            for instance in instances:
                if not instance.get("isDrill"):
                    self.log.warning("drs.terminate skipping non-drill recovery instance %s of %s",
                                     instance["recoveryInstanceID"], instance.get("sourceServerID"))
            instances = [i for i in instances if i.get("isDrill")]
        return [
            {
                "recovery_instance_id": i["recoveryInstanceID"],
                "ec2_instance_id": i.get("ec2InstanceID"),
                "source_server_id": i.get("sourceServerID"),
                "job_id": i.get("jobID"),
            }
            for i in instances
        ]

    def _check_cleanup(self, job_ids: list[str], results: dict[str, Any]) -> None:
        failed = [r for r in results.values() if r.get("failed_phase")]
        if failed:
            lines = "\n".join(f"  - {describe_failure(r)}" for r in failed)
            raise AirflowException(
                f"TERMINATE job(s) {', '.join(job_ids)} failed to clean up:\n{lines}\n"
                "Terminate the remaining drill instances from the DRS console, or retry this task."
            )
        self.log.info("drs.terminate done jobs=%s servers=%d", ",".join(job_ids), len(results))
