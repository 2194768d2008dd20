"""The simulated estate: source servers and how each behaves when launched, loaded from YAML.

Errors name the file, line and field (``inventory.yaml:12: source_servers[1].launch.fail_at: ...``)
because the inventory is hand-written by whoever rehearses a plan.

Per source server: ``id``, ``hostname``, ``tags``, ``replication_state``, ``lag``, ``region`` (only
in that region), ``instance_type``, ``private_ip``, ``os``, ``launch`` (phase durations, ``fail_at``, ``raw_error``),
``origin_region`` (the source is an EC2 instance in that AWS region: cross-region DR, failed back
with ReverseReplication; without it the source is on premises and fails back through the DRS
Failback Client) and ``failback`` (``replication``: seconds the failback replication takes to
reach FAILBACK_READY_FOR_LAUNCH). ``defaults.launch`` and ``defaults.failback`` apply to every
server, field by field under its own settings.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .request_validation import MODELS

DEFAULT_INVENTORY = "default_inventory.yaml"

Phase = Literal["SNAPSHOT", "CONVERSION", "LAUNCH"]
ReplicationState = Literal[
    "STOPPED", "INITIATING", "INITIAL_SYNC", "BACKLOG", "CREATING_SNAPSHOT", "CONTINUOUS",
    "PAUSED", "RESCAN", "STALLED", "DISCONNECTED",
]
# A region is valid where "<region>a" is an AwsAvailabilityZone of the DRS model: the recovery
# instance renders it as its originAvailabilityZone.
_AVAILABILITY_ZONE = re.compile(MODELS["drs"].shape_for("AwsAvailabilityZone").metadata["pattern"])
_DURATION = re.compile(r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LaunchBehaviour(_Strict):
    """Phase durations in seconds (before --time-scale) and an optional scripted failure."""

    snapshot: float = Field(1.0, ge=0, le=3600)
    conversion: float = Field(2.5, ge=0, le=3600)
    launch: float = Field(1.5, ge=0, le=3600)
    fail_at: Phase | None = None
    raw_error: str | None = Field(None, max_length=65536)


class FailbackBehaviour(_Strict):
    """Seconds (before --time-scale) from the start of failback replication (ReverseReplication
    or a booted Failback Client) to FAILBACK_READY_FOR_LAUNCH."""

    replication: float = Field(60.0, ge=0, le=86400)


class Defaults(_Strict):
    launch: LaunchBehaviour = LaunchBehaviour()
    failback: FailbackBehaviour = FailbackBehaviour()
    jitter: float = Field(0.1, ge=0, le=0.5)


class AutomationSettings(_Strict):
    duration: float = Field(1.0, ge=0, le=3600)


class SourceServerSpec(_Strict):
    id: str = Field(pattern=r"^s-[0-9a-zA-Z]{17}$")
    hostname: str = Field(min_length=1, max_length=255)
    tags: dict[str, str] = {}
    replication_state: ReplicationState = "CONTINUOUS"
    lag: str = "PT0S"
    region: str | None = Field(None, pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
    instance_type: str = "t3.medium"
    private_ip: str | None = Field(None, pattern=r"^\d{1,3}(\.\d{1,3}){3}$")  # what copyPrivateIp copies
    os: str = "Microsoft Windows Server 2019 Datacenter"
    launch: LaunchBehaviour | None = None
    origin_region: str | None = None
    failback: FailbackBehaviour | None = None

    @field_validator("origin_region")
    @classmethod
    def _aws_region(cls, value: str | None) -> str | None:
        if value is not None and not _AVAILABILITY_ZONE.fullmatch(value + "a"):
            raise ValueError(f"{value!r} is not an AWS region such as eu-west-1")
        return value

    @field_validator("lag")
    @classmethod
    def _iso_duration(cls, value: str) -> str:
        if not _DURATION.match(value):
            raise ValueError(f"{value!r} is not an ISO-8601 duration such as PT5S or PT1M30S")
        return value


class Environment(_Strict):
    """Other AWS resources the plans expect, created in the embedded moto at start and on reset, in
    us-east-1 and every region a server is pinned to. Values may use {region} and {account}."""

    sns_topics: list[str] = []
    ssm_parameters: dict[str, str] = {}


class Inventory(_Strict):
    version: Literal[1] = 1
    defaults: Defaults = Defaults()
    ssm_automation: AutomationSettings = AutomationSettings()
    environment: Environment = Environment()
    source_servers: list[SourceServerSpec] = Field(min_length=1)

    def seeded_regions(self) -> list[str]:
        return sorted({"us-east-1", *(s.region for s in self.source_servers if s.region)})

    def launch_behaviour(self, server: SourceServerSpec) -> LaunchBehaviour:
        """Server-level launch settings win field by field over the defaults."""
        return _merged(self.defaults.launch, server.launch)

    def failback_behaviour(self, server: SourceServerSpec) -> FailbackBehaviour:
        return _merged(self.defaults.failback, server.failback)


def _merged(default: _Strict, override: _Strict | None):
    if override is None:
        return default
    return type(default)(**{**default.model_dump(), **override.model_dump(exclude_unset=True)})


class InventoryError(ValueError):
    """Every problem of one inventory file, each as ``FILE:LINE: field.path: message``."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid simulator inventory:\n  " + "\n  ".join(problems))


def _node_for(root: yaml.Node | None, loc: tuple[Any, ...]) -> yaml.Node | None:
    """Deepest YAML node along a pydantic error location (keys point at the key itself)."""
    node = root
    for depth, part in enumerate(loc, 1):
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == str(part):
                    node = value_node if depth < len(loc) else key_node
                    break
            else:
                return node
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            return node
    return node


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def parse_inventory(text: str, filename: str = "<inventory>") -> Inventory:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        raise InventoryError([f"{filename}:{line}: YAML syntax error: {exc.problem}"]) from None
    if not isinstance(data, dict):
        raise InventoryError([f"{filename}:1: (top level): expected a mapping with 'source_servers'"])
    try:
        inventory = Inventory.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not str(p).startswith("function-"))
            node = _node_for(root, loc)
            line = node.start_mark.line + 1 if node is not None else 1
            problems.append(f"{filename}:{line}: {_path(loc)}: {err['msg']}")
        raise InventoryError(problems) from None
    seen: dict[str, int] = {}
    problems = []
    for index, server in enumerate(inventory.source_servers):
        node = _node_for(root, ("source_servers", index, "id"))
        line = node.start_mark.line + 1 if node is not None else 1
        if server.id in seen:
            problems.append(f"{filename}:{line}: source_servers[{index}].id: duplicate source server "
                            f"{server.id} (first listed at source_servers[{seen[server.id]}])")
        seen.setdefault(server.id, index)
    if problems:
        raise InventoryError(problems)
    return inventory


def load_inventory(path: str | Path | None = None) -> Inventory:
    """Load an inventory file; ``None`` loads the built-in reference environment."""
    if path is None:
        text = resources.files(__package__).joinpath(DEFAULT_INVENTORY).read_text()
        return parse_inventory(text, DEFAULT_INVENTORY)
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise InventoryError([f"{path}:0: cannot read inventory: {exc.strerror}"]) from None
    return parse_inventory(text, str(path))


def coerce_inventory(value: Inventory | str | Path | dict | None) -> Inventory:
    if isinstance(value, Inventory):
        return value
    if isinstance(value, dict):
        return parse_inventory(yaml.safe_dump(value), "<dict>")
    return load_inventory(value)
