"""Launch settings as code: the `launch:` key of a protection group (pure, no AWS).

A plan manages only the keys it names: an unset key leaves DRS's value alone. Settings layer as
group < group's drill overrides < server < server's drill overrides; `settings_for` flattens them
for one server and one mode. Checks that need the group (its size, its server list) live in
`launch_problems`, called per group by structure.py so each error points at its own line.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from pydantic_core import PydanticCustomError

from airflow_provider_drs.plans.references import SERVER_ID_PATTERN

SUBNET_PATTERN = r"^subnet-[0-9a-f]{8,17}$"
SECURITY_GROUP_PATTERN = r"^sg-[0-9a-f]{8,17}$"
INSTANCE_ID_PATTERN = r"^i-[0-9a-f]{8,17}$"
INSTANCE_TYPE_PATTERN = r"^[a-z][a-z0-9-]*\.[a-z0-9-]+$"
# Right-sizing methods under which DRS picks the instance type itself (a plan's type would lose).
SIZING_METHODS_THAT_PICK_THE_TYPE = ("BASIC", "IN_AWS")
PATTERN_TEXT = {
    SUBNET_PATTERN: ("malformed subnet id {input!r}", "subnet ids are 'subnet-' and 8 to 17 hex digits"),
    SECURITY_GROUP_PATTERN: ("malformed security group id {input!r}", "security group ids are 'sg-' and 8 to 17 hex digits"),
    INSTANCE_ID_PATTERN: ("malformed EC2 instance id {input!r}", "EC2 instance ids are 'i-' and 8 to 17 hex digits"),
    INSTANCE_TYPE_PATTERN: ("malformed instance type {input!r}", "write an EC2 instance type such as m5.large"),
}
PRIVATE_IP_MODES = ("copy", "auto")  # the source's address; one the subnet assigns
KEYS = ("instance_type", "right_sizing", "subnet", "security_groups", "private_ip", "copy_tags",
        "launch_disposition", "launch_into_instance")

SubnetId = Annotated[str, StringConstraints(pattern=SUBNET_PATTERN)]
SecurityGroupId = Annotated[str, StringConstraints(pattern=SECURITY_GROUP_PATTERN)]
InstanceId = Annotated[str, StringConstraints(pattern=INSTANCE_ID_PATTERN)]
InstanceType = Annotated[str, StringConstraints(pattern=INSTANCE_TYPE_PATTERN)]
ServerId = Annotated[str, StringConstraints(pattern=SERVER_ID_PATTERN)]


class LaunchKeys(BaseModel):
    """The launch settings themselves; None: not managed by the plan."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    instance_type: InstanceType | None = Field(default=None, description="EC2 instance type of the recovery "
                                               "instance (launch template); needs right_sizing NONE (set).")
    right_sizing: Literal["BASIC", "NONE", "IN_AWS"] | None = Field(
        default=None, description="DRS instance type right-sizing: BASIC or IN_AWS let DRS pick the type, NONE "
                                  "keeps the launch template's.")
    subnet: SubnetId | None = Field(default=None, description="Subnet the recovery instance launches into.")
    security_groups: list[SecurityGroupId] | None = Field(default=None, min_length=1,
                                                          description="Security group ids of the recovery instance.")
    private_ip: str | None = Field(default=None, description="'copy': the source server's private IP (DRS "
                                   "copyPrivateIp); 'auto': an address the subnet assigns (e.g. a drill in "
                                   "another subnet); or a fixed IPv4 address (one-server groups only).")
    copy_tags: bool | None = Field(default=None, description="Copy the source server's tags onto the instance.")
    launch_disposition: Literal["STARTED", "STOPPED"] | None = Field(
        default=None, description="Whether the recovery instance is started after launch.")
    launch_into_instance: InstanceId | None = Field(
        default=None, description="Launch into this existing EC2 instance (DRS launchIntoInstanceProperties); "
                                  "one-server groups only.")

    @field_validator("private_ip")
    @classmethod
    def _ip(cls, value: str | None) -> str | None:
        if value is None or value in PRIVATE_IP_MODES:
            return value
        try:
            ipaddress.IPv4Address(value)
        except ValueError:
            raise PydanticCustomError("plan_rule", "{message}", {
                "message": f"private_ip must be 'copy', 'auto' or an IPv4 address, not {value!r}",
                "hint": "'copy' keeps the source server's address, 'auto' takes one from the subnet; e.g. "
                        "private_ip: 10.0.1.20"}) from None
        return value

    def named(self) -> dict[str, Any]:
        """The keys this level sets."""
        return {k: getattr(self, k) for k in KEYS if getattr(self, k) is not None}


class ServerLaunch(LaunchKeys):
    """Launch settings with drill overrides (a group's, or one server's)."""

    drill: LaunchKeys | None = Field(default=None, description="Overrides for drills only, e.g. an isolated "
                                                               "drill subnet and security group.")


