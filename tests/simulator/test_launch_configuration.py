"""Launch settings in the simulator: the two DRS operations conform to botocore's model, and a
launch honours the server's launch template (default version) and DRS launch configuration."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from .conftest import APP, DB, WEB1, WEB2, wait_job_completed
from .test_conformance import assert_conforms, raw  # noqa: F401  (raw is a fixture)


def launched_instance(sim, drs, server: str, is_drill: bool = True) -> dict:
    job = drs.start_recovery(sourceServers=[{"sourceServerID": server}], isDrill=is_drill)["job"]
    wait_job_completed(drs, job["jobID"])
    item = drs.describe_recovery_instances(filters={"sourceServerIDs": [server]})["items"][0]
    ec2 = sim.client("ec2")
    return ec2.describe_instances(InstanceIds=[item["ec2InstanceID"]])["Reservations"][0]["Instances"][0]


def set_template(sim, template_id: str, data: dict, description: str = "test") -> None:
    ec2 = sim.client("ec2")
    # EC2 merges the source version with the new data; moto does not, so merge here.
    current = ec2.describe_launch_template_versions(LaunchTemplateId=template_id, Versions=["$Default"])
    data = {**current["LaunchTemplateVersions"][0]["LaunchTemplateData"], **data}
    version = ec2.create_launch_template_version(LaunchTemplateId=template_id, SourceVersion="$Default",
                                                 VersionDescription=description, LaunchTemplateData=data)
    number = version["LaunchTemplateVersion"]["VersionNumber"]
    ec2.modify_launch_template(LaunchTemplateId=template_id, DefaultVersion=str(number))


def test_get_and_update_conform(drs, raw):  # noqa: F811
    config = drs.get_launch_configuration(sourceServerID=DB)
    assert config["ec2LaunchTemplateID"].startswith("lt-")
    assert config["targetInstanceTypeRightSizingMethod"] == "BASIC"  # DRS's default
    updated = drs.update_launch_configuration(sourceServerID=DB, copyPrivateIp=True, launchDisposition="STOPPED",
                                              targetInstanceTypeRightSizingMethod="BASIC")
    assert (updated["copyPrivateIp"], updated["launchDisposition"]) == (True, "STOPPED")
    again = drs.get_launch_configuration(sourceServerID=DB)
    assert again == {**again, "copyPrivateIp": True, "targetInstanceTypeRightSizingMethod": "BASIC",
                     "ec2LaunchTemplateID": config["ec2LaunchTemplateID"]}
    assert_conforms(raw, "GetLaunchConfiguration")
    assert_conforms(raw, "UpdateLaunchConfiguration")


def test_unknown_server_and_bad_values_are_refused(drs):
    with pytest.raises(ClientError) as err:
        drs.get_launch_configuration(sourceServerID="s-00000000000000000")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as err:
        drs.update_launch_configuration(sourceServerID=DB, launchIntoInstanceProperties={
            "launchIntoEC2InstanceID": "i-0123456789abcdef0"})
    assert err.value.response["Error"]["Code"] == "ValidationException"


def test_network_is_seeded_with_stable_ids(sim):
    ids = sim.simulation.drs.network["us-east-1"]
    ssm = sim.client("ssm")
    assert ssm.get_parameter(Name="/drs-sim/network/drill-subnet")["Parameter"]["Value"] == ids["drill-subnet"]
    sim.control.reset()
    assert sim.simulation.drs.network["us-east-1"] == ids  # the same after a reset


def test_launch_honours_the_default_template_version(sim, drs):
    net = sim.simulation.drs.network["us-east-1"]
    default = launched_instance(sim, drs, WEB1)
    assert default["SubnetId"] == net["production-subnet"]
    template = drs.get_launch_configuration(sourceServerID=WEB1)["ec2LaunchTemplateID"]
    drs.update_launch_configuration(sourceServerID=WEB1, targetInstanceTypeRightSizingMethod="NONE")
    set_template(sim, template, {"InstanceType": "c5.xlarge", "NetworkInterfaces": [
        {"DeviceIndex": 0, "SubnetId": net["drill-subnet"], "Groups": [net["drill-sg"]],
         "PrivateIpAddress": "10.0.16.50"}]})
    instance = launched_instance(sim, drs, WEB1)
    assert (instance["InstanceType"], instance["SubnetId"], instance["PrivateIpAddress"]) == (
        "c5.xlarge", net["drill-subnet"], "10.0.16.50")
    assert [g["GroupId"] for g in instance["SecurityGroups"]] == [net["drill-sg"]]


def test_copy_private_ip_copy_tags_right_sizing_and_disposition(sim, drs):
    drs.update_launch_configuration(sourceServerID=DB, copyPrivateIp=True, copyTags=False,
                                    targetInstanceTypeRightSizingMethod="BASIC", launchDisposition="STOPPED")
    template = drs.get_launch_configuration(sourceServerID=DB)["ec2LaunchTemplateID"]
    set_template(sim, template, {"InstanceType": "t3.nano"})
    instance = launched_instance(sim, drs, DB)
    assert instance["PrivateIpAddress"] == "10.0.1.10"          # the inventory's source address
    assert instance["InstanceType"] == "r5.large"               # right-sized from the source, not t3.nano
    assert "Tier" not in {t["Key"] for t in instance["Tags"]}   # copyTags off
    assert instance["State"]["Name"] == "stopped"
    tagged = launched_instance(sim, drs, APP)                   # defaults: tags copied, started
    assert {"Key": "Tier", "Value": "app"} in tagged["Tags"] and tagged["State"]["Name"] == "running"


def test_launch_into_an_existing_instance(sim, drs):
    ec2 = sim.client("ec2")
    net = sim.simulation.drs.network["us-east-1"]
    target = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="m5.large",
                               SubnetId=net["production-subnet"])["Instances"][0]["InstanceId"]
    ec2.stop_instances(InstanceIds=[target])
    drs.update_launch_configuration(sourceServerID=WEB2,
                                    launchIntoInstanceProperties={"launchIntoEC2InstanceID": target})
    instance = launched_instance(sim, drs, WEB2, is_drill=False)
    assert instance["InstanceId"] == target and instance["State"]["Name"] == "running"
    assert {"Key": "AWSElasticDisasterRecoverySourceServerID", "Value": WEB2} in instance["Tags"]
