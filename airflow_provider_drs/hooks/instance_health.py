"""A wave's health gate (``ready_when``): pure functions over EC2, SSM and Run Command answers, and
the hook that makes those calls.

One record per server the wave launched (plain JSON: it travels through a trigger)::

    {"server_id", "ec2_instance_id", "optional": bool, "state": "waiting" | "passed" | "failed" | "skipped",
     "ec2_status_ok": bool | None, "ssm_online": bool | None, "probes": bool | None,   # None: not checked
     "failed_check": str | None, "detail": str, "ready_at": ISO | None,
     "command_id": str | None,            # the probe command in flight
     "last_probe_failure": str}           # (once one failed) its status and output tail

Facts the gate respects: DescribeInstanceStatus answers only running instances unless
IncludeAllInstances; status ``initializing`` is normal for minutes after a launch, and ``impaired``
may clear (EC2 auto-recovery), so neither fails the gate before its timeout; an instance that is no
longer running fails it at once. An instance is absent from DescribeInstanceInformation until its
agent first registers. SendCommand to an instance whose agent is not Online is refused
(InvalidInstanceId), so probes are sent only once the agent is Online. A probe passes when its
script exits 0; the invocation's output is kept (its tail) to say why one failed.
"""

from __future__ import annotations

import shlex
from functools import cached_property
from collections.abc import Iterable, Mapping
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

WAITING, PASSED, FAILED, SKIPPED = "waiting", "passed", "failed", "skipped"
CHECKS = ("ec2_status_ok", "ssm_online", "probes")
OUTPUT_TAIL = 500  # characters of a failed probe's output kept in the result
PROBE_DOCUMENT = "AWS-RunShellScript"
PROBE_TIMEOUT_SECONDS = 60  # SendCommand TimeoutSeconds' minimum is 30
FINAL_FAILURES = ("Failed", "Cancelled", "TimedOut", "DeliveryTimedOut", "Undeliverable", "Terminated")


def probe_commands(probes: Iterable[Mapping[str, str]]) -> list[str]:
    """The AWS-RunShellScript lines of a gate's probes (``{"tcp": ...}`` etc.): each probe runs
    in turn and the first that fails ends the script, saying which one on stderr."""
    lines = []
    for number, probe in enumerate(probes, 1):
        (kind, target), = probe.items()
        if kind == "tcp":
            host, _, port = target.rpartition(":")
            redirect = f"</dev/tcp/{host.strip('[]')}/{port}"
            check = f"timeout 5 bash -c {shlex.quote(redirect)}"
        elif kind == "http":
            check = f"curl -fsS --max-time 10 -o /dev/null {shlex.quote(target)}"
        else:
            check = target
        label = shlex.quote(f"probe {number} ({kind}: {target}) failed")
        lines.append(f"( {check} ) || {{ echo {label} >&2; exit 1; }}")
    return lines


