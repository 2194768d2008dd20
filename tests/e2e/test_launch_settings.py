"""Launch settings as code, end to end under dag.test(): a drill with `drill:` overrides launches into
the isolated drill subnet and leaves production's settings as it found them; a recovery launches
into production's subnet, and reports the drift a console change made since the plan last ran."""

from __future__ import annotations

import ipaddress

import pytest

from tests.e2e.helpers import HitlResponder, read_report, read_report_page, report_path, run_dag, task_states

DB, APP = "s-3578f52ef3bdd58b4", "s-0e5a9c4b2f7d18e36"
pytestmark = pytest.mark.timeout(300)


def ec2_instance_of(sim, server: str) -> dict:
    item = sim.client("drs").describe_recovery_instances(filters={"sourceServerIDs": [server]})["items"]
    ec2_id = item[0]["ec2InstanceID"] if item else None
    assert ec2_id, f"no recovery instance of {server}"
    return sim.client("ec2").describe_instances(InstanceIds=[ec2_id])["Reservations"][0]["Instances"][0]


def template_default(sim, server: str) -> dict:
    template = sim.client("drs").get_launch_configuration(sourceServerID=server)["ec2LaunchTemplateID"]
    return sim.client("ec2").describe_launch_template_versions(
        LaunchTemplateId=template, Versions=["$Default"])["LaunchTemplateVersions"][0]


def instances_seen_at_launch(sim, servers) -> dict[str, dict]:
    """The drill's EC2 instances, read when each wait_for_launch finished (cleanup terminates them
    afterwards, but moto keeps terminated instances with their subnet)."""
    ec2 = sim.client("ec2")
    seen = {}
    for reservation in ec2.describe_instances()["Reservations"]:
        for instance in reservation["Instances"]:
            tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
            server = tags.get("AWSElasticDisasterRecoverySourceServerID")
            if server in servers:
                seen[server] = instance
    return seen


def test_drill_launches_into_the_drill_network_and_puts_production_back(test_dagbag, airflow_sim):
    net = airflow_sim.simulation.drs.network["us-east-1"]
    drill_run = run_dag(test_dagbag, "drs_isolated_drill_drill")
    states = task_states(drill_run)
    assert str(drill_run.state) in ("success", "DagRunState.SUCCESS"), states
    assert states["restore_launch_settings"] == "success"

    launched = instances_seen_at_launch(airflow_sim, {DB, APP})
    assert launched[DB]["SubnetId"] == net["drill-subnet"]
    assert [g["GroupId"] for g in launched[DB]["SecurityGroups"]] == [net["drill-sg"]]
    # private_ip: auto in the drill: an address of the drill subnet, never production's 10.0.1.10
    assert ipaddress.ip_address(launched[DB]["PrivateIpAddress"]) in ipaddress.ip_network("10.0.16.0/20")
    assert launched[APP]["InstanceType"] == "t3.small"
    # The drill put production back: DRS holds what it held before (the template's defaults).
    db_template = template_default(airflow_sim, DB)["LaunchTemplateData"]["NetworkInterfaces"][0]
    assert (db_template["SubnetId"], db_template["Groups"]) == (net["production-subnet"], [net["production-sg"]])
    assert template_default(airflow_sim, APP)["LaunchTemplateData"]["InstanceType"] == "t3.medium"
    # right_sizing NONE is the plan's production setting too: it stays.
    assert airflow_sim.client("drs").get_launch_configuration(sourceServerID=APP)[
        "targetInstanceTypeRightSizingMethod"] == "NONE"
    report = read_report(drill_run)
    section = report["launch_settings"]
    assert section["servers"][DB]["changed"]["subnet"] == [net["production-subnet"], net["drill-subnet"]]
    assert section["servers"][APP]["changed"] == {"instance_type": ["t3.medium", "t3.small"],
                                                  "right_sizing": ["BASIC", "NONE"]}
    assert section["restored"] == {DB: "restored", APP: "restored"} and section["drift"] == []
    read_report_page(drill_run)  # self-contained
    html = report_path(drill_run.dag_id, drill_run.run_id).with_suffix(".html").read_text()
    assert 'id="launch-settings"' in html and "restored" in html


def test_recovery_launches_into_production_and_reports_drift(test_dagbag, airflow_sim):
    """Two test DAG runs do not fit one test's time on a loaded machine: the earlier run that applied
    the plan's production settings is played by the hook, as that run's preflight does it."""
    from airflow_provider_drs.hooks.drs_launch_settings import LaunchSettingsHook

    net = airflow_sim.simulation.drs.network["us-east-1"]
    LaunchSettingsHook(aws_conn_id="aws_default", region_name="us-east-1").apply(
        DB, {"subnet": net["production-subnet"], "security_groups": [net["production-sg"]], "private_ip": "copy"},
        "drs-plan isolated-drill recovery manual__earlier")
    # Between the runs, someone moves the database's launch template to the drill subnet by hand.
    ec2, drs = airflow_sim.client("ec2"), airflow_sim.client("drs")
    template_id = drs.get_launch_configuration(sourceServerID=DB)["ec2LaunchTemplateID"]
    data = template_default(airflow_sim, DB)["LaunchTemplateData"]
    data["NetworkInterfaces"][0]["SubnetId"] = net["drill-subnet"]
    number = ec2.create_launch_template_version(LaunchTemplateId=template_id, LaunchTemplateData=data)[
        "LaunchTemplateVersion"]["VersionNumber"]
    ec2.modify_launch_template(LaunchTemplateId=template_id, DefaultVersion=str(number))

    responder = HitlResponder("drs_isolated_drill_recovery", "approve", airflow_sim, then=(("decide", "Commit"),))
    responder.start()
    recovery_run = run_dag(test_dagbag, "drs_isolated_drill_recovery")
    responder.join(timeout=10)
    assert responder.answered == "Approve"
    assert str(recovery_run.state) in ("success", "DagRunState.SUCCESS"), task_states(recovery_run)
    assert ec2_instance_of(airflow_sim, DB)["SubnetId"] == net["production-subnet"]
    assert ec2_instance_of(airflow_sim, DB)["PrivateIpAddress"] == "10.0.1.10"  # private_ip: copy
    recovery = read_report(recovery_run)["launch_settings"]
    assert recovery["servers"][DB]["drift"] == {"subnet": [net["production-subnet"], net["drill-subnet"]]}
    assert any("subnet" in line and DB in line for line in recovery["drift"])
    assert recovery["restored"] is None
