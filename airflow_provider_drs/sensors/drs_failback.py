"""DrsFailbackSensor: wait until recovery instances are ready to fail back, or have failed back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor
from airflow.providers.amazon.aws.utils import validate_execute_complete_event
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import AirflowException, AirflowSkipException, PokeReturnValue

from airflow_provider_drs.hooks.drs import DrsHook
from airflow_provider_drs.hooks.drs_failback import TARGETS, read_progress
from airflow_provider_drs.hooks.drs_verdict import as_id_list
from airflow_provider_drs.triggers.drs_failback import DrsFailbackTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context


class DrsFailbackSensor(AwsBaseSensor[DrsHook]):
    """
    Wait for the failback state of recovery instances (DescribeRecoveryInstances).

    :param recovery_instance_ids: the instances (a list, a JSON list or comma-separated); none
        skips the task (a wave with nothing to fail back).
    :param target: ``ready`` (FAILBACK_READY_FOR_LAUNCH: reverse replication caught up, or the
        on-premises Failback Client replicated) or ``completed`` (FAILBACK_COMPLETED: the failback
        launch ended).
    :param deferrable: wait in the triggerer (default True); poke mode otherwise.
    :param poll_interval: seconds between two reads (default 60: replication takes hours).
    :return: ``{recovery_instance_id: failback state}``. A FAILBACK_ERROR, a terminated instance, or
        a replication stopped under the wait fails the task, naming the instance.
    """

    aws_hook_class = DrsHook
    template_fields = aws_template_fields("recovery_instance_ids")
    ui_color = "#f3e5ab"

    def __init__(self, *, recovery_instance_ids: Sequence[str] | str, target: str, deferrable: bool = True,
                 poll_interval: float = 60.0, **kwargs: Any):
        if target not in TARGETS:
            raise ValueError(f"target must be one of {sorted(TARGETS)}, not {target!r}")
        kwargs.setdefault("poke_interval", poll_interval)
        kwargs.setdefault("mode", "reschedule")  # no worker slot held for hours in poke mode either
        super().__init__(**kwargs)
        self.recovery_instance_ids = recovery_instance_ids
        self.target = target
        self.deferrable = deferrable
        self.poll_interval = poll_interval

    def _ids(self) -> list[str]:
        ids = as_id_list(self.recovery_instance_ids)
        if not ids:
            raise AirflowSkipException("no recovery instance to wait for")
        return ids

    def execute(self, context: Context) -> Any:
        ids = self._ids()
        if not self.deferrable:
            return super().execute(context)
        self.defer(
            trigger=DrsFailbackTrigger(recovery_instance_ids=ids, target=self.target, poll_interval=self.poll_interval,
                                       **DrsFailbackTrigger.connection_of(self)),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout) if self.timeout else None,
        )

    def poke(self, context: Context) -> PokeReturnValue | bool:
        ids = self._ids()
        progress = read_progress(self.hook.describe_recovery_instances(recovery_instance_ids=ids), ids, self.target)
        self.log.info("drs.failback_wait target=%s %s", self.target, progress.summary())
        if progress.failed:
            self._fail("; ".join(f"{rid}: {why}" for rid, why in sorted(progress.failed.items())))
        return PokeReturnValue(is_done=True, xcom_value=progress.states) if progress.done else False

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, str]:
        event = validate_execute_complete_event(event)
        if event.get("status") != "success":
            self._fail(event.get("message"))
        self.log.info("drs.failback_wait target=%s reached: %s", self.target, event.get("message"))
        return event["states"]

    def _fail(self, why: Any) -> None:
        raise AirflowException(f"Waiting for failback ({self.target}) failed: {why}")
