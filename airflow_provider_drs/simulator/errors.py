"""API errors in the wire shapes botocore parses: rest-json for DRS, json 1.1 for SSM."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

QUOTA_SERVERS_PER_JOB = "L-B827C881"


class ApiError(Exception):
    """An error response. ``fields`` are modelled body members; ``headers`` modelled headers."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None,
                 **fields: Any):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}
        self.fields = {k: v for k, v in fields.items() if v is not None}


def validation(message: str, field: str | None = None, reason: str = "fieldValidationFailed") -> ApiError:
    field_list = [{"name": field, "message": message}] if field else None
    return ApiError(400, "ValidationException", message, reason=reason, fieldList=field_list)


def conflict(message: str, resource_id: str, resource_type: str = "SOURCE_SERVER") -> ApiError:
    return ApiError(409, "ConflictException", message, resourceId=resource_id, resourceType=resource_type)


def not_found(message: str, resource_id: str, resource_type: str) -> ApiError:
    return ApiError(404, "ResourceNotFoundException", message, resourceId=resource_id,
                    resourceType=resource_type)


def quota_exceeded(message: str, quota_code: str = QUOTA_SERVERS_PER_JOB) -> ApiError:
    return ApiError(402, "ServiceQuotaExceededException", message, serviceCode="drs",
                    quotaCode=quota_code, resourceType="JOB")


def throttling(operation: str, retry_after: int, protocol: str) -> ApiError:
    message = f"Rate exceeded for {operation}. Retry after {retry_after} seconds."
    if protocol == "json":  # SSM: a 400 with __type, no Retry-After member in its model
        return ApiError(400, "ThrottlingException", message)
    return ApiError(429, "ThrottlingException", message, headers={"Retry-After": str(retry_after)},
                    serviceCode="drs", quotaCode="L-throttle-" + operation)


def internal(operation: str, protocol: str) -> ApiError:
    message = f"Injected internal error serving {operation} (simulator fault). Retry the request."
    return ApiError(500, "InternalServerError" if protocol == "json" else "InternalServerException", message)


def rest_json_response(err: ApiError) -> Response:
    body = {"message": err.message, **err.fields}
    headers = {"x-amzn-ErrorType": err.code, **err.headers}
    return Response(json.dumps(body), err.status, headers, media_type="application/json")


def json11_response(err: ApiError) -> Response:
    body = {"__type": err.code, "message": err.message}
    return Response(json.dumps(body), err.status, err.headers, media_type="application/x-amz-json-1.1")


def error_response(err: ApiError, protocol: str) -> Response:
    return json11_response(err) if protocol == "json" else rest_json_response(err)
