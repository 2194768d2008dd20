"""DrsWaveHealthSensor: a wave's ready_when gate, waited for in the triggerer."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException
from botocore.exceptions import ClientError

from airflow_provider_drs.hooks.instance_health import (
    InstanceHealthHook, describe, failures, new_records, ready_for_probes, settled)
from airflow_provider_drs.hooks.references import AwsReferenceResolver
from airflow_provider_drs.plan_tasks import GATE, RESULTS, WAIT_FOR_LAUNCH, in_wave
from airflow_provider_drs.plans import parse_references, render_value
from airflow_provider_drs.triggers.instance_health import WaveHealthTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context

_DEFER_SLACK = timedelta(minutes=5)  # Airflow's own deferral timeout: the trigger's clearer one wins


class DrsWaveHealthSensor(AwsBaseSensor[InstanceHealthHook]):
    """
    Wait until every server a wave launched passes the wave's health gate (``ready_when``).

    Reads the wave's per-server results (``launch_task_id``'s ``results`` XCom); servers that did
    not launch are skipped. Polls EC2 status checks and SSM agent registration in the triggerer;
    sends the probes (one AWS-RunShellScript command per round, to the servers ready for it) from
    the task itself, because a trigger never changes anything in AWS, and defers again while they
    run. A failed probe is sent again after an interval until the gate's timeout. Always deferrable.

    A critical server that fails the gate fails the task (no retry: the gate already waited its
    timeout), naming the server, its instance and the check; an optional one only warns.

    :param launch_task_id: the wave's wait_for_launch task.
    :param checks: the wave's ready_when: ec2_status_ok, ssm_online, probes ([{kind: target}]),
        timeout_minutes. Probe targets may hold plan references, resolved when the task runs.
    :param optional_server_ids: servers whose failure only warns.
    :param server_waves: server id -> wave, to resolve ``{{ instance:s-... }}`` in probes.
    :return: ``{server_id: record}`` (hooks.instance_health): state, checks, ready_at, detail.
    """

    aws_hook_class = InstanceHealthHook
    template_fields = aws_template_fields()
    ui_color = "#c8f3d1"

    def __init__(self, *, launch_task_id: str, checks: Mapping[str, Any], optional_server_ids: Sequence[str] = (),
                 server_waves: Mapping[str, str] | None = None, min_poll_interval: float = 2.0,
                 max_poll_interval: float = 30.0, wave_name: str = "", **kwargs: Any):
        kwargs.setdefault("retries", 0)
        super().__init__(**kwargs)
        self.launch_task_id = launch_task_id
        self.checks = dict(checks)
        self.optional_server_ids = list(optional_server_ids)
        self.server_waves = dict(server_waves or {})
        self.min_poll_interval, self.max_poll_interval = min_poll_interval, max_poll_interval
        self.wave_name = wave_name

    def poke(self, context: Context) -> bool:  # pragma: no cover - the gate only runs deferred
        raise NotImplementedError("DrsWaveHealthSensor always defers")

    def execute(self, context: Context) -> Any:
        results = context["ti"].xcom_pull(task_ids=self.launch_task_id, key=RESULTS) or {}
        records = new_records(results, self.optional_server_ids)
        checks = {**self.checks, "probes": self._resolved_probes(context, results)}
        deadline = time.time() + 60 * self.checks.get("timeout_minutes", 15)
        self.log.info("drs.health_gate wave=%s servers=%s checks=%s", self.wave_name,
                      sorted(s for s, r in records.items() if r["state"] == "waiting"), checks)
        return self._advance(context, records, checks, deadline)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        if not event or event.get("status") == "error":
            raise AirflowException(f"health gate of wave {self.wave_name}: {(event or {}).get('message')}")
        return self._advance(context, event["records"], event["checks"], event["deadline"])

    def _advance(self, context: Context, records: dict, checks: dict, deadline: float) -> Any:
        if settled(records):
            context["ti"].xcom_push(key=GATE, value=records)  # the report reads it, passed or not
            return self._finish(records)
        ready = ready_for_probes(records, checks)
        if ready:
            self._send(records, checks, ready)
        self.defer(
            trigger=WaveHealthTrigger(records=records, checks=checks, deadline=deadline,
                             min_poll_interval=self.min_poll_interval, max_poll_interval=self.max_poll_interval,
                             **WaveHealthTrigger.connection_of(self)),
            method_name="execute_complete",
            timeout=timedelta(seconds=max(0.0, deadline - time.time())) + _DEFER_SLACK)

    def _send(self, records: dict, checks: dict, servers: list[str]) -> None:
        instances = [records[s]["ec2_instance_id"] for s in servers]
        try:
            command_id = self.hook.send_probes(instances, checks["probes"], f"drs ready_when {self.wave_name}")
        except ClientError as error:  # an agent dropped off between the read and the send: read again
            if error.response.get("Error", {}).get("Code") != "InvalidInstanceId":
                raise
            self.log.warning("drs.health_gate wave=%s probes not sent: %s", self.wave_name, error)
            return
        self.log.info("drs.health_gate wave=%s probes command_id=%s instances=%s", self.wave_name, command_id,
                      instances)
        for server in servers:
            records[server]["command_id"] = command_id

    def _finish(self, records: dict) -> dict:
        critical, optional = failures(records)
        for record in optional:
            self.log.warning("drs.health_gate wave=%s optional %s", self.wave_name, describe(record))
        for server, record in records.items():
            if record["state"] == "passed":
                self.log.info("drs.health_gate wave=%s server=%s ready_at=%s", self.wave_name, server,
                              record["ready_at"])
        if critical:
            raise AirflowFailException(f"wave {self.wave_name} is not ready: "
                                       + "; ".join(describe(r) for r in critical))
        return records

    def _resolved_probes(self, context: Context, results: Mapping[str, Any]) -> list[dict[str, str]]:
        probes = [dict(p) for p in self.checks.get("probes") or []]
        servers = {r.value for probe in probes for value in probe.values()
                   for r in parse_references(value) if r.kind == "instance"}
        if not any("{{" in value for probe in probes for value in probe.values()):
            return probes
        instances = {}
        for server in servers:
            wave_results = (results if self.server_waves.get(server) == self.wave_name else context["ti"].xcom_pull(
                task_ids=in_wave(self.server_waves.get(server, ""), WAIT_FOR_LAUNCH), key=RESULTS)) or {}
            instances[server] = (wave_results.get(server) or {}).get("ec2_instance_id")
        return render_value(probes, AwsReferenceResolver(self.aws_conn_id, self.region_name, instances))
