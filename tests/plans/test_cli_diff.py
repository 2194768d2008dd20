"""`drs-plan diff` against the simulator: what differs, what is drift, exit codes 0 / 1 / 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_drs.cli import main
from airflow_provider_drs.hooks.drs_launch_settings import LaunchSettingsHook

PLAN = str(Path(__file__).parents[1] / "e2e" / "dags" / "launch_plans" / "isolated-drill.yaml")
DB = "s-3578f52ef3bdd58b4"


@pytest.fixture
def endpoint(sim, monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": sim.endpoint_url}.items():
        monkeypatch.setenv(name, value)  # diff sets AWS_ENDPOINT_URL itself: monkeypatch restores it
    return sim.endpoint_url


def test_diff_shows_changes_then_nothing_then_drift(sim, endpoint, capsys):
    net = sim.simulation.drs.network["us-east-1"]
    assert main(["diff", PLAN, "--endpoint", endpoint]) == 1
    out = capsys.readouterr().out
    assert f"{DB} private_ip: auto -> copy" in out and "DRIFT" not in out
    assert main(["diff", PLAN, "--endpoint", endpoint, "--mode", "drill"]) == 1
    drill = capsys.readouterr().out
    assert f"{DB} subnet: {net['production-subnet']} -> {net['drill-subnet']}" in drill
    assert "s-0e5a9c4b2f7d18e36 instance_type: t3.medium -> t3.small" in drill  # the tag-selected group
    calls = dict(sim.control.calls())
    assert not {op for op in calls if op.endswith(("UpdateLaunchConfiguration", "CreateLaunchTemplateVersion"))}

    hook = LaunchSettingsHook(aws_conn_id="aws_sim", region_name="us-east-1")
    hook.apply(DB, {"subnet": net["production-subnet"], "security_groups": [net["production-sg"]],
                    "private_ip": "copy"}, "drs-plan isolated-drill recovery r1")
    hook.apply("s-0e5a9c4b2f7d18e36", {"launch_disposition": "STARTED", "right_sizing": "NONE"},
               "drs-plan isolated-drill recovery r1")
    assert main(["diff", PLAN, "--endpoint", endpoint]) == 0
    assert "launch settings match plan isolated-drill (recovery)" in capsys.readouterr().out

    sim.client("drs").update_launch_configuration(sourceServerID=DB, copyPrivateIp=False)
    assert main(["diff", PLAN, "--endpoint", endpoint]) == 1
    assert f"{DB} private_ip: auto -> copy  DRIFT: the plan applied copy" in capsys.readouterr().out


def test_diff_exit_2_on_an_invalid_plan_or_a_server_missing_from_drs(sim, endpoint, capsys, tmp_path):
    broken = Path(__file__).parent / "broken" / "launch_bad_values.yaml"
    assert main(["diff", str(broken), "--endpoint", endpoint]) == 2
    missing = tmp_path / "missing.yaml"
    missing.write_text(Path(PLAN).read_text().replace(DB, "s-00000000000000000"))
    assert main(["diff", str(missing), "--endpoint", endpoint]) == 2
    assert "source server s-00000000000000000 of plan isolated-drill is not in DRS" in capsys.readouterr().err
