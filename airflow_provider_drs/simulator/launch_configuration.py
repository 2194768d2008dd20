"""Launch settings: GetLaunchConfiguration / UpdateLaunchConfiguration, and the launch that honours
them (a mixin on ``DrsState``, sharing its lock and regions).

As in DRS, each source server has an EC2 launch template (created in moto the first time the
server's settings are read or used) and DRS reads its DEFAULT version at launch: instance type,
subnet and security groups (NetworkInterfaces[0], the form DRS writes), private IP. On top of it
the DRS fields: right-sizing BASIC / IN_AWS (the type then comes from the source server, its
recommendedInstanceType), copyPrivateIp (the source's IP, when it lies in the subnet and is free;
otherwise the launch takes any address of the subnet), copyTags, launchDisposition, and
launchIntoInstanceProperties (the recovery instance IS that existing instance, tagged and started).

Defaults differ from a fresh DRS account in one place: copyTags starts true, so recovery instances
carry their source's tags as the simulator always did (tests and SSM targets rely on it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import errors, moto_bridge

if TYPE_CHECKING:
    from .state import DrsState, RegionState, SourceServer


@dataclass
class LaunchConfiguration:
    name: str
    template_id: str
    launch_disposition: str = "STARTED"
    right_sizing: str = "BASIC"  # DRS's default
    copy_private_ip: bool = False
    copy_tags: bool = True
    licensing: dict = field(default_factory=lambda: {"osByol": True})
    post_launch_enabled: bool = False
    launch_into: str | None = None

    def to_api(self, server_id: str) -> dict:
        item = {
            "sourceServerID": server_id, "name": self.name, "ec2LaunchTemplateID": self.template_id,
            "launchDisposition": self.launch_disposition, "targetInstanceTypeRightSizingMethod": self.right_sizing,
            "copyPrivateIp": self.copy_private_ip, "copyTags": self.copy_tags, "licensing": dict(self.licensing),
            "postLaunchEnabled": self.post_launch_enabled,
            "launchIntoInstanceProperties": {"launchIntoEC2InstanceID": self.launch_into} if self.launch_into else {},
        }
        return item


# UpdateLaunchConfiguration member -> attribute; every member but sourceServerID is optional.
_UPDATABLE = {"name": "name", "launchDisposition": "launch_disposition",
              "targetInstanceTypeRightSizingMethod": "right_sizing", "copyPrivateIp": "copy_private_ip",
              "copyTags": "copy_tags", "licensing": "licensing", "postLaunchEnabled": "post_launch_enabled"}


class LaunchConfigurationOperations:
    """The launch-settings operations of ``DrsState`` and the launch of one server's instance."""

    network: dict[str, dict[str, str]]  # region -> seeded network ids (set by the Simulation)

    def get_launch_configuration(self: DrsState, region: str, body: dict) -> dict:
        with self.lock:
            state = self.region(region)
            server = self._launch_server(state, body["sourceServerID"])
            return self._launch_config(state, server).to_api(server.spec.id)

    def update_launch_configuration(self: DrsState, region: str, body: dict) -> dict:
        with self.lock:
            state = self.region(region)
            server = self._launch_server(state, body["sourceServerID"])
            config = self._launch_config(state, server)
            for member, attribute in _UPDATABLE.items():
                if member in body:
                    setattr(config, attribute, body[member])
            if "launchIntoInstanceProperties" in body:
                target = (body["launchIntoInstanceProperties"] or {}).get("launchIntoEC2InstanceID")
                if target and moto_bridge.instance_state(region, target) in (None, "terminated"):
                    raise errors.validation(f"EC2 instance {target} not found in {region}",
                                            "launchIntoInstanceProperties")
                config.launch_into = target or None
            return config.to_api(server.spec.id)

    def _launch_server(self: DrsState, state: RegionState, server_id: str) -> SourceServer:
        server = state.servers.get(server_id)
        if server is None:
            raise errors.not_found(f"Source server {server_id} not found in {state.name}", server_id, "SOURCE_SERVER")
        return server

    def _launch_config(self: DrsState, state: RegionState, server: SourceServer) -> LaunchConfiguration:
        if server.launch_configuration is None:
            network = getattr(self, "network", {}).get(state.name, {})
            interface = {"DeviceIndex": 0}
            if network:
                interface.update(SubnetId=network["production-subnet"], Groups=[network["production-sg"]])
            template_id = moto_bridge.create_launch_template(
                state.name, f"drs-{server.spec.id}", {"InstanceType": server.spec.instance_type,
                                                      "NetworkInterfaces": [interface]})
            server.launch_configuration = LaunchConfiguration(server.spec.hostname, template_id)
        return server.launch_configuration

    def _launch_instance(self: DrsState, state: RegionState, server: SourceServer) -> str:
        """The EC2 instance of a LAUNCHED server, as its launch settings say."""
        spec, config = server.spec, self._launch_config(state, server)
        tags = {**(server.tags if config.copy_tags else {}), **moto_bridge.DRS_MANAGED_TAG, "Name": spec.hostname,
                "AWSElasticDisasterRecoverySourceServerID": spec.id}
        if config.launch_into and moto_bridge.start_existing_instance(state.name, config.launch_into, tags):
            return config.launch_into
        template = moto_bridge.launch_template_default(state.name, config.template_id)
        interface = (template.get("NetworkInterfaces") or [{}])[0]
        subnet = interface.get("SubnetId") or template.get("SubnetId")
        groups = interface.get("Groups") or template.get("SecurityGroupIds") or []
        address = interface.get("PrivateIpAddress")
        if config.copy_private_ip and spec.private_ip:
            address = spec.private_ip
        if address and not (subnet and moto_bridge.subnet_holds(state.name, subnet, address)):
            address = None  # outside the subnet or taken: EC2 picks one
        instance_type = (spec.instance_type if config.right_sizing in ("BASIC", "IN_AWS")
                         else template.get("InstanceType") or spec.instance_type)
        ec2_id = moto_bridge.launch_instance(state.name, instance_type, tags, subnet, groups, address)
        if config.launch_disposition == "STOPPED":
            moto_bridge.stop_instance(state.name, ec2_id)
        return ec2_id
