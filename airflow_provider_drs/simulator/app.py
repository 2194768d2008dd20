"""The single endpoint: routes each request as AWS does, by the service in its SigV4 credential
scope. DRS and SSM Automation are served here; everything else goes to the embedded moto.

Every request first advances the region's DRS state, so a forwarded EC2 call already sees the
instance of a server that has just crossed into LAUNCHED.
"""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs

from fastapi import FastAPI

from . import control, drs_api, errors, moto_bridge, ssm_automation
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


class SimulatorApp:
    """ASGI entry point; ``api`` is the FastAPI app with DRS, SSM Automation and /_sim/ routes."""

    def __init__(self, simulation: Simulation):
        self.simulation = simulation
        self.api = FastAPI(title="drs-sim", docs_url="/_sim/docs", openapi_url="/_sim/openapi.json",
                           redoc_url=None)
        self.api.include_router(control.router(simulation))
        self.api.include_router(drs_api.router(simulation.drs))
        self.api.include_router(ssm_automation.router(simulation.automation))
        self.moto = moto_bridge.moto_asgi_app()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"].startswith("/_sim/"):
            return await self.api(scope, receive, send)
        headers = dict(scope["headers"])
        service, region = credential_scope(headers.get(b"authorization"))
        region = region or DEFAULT_REGION
        scope["sim.region"] = region
        sim = self.simulation
        if sim.faults.latency_seconds:
            await asyncio.sleep(sim.faults.latency_seconds)
        sim.drs.advance(region)

        target = headers.get(b"x-amz-target", b"").decode()
        if service == "drs":
            operation, protocol = drs_api.operation_for(scope["method"], scope["path"]), "rest-json"
            if operation is None:
                err = errors.ApiError(404, "UnknownOperationException",
                                      f"drs-sim does not implement {scope['method']} {scope['path']}")
                return await errors.rest_json_response(err)(scope, receive, send)
        elif service == "ssm" and target in _AUTOMATION_TARGETS:
            operation, protocol = target.removeprefix(ssm_automation.TARGET_PREFIX), "json"
        else:
            return await self._forward(scope, receive, send, service, target, headers)

        sim.count(operation)
        fault = sim.faults.check(operation)
        if fault is not None:
            kind, retry_after = fault
            err = (errors.throttling(operation, retry_after, protocol) if kind == "throttle"
                   else errors.internal(operation, protocol))
            return await errors.error_response(err, protocol)(scope, receive, send)
        return await self.api(scope, receive, send)

    async def _forward(self, scope, receive, send, service, target, headers):
        """Count the call as ``service:Operation`` and hand it to moto unchanged."""
        name = None
        if target:
            name = target.rsplit(".", 1)[-1]
        elif headers.get(b"content-type", b"").startswith(b"application/x-www-form-urlencoded"):
            # Query protocol (EC2, SNS, STS...): the operation is the Action field of the body.
            chunks, more = [], True
            while more:
                message = await receive()
                chunks.append(message.get("body", b""))
                more = message.get("more_body", False)
            body = b"".join(chunks)
            name = (parse_qs(body.decode("utf-8", "replace")).get("Action") or [None])[0]
            replayed, original = False, receive

            async def receive():  # noqa: F811 - hand moto the body we already consumed
                nonlocal replayed
                if replayed:
                    return await original()
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
        self.simulation.count(f"{service or 'unsigned'}:{name or scope['method']}")
        return await self.moto(scope, receive, send)
