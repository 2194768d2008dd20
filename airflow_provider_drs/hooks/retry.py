"""What botocore's retry modes lack for DRS: honouring the server's Retry-After.

botocore's standard mode already retries ThrottlingException, 5xx and connection errors with
jittered exponential backoff, but it ignores DRS's ``Retry-After`` header (``retryAfterSeconds``):
under a sustained quota breach it retries too early and burns its attempts. We register a
``needs-retry`` handler in front of botocore's own that, for a throttled or 5xx answer carrying
``Retry-After``, waits what the service asked for (capped, with a little jitter so parallel
tasks do not come back in lockstep). Everything else is left to botocore.
"""

from __future__ import annotations

import random
from typing import Any

from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    ReadTimeoutError,
)

DEFAULT_MAX_ATTEMPTS = 10
# A person waits at the terminal (drs-plan): 3 tries, not a task's 11 (a wrong endpoint took 80 s to say so).
INTERACTIVE_MAX_ATTEMPTS = 2
# The longest single wait we accept from a Retry-After header; DRS asks for seconds, not minutes.
MAX_RETRY_AFTER_SECONDS = 30.0
_HANDLER_ID = "airflow-provider-drs-retry-after"


def default_retry_config(max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> Config:
    """botocore Config used when the Airflow connection sets no ``retries`` of its own."""
    return Config(retries={"mode": "standard", "max_attempts": max_attempts})


def total_attempts(config: Config) -> int:
    """Total tries of one call (first try included) under a botocore retry configuration.

    botocore's ``max_attempts`` counts retries, ``total_max_attempts`` counts the first try too.
    """
    retries = getattr(config, "retries", None) or {}
    if retries.get("total_max_attempts"):
        return int(retries["total_max_attempts"])
    return int(retries.get("max_attempts", DEFAULT_MAX_ATTEMPTS)) + 1


class RetryAfterMixin:
    """For AwsBaseHook subclasses: standard retries by default, and Retry-After honoured.

    The connection's own ``retries`` setting, when it has one, wins over the default.
    """

    @property
    def config(self) -> Config:
        config = super().config  # type: ignore[misc]
        if not getattr(config, "retries", None):
            config = config.merge(default_retry_config())
        return config

    def get_session(self, region_name: str | None = None, deferrable: bool = False):
        session = super().get_session(region_name=region_name, deferrable=deferrable)  # type: ignore[misc]
        register_retry_after(session, self.client_type, total_attempts(self.config))  # type: ignore[attr-defined]
        return session


def retry_after_seconds(http_response: Any) -> float | None:
    """The Retry-After header of a response, in seconds, or None."""
    headers = getattr(http_response, "headers", None) or {}
    value = headers.get("Retry-After") or headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds >= 0 else None


def make_retry_after_handler(max_attempts: int):
    """A ``needs-retry`` handler that honours Retry-After on 429 and 5xx answers."""

    def _honour_retry_after(attempts: int, response=None, caught_exception=None, **_: Any):
        if response is None or attempts >= max_attempts:
            return None  # connection errors and the attempt budget stay botocore's business
        http_response = response[0]
        if http_response.status_code != 429 and http_response.status_code < 500:
            return None
        wait = retry_after_seconds(http_response)
        if wait is None:
            return None
        return min(wait, MAX_RETRY_AFTER_SECONDS) + random.uniform(0, 0.25)

    return _honour_retry_after


def register_retry_after(session: Any, service_id: str, max_attempts: int) -> None:
    """Put the Retry-After handler first on a boto3 / botocore / aiobotocore session.

    Clients copy their session's handlers when created, so every client made from the session
    afterwards honours Retry-After; the unique id makes repeated registration harmless.
    """
    botocore_session = getattr(session, "_session", session)  # boto3.Session wraps botocore's
    emitter = botocore_session.get_component("event_emitter")
    emitter.register_first(
        f"needs-retry.{service_id}", make_retry_after_handler(max_attempts), unique_id=_HANDLER_ID
    )


_TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
        "ServiceUnavailable",
        "InternalServerError",
        "InternalFailure",
    }
)
_TRANSPORT_ERRORS = (
    EndpointConnectionError,
    ConnectionClosedError,
    ConnectTimeoutError,
    ReadTimeoutError,
    HTTPClientError,
)


def is_transient_error(error: BaseException) -> bool:
    """True for errors worth another try once botocore has given up: throttling, 5xx answers and
    connection trouble. Anything else (access denied, a bad parameter, an unknown id) will not get
    better by waiting."""
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return code in _TRANSIENT_CODES or status == 429 or status >= 500
    if isinstance(error, _TRANSPORT_ERRORS):
        return True
    return isinstance(error, (ConnectionError, TimeoutError))  # raw socket / asyncio errors
