"""The health of recovered instances, as a wave's ``ready_when`` gate reads it: EC2 status checks
(ec2 DescribeInstanceStatus), SSM managed-instance registration (ssm DescribeInstanceInformation,
which moto lacks) and SSM Run Command outcomes (SendCommand, GetCommandInvocation,
ListCommandInvocations: moto stores commands but runs nothing).

Only requests about recovery instances are answered here (a DescribeInstanceStatus or SendCommand
naming other instances goes to moto as before). By default a recovered instance's status checks
are ``initializing`` for ``STATUS_DELAY`` simulated seconds after its launch, then ``ok``; its SSM
agent comes Online after ``SSM_DELAY``; every command succeeds after ``COMMAND_SECONDS``. Tests
change that per source server or EC2 instance (``Control.instance_health``, ``Control.probe_rule``);
delays given there are wall-clock seconds, not scaled.
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from . import errors, moto_bridge
from .ids import uuid
from .request_validation import input_shape, problems

# Simulated seconds (x time_scale). The agent registers quickly so that a post action running a
# command right after the launch (as SSM refuses agents not Online) is not refused in rehearsals.
STATUS_DELAY, SSM_DELAY, COMMAND_SECONDS = 10.0, 2.0, 1.0
EC2_NS = "http://ec2.amazonaws.com/doc/2016-11-15/"
STATUS_CHECK = "ec2:DescribeInstanceStatus"
SSM_OPERATIONS = ("DescribeInstanceInformation", "SendCommand", "GetCommandInvocation", "ListCommandInvocations")
OUTPUT_LIMIT = 24000  # GetCommandInvocation's StandardOutputContent holds at most 24,000 characters


@dataclass
class HealthRule:
    """Per source server or EC2 instance: wall seconds after launch, and the fate after them."""

    status_delay: float | None = None
    impaired: bool = False
    ssm_delay: float | None = None
    ssm_never: bool = False


@dataclass
class ProbeRule:
    """Commands on ``target`` (any instance if None) whose script holds ``contains`` fail, until
    ``until`` (epoch; None: for ever), with ``output`` on stderr."""

    target: str | None
    contains: str | None
    until: float | None
    output: str


@dataclass
class Invocation:
    instance_id: str
    end: float
    failed: bool
    output: str


@dataclass
class Command:
    command_id: str
    document: str
    parameters: dict
    comment: str
    requested: float
    timeout_seconds: int
    invocations: dict[str, Invocation] = field(default_factory=dict)


class InstanceHealth:
    def __init__(self, drs, time_scale: float):
        self.drs = drs
        self.time_scale = time_scale
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.rules: dict[str, HealthRule] = {}
            self.probe_rules: list[ProbeRule] = []
            self.commands: dict[str, Command] = {}
            self.rng = random.Random("instance-health")

    # control -----------------------------------------------------------------------------------
    def set_rule(self, target: str, status_delay: float | None = None, impaired: bool | None = None,
                 ssm_delay: float | None = None, ssm_never: bool | None = None) -> None:
        with self.lock:
            rule = self.rules.setdefault(target, HealthRule())
            if status_delay is not None:
                rule.status_delay = status_delay
            if impaired is not None:
                rule.impaired = impaired
            if ssm_delay is not None:
                rule.ssm_delay = ssm_delay
            if ssm_never is not None:
                rule.ssm_never = ssm_never

    def add_probe_rule(self, target: str | None, contains: str | None, fail_for: float | None, output: str) -> None:
        with self.lock:
            until = None if fail_for is None else time.time() + fail_for
            self.probe_rules.insert(0, ProbeRule(target, contains, until, output))

    # what the world looks like -----------------------------------------------------------------
    def _instances(self, region: str) -> dict:
        """EC2 id -> the live RecoveryInstance of the region."""
        with self.drs.lock:
            return {ri.ec2_instance_id: ri for ri in self.drs.region(region).recovery_instances.values()}

    def _rule(self, instance) -> HealthRule:
        return self.rules.get(instance.ec2_instance_id) or self.rules.get(instance.source_server_id) or HealthRule()

    def _status(self, instance, now: float) -> str:
        rule = self._rule(instance)
        delay = STATUS_DELAY * self.time_scale if rule.status_delay is None else rule.status_delay
        if now < instance.launched + delay:
            return "initializing"
        return "impaired" if rule.impaired else "ok"

    def _online_since(self, instance) -> float | None:
        rule = self._rule(instance)
        if rule.ssm_never:
            return None
        return instance.launched + (SSM_DELAY * self.time_scale if rule.ssm_delay is None else rule.ssm_delay)

    # routing -----------------------------------------------------------------------------------
    def handles(self, name: str, region: str, body: bytes) -> bool:
        """Whether this request is about recovery instances (or their commands) and answered here."""
        if name == STATUS_CHECK:
            ids = _query_list(body, "InstanceId")
            return bool(ids) and set(ids) <= set(self._instances(region))
        service, _, operation = name.partition(":")
        if service != "ssm" or operation not in SSM_OPERATIONS:
            return False
        if operation == "DescribeInstanceInformation":
            return True
        request = _json(body)
        if operation == "SendCommand":
            ids = request.get("InstanceIds") or []
            return bool(ids) and not request.get("Targets") and set(ids) <= set(self._instances(region))
        return request.get("CommandId") in self.commands

    def answer(self, name: str, region: str, body: bytes) -> tuple[int, str, bytes]:
        """(status, content type, body) of an intercepted request."""
        if name == STATUS_CHECK:
            return 200, "text/xml", self._describe_instance_status(region, body).encode()
        operation = name.partition(":")[2]
        try:
            request = _json(body)
            found = problems(input_shape("ssm", operation), request)
            if found:
                raise errors.ApiError(400, "ValidationException", "; ".join(f"{f} {m}" for f, m in found))
            payload = getattr(self, _snake(operation))(region, request)
        except errors.ApiError as err:
            body = json.dumps({"__type": err.code, "message": err.message}).encode()
            return err.status, "application/x-amz-json-1.1", body
        return 200, "application/x-amz-json-1.1", json.dumps(payload).encode()

    # EC2 ---------------------------------------------------------------------------------------
    def _describe_instance_status(self, region: str, body: bytes) -> str:
        include_all = (_query_value(body, "IncludeAllInstances") or "").lower() == "true"
        instances, now = self._instances(region), time.time()
        items = []
        for ec2_id in dict.fromkeys(_query_list(body, "InstanceId")):
            state = moto_bridge.instance_state(region, ec2_id) or "terminated"
            if state != "running" and not include_all:
                continue
            status = self._status(instances[ec2_id], now) if state == "running" else "not-applicable"
            items.append(_status_item(ec2_id, moto_bridge.instance_zone(region, ec2_id) or f"{region}a", state,
                                      status, instances[ec2_id].launched))
        return (f'<?xml version="1.0" encoding="UTF-8"?>\n<DescribeInstanceStatusResponse xmlns="{EC2_NS}">'
                f"<requestId>{uuid(self.rng)}</requestId><instanceStatusSet>{''.join(items)}</instanceStatusSet>"
                "</DescribeInstanceStatusResponse>")

    # SSM ---------------------------------------------------------------------------------------
    def describe_instance_information(self, region: str, request: dict) -> dict:
        wanted = set()
        for item in request.get("InstanceInformationFilterList") or []:
            if item.get("key") == "InstanceIds":
                wanted.update(item.get("valueSet") or [])
        for item in request.get("Filters") or []:
            if item.get("Key") == "InstanceIds":
                wanted.update(item.get("Values") or [])
        now, out = time.time(), []
        for ec2_id, instance in self._instances(region).items():
            online = self._online_since(instance)
            if (wanted and ec2_id not in wanted) or online is None or now < online:
                continue  # an agent that never reported is not a managed instance at all
            if moto_bridge.instance_state(region, ec2_id) != "running":
                continue
            out.append({"InstanceId": ec2_id, "PingStatus": "Online", "LastPingDateTime": now,
                        "AgentVersion": "3.3.1142.0", "IsLatestVersion": True, "PlatformType": "Linux",
                        "PlatformName": "Amazon Linux", "PlatformVersion": "2023", "ResourceType": "EC2Instance",
                        "ComputerName": instance.hostname, "RegistrationDate": online})
        return {"InstanceInformationList": out}

    def send_command(self, region: str, request: dict) -> dict:
        instances, now = self._instances(region), time.time()
        offline = [i for i in request["InstanceIds"] if (self._online_since(instances[i]) or now + 1) > now]
        if offline:  # SSM refuses instances whose agent has not registered
            raise errors.ApiError(400, "InvalidInstanceId", f"Instances {offline} not in a valid state for account")
        script = "\n".join((request.get("Parameters") or {}).get("commands") or [])
        command = Command(uuid(self.rng), request["DocumentName"], request.get("Parameters") or {},
                          request.get("Comment", ""), now, request.get("TimeoutSeconds", 3600))
        with self.lock:
            for ec2_id in request["InstanceIds"]:
                rule = self._probe_rule(ec2_id, instances[ec2_id].source_server_id, script, now)
                command.invocations[ec2_id] = Invocation(ec2_id, now + COMMAND_SECONDS * self.time_scale,
                                                         rule is not None, rule.output if rule else "")
            self.commands[command.command_id] = command
        return {"Command": self._command_api(command, now)}

    def _probe_rule(self, ec2_id: str, server_id: str, script: str, now: float) -> ProbeRule | None:
        for rule in self.probe_rules:  # the latest matching rule decides, even once it expired
            if rule.target not in (None, ec2_id, server_id) or (rule.contains and rule.contains not in script):
                continue
            return rule if rule.until is None or now < rule.until else None
        return None

    def _command_api(self, command: Command, now: float) -> dict:
        statuses = [_invocation_status(i, now) for i in command.invocations.values()]
        done = [s for s in statuses if s != "InProgress"]
        status = ("InProgress" if len(done) < len(statuses) else
                  "Success" if all(s == "Success" for s in statuses) else "Failed")
        return {"CommandId": command.command_id, "DocumentName": command.document, "DocumentVersion": "$DEFAULT",
                "Comment": command.comment, "Parameters": command.parameters,
                "InstanceIds": list(command.invocations), "Targets": [], "RequestedDateTime": command.requested,
                "Status": status, "StatusDetails": status, "TargetCount": len(statuses),
                "CompletedCount": len(done), "ErrorCount": sum(s == "Failed" for s in statuses),
                "DeliveryTimedOutCount": 0, "MaxConcurrency": "50", "MaxErrors": "0",
                "TimeoutSeconds": command.timeout_seconds}

    def get_command_invocation(self, region: str, request: dict) -> dict:
        command = self.commands[request["CommandId"]]
        invocation = command.invocations.get(request["InstanceId"])
        if invocation is None:
            raise errors.ApiError(400, "InvocationDoesNotExist", "")
        now = time.time()
        status = _invocation_status(invocation, now)
        out = {"CommandId": command.command_id, "InstanceId": invocation.instance_id, "Comment": command.comment,
               "DocumentName": command.document, "DocumentVersion": "$DEFAULT", "PluginName": "aws:runShellScript",
               "ResponseCode": -1, "ExecutionStartDateTime": _iso(command.requested), "Status": status,
               "StatusDetails": status, "StandardOutputContent": "", "StandardErrorContent": "",
               "CloudWatchOutputConfig": {"CloudWatchOutputEnabled": False}}
        if status != "InProgress":
            out.update(ResponseCode=1 if invocation.failed else 0, ExecutionEndDateTime=_iso(invocation.end))
            out["StandardErrorContent" if invocation.failed else "StandardOutputContent"] = invocation.output[:OUTPUT_LIMIT]
        return out

    def list_command_invocations(self, region: str, request: dict) -> dict:
        command, now = self.commands[request["CommandId"]], time.time()
        wanted = request.get("InstanceId")
        out = []
        for invocation in command.invocations.values():
            if wanted and invocation.instance_id != wanted:
                continue
            status = _invocation_status(invocation, now)
            out.append({"CommandId": command.command_id, "InstanceId": invocation.instance_id,
                        "Comment": command.comment, "DocumentName": command.document,
                        "DocumentVersion": "$DEFAULT", "RequestedDateTime": command.requested,
                        "Status": status, "StatusDetails": status, "CommandPlugins": []})
        return {"CommandInvocations": out}


def _invocation_status(invocation: Invocation, now: float) -> str:
    if now < invocation.end:
        return "InProgress"
    return "Failed" if invocation.failed else "Success"


def _status_item(ec2_id: str, zone: str, state: str, status: str, launched: float) -> str:
    detail = {"ok": "passed", "impaired": "failed", "initializing": "initializing"}.get(status, "insufficient-data")
    codes = {"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80}
    since = f"<impairedSince>{_iso(launched)}</impairedSince>" if status == "impaired" else ""

    def check(name: str, value: str) -> str:
        # An impaired instance fails its instance check; the system check (AWS's side) passes.
        value, item_detail, item_since = ((value, detail, since) if name == "instanceStatus" or value != "impaired"
                                          else ("ok", "passed", ""))
        return (f"<{name}><status>{value}</status><details><item><name>reachability</name>"
                f"<status>{item_detail}</status>{item_since}</item></details></{name}>")

    return (f"<item><instanceId>{escape(ec2_id)}</instanceId><availabilityZone>{escape(zone)}</availabilityZone>"
            f"<instanceState><code>{codes.get(state, 16)}</code><name>{state}</name></instanceState>"
            f"{check('systemStatus', status)}{check('instanceStatus', status)}</item>")


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _query_list(body: bytes, name: str) -> list[str]:
    form = parse_qs(body.decode("utf-8", "replace"))
    return [form[k][0] for k in sorted((k for k in form if k.startswith(f"{name}.")),
                                       key=lambda k: int(k.rsplit(".", 1)[1]) if k.rsplit(".", 1)[1].isdigit() else 0)]


def _query_value(body: bytes, name: str) -> str | None:
    return (parse_qs(body.decode("utf-8", "replace")).get(name) or [None])[0]


def _json(body: bytes) -> dict:
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _snake(operation: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in operation).lstrip("_")
