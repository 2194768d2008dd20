"""The DRS rest-json operations as FastAPI routes. Each validates its body against the botocore
model (ValidationException with fieldList, as DRS does) and delegates to ``DrsState``."""

from __future__ import annotations

import json
from typing import Any, Callable

from fastapi import APIRouter, Request
from starlette.responses import Response

from . import errors
from .request_validation import input_shape, problems
from .state import DrsState

# (method, path) -> operation, used by the dispatcher to name and count requests.
OPERATIONS = {
    ("POST", "/StartRecovery"): "StartRecovery",
    ("POST", "/DescribeJobs"): "DescribeJobs",
    ("POST", "/DescribeJobLogItems"): "DescribeJobLogItems",
    ("POST", "/DescribeSourceServers"): "DescribeSourceServers",
    ("POST", "/DescribeRecoveryInstances"): "DescribeRecoveryInstances",
    ("POST", "/TerminateRecoveryInstances"): "TerminateRecoveryInstances",
}


def operation_for(method: str, path: str) -> str | None:
    if method == "GET" and path.startswith("/tags/"):
        return "ListTagsForResource"
    return OPERATIONS.get((method, path))


def _ok(payload: dict, status: int = 200) -> Response:
    return Response(json.dumps(payload), status, media_type="application/json")


async def _body(request: Request, operation: str) -> dict:
    raw = await request.body()
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        raise errors.validation("Request body is not valid JSON", reason="cannotParse") from None
    found = problems(input_shape("drs", operation), body)
    if found:
        field, message = found[0]
        err = errors.validation(f"{field} {message}", field)
        err.fields["fieldList"] = [{"name": f, "message": m} for f, m in found]
        raise err
    return body


def router(state: DrsState) -> APIRouter:
    api = APIRouter()

    def route(path: str, operation: str, call: Callable[[str, dict], dict], status: int = 200) -> None:
        async def handler(request: Request) -> Response:
            try:
                body = await _body(request, operation)
                return _ok(call(request.scope["sim.region"], body), status)
            except errors.ApiError as err:
                return errors.rest_json_response(err)

        api.add_api_route(path, handler, methods=["POST"], name=operation, include_in_schema=False)

    handlers = {
        "StartRecovery": state.start_recovery,
        "DescribeJobs": state.describe_jobs,
        "DescribeJobLogItems": state.describe_job_log_items,
        "DescribeSourceServers": state.describe_source_servers,
        "DescribeRecoveryInstances": state.describe_recovery_instances,
        "TerminateRecoveryInstances": state.terminate_recovery_instances,
    }
    for (_, path), operation in OPERATIONS.items():
        route(path, operation, handlers[operation], 202 if operation == "StartRecovery" else 200)

    @api.get("/tags/{resource_arn:path}", include_in_schema=False)
    async def list_tags_for_resource(resource_arn: str) -> Any:
        try:
            return _ok(state.list_tags(resource_arn))
        except errors.ApiError as err:
            return errors.rest_json_response(err)

    return api
