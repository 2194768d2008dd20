"""Launch settings of source servers: read, compare with a plan, apply idempotently, detect drift.

A server's launch settings live in two places: the DRS launch configuration (right-sizing,
copyPrivateIp, copyTags, launchDisposition, launchIntoInstanceProperties) and the EC2 launch
template DRS made for the server, whose DEFAULT version DRS reads at launch (instance type; subnet,
security groups and private IP in NetworkInterfaces[0], the form DRS writes).

Applying writes only what differs: UpdateLaunchConfiguration with the differing DRS fields; a new
template version (from the default one, VersionDescription `drs-plan PLAN MODE RUN`) made the
default. What the plan applied is recorded as tags on the launch template, one per key
(`drs-plan:applied:<key>`, plus `drs-plan:applied-by` = `PLAN MODE RUN`): drift is a key whose
current value is neither what the plan applied last time nor what it wants now - someone changed
it since. A first application is a change, not drift.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

from airflow_provider_drs.hooks.retry import RetryAfterMixin
from airflow_provider_drs.plans.launch import PRIVATE_IP_MODES

TEMPLATE_KEYS = ("instance_type", "subnet", "security_groups")  # plus a fixed private_ip
DRS_FIELDS = {"right_sizing": "targetInstanceTypeRightSizingMethod", "copy_tags": "copyTags",
              "launch_disposition": "launchDisposition"}
APPLIED_TAG = "drs-plan:applied:"
APPLIED_BY_TAG = "drs-plan:applied-by"
CHANGED_TAG = "drs-plan:changed"          # the keys the applied-by run changed, comma-separated
REPLACED_TAG = "drs-plan:replaced:"       # per key it changed: the value it replaced ('' = unset)
MAX_DESCRIPTION = 255  # EC2 VersionDescription


def applied_by(plan: str, mode: str, run_id: str) -> str:
    return f"drs-plan {plan} {mode} {run_id}"[:MAX_DESCRIPTION]


def _encode(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(value)
    return str(value)


def _decode(key: str, text: str) -> Any:
    if key == "copy_tags":
        return text == "true"
    if key == "security_groups":
        return [g for g in text.split(",") if g]
    return text


@dataclass
class LaunchState:
    """One server's launch settings as DRS and EC2 hold them, in plan keys."""

    server: str
    config: dict[str, Any]                 # GetLaunchConfiguration
    template_id: str
    default_version: int
    template_data: dict[str, Any]          # the default version's LaunchTemplateData
    template_tags: dict[str, str]
    current: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        data, config = self.template_data, self.config
        interface = _interface(data)
        fixed_ip = interface.get("PrivateIpAddress")
        self.current = {
            "instance_type": data.get("InstanceType"),
            "subnet": interface.get("SubnetId"),
            "security_groups": list(interface.get("Groups") or data.get("SecurityGroupIds") or []) or None,
            "private_ip": "copy" if config.get("copyPrivateIp") else fixed_ip or "auto",
            "launch_into_instance": (config.get("launchIntoInstanceProperties") or {}).get("launchIntoEC2InstanceID"),
            **{key: config.get(member) for key, member in DRS_FIELDS.items()},
        }

    @property
    def applied(self) -> dict[str, Any]:
        """What the plan applied last (from the template's tags)."""
        return {k[len(APPLIED_TAG):]: _decode(k[len(APPLIED_TAG):], v) for k, v in self.template_tags.items()
                if k.startswith(APPLIED_TAG)}

    @property
    def applied_by(self) -> str | None:
        return self.template_tags.get(APPLIED_BY_TAG)

    @property
    def last_changes(self) -> dict[str, list]:
        """{key: [replaced, applied]} of what the applied-by run changed (kept on the template, so a
        retried preflight, which finds nothing left to change, does not lose it)."""
        applied = self.applied
        keys = [k for k in self.template_tags.get(CHANGED_TAG, "").split(",") if k]
        return {k: [_decode(k, self.template_tags[REPLACED_TAG + k]) if self.template_tags.get(REPLACED_TAG + k)
                    else None, applied.get(k)] for k in keys}

    def compare(self, desired: Mapping[str, Any]) -> dict[str, dict[str, list]]:
        """{"changed": {key: [current, desired]}, "drift": {key: [applied, current]}} for the keys of `desired`."""
        applied = self.applied
        changed = {k: [self.current.get(k), v] for k, v in desired.items() if self.current.get(k) != v}
        drift = {k: [applied[k], self.current.get(k)] for k in changed if k in applied
                 and applied[k] != self.current.get(k)}
        return {"changed": changed, "drift": drift}


def _interface(data: Mapping[str, Any]) -> dict[str, Any]:
    interfaces = data.get("NetworkInterfaces") or []
    return next((dict(i) for i in interfaces if int(i.get("DeviceIndex", 0)) == 0), {})


