"""The DRS rest-json operations as FastAPI routes. Each validates its body against the botocore
model (ValidationException with fieldList, as DRS does) and delegates to ``DrsState``."""

from __future__ import annotations

import json
import re
from typing import Any, Callable

from fastapi import APIRouter, Request
from starlette.responses import Response

from . import errors
from .request_validation import MODELS, input_shape, problems
from .state import DrsState

# (method, path) -> operation, used by the dispatcher to name and count requests.
OPERATIONS = {
    ("POST", "/StartRecovery"): "StartRecovery",
    ("POST", "/DescribeJobs"): "DescribeJobs",
    ("POST", "/DescribeJobLogItems"): "DescribeJobLogItems",
    ("POST", "/DescribeSourceServers"): "DescribeSourceServers",
    ("POST", "/DescribeRecoveryInstances"): "DescribeRecoveryInstances",
    ("POST", "/TerminateRecoveryInstances"): "TerminateRecoveryInstances",
    ("POST", "/ReverseReplication"): "ReverseReplication",
    ("POST", "/StartFailbackLaunch"): "StartFailbackLaunch",
    ("POST", "/StopFailback"): "StopFailback",
    ("POST", "/DescribeRecoverySnapshots"): "DescribeRecoverySnapshots",
    ("POST", "/GetLaunchConfiguration"): "GetLaunchConfiguration",
    ("POST", "/UpdateLaunchConfiguration"): "UpdateLaunchConfiguration",
}
# DRS native recovery plans (recovery_plans.py, recovery_plan_executions.py): served only when the
# installed botocore's model has them, since requests are validated against that model.
NATIVE_PLAN_OPERATIONS = [name for name in MODELS["drs"].operation_names if "RecoveryPlan" in name]
OPERATIONS.update({("POST", "/" + name): name for name in NATIVE_PLAN_OPERATIONS})


# Tag operations carry the resource ARN in the path: /tags/{resourceArn}.
TAG_OPERATIONS = {"GET": "ListTagsForResource", "POST": "TagResource", "DELETE": "UntagResource"}


def operation_for(method: str, path: str) -> str | None:
    if path.startswith("/tags/"):
        return TAG_OPERATIONS.get(method)
    return OPERATIONS.get((method, path))


def _ok(payload: dict | None, status: int = 200) -> Response:
    if payload is None:  # an operation without output (StopFailback): an empty body
        return Response(b"", status)
    return Response(json.dumps(payload), status, media_type="application/json")


async def _body(request: Request, operation: str, uri_members: dict | None = None) -> dict:
    """The JSON body, validated with the members the URI carries (``uri_members``) merged in."""
    raw = await request.body()
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        raise errors.validation("Request body is not valid JSON", reason="cannotParse") from None
    if uri_members:
        body = {**body, **uri_members}
    found = problems(input_shape("drs", operation), body)
    if found:
        field, message = found[0]
        err = errors.validation(f"{field} {message}", field)
        err.fields["fieldList"] = [{"name": f, "message": m} for f, m in found]
        raise err
    return body


def router(state: DrsState) -> APIRouter:
    api = APIRouter()

    def route(path: str, operation: str, call: Callable[[str, dict], dict | None], status: int = 200) -> None:
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
        "ReverseReplication": state.reverse_replication,
        "StartFailbackLaunch": state.start_failback_launch,
        "StopFailback": state.stop_failback,
        "DescribeRecoverySnapshots": state.describe_recovery_snapshots,
        "GetLaunchConfiguration": state.get_launch_configuration,
        "UpdateLaunchConfiguration": state.update_launch_configuration,
    }
    for name in NATIVE_PLAN_OPERATIONS:  # CreateRecoveryPlan -> state.create_recovery_plan
        handlers[name] = getattr(state, re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower())
    for (_, path), operation in OPERATIONS.items():
        status = MODELS["drs"].operation_model(operation).http.get("responseCode", 200)
        route(path, operation, handlers[operation], status)

    @api.get("/tags/{resource_arn:path}", include_in_schema=False)
    async def list_tags_for_resource(resource_arn: str) -> Any:
        try:
            return _ok(state.list_tags(resource_arn))
        except errors.ApiError as err:
            return errors.rest_json_response(err)

    @api.post("/tags/{resource_arn:path}", include_in_schema=False)
    async def tag_resource(resource_arn: str, request: Request) -> Any:
        try:
            body = await _body(request, "TagResource", {"resourceArn": resource_arn})
            return _ok(state.tag_resource(resource_arn, body["tags"]))
        except errors.ApiError as err:
            return errors.rest_json_response(err)

    @api.delete("/tags/{resource_arn:path}", include_in_schema=False)
    async def untag_resource(resource_arn: str, request: Request) -> Any:
        keys = request.query_params.getlist("tagKeys")
        if not keys:
            return errors.rest_json_response(errors.validation("tagKeys is required", "tagKeys"))
        try:
            return _ok(state.untag_resource(resource_arn, keys))
        except errors.ApiError as err:
            return errors.rest_json_response(err)

    return api
