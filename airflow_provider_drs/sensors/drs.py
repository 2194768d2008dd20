"""DrsJobSensor: wait for a DRS job and judge it per server, not per job."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor
from airflow.providers.amazon.aws.utils import validate_execute_complete_event
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import AirflowException, PokeReturnValue

from airflow_provider_drs.hooks.drs import DrsHook
from airflow_provider_drs.hooks.drs_results import job_summary
from airflow_provider_drs.hooks.drs_verdict import as_id_list, judge_results
from airflow_provider_drs.hooks.drs_wait import JobWatch, PollingPolicy
from airflow_provider_drs.links.drs import DrsJobLink, DrsRecoveryInstancesLink, persist_instance_link
from airflow_provider_drs.plan_tasks import JOB, RESULTS
from airflow_provider_drs.triggers.drs import DrsJobTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context


class DrsJobSensor(AwsBaseSensor[DrsHook]):
    """
    Wait for a DRS LAUNCH job to complete and return its per-server results.

    A COMPLETED job is not a successful one: each server's ``launchStatus`` is judged. A critical
    server that did not reach LAUNCHED fails the task with a message listing each failed server,
    its phase and DRS's rawError; a server in ``optional_server_ids`` only logs a warning.

    :param job_id: the DRS job (e.g. the XCom of DrsStartRecoveryOperator).
    :param optional_server_ids: servers allowed to fail without failing the task.
    :param deferrable: wait in the triggerer (default True); poke mode otherwise.
    :param min_poll_interval: fastest polling, once launches have started (seconds).
    :param max_poll_interval: slowest polling, while servers convert (seconds).
    :param events_queue_url: deferrable mode: the SQS queue of DRS's launch-result events (see
        ``drs-plan events-setup``); the job is done when every server's result has arrived, and
        DescribeJobs is read only every ``events_poll_interval`` seconds, for lost events.
    :return: ``{source_server_id: result}`` with launch status, recovery instance id, EC2
        instance id and phase times (see ``hooks.drs_results``).
    """

    aws_hook_class = DrsHook
    template_fields = aws_template_fields("job_id", "optional_server_ids", "events_queue_url")
    operator_extra_links = (DrsJobLink(), DrsRecoveryInstancesLink())
    ui_color = "#f3e5ab"

    def __init__(
        self,
        *,
        job_id: str,
        optional_server_ids: Sequence[str] | str = (),
        deferrable: bool = True,
        min_poll_interval: float = 2.0,
        max_poll_interval: float = 30.0,
        max_consecutive_errors: int = 8,
        events_queue_url: str | None = None,
        events_poll_interval: float = 60.0,
        **kwargs: Any,
    ):
        kwargs.setdefault("poke_interval", min_poll_interval)
        super().__init__(**kwargs)
        self.events_queue_url = events_queue_url or None
        self.events_poll_interval = events_poll_interval
        self.job_id = job_id
        self.optional_server_ids = optional_server_ids
        self.deferrable = deferrable
        self.min_poll_interval = min_poll_interval
        self.max_poll_interval = max_poll_interval
        self.max_consecutive_errors = max_consecutive_errors
        self._watch: JobWatch | None = None  # poke mode: what the pokes so far have seen

    def execute(self, context: Context) -> Any:
        DrsJobLink.persist(context=context, operator=self, region_name=self.hook.conn_region_name,
                           aws_partition=self.hook.conn_partition, job_id=self.job_id)
        # An empty link until the instances are known: Airflow reads every link when a task defers.
        persist_instance_link(self, context, {})
        if not self.deferrable:
            return super().execute(context)
        self.defer(
            trigger=DrsJobTrigger.for_task(self, [self.job_id]),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout) if self.timeout else None,
        )

    def poke(self, context: Context) -> PokeReturnValue | bool:
        if self._watch is None:
            self._watch = JobWatch([self.job_id], PollingPolicy(self.min_poll_interval, self.max_poll_interval))
        done = self._watch.read(self.hook)
        job = self._watch.jobs.get(self.job_id, {})
        self.log.info("drs.poke job_id=%s status=%s", self.job_id, job.get("status", "not listed yet"))
        if not done:
            return False
        results = self._watch.results(self.hook)
        return PokeReturnValue(is_done=True, xcom_value=self._finish(context, job_summary(job), results))

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        event = validate_execute_complete_event(event)
        if event.get("status") != "success":
            raise AirflowException(f"Waiting for DRS job {self.job_id} failed: {event.get('message')}")
        job = (event.get("jobs") or {}).get(self.job_id, {})
        return self._finish(context, {"job_id": self.job_id, **{k: v for k, v in job.items() if k != "results"}},
                            event["results"])

    def _finish(self, context: Context, job: dict[str, Any], results: dict[str, Any]) -> dict[str, Any]:
        # Pushed before judging: a failed wave's report still shows each server's fate.
        ti = context.get("ti")
        if ti is not None:
            ti.xcom_push(key=JOB, value=job)
            ti.xcom_push(key=RESULTS, value=results)
        persist_instance_link(self, context, results)
        judge_results(self, [self.job_id], results, as_id_list(self.optional_server_ids))
        return results
