"""LaunchSettingsHook against the simulator: apply is idempotent, drift is what changed since."""

from __future__ import annotations

import pytest

from airflow_provider_drs.hooks.drs_launch_settings import APPLIED_BY_TAG, LaunchSettingsHook

DB, WEB1 = "s-3578f52ef3bdd58b4", "s-3c1730a9e0771ea14"
WRITES = ("UpdateLaunchConfiguration", "ec2:CreateLaunchTemplateVersion", "ec2:ModifyLaunchTemplate", "ec2:CreateTags")


@pytest.fixture
def hook(sim):
    return LaunchSettingsHook(aws_conn_id="aws_sim", region_name="us-east-1")


def writes(sim) -> dict[str, int]:
    calls = sim.control.calls()
    return {op: n for op, n in calls.items() if op.split(":")[-1] in {w.split(":")[-1] for w in WRITES}}


def test_apply_changes_then_writes_nothing_the_second_time(sim, hook):
    net = sim.simulation.drs.network["us-east-1"]
    desired = {"subnet": net["drill-subnet"], "security_groups": [net["drill-sg"]], "instance_type": "m5.large",
               "copy_tags": False, "private_ip": "copy", "launch_disposition": "STARTED"}
    first = hook.apply(DB, desired, "drs-plan three-tier drill manual__1")
    assert first["changed"] == {
        "subnet": [net["production-subnet"], net["drill-subnet"]],
        "security_groups": [[net["production-sg"]], [net["drill-sg"]]],
        "instance_type": ["r5.large", "m5.large"], "copy_tags": [True, False], "private_ip": ["auto", "copy"]}
    assert first["drift"] == {}  # a first application is a change
    state = hook.read(DB)
    assert {k: state.current[k] for k in desired} == desired
    assert state.applied_by == "drs-plan three-tier drill manual__1"
    version = hook.ec2.describe_launch_template_versions(LaunchTemplateId=state.template_id, Versions=["$Default"])
    assert version["LaunchTemplateVersions"][0]["VersionDescription"] == "drs-plan three-tier drill manual__1"
    before = writes(sim)
    assert sum(before.values()) >= 4
    again = hook.apply(DB, desired, "drs-plan three-tier drill manual__2")
    assert again == {"changed": {}, "drift": {}}
    assert writes(sim) == before  # not one write call
    assert hook.read(DB).applied_by == "drs-plan three-tier drill manual__1"


def test_a_change_made_elsewhere_between_two_runs_is_drift(sim, hook):
    net = sim.simulation.drs.network["us-east-1"]
    desired = {"subnet": net["production-subnet"], "launch_disposition": "STARTED", "right_sizing": "NONE"}
    hook.apply(WEB1, desired, "drs-plan p recovery r1")
    # Someone changes the subnet (a new template version) and the disposition (DRS) in the console.
    drs, ec2 = sim.client("drs"), sim.client("ec2")
    drs.update_launch_configuration(sourceServerID=WEB1, launchDisposition="STOPPED")
    template = drs.get_launch_configuration(sourceServerID=WEB1)["ec2LaunchTemplateID"]
    data = ec2.describe_launch_template_versions(LaunchTemplateId=template, Versions=["$Default"])[
        "LaunchTemplateVersions"][0]["LaunchTemplateData"]
    data["NetworkInterfaces"][0]["SubnetId"] = net["drill-subnet"]
    number = ec2.create_launch_template_version(LaunchTemplateId=template, LaunchTemplateData=data)[
        "LaunchTemplateVersion"]["VersionNumber"]
    ec2.modify_launch_template(LaunchTemplateId=template, DefaultVersion=str(number))
    result = hook.apply(WEB1, desired, "drs-plan p recovery r2")
    assert result["drift"] == {"subnet": [net["production-subnet"], net["drill-subnet"]],
                               "launch_disposition": ["STARTED", "STOPPED"]}
    assert set(result["changed"]) == {"subnet", "launch_disposition"}
    assert hook.read(WEB1).current["subnet"] == net["production-subnet"]  # the plan wins
    assert hook.read(WEB1).template_tags[APPLIED_BY_TAG] == "drs-plan p recovery r2"


def test_a_fixed_private_ip_goes_into_the_template(sim, hook):
    hook.apply(DB, {"private_ip": "copy"}, "l1")
    result = hook.apply(DB, {"private_ip": "10.0.1.99"}, "l2")
    assert result["changed"] == {"private_ip": ["copy", "10.0.1.99"]}
    state = hook.read(DB)
    assert state.config["copyPrivateIp"] is False and state.current["private_ip"] == "10.0.1.99"


