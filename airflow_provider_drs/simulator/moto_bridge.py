"""The embedded moto: the WSGI app that serves every non-DRS call, and the in-process hooks
through which DRS launches and terminates real (moto) EC2 instances in the same account/region.

moto keeps its state in process-wide globals, so simulators in one process share it; each
simulator resets it when it starts and on /_sim/reset.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import yaml
from a2wsgi import WSGIMiddleware
from moto.server import DomainDispatcherApplication, create_backend_app

from .ids import ACCOUNT_ID

RECOVERY_AMI = "ami-12c6146b"  # any id works: moto only checks AMIs when MOTO_ENABLE_AMI_VALIDATION is set
DRS_MANAGED_TAG = {"AWSElasticDisasterRecoveryManaged": "drs.amazonaws.com"}


def moto_asgi_app() -> WSGIMiddleware:
    return WSGIMiddleware(DomainDispatcherApplication(create_backend_app), workers=8)


def reset_moto() -> None:
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()


def _ec2(region: str) -> Any:
    from moto.ec2.models import ec2_backends  # looked up each time: a reset replaces the backends

    return ec2_backends[ACCOUNT_ID][region]


def terminate_instance(region: str, instance_id: str) -> None:
    if instance_state(region, instance_id) not in (None, "terminated"):
        _ec2(region).terminate_instances([instance_id])


def instance_state(region: str, instance_id: str) -> str | None:
    """moto's state name ("running", "terminated", ...) or None when the instance does not exist."""
    try:
        return _ec2(region).get_instance(instance_id).state
    except Exception:  # moto raises its own InvalidInstanceIdError
        return None


def instance_zone(region: str, instance_id: str) -> str | None:
    try:
        return _ec2(region).get_instance(instance_id).placement.zone
    except Exception:  # moto raises its own InvalidInstanceIdError
        return None


def automation_document_steps(region: str, name: str) -> list[tuple[str, str]] | None:
    """(stepName, action) of a document created through the SSM API, None if there is none."""
    from moto.ssm.models import ssm_backends

    documents = ssm_backends[ACCOUNT_ID][region]._documents.get(name)
    if documents is None:
        return None
    doc = documents.get_default_version()
    try:
        content = json.loads(doc.content) if doc.document_format == "JSON" else yaml.safe_load(doc.content)
        steps = [(s["name"], s["action"]) for s in content.get("mainSteps", [])]
    except Exception:  # an unparsable document still runs, as one opaque step
        steps = []
    return steps or [("executeAutomation", "aws:executeScript")]


def seed_environment(region: str, sns_topics: list[str], ssm_parameters: dict[str, str]) -> None:
    """Create the SNS topics and SSM parameters an inventory's plans expect (see inventory.Environment)."""
    from moto.sns.models import sns_backends
    from moto.ssm.models import ssm_backends

    for topic in sns_topics:
        sns_backends[ACCOUNT_ID][region].create_topic(topic)
    for name, value in ssm_parameters.items():
        ssm_backends[ACCOUNT_ID][region].put_parameter(
            name=name, description="seeded by drs-sim", value=value.format(region=region, account=ACCOUNT_ID),
            parameter_type="String", allowed_pattern=None, keyid=None, overwrite=True, tags=[], data_type="text",
            tier=None, policies=None,
        )


def put_events(region: str, events: list[tuple[str, str, dict, list[str], float]]) -> None:
    """Put events (source, detail type, detail, resources, time) on the region's default EventBridge
    bus, as an AWS service does; moto's rules and their SQS targets take it from there."""
    from moto.events.models import events_backends

    events_backends[ACCOUNT_ID][region].put_events([
        {"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail), "Resources": resources,
         "Time": at}
        for source, detail_type, detail, resources, at in events])


# The network DRS launches into: one VPC, a production and an isolated drill subnet, a security
# group for each. moto's ids are random; drawn from a seeded generator they are the same after
# every reset (with this moto version), so plans and tests can name them (see NETWORK_IDS).
NETWORK_SEED = 12
NETWORK_CIDRS = {"vpc": "10.0.0.0/16", "production-subnet": "10.0.0.0/20", "drill-subnet": "10.0.16.0/20"}
NETWORK_PARAMETER_PREFIX = "/drs-sim/network/"


