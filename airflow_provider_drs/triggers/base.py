"""What every trigger of this provider shares: the AWS connection it reads with, and how it is
serialized (the triggerer rebuilds a trigger from its classpath and keyword arguments)."""

from __future__ import annotations

from typing import Any, ClassVar

from airflow.triggers.base import BaseTrigger


class AwsReadingTrigger(BaseTrigger):
    """A trigger that only reads AWS through one connection. Subclasses list their own constructor
    arguments in ``serialized_fields``; the connection's four are added here."""

    serialized_fields: ClassVar[tuple[str, ...]] = ()
    connection_fields: ClassVar[tuple[str, ...]] = ("aws_conn_id", "region_name", "verify", "botocore_config")

    def __init__(self, *, aws_conn_id: str | None = "aws_default", region_name: str | None = None,
                 verify: bool | str | None = None, botocore_config: dict | None = None):
        super().__init__()
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.verify = verify
        self.botocore_config = botocore_config

    def serialize(self) -> tuple[str, dict[str, Any]]:
        fields = (*self.serialized_fields, *self.connection_fields)
        return f"{type(self).__module__}.{type(self).__qualname__}", {name: getattr(self, name) for name in fields}

    def hook_params(self) -> dict[str, Any]:
        """Keyword arguments of the Amazon provider's AWS hooks for this trigger's connection."""
        return {"aws_conn_id": self.aws_conn_id, "region_name": self.region_name, "verify": self.verify,
                "config": self.botocore_config}

    @classmethod
    def connection_of(cls, task: Any) -> dict[str, Any]:
        """The connection arguments of the task that defers to this trigger."""
        return {"aws_conn_id": task.aws_conn_id, "region_name": task.region_name, "verify": task.verify,
                "botocore_config": task.botocore_config}
