"""A plan's AWS connection must exist when it is named.

The Amazon provider answers a connection id it cannot find with a warning and the default AWS
credentials (the worker's role, the shell's keys): the run would then act in whatever account those
reach, not the one the plan names. Only ``aws_default`` keeps that fallback, as Airflow documents it.
"""

from __future__ import annotations

from typing import Any

DEFAULT_CONN_ID = "aws_default"


def missing_connection(hook: Any) -> str | None:
    """Why ``hook`` (an AwsBaseHook) must not be used, or None: its named connection does not exist."""
    conn_id = hook.aws_conn_id
    if not conn_id or conn_id == DEFAULT_CONN_ID or hook.conn_config:  # conn_config is falsy when not found
        return None
    return (f"Airflow connection {conn_id!r} not found, and without it the AWS calls would go to whatever "
            "account the default credentials reach, not the plan's. Create it (airflow connections add "
            f"{conn_id} --conn-type aws ...), or name one that exists")