def new_records(results: Mapping[str, Mapping[str, Any]], optional: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The gate's starting records from wait_for_launch's per-server results; a server that did
    not launch is skipped (its launch already failed the wave, or only warned if optional)."""
    optional = set(optional)
    records = {}
    for server_id, result in results.items():
        launched = result.get("launch_status") == "LAUNCHED" and result.get("ec2_instance_id")
        records[server_id] = {
            "server_id": server_id, "ec2_instance_id": result.get("ec2_instance_id"),
            "optional": server_id in optional, "state": WAITING if launched else SKIPPED,
            "ec2_status_ok": None, "ssm_online": None, "probes": None, "failed_check": None,
            "detail": "" if launched else f"not launched ({result.get('launch_status')})", "ready_at": None,
            "command_id": None,
        }
    return records


def observe(records: dict[str, dict[str, Any]], checks: Mapping[str, Any], statuses: Mapping[str, tuple],
            online: set[str], invocations: Mapping[str, Mapping[str, Any]], now: str) -> None:
    """Fold one round of answers into the waiting records (in place).

    :param checks: the gate: ``ec2_status_ok``, ``ssm_online`` (bools), ``probes`` (list).
    :param statuses: EC2 id -> (instance state name, instance status, system status).
    :param online: EC2 ids whose SSM agent is Online.
    :param invocations: EC2 id -> GetCommandInvocation answer of its latest probe command.
    :param now: ISO time of this round (a record's ``ready_at`` when it passes).
    """
    for record in records.values():
        if record["state"] != WAITING:
            continue
        instance = record["ec2_instance_id"]
        why = {}  # check -> why it has not passed; the first one is the record's detail
        if _asked(checks, "ec2_status_ok"):
            state, instance_status, system_status = statuses.get(instance, ("unknown", None, None))
            if state not in ("running", "pending", "unknown"):
                _fail(record, "ec2_status_ok", f"EC2 instance is {state}")
                continue
            record["ec2_status_ok"] = instance_status == "ok" and system_status == "ok"
            why["ec2_status_ok"] = f"EC2 {state}, instance status {instance_status}, system status {system_status}"
        if _asked(checks, "ssm_online"):
            record["ssm_online"] = instance in online
            why["ssm_online"] = "SSM agent not Online (not registered)"
        if _asked(checks, "probes"):
            invocation = invocations.get(instance)
            status = (invocation or {}).get("Status")
            record["probes"] = status == "Success"
            if status in FINAL_FAILURES:
                record["command_id"] = None  # sent again after an interval
                record["last_probe_failure"] = f"probe {status}: " + _tail(invocation)
            why["probes"] = (record.get("last_probe_failure") if invocation is None or status in FINAL_FAILURES
                             else "probes running") or "probes not sent yet"
        pending = [c for c in CHECKS if _asked(checks, c) and not record[c]]
        if pending:
            record["detail"] = why[pending[0]]
        else:
            record.update(state=PASSED, ready_at=now, failed_check=None, detail="")


def ready_for_probes(records: Mapping[str, Mapping[str, Any]], checks: Mapping[str, Any]) -> list[str]:
    """Servers whose probes should be sent now: waiting, agent Online, status checks passed when
    asked, and no probe command in flight."""
    if not checks.get("probes"):
        return []
    return [r["server_id"] for r in records.values()
            if r["state"] == WAITING and r["ssm_online"] and r["command_id"] is None
            and (not checks.get("ec2_status_ok") or r["ec2_status_ok"])]


def time_out(records: dict[str, dict[str, Any]], checks: Mapping[str, Any]) -> None:
    """The gate's time is up: every waiting record fails on its first check not passed."""
    for record in records.values():
        if record["state"] == WAITING:
            failed = next((c for c in CHECKS if _asked(checks, c) and not record[c]), "probes")
            why = f"timed out after {checks.get('timeout_minutes')} min: {record['detail']}"
            _fail(record, failed, why.rstrip(": "))


def settled(records: Mapping[str, Mapping[str, Any]]) -> bool:
    return all(r["state"] != WAITING for r in records.values())


def failures(records: Mapping[str, Mapping[str, Any]]) -> tuple[list[dict], list[dict]]:
    """(critical, optional) records that failed the gate."""
    failed = [dict(r) for r in records.values() if r["state"] == FAILED]
    return [r for r in failed if not r["optional"]], [r for r in failed if r["optional"]]


def describe(record: Mapping[str, Any]) -> str:
    return (f"server {record['server_id']} (instance {record['ec2_instance_id']}) failed {record['failed_check']}: "
            f"{record['detail']}")


def _asked(checks: Mapping[str, Any], check: str) -> bool:
    if check == "ssm_online":
        return bool(checks.get("ssm_online") or checks.get("probes"))
    return bool(checks.get(check))


def _fail(record: dict[str, Any], check: str, detail: str) -> None:
    record.update(state=FAILED, failed_check=check, detail=detail)


def _tail(invocation: Mapping[str, Any] | None) -> str:
    invocation = invocation or {}
    text = (invocation.get("StandardErrorContent") or "") + (invocation.get("StandardOutputContent") or "")
    return text.strip()[-OUTPUT_TAIL:]


class InstanceHealthHook(AwsBaseHook):
    """The calls of a health gate: EC2 status checks, SSM agent registration, probe commands.

    Reads (``read``) are safe from a trigger; ``send_probes`` changes nothing in the estate but is
    a SendCommand, so only the sensor calls it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "ssm"
        super().__init__(*args, **kwargs)

    @cached_property
    def ec2(self) -> Any:
        return AwsBaseHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name, verify=self.verify,
                           config=self.config, client_type="ec2").conn

    def read(self, records: Mapping[str, Mapping[str, Any]], checks: Mapping[str, Any]) -> dict[str, Any]:
        """One round of answers for the waiting records: ``statuses``, ``online``, ``invocations``."""
        waiting = [r for r in records.values() if r["state"] == WAITING]
        ids = [r["ec2_instance_id"] for r in waiting]
        out: dict[str, Any] = {"statuses": {}, "online": set(), "invocations": {}}
        if not ids:
            return out
        if checks.get("ec2_status_ok"):
            answer = self.ec2.describe_instance_status(InstanceIds=ids, IncludeAllInstances=True)
            for item in answer.get("InstanceStatuses", []):
                out["statuses"][item["InstanceId"]] = (
                    item.get("InstanceState", {}).get("Name"), item.get("InstanceStatus", {}).get("Status"),
                    item.get("SystemStatus", {}).get("Status"))
        if checks.get("ssm_online") or checks.get("probes"):
            for page in self.conn.get_paginator("describe_instance_information").paginate(
                    Filters=[{"Key": "InstanceIds", "Values": ids}]):
                out["online"].update(i["InstanceId"] for i in page.get("InstanceInformationList", [])
                                     if i.get("PingStatus") == "Online")
        for record in waiting:
            if record.get("command_id"):
                out["invocations"][record["ec2_instance_id"]] = self.conn.get_command_invocation(
                    CommandId=record["command_id"], InstanceId=record["ec2_instance_id"])
        return out

    def send_probes(self, instance_ids: list[str], probes: Iterable[Mapping[str, str]], comment: str) -> str:
        """One AWS-RunShellScript command running every probe on these instances; its CommandId."""
        answer = self.conn.send_command(
            InstanceIds=instance_ids, DocumentName=PROBE_DOCUMENT, Comment=comment[:100],
            TimeoutSeconds=PROBE_TIMEOUT_SECONDS, Parameters={"commands": probe_commands(probes)})
        return answer["Command"]["CommandId"]