def template_data_with(data: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    """The default version's data with the plan's template keys set. The whole data is sent (EC2
    would merge a SourceVersion itself; moto, under the simulator, does not)."""
    out = copy.deepcopy(dict(data))
    if "instance_type" in desired:
        out["InstanceType"] = desired["instance_type"]
    network = {k for k in ("subnet", "security_groups") if k in desired}
    address = "private_ip" in desired  # a fixed address to set, or "copy"/"auto": none in the template
    if network or address:
        interfaces = [dict(i) for i in out.get("NetworkInterfaces") or []] or [{"DeviceIndex": 0}]
        first = next((i for i in interfaces if int(i.get("DeviceIndex", 0)) == 0), interfaces[0])
        if "SecurityGroupIds" in out:  # EC2 refuses both forms together: the groups move into the interface
            first.setdefault("Groups", out.pop("SecurityGroupIds"))
        if "subnet" in desired:
            first["SubnetId"] = desired["subnet"]
        if "security_groups" in desired:
            first["Groups"] = list(desired["security_groups"])
        if address and desired["private_ip"] in PRIVATE_IP_MODES:
            first.pop("PrivateIpAddress", None)
        elif address:
            first["PrivateIpAddress"] = desired["private_ip"]
        out["NetworkInterfaces"] = interfaces
    return out


def restore_after_drill(state: LaunchState, drill_label: str,
                        production: Mapping[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """What to put back on a server after a drill: production's value of each key the drill
    changed (the plan's recovery setting, else the value the drill replaced). None, with the
    reason, when there is nothing to restore or the settings are no longer the drill's: another
    run (a recovery's preflight records itself) or a person changed them since, and a drill must
    not undo that."""
    if state.applied_by != drill_label:
        return None, f"changed since the drill by {state.applied_by or 'someone outside the plan'}"
    drill_changed = state.last_changes
    if not drill_changed:
        return None, "the drill changed nothing"
    moved = {k: state.current.get(k) for k, (_, new) in drill_changed.items() if state.current.get(k) != new}
    if moved:
        return None, f"changed outside the plan since the drill: {moved}"
    restore = {k: production.get(k, old) for k, (old, _) in drill_changed.items()}
    return {k: v for k, v in restore.items() if v is not None}, "restored"


def drill_leftovers(state: LaunchState) -> dict[str, Any]:
    """The settings a drill changed and never put back (its run died before its restore), as the
    values they replaced: a real recovery must not launch into a drill's isolated network. Only keys
    still holding the drill's value; the drill may be another plan's (plans share servers)."""
    label = (state.applied_by or "").split(" ")
    if len(label) < 3 or label[0] != "drs-plan" or label[2] != "drill":
        return {}
    return {k: old for k, (old, new) in state.last_changes.items()
            if old is not None and state.current.get(k) == new}


class LaunchSettingsHook(RetryAfterMixin, AwsBaseHook):
    """DRS launch configuration and EC2 launch template of source servers (same connection)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "drs"
        super().__init__(*args, **kwargs)

    @cached_property
    def ec2(self) -> Any:
        return AwsBaseHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name, client_type="ec2").conn

    def read(self, server: str) -> LaunchState:
        config = self.conn.get_launch_configuration(sourceServerID=server)
        config.pop("ResponseMetadata", None)
        template_id = config["ec2LaunchTemplateID"]
        tags = self.ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [template_id]}])["Tags"]
        version = self.ec2.describe_launch_template_versions(
            LaunchTemplateId=template_id, Versions=["$Default"])["LaunchTemplateVersions"][0]
        return LaunchState(server, config, template_id, int(version["VersionNumber"]),
                           version.get("LaunchTemplateData") or {},
                           {t["Key"]: t["Value"] for t in tags})

    def apply(self, server: str, desired: Mapping[str, Any], label: str) -> dict[str, dict[str, list]]:
        """Make the server's launch settings what `desired` names; returns what changed and any drift.
        Nothing is written when nothing differs."""
        state = self.read(server)
        result = state.compare(desired)
        changed = result["changed"]
        drs_update = {DRS_FIELDS[k]: desired[k] for k in changed if k in DRS_FIELDS}
        if "private_ip" in changed:
            drs_update["copyPrivateIp"] = desired["private_ip"] == "copy"
        if "launch_into_instance" in changed:
            drs_update["launchIntoInstanceProperties"] = {"launchIntoEC2InstanceID": desired["launch_into_instance"]}
        if drs_update:
            self.conn.update_launch_configuration(sourceServerID=server, **drs_update)
        template_change = {k: desired[k] for k in changed if k in TEMPLATE_KEYS}
        if "private_ip" in changed and (desired["private_ip"] not in PRIVATE_IP_MODES
                                        or _interface(state.template_data).get("PrivateIpAddress")):
            template_change["private_ip"] = desired["private_ip"]  # set, or clear the fixed one
        if template_change:
            data = template_data_with(state.template_data, template_change)
            version = self.ec2.create_launch_template_version(
                LaunchTemplateId=state.template_id, SourceVersion=str(state.default_version),
                VersionDescription=label, LaunchTemplateData=data)["LaunchTemplateVersion"]["VersionNumber"]
            self.ec2.modify_launch_template(LaunchTemplateId=state.template_id, DefaultVersion=str(version))
        record = {APPLIED_TAG + k: _encode(v) for k, v in desired.items()
                  if state.template_tags.get(APPLIED_TAG + k) != _encode(v)}
        if changed:
            record[APPLIED_BY_TAG] = label
            record[CHANGED_TAG] = ",".join(changed)
            record.update({REPLACED_TAG + k: "" if old is None else _encode(old) for k, (old, _) in changed.items()})
        if record:
            self.ec2.create_tags(Resources=[state.template_id], Tags=[{"Key": k, "Value": v} for k, v in record.items()])
        return result
