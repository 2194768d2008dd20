"""How `drs-plan` talks to AWS: few retries (a person waits at the terminal), a named Airflow
connection that must exist, and a failed call said in one line with what to do about it.
Imported by every command module; Airflow and botocore are imported only when a command calls AWS."""

from __future__ import annotations

from typing import Any

REFUSED_CODES = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnrecognizedClientException",
                 "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException", "InvalidSignatureException"}


def is_aws_error(exc: BaseException) -> bool:
    """botocore's errors (no credentials, no region, endpoint unreachable, an AWS error answer)."""
    return type(exc).__module__.startswith("botocore")


def aws_error(exc: BaseException) -> str:
    """One line for a failed AWS call, with what to do where botocore's own words do not say it
    (any other exception: its text on one line)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    kind = type(exc).__name__
    if kind == "NoRegionError":
        return "no AWS region: pass --region, set AWS_DEFAULT_REGION, or give the connection a region_name"
    if kind in ("NoCredentialsError", "PartialCredentialsError"):
        return (f"{text}: give the Airflow connection credentials (--conn), or export AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE); drs-sim takes any values")
    if kind in ("EndpointConnectionError", "ConnectTimeoutError", "ConnectionClosedError"):
        return f"{text}: check the endpoint URL and the network (for drs-sim: is `drs-sim serve` running?)"
    response = getattr(exc, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    if code in REFUSED_CODES:
        return (f"{text}: AWS refused these credentials or this call; `drs-plan iam-policy PLAN` prints what a "
                "plan's connection needs")
    return text


def interactive() -> Any:
    """botocore's config for a person waiting at the terminal: few retries, so a wrong endpoint or
    region fails in seconds (a connection's own retries setting still wins)."""
    from airflow_provider_drs.hooks.retry import INTERACTIVE_MAX_ATTEMPTS, default_retry_config

    return default_retry_config(INTERACTIVE_MAX_ATTEMPTS)


def require_connection(conn_id: str | None) -> str | None:
    """``conn_id``, once Airflow has it (UsageError if a named one is missing: see hooks.connections)."""
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    from airflow_provider_drs.cli import UsageError
    from airflow_provider_drs.hooks.connections import missing_connection

    missing = missing_connection(AwsBaseHook(aws_conn_id=conn_id, client_type="sts"))
    if missing:
        raise UsageError(missing)
    return conn_id
