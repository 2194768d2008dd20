"""The control API over HTTP (``/_sim/...``, plain JSON, no SigV4) and its client.

    POST /_sim/throttle        {"operation": "DescribeJobs", "per_second": 2, "retry_after_seconds": 1}
    POST /_sim/error_rate      {"rate": 0.2, "operations": ["DescribeJobs"]}     (operations optional)
    POST /_sim/fail_server     {"server_id": "s-...", "phase": "CONVERSION", "raw_error": "..."}
    POST /_sim/replication_started {"server_id": "s-...", "started_at": "2026-11-29T09:00:00Z", "region": "..."}
                               (region optional) no point-in-time snapshot before then
    POST /_sim/fail_failback   {"server_id": "s-..."}     (its failback replications end in FAILBACK_ERROR)
    POST /_sim/failback_client {"recovery_instance_id": "i-...", "region": "us-east-1"}  (region optional)
                               the DRS Failback Client booted for an on-premises-origin recovery
                               instance: answers {"ok": true, "failback_client_id": "..."}
    POST /_sim/latency         {"seconds": 0.2, "operations": ["StartRecovery"]}      (operations optional)
    POST /_sim/fail_automation {"document": "AWS-RestartEC2Instance", "step": "startInstances"}
    POST /_sim/time_scale      {"time_scale": 0.1}          (jobs and automations started from now on)
    POST /_sim/launch_events   {"delay": 0.5, "loss_rate": 0.1}  (each optional)   GET: stats and deliveries
    POST /_sim/instance_health {"target": "s-... or i-...", "status_delay": 30, "impaired": false,
                                "ssm_delay": 5, "ssm_never": false}   (each but target optional; wall seconds
                                after launch; see simulator/instance_health.py)
    POST /_sim/probe_rule      {"target": "s-...", "contains": "5432", "fail_for": 20, "output": "refused"}
                               (all optional: Run Command scripts matching fail, for fail_for s or for ever)
    POST /_sim/clear_faults    GET /_sim/faults    POST /_sim/reset    GET /_sim/health
    GET /_sim/calls            requests processed, by operation
    GET /_sim/call_counts      {"served": {...}, "refused": {...}, "dropped": {...}}
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from .simulation import Control, Simulation


class ThrottleBody(BaseModel):
    operation: str
    per_second: float = Field(ge=0)
    retry_after_seconds: int = Field(1, ge=0)


class ErrorRateBody(BaseModel):
    rate: float = Field(ge=0, le=1)
    operations: list[str] | None = None


class FailServerBody(BaseModel):
    server_id: str
    phase: str
    raw_error: str | None = None


class ReplicationBody(BaseModel):
    server_id: str
    replication_state: str
    lag: str = "PT0S"
    region: str = "us-east-1"


class ReplicationStartedBody(BaseModel):
    server_id: str
    started_at: str
    region: str = "us-east-1"


class FailFailbackBody(BaseModel):
    server_id: str


class FailbackClientBody(BaseModel):
    recovery_instance_id: str
    region: str = "us-east-1"


class LatencyBody(BaseModel):
    seconds: float = Field(ge=0)
    operations: list[str] | None = None


class TimeScaleBody(BaseModel):
    time_scale: float = Field(gt=0)


class LaunchEventsBody(BaseModel):
    delay: float | None = Field(None, ge=0)
    loss_rate: float | None = Field(None, ge=0, le=1)


class InstanceHealthBody(BaseModel):
    target: str
    status_delay: float | None = Field(None, ge=0)
    impaired: bool | None = None
    ssm_delay: float | None = Field(None, ge=0)
    ssm_never: bool | None = None


class ProbeRuleBody(BaseModel):
    target: str | None = None
    contains: str | None = None
    fail_for: float | None = Field(None, ge=0)
    output: str = ""


class FailAutomationBody(BaseModel):
    document: str
    step: str


def router(simulation: Simulation) -> APIRouter:
    control = Control(simulation)
    api = APIRouter(prefix="/_sim")

    def guarded(call, *args):
        try:
            call(*args)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        return {"ok": True}

    @api.post("/launch_events")
    def launch_events(body: LaunchEventsBody):
        return guarded(control.launch_events, body.delay, body.loss_rate)

    @api.get("/launch_events")
    def launch_event_stats():
        return control.launch_event_stats()

    @api.post("/time_scale")
    def time_scale(body: TimeScaleBody):
        return guarded(control.set_time_scale, body.time_scale)

    @api.post("/throttle")
    def throttle(body: ThrottleBody):
        return guarded(control.throttle, body.operation, body.per_second, body.retry_after_seconds)

    @api.post("/error_rate")
    def error_rate(body: ErrorRateBody):
        return guarded(control.error_rate, body.rate, body.operations)

    @api.post("/fail_server")
    def fail_server(body: FailServerBody):
        return guarded(control.fail_server, body.server_id, body.phase, body.raw_error)

    @api.post("/replication")
    def replication(body: ReplicationBody):
        return guarded(control.set_replication, body.server_id, body.replication_state, body.lag, body.region)

    @api.post("/replication_started")
    def replication_started(body: ReplicationStartedBody):
        return guarded(control.replication_started, body.server_id, body.started_at, body.region)

    @api.post("/fail_failback")
    def fail_failback(body: FailFailbackBody):
        return guarded(control.fail_failback, body.server_id)

    @api.post("/failback_client")
    def failback_client(body: FailbackClientBody):
        try:
            client_id = control.boot_failback_client(body.recovery_instance_id, body.region)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        return {"ok": True, "failback_client_id": client_id}

    @api.post("/latency")
    def latency(body: LatencyBody):
        return guarded(control.latency, body.seconds, body.operations)

    @api.post("/fail_automation")
    def fail_automation(body: FailAutomationBody):
        return guarded(control.fail_automation, body.document, body.step)

    @api.post("/instance_health")
    def instance_health(body: InstanceHealthBody):
        return guarded(control.instance_health, body.target, body.status_delay, body.impaired, body.ssm_delay,
                       body.ssm_never)

    @api.post("/probe_rule")
    def probe_rule(body: ProbeRuleBody):
        return guarded(control.probe_rule, body.target, body.contains, body.fail_for, body.output)

    @api.post("/clear_faults")
    def clear_faults():
        return guarded(control.clear_faults)

    @api.get("/faults")
    def faults():
        return control.faults()

    @api.get("/calls")
    def calls():
        return control.calls()

    @api.get("/call_counts")
    def call_counts():
        return control.call_counts()

    @api.post("/reset")
    def reset():
        return guarded(control.reset)

    @api.get("/health")
    def health():
        return {"status": "ok", "time_scale": simulation.time_scale, "seed": simulation.seed,
                "source_servers": [s.id for s in simulation.inventory.source_servers]}

    return api


class SimulatorError(RuntimeError):
    pass


class SimulatorClient:
    """Drives a simulator in another process (``drs-sim serve``) with the in-process control API."""

    def __init__(self, endpoint_url: str, timeout: float = 10.0):
        self.endpoint_url = endpoint_url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, body: dict | None = None):
        data = json.dumps(body).encode() if body is not None else (b"{}" if method == "POST" else None)
        request = urllib.request.Request(f"{self.endpoint_url}/_sim/{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise SimulatorError(f"{method} /_sim/{path}: HTTP {exc.code}: {exc.read().decode()}") from None

    def throttle(self, operation: str, per_second: float, retry_after_seconds: int = 1) -> None:
        self._call("POST", "throttle", {"operation": operation, "per_second": per_second,
                                        "retry_after_seconds": retry_after_seconds})

    def error_rate(self, rate: float, operations: list[str] | None = None) -> None:
        self._call("POST", "error_rate", {"rate": rate, "operations": operations})

    def fail_server(self, server_id: str, phase: str, raw_error: str | None = None) -> None:
        self._call("POST", "fail_server", {"server_id": server_id, "phase": phase, "raw_error": raw_error})

    def set_replication(self, server_id: str, replication_state: str, lag: str = "PT0S",
                        region: str = "us-east-1") -> None:
        self._call("POST", "replication", {"server_id": server_id, "replication_state": replication_state,
                                                 "lag": lag, "region": region})

    def replication_started(self, server_id: str, started_at: str, region: str = "us-east-1") -> None:
        self._call("POST", "replication_started", {"server_id": server_id, "started_at": started_at,
                                                   "region": region})

    def fail_failback(self, server_id: str) -> None:
        self._call("POST", "fail_failback", {"server_id": server_id})

    def boot_failback_client(self, recovery_instance_id: str, region: str = "us-east-1") -> str:
        return self._call("POST", "failback_client", {"recovery_instance_id": recovery_instance_id,
                                                      "region": region})["failback_client_id"]

    def latency(self, seconds: float, operations: list[str] | None = None) -> None:
        self._call("POST", "latency", {"seconds": seconds, "operations": operations})

    def fail_automation(self, document: str, step: str) -> None:
        self._call("POST", "fail_automation", {"document": document, "step": step})

    def instance_health(self, target: str, status_delay: float | None = None, impaired: bool | None = None,
                        ssm_delay: float | None = None, ssm_never: bool | None = None) -> None:
        self._call("POST", "instance_health", {"target": target, "status_delay": status_delay, "impaired": impaired,
                                               "ssm_delay": ssm_delay, "ssm_never": ssm_never})

    def probe_rule(self, target: str | None = None, contains: str | None = None, fail_for: float | None = None,
                   output: str = "") -> None:
        self._call("POST", "probe_rule", {"target": target, "contains": contains, "fail_for": fail_for,
                                          "output": output})

    def clear_faults(self) -> None:
        self._call("POST", "clear_faults")

    def set_time_scale(self, time_scale: float) -> None:
        self._call("POST", "time_scale", {"time_scale": time_scale})

    def launch_events(self, delay: float | None = None, loss_rate: float | None = None) -> None:
        self._call("POST", "launch_events", {"delay": delay, "loss_rate": loss_rate})

    def launch_event_stats(self) -> dict:
        return self._call("GET", "launch_events")

    def faults(self) -> dict:
        return self._call("GET", "faults")

    def calls(self) -> dict[str, int]:
        return self._call("GET", "calls")

    def call_counts(self) -> dict[str, dict[str, int]]:
        return self._call("GET", "call_counts")

    def reset(self) -> None:
        self._call("POST", "reset")

    def health(self) -> dict:
        return self._call("GET", "health")