class GroupLaunch(ServerLaunch):
    """A protection group's `launch:`; `servers:` refines it per server."""

    servers: dict[ServerId, ServerLaunch] = Field(default_factory=dict,
                                                  description="Per-server settings over the group's.")


def settings_for(launch: GroupLaunch | None, server: str, mode: str) -> dict[str, Any]:
    """The keys the plan manages for `server` in `mode` ('drill' or 'recovery'), layered."""
    if launch is None:
        return {}
    levels: list[LaunchKeys | None] = [launch, launch.drill if mode == "drill" else None]
    own = launch.servers.get(server)
    if own is not None:
        levels += [own, own.drill if mode == "drill" else None]
    out: dict[str, Any] = {}
    for level in levels:
        if level is not None:
            out.update(level.named())
    return out


def launch_problems(launch: GroupLaunch, servers: list[str], tag_selected: bool) -> Iterator[tuple[tuple, str, str]]:
    """(path under `launch`, message, hint) for what the group as a whole makes wrong."""
    one_server = len(servers) == 1 and not tag_selected
    for level_path, level in (((), launch), (("drill",), launch.drill)):
        if level is None:
            continue
        for key in ("private_ip", "launch_into_instance"):
            value = getattr(level, key)
            if value is not None and value not in PRIVATE_IP_MODES and not one_server:
                whose = "a tag-selected group" if tag_selected else f"a group of {len(servers)} servers"
                yield (level_path + (key,), f"{key} {value} is for one server, and this is {whose}",
                       "one address or instance cannot serve many servers: set it under "
                       "launch.servers.<server id>, or use private_ip: copy or auto")
    for server, own in launch.servers.items():
        if tag_selected:
            yield (("servers", server), "per-server launch settings need a group that lists its servers",
                   "a tag-selected group's servers are only known at run time; list them with 'servers: [...]'")
        elif server not in servers:
            yield (("servers", server), f"server {server} is not in this protection group",
                   f"the group's servers: {', '.join(servers)}")
    for server in (servers or [None]):
        for mode in ("drill", "recovery"):
            problem = _sizing_conflict(launch, server, mode)
            if problem:
                yield problem


def _sizing_conflict(launch: GroupLaunch, server: str | None, mode: str) -> tuple[tuple, str, str] | None:
    """instance_type and a right-sizing that picks the type, in the same layered result."""
    own = launch.servers.get(server) if server else None
    levels = [((), launch), (("drill",), launch.drill if mode == "drill" else None),
              (("servers", server), own), (("servers", server, "drill"), own.drill if own and mode == "drill" else None)]
    type_at = sizing_at = None
    sizing = None
    for path, level in levels:
        if level is None:
            continue
        if level.instance_type is not None:
            type_at = path
        if level.right_sizing is not None:
            sizing, sizing_at = level.right_sizing, path
    if type_at is not None and sizing in SIZING_METHODS_THAT_PICK_THE_TYPE:
        return (type_at + ("instance_type",),
                f"instance_type conflicts with right_sizing {sizing} (DRS would replace the type)",
                "set right_sizing: NONE to keep this type, or remove instance_type")
    if type_at is not None and sizing is None:
        # DRS's default right-sizing is BASIC: without NONE the plan's type would silently not apply.
        return (type_at + ("instance_type",), "instance_type needs right_sizing: NONE beside it",
                "DRS's default right-sizing (BASIC) picks the type itself; add right_sizing: NONE")
    return None


def launch_spec(groups: Any, mode: str) -> dict[str, Any]:
    """What preflight applies in `mode`, as plain data for a task argument: per listed server its
    settings, and per tag-selected group its tags and settings (matched at run time).
    `groups` maps group names to ProtectionGroup models; groups without `launch` are left out."""
    servers: dict[str, dict[str, Any]] = {}
    tag_groups: list[dict[str, Any]] = []
    for group in groups.values():
        if group is None or group.launch is None:
            continue
        if group.is_tag_selected:
            tag_groups.append({"tags": dict(group.tags), "settings": settings_for(group.launch, "", mode)})
        else:
            for server in group.servers:
                servers[server] = settings_for(group.launch, server, mode)
    return {"servers": servers, "tag_groups": tag_groups}


def desired_for(spec: dict[str, Any], server: str, tags: dict[str, str]) -> dict[str, Any]:
    """The settings `spec` (launch_spec's result) wants for one resolved server ({} if none)."""
    if server in spec.get("servers", {}):
        return dict(spec["servers"][server])
    for group in spec.get("tag_groups", []):
        if all(tags.get(k) == v for k, v in group["tags"].items()):
            return dict(group["settings"])
    return {}