def seed_network(region: str) -> dict[str, str]:
    """Create the launch network in ``region``; returns {name: id} (vpc, production-subnet,
    drill-subnet, production-sg, drill-sg), also published as SSM parameters under
    /drs-sim/network/ so a plan can find them with ``{{ ssm:/drs-sim/network/drill-subnet }}``."""
    from moto.moto_api._internal import mock_random
    from moto.ssm.models import ssm_backends

    ec2 = _ec2(region)
    mock_random.seed(f"{NETWORK_SEED}/{region}")
    try:
        vpc = ec2.create_vpc(NETWORK_CIDRS["vpc"])
        ids = {"vpc": vpc.id}
        for role in ("production", "drill"):
            subnet = ec2.create_subnet(vpc.id, NETWORK_CIDRS[f"{role}-subnet"], availability_zone=region + "a",
                                       tags={"subnet": {"Name": f"drs-sim-{role}"}})
            group = ec2.create_security_group(f"drs-sim-{role}", f"drs-sim {role} instances", vpc_id=vpc.id)
            ids[f"{role}-subnet"], ids[f"{role}-sg"] = subnet.id, group.id
    finally:
        mock_random.seed()  # every later id random again
    for name, value in ids.items():
        ssm_backends[ACCOUNT_ID][region].put_parameter(
            name=NETWORK_PARAMETER_PREFIX + name, description="seeded by drs-sim", value=value,
            parameter_type="String", allowed_pattern=None, keyid=None, overwrite=True, tags=[], data_type="text",
            tier=None, policies=None)
    return ids


def create_launch_template(region: str, name: str, data: dict) -> str:
    """The id of the launch template ``name``, created with ``data`` unless it exists: a reset of
    the DRS state that raced a launch-event delivery may leave moto holding it already."""
    ec2 = _ec2(region)
    try:
        return ec2.get_launch_template_by_name(name).id
    except Exception:  # moto's own not-found error
        return ec2.create_launch_template(name, "created by DRS", data, {}).id


def launch_template_default(region: str, template_id: str) -> dict:
    """The template's default version data ({} when the template is gone)."""
    try:
        return dict(_ec2(region).get_launch_template(template_id).default_version().data)
    except Exception:  # moto's InvalidLaunchTemplateIdNotFound
        return {}


def subnet_holds(region: str, subnet_id: str, ip: str) -> bool:
    """Whether ``ip`` is in the subnet's CIDR and free."""
    import ipaddress

    try:
        subnet = _ec2(region).get_subnet(subnet_id)
    except Exception:
        return False
    return ipaddress.ip_address(ip) in subnet.cidr and ip not in subnet._subnet_ips


def launch_instance(region: str, instance_type: str, tags: dict[str, str], subnet_id: str | None = None,
                    security_group_ids: Sequence[str] = (), private_ip: str | None = None) -> str:
    """A recovery instance, as DRS launches it (the launch settings resolved by the caller)."""
    extra: dict[str, Any] = {}
    if subnet_id:
        extra["subnet_id"] = subnet_id
    if security_group_ids:
        extra["security_group_ids"] = list(security_group_ids)
    if private_ip:
        extra["private_ip"] = private_ip
    reservation = _ec2(region).run_instances(
        RECOVERY_AMI, 1, None, [], instance_type=instance_type, is_instance_type_default=False,
        region_name=region, tags={"instance": dict(tags), "volume": dict(DRS_MANAGED_TAG)}, **extra,
    )
    return reservation.instances[0].id


def start_existing_instance(region: str, instance_id: str, tags: dict[str, str]) -> bool:
    """Launch into an existing instance: tag it and start it; False when it does not exist."""
    if instance_state(region, instance_id) in (None, "terminated"):
        return False
    ec2 = _ec2(region)
    ec2.create_tags([instance_id], dict(tags))
    if instance_state(region, instance_id) != "running":
        ec2.start_instances([instance_id])
    return True


def stop_instance(region: str, instance_id: str) -> None:
    _ec2(region).stop_instances([instance_id])