def test_a_drill_restores_only_settings_that_are_still_its_own(sim, hook):
    from airflow_provider_drs.hooks.drs_launch_settings import restore_after_drill

    net = sim.simulation.drs.network["us-east-1"]
    drill = "drs-plan p drill d1"
    hook.apply(WEB1, {"subnet": net["drill-subnet"], "launch_disposition": "STARTED"}, drill)
    production = {"security_groups": [net["production-sg"]]}  # the plan names no production subnet
    expected = ({"subnet": net["production-subnet"]}, "restored")
    assert restore_after_drill(hook.read(WEB1), drill, production) == expected  # the value it replaced
    # A retried preflight changes nothing, and the restore still knows what the drill changed.
    assert hook.apply(WEB1, {"subnet": net["drill-subnet"]}, drill)["changed"] == {}
    assert restore_after_drill(hook.read(WEB1), drill, production) == expected
    # A recovery's preflight ran meanwhile: its settings stay.
    hook.apply(WEB1, {"subnet": net["production-subnet"]}, "drs-plan p recovery r1")
    restore, why = restore_after_drill(hook.read(WEB1), drill, production)
    assert restore is None and "drs-plan p recovery r1" in why
    # A person changed what the drill applied: left too.
    hook.apply(WEB1, {"subnet": net["drill-subnet"]}, "drs-plan p drill d2")
    ec2, template = hook.ec2, hook.read(WEB1).template_id
    data = hook.read(WEB1).template_data
    data["NetworkInterfaces"][0]["SubnetId"] = net["production-subnet"]
    number = ec2.create_launch_template_version(LaunchTemplateId=template, LaunchTemplateData=data)[
        "LaunchTemplateVersion"]["VersionNumber"]
    ec2.modify_launch_template(LaunchTemplateId=template, DefaultVersion=str(number))
    restore, why = restore_after_drill(hook.read(WEB1), "drs-plan p drill d2", production)
    assert restore is None and "changed outside the plan since the drill" in why


def test_auto_clears_a_fixed_address_and_the_copy(sim, hook):
    """private_ip: auto (a drill in a subnet that does not hold production's addresses) leaves the
    address to the subnet: no copyPrivateIp, no fixed address in the template."""
    hook.apply(DB, {"private_ip": "10.0.1.50"}, "drs-plan three-tier recovery manual__1")
    state = hook.read(DB)
    assert state.current["private_ip"] == "10.0.1.50"
    assert state.template_data["NetworkInterfaces"][0]["PrivateIpAddress"] == "10.0.1.50"
    result = hook.apply(DB, {"private_ip": "auto"}, "drs-plan three-tier drill manual__2")
    assert result["changed"] == {"private_ip": ["10.0.1.50", "auto"]}
    state = hook.read(DB)
    assert state.current["private_ip"] == "auto" and state.config["copyPrivateIp"] is False
    assert "PrivateIpAddress" not in state.template_data["NetworkInterfaces"][0]


def test_a_recovery_puts_back_what_a_dead_drill_left(sim, hook):
    """A drill (of any plan) that died before its restore left its isolated subnet on the server: the
    next real recovery's preflight puts production's back, even for a plan naming no launch settings."""
    from types import SimpleNamespace

    from airflow_provider_drs.hooks.drs_launch_settings import drill_leftovers
    from airflow_provider_drs.operators.launch_settings import apply_launch_settings

    net = sim.simulation.drs.network["us-east-1"]
    hook.apply(DB, {"subnet": net["drill-subnet"]}, "drs-plan orders drill manual__dead")
    assert drill_leftovers(hook.read(DB)) == {"subnet": net["production-subnet"]}
    pushed = {}
    context = {"dag_run": SimpleNamespace(run_id="manual__real"),
               "ti": SimpleNamespace(xcom_push=lambda key, value: pushed.update({key: value}))}
    logged = SimpleNamespace(messages=[])
    log = SimpleNamespace(info=lambda *a: None, warning=lambda msg, *a: logged.messages.append(msg % a))
    results = apply_launch_settings(hook, context, "three-tier", "recovery", {}, {}, [DB, WEB1], log)
    assert results == {DB: {"changed": {"subnet": [net["drill-subnet"], net["production-subnet"]]}, "drift": {}}}
    assert pushed["launch_settings"] == results
    assert any("a drill left its launch settings ['subnet']" in m for m in logged.messages)
    state = hook.read(DB)
    assert state.current["subnet"] == net["production-subnet"] and drill_leftovers(state) == {}
    # Settings a recovery applied are not a drill's leftovers.
    hook.apply(DB, {"subnet": net["drill-subnet"]}, "drs-plan three-tier recovery manual__x")
    assert drill_leftovers(hook.read(DB)) == {}
