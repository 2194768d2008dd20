"""The single endpoint: routes each request as AWS does, by the service in its SigV4 credential
scope. DRS and SSM Automation are served here, and so are the health of recovery instances
(instance_health.py) and IAM's SimulatePrincipalPolicy (iam_simulation.py); everything else goes
to the embedded moto.

Every request first advances the region's DRS state, so a forwarded EC2 call already sees the
instance of a server that has just crossed into LAUNCHED.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from urllib.parse import parse_qs

from fastapi import FastAPI
from starlette.responses import Response

from . import control, drs_api, errors, iam_simulation, moto_bridge, ssm_automation
from .simulation import Simulation

DEFAULT_REGION = "us-east-1"
_AUTOMATION_TARGETS = {ssm_automation.TARGET_PREFIX + op for op in ssm_automation.OPERATIONS}


def credential_scope(authorization: bytes | None) -> tuple[str | None, str | None]:
    """(service, region) from ``AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request``."""
    if not authorization:
        return None, None
    text = authorization.decode("latin-1")
    start = text.find("Credential=")
    if start < 0:
        return None, None
    scope = text[start + 11:].split(",", 1)[0].split("/")
    if len(scope) != 5:
        return None, None
    return scope[3], scope[2]


ACCESS_LOG = logging.getLogger("drs_sim.access")


class SimulatorApp:
    """ASGI entry point; ``api`` is the FastAPI app with DRS, SSM Automation and /_sim/ routes.

    :param access_log: log one line per AWS request: operation, region, fate, status, duration.
    """

    def __init__(self, simulation: Simulation, access_log: bool = False):
        self.simulation = simulation
        self.access_log = access_log
        self.api = FastAPI(title="drs-sim", docs_url="/_sim/docs", openapi_url="/_sim/openapi.json",
                           redoc_url=None)
        self.api.include_router(control.router(simulation))
        self.api.include_router(drs_api.router(simulation.drs))
        self.api.include_router(ssm_automation.router(simulation.automation))
        self.moto = moto_bridge.moto_asgi_app()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"].startswith("/_sim/"):
            return await self.api(scope, receive, send)
        if not self.access_log:
            return await self._dispatch(scope, receive, send)
        started, status = time.monotonic(), {}

        async def send_noting_status(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            return await self._dispatch(scope, receive, send_noting_status)
        finally:
            ACCESS_LOG.info("%s %s %s region=%s status=%s %.1f ms", scope["method"], scope["path"],
                            scope.get("sim.name", "-"), scope.get("sim.region", "-"), status.get("code", "dropped"),
                            (time.monotonic() - started) * 1000)

    async def _dispatch(self, scope, receive, send):
        headers = dict(scope["headers"])
        service, region = credential_scope(headers.get(b"authorization"))
        region = region or DEFAULT_REGION
        scope["sim.region"] = region
        sim = self.simulation
        target = headers.get(b"x-amz-target", b"").decode()
        if service == "drs":
            operation, protocol = drs_api.operation_for(scope["method"], scope["path"]), "rest-json"
        elif service == "ssm" and target in _AUTOMATION_TARGETS:
            operation, protocol = target.removeprefix(ssm_automation.TARGET_PREFIX), "json"
        else:
            operation, protocol = None, None
        # The whole request first: one whose client goes away before it is whole was never
        # processed (dropped); one received whole is processed even if its client gives up while
        # it is held by the latency fault, as AWS would.
        body = await _read_body(receive)
        if service == "ssm" and target == ssm_automation.TARGET_PREFIX + ssm_automation.DESCRIBE_DOCUMENT and body:
            if ssm_automation.is_aws_owned(region, _json_field(body, "Name")):
                operation, protocol = ssm_automation.DESCRIBE_DOCUMENT, "json"
        name = operation if protocol else _forwarded_name(service, target, headers, body, scope["method"])
        if not protocol and body and sim.health.handles(name, region, body):
            protocol = "health"  # about recovery instances: status checks, SSM agent, Run Command
        elif not protocol and iam_simulation.handles(name):
            protocol = "iam-simulation"  # moto has no SimulatePrincipalPolicy
        scope["sim.name"] = name
        if body is None:
            sim.count(name or scope["path"], "dropped")
            return None
        receive = _replay(body, receive)
        sim.flight(name, +1)
        try:
            return await self._process(scope, receive, send, region, name, operation, protocol)
        finally:
            sim.flight(name, -1)

    async def _process(self, scope, receive, send, region, name, operation, protocol):
        sim = self.simulation
        delay = sim.faults.latency_for(name)
        if delay:
            await asyncio.sleep(delay)
        sim.drs.advance(region)
        if protocol is None:
            sim.count(name)
            return await self.moto(scope, receive, send)
        if protocol == "health":
            sim.count(name)
            status, media_type, content = sim.health.answer(name, region, await _read_body(receive) or b"")
            return await Response(content, status, media_type=media_type)(scope, receive, send)
        if protocol == "iam-simulation":
            sim.count(name)
            authorization = dict(scope["headers"]).get(b"authorization")
            status, xml = iam_simulation.answer(await _read_body(receive) or b"", authorization)
            return await Response(xml, status, media_type="text/xml")(scope, receive, send)
        if operation is None:
            sim.count(f"drs:{scope['method']} {scope['path']}", "refused")
            err = errors.ApiError(404, "UnknownOperationException",
                                  f"drs-sim does not implement {scope['method']} {scope['path']}")
            return await errors.rest_json_response(err)(scope, receive, send)
        fault = sim.faults.check(operation)
        if fault is not None:
            sim.count(operation, "refused")
            kind, retry_after = fault
            err = (errors.throttling(operation, retry_after, protocol) if kind == "throttle"
                   else errors.internal(operation, protocol))
            return await errors.error_response(err, protocol)(scope, receive, send)
        sim.count(operation)
        return await self.api(scope, receive, send)


async def _read_body(receive) -> bytes | None:
    """The request body, or None when the client disconnected before sending all of it."""
    chunks, more = [], True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


def _replay(body: bytes, original):
    """An ASGI receive that hands the app the body already read, then defers to the real one
    (which reports a disconnect)."""
    sent = False

    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await original()

    return receive


def _json_field(body: bytes, key: str) -> str:
    try:
        value = json.loads(body).get(key)
    except (ValueError, AttributeError):
        return ""
    return value if isinstance(value, str) else ""


def _forwarded_name(service: str | None, target: str, headers: dict, body: bytes | None, method: str) -> str:
    """``service:Operation`` of a request for moto: from X-Amz-Target (JSON protocols) or the
    Action field of the form body (query protocol: EC2, SNS, STS...)."""
    name = target.rsplit(".", 1)[-1] if target else None
    if not name and body and headers.get(b"content-type", b"").startswith(b"application/x-www-form-urlencoded"):
        name = (parse_qs(body.decode("utf-8", "replace")).get("Action") or [None])[0]
    return f"{service or 'unsigned'}:{name or method}"
