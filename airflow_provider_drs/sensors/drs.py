"""DrsJobSensor: wait for a DRS job and judge it per server, not per job."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, PokeReturnValue

from airflow_provider_drs.hooks.drs import DrsHook
from airflow_provider_drs.hooks.drs_results import describe_failure, failed_servers, job_summary, note_launches
from airflow_provider_drs.links.drs import DrsJobLink, DrsRecoveryInstancesLink
from airflow_provider_drs.triggers.drs import DrsJobTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context


def as_id_list(value: Any) -> list[str]:
    """Server or job ids given as a list, a JSON list (a rendered template) or comma-separated."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return [str(v) for v in json.loads(text)]
        return [part.strip() for part in text.split(",") if part.strip()]
    return [str(v) for v in value]


def judge_results(task: Any, job_ids: Sequence[str], results: Mapping[str, Mapping[str, Any]], optional: Sequence[str]) -> None:
    """Apply the failure policy: a critical server that did not launch fails the task (no retry:
    the job is over, polling it again changes nothing); an optional one only warns."""
    critical, tolerated = failed_servers(results, optional)
    jobs = ", ".join(job_ids)
    for result in tolerated:
        task.log.warning("drs.optional_server_failed job_id=%s %s", jobs, describe_failure(result))
    launched = [sid for sid, r in results.items() if r["launch_status"] == "LAUNCHED"]
    task.log.info("drs.job_judged job_id=%s launched=%d failed=%d optional_failed=%d",
                  jobs, len(launched), len(critical), len(tolerated))
    if critical:
        lines = "\n".join(f"  - {describe_failure(r)}" for r in critical)
        raise AirflowFailException(
            f"DRS job {jobs}: {len(critical)} critical server(s) did not launch:\n{lines}\n"
            "See the job log in the DRS console; fix the launch settings or mark the server optional."
        )


def persist_instance_link(task: Any, context: Context, results: Mapping[str, Mapping[str, Any]]) -> None:
    ids = [r["ec2_instance_id"] for r in results.values() if r.get("ec2_instance_id")]
    DrsRecoveryInstancesLink.persist(
        context=context, operator=task, region_name=task.hook.conn_region_name,
        aws_partition=task.hook.conn_partition, instance_ids=ids,
    )


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
    :return: ``{source_server_id: result}`` with launch status, recovery instance id, EC2
        instance id and phase times (see ``hooks.drs_results``).
    """

    aws_hook_class = DrsHook
    template_fields = aws_template_fields("job_id", "optional_server_ids")
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
        **kwargs: Any,
    ):
        kwargs.setdefault("poke_interval", min_poll_interval)
        super().__init__(**kwargs)
        self.job_id = job_id
        self.optional_server_ids = optional_server_ids
        self.deferrable = deferrable
        self.min_poll_interval = min_poll_interval
        self.max_poll_interval = max_poll_interval
        self.max_consecutive_errors = max_consecutive_errors
        self._observed_launched: dict[str, str] = {}

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
        job = self.hook.get_job(self.job_id)
        note_launches(job, self._observed_launched, DrsHook.now_iso())
        self.log.info("drs.poke job_id=%s status=%s", self.job_id, job.get("status"))
        if job.get("status") != "COMPLETED":
            return False
        results = self.hook.get_job_results(self.job_id, self._observed_launched)
        return PokeReturnValue(is_done=True, xcom_value=self._finish(context, job_summary(job), results))

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        if not event or event.get("status") != "success":
            message = (event or {}).get("message", "no event")
            raise AirflowException(f"Waiting for DRS job {self.job_id} failed: {message}")
        job = (event.get("jobs") or {}).get(self.job_id, {})
        return self._finish(context, {"job_id": self.job_id, **{k: v for k, v in job.items() if k != "results"}},
                            event["results"])

    def _finish(self, context: Context, job: dict[str, Any], results: dict[str, Any]) -> dict[str, Any]:
        # Pushed before judging: a failed wave's report still shows each server's fate.
        ti = context.get("ti")
        if ti is not None:
            ti.xcom_push(key="job", value=job)
            ti.xcom_push(key="results", value=results)
        persist_instance_link(self, context, results)
        judge_results(self, [self.job_id], results, as_id_list(self.optional_server_ids))
        return results
