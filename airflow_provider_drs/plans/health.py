"""A wave's health gate (`ready_when`) in the plan language: what must answer before the wave is done."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator, model_validator

from airflow_provider_drs.plans.model_base import _Model, one_kind_at_most, rule_error


PROBE_KINDS = ("tcp", "http", "command")
_HOST_PORT = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$")  # host:port, [v6]:port


class Probe(_Model):
    """One check run on each recovered instance of the wave through SSM Run Command
    (AWS-RunShellScript): it passes when the shell command exits 0."""

    tcp: str | None = Field(default=None, description="host:port that must accept a TCP connection, e.g. "
                                                       "localhost:5432; may hold references.")
    http: str | None = Field(default=None, description="URL that must answer 2xx/3xx (curl -fsS), e.g. "
                                                        "http://localhost:8080/health; may hold references.")
    command: str | None = Field(default=None, min_length=1,
                                description="Shell command that must exit 0, e.g. 'systemctl is-active nginx'.")

    @model_validator(mode="before")
    @classmethod
    def _exactly_one(cls, data: Any) -> Any:
        if isinstance(data, dict):
            one_kind_at_most(data, PROBE_KINDS, "a probe", "tcp: host:port")
        return data

    @field_validator("tcp")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is None or "{{" in value:
            return value
        match = _HOST_PORT.match(value)
        if not match or not 1 <= int(match.group(2)) <= 65535:
            raise rule_error(f"'{value}' is not host:port", "write e.g. 'localhost:5432' or '10.0.1.20:443' "
                                                            "(port 1-65535)")
        return value

    @field_validator("http")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+", value) and not value.startswith("{{"):
            raise rule_error(f"'{value}' is not an http(s) URL", "write e.g. 'http://localhost:8080/health'")
        return value

    @property
    def kind(self) -> str:
        return next(k for k in PROBE_KINDS if getattr(self, k) is not None)

    @property
    def target(self) -> str:
        return getattr(self, self.kind)


class ReadyWhen(_Model):
    """A wave's health gate: after its servers launched (and its post actions ran), the wave is done
    only when every check passes on every recovered instance, within timeout_minutes."""

    ec2_status_ok: bool = Field(default=False, description="EC2 instance and system status checks pass.")
    ssm_online: bool | None = Field(default=None, description="The SSM agent of each recovered instance is "
                                                              "Online; implied by probes (they run through SSM).")
    probes: list[Probe] = Field(default_factory=list, description="Checks run on each recovered instance through "
                                                                  "SSM Run Command; all must pass.")
    timeout_minutes: int = Field(default=15, gt=0, strict=True,
                                 description="The gate fails when its checks have not all passed this long after it "
                                             "started.")

    @model_validator(mode="after")
    def _something_to_check(self) -> "ReadyWhen":
        if self.probes and self.ssm_online is False:
            raise rule_error("probes run through SSM Run Command, so they need the SSM agent online: "
                             "'ssm_online: false' contradicts them",
                             "remove 'ssm_online: false' (probes imply ssm_online: true)")
        if not (self.ec2_status_ok or self.ssm_online or self.probes):
            raise rule_error("ready_when checks nothing",
                             "set ec2_status_ok: true, ssm_online: true, or add probes: [{tcp: 'localhost:5432'}]")
        return self

    @property
    def needs_ssm(self) -> bool:
        return bool(self.ssm_online or self.probes)
