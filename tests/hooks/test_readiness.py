"""Readiness before a run (`drs-plan check`, and the same checks in preflight) against the simulator."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import boto3
import pytest

from airflow_provider_drs.cli import main
from airflow_provider_drs.hooks.readiness import duration_seconds
from tests.airflow_compat import needs_native_recovery_plans
from tests.native_plans import create_native_plan
from tests.served import served

REPO = Path(__file__).resolve().parents[2]
DB, APP, WEB1, WEB2 = "s-3578f52ef3bdd58b4", "s-0e5a9c4b2f7d18e36", "s-3c1730a9e0771ea14", "s-3d75cdc0d9a28a725"


@pytest.fixture
def plans(tmp_path):
    folder = tmp_path / "plans"
    shutil.copytree(REPO / "dags" / "plans", folder)
    return folder


@pytest.fixture
def endpoint(sim, monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # `check --endpoint` sets it for the process
    yield sim.endpoint_url


def check(plans, endpoint, plan="three-tier", *extra) -> int:
    return main(["check", plan, "--plans", str(plans), "--endpoint", endpoint, *extra])


def test_a_ready_plan_passes(plans, endpoint, capsys):
    assert check(plans, endpoint) == 0
    out = capsys.readouterr().out
    assert "ready for a drill" in out and "PROBLEM" not in out
    assert out.count("CONTINUOUS") == 4


def test_a_stalled_server_and_a_busy_one_are_both_named(plans, endpoint, sim, capsys):
    sim.control.set_replication(APP, "STALLED", "PT3H")
    sim.control.set_time_scale(5.0)  # the other job stays active (about 30 s) while the check runs, even on a busy CI
    drs = boto3.client("drs", endpoint_url=endpoint, region_name="us-east-1")
    job = drs.start_recovery(isDrill=True, sourceServers=[{"sourceServerID": WEB1}])["job"]["jobID"]

    assert check(plans, endpoint) == 1
    captured = capsys.readouterr()
    problems = [line for line in captured.out.splitlines() if line.startswith("PROBLEM")]
    assert any(APP in p and "replication is STALLED" in p for p in problems), problems
    assert any(APP in p and "lag PT3H is over the plan's RPO of 15 min" in p for p in problems), problems
    assert any(WEB1 in p and job in p for p in problems), problems
    assert not any(DB in p or WEB2 in p for p in problems)
    assert "NOT READY: 3 problem(s)" in captured.err
    row = next(line for line in captured.out.splitlines() if APP in line and "STALLED" in line)
    assert "replication, rpo" in row


def test_before_a_recovery_the_same_findings_only_warn(plans, endpoint, sim, capsys):
    sim.control.set_replication(APP, "STALLED", "PT3H")
    assert check(plans, endpoint, "three-tier", "--mode", "recovery") == 0
    out = capsys.readouterr().out
    assert "WARNING replication" in out and "ready for a recovery (2 warning(s))" in out


def test_the_plan_can_make_a_check_a_warning(plans, endpoint, sim, capsys):
    path = plans / "three-tier.yaml"
    path.write_text(path.read_text().replace("drill:\n", "drill:\n  readiness_warnings: [rpo, replication]\n", 1))
    sim.control.set_replication(APP, "STALLED", "PT3H")
    assert check(plans, endpoint) == 0
    assert "WARNING rpo" in capsys.readouterr().out


def test_missing_document_topic_and_server_are_problems(plans, endpoint, sim, capsys):
    path = plans / "three-tier.yaml"
    text = path.read_text().replace("AWS-RestartEC2Instance", "Corp-RestartApp")
    path.write_text(text.replace("{{ ssm:/dr/notify-topic }}", "arn:aws:sns:us-east-1:123456789012:gone"))
    diamond = plans / "diamond.yaml"
    diamond.write_text(diamond.read_text().replace(DB, "s-00000000000000000", 1))
    assert check(plans, endpoint) == 1
    out = capsys.readouterr().out
    assert "PROBLEM document: SSM document Corp-RestartApp does not exist in us-east-1" in out
    assert "PROBLEM topic: SNS topic arn:aws:sns:us-east-1:123456789012:gone does not exist" in out
    assert check(plans, endpoint, "diamond") == 1
    assert "PROBLEM missing: s-00000000000000000" in capsys.readouterr().out


def test_an_unresolvable_topic_reference_is_named(plans, endpoint, capsys):
    path = plans / "three-tier.yaml"
    path.write_text(path.read_text().replace("ssm:/dr/notify-topic", "ssm:/dr/no-such-parameter"))
    assert check(plans, endpoint) == 1
    assert "SSM parameter /dr/no-such-parameter not found" in capsys.readouterr().out


@pytest.mark.parametrize(("text", "seconds"), [("PT0S", 0), ("PT2S", 2), ("PT1H2M3S", 3723), ("P1DT2H", 93600),
                                               ("PT0.5S", 0.5), ("", None), ("P", None), ("5 minutes", None)])
def test_lag_durations(text, seconds):
    assert duration_seconds(text) == seconds


@needs_native_recovery_plans()
def test_a_plan_that_runs_a_native_plan_is_checked_on_the_native_plans_servers(plans, endpoint, sim, capsys):
    create_native_plan(endpoint, "three-tier", [("db", {DB: "CRITICAL"}), ("settle", 5),
                                                ("app", {APP: "CRITICAL", WEB1: "OPTIONAL"})])
    (plans / "nat.yaml").write_text("version: 1\nplan: nat\nregion: us-east-1\nrto_minutes: 30\nnative_plan: three-tier\n")
    sim.control.set_replication(APP, "STALLED", "PT3H")
    assert check(plans, endpoint, "nat") == 1
    out = capsys.readouterr().out
    rows = {line.split()[1]: line.split()[0] for line in out.splitlines() if line.startswith(("db ", "app "))}
    assert rows == {DB: "db", APP: "app", WEB1: "app"}  # each server step is a wave; the wait step is none
    assert any(line.startswith("PROBLEM replication") and APP in line for line in out.splitlines()), out

    (plans / "nat.yaml").write_text((plans / "nat.yaml").read_text().replace("three-tier", "nope"))
    assert check(plans, endpoint, "nat") == 1  # until then: an empty table and "ready for a drill"
    assert "PROBLEM plan: DRS native recovery plan 'nope' not found in us-east-1" in capsys.readouterr().out


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    [line] = [line for line in err.splitlines() if line.startswith("drs-plan")]
    return line


def test_aws_failures_are_one_line_saying_what_to_do(plans, endpoint, monkeypatch, capsys):
    assert check(plans, "http://127.0.0.1:9") == 2  # nothing listens there
    assert _one_error_line(capsys) == (
        'drs-plan check: error: Could not connect to the endpoint URL: "http://127.0.0.1:9/DescribeSourceServers": '
        "check the endpoint URL and the network (for drs-sim: is `drs-sim serve` running?)")

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert check(plans, endpoint) == 2
    assert _one_error_line(capsys).startswith("drs-plan check: error: Unable to locate credentials: give the Airflow "
                                              "connection credentials (--conn), or export AWS_ACCESS_KEY_ID")

    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    assert main(["discover", "--endpoint", endpoint, "--plans-dir", str(plans)]) == 2
    assert _one_error_line(capsys).endswith(
        "no AWS region: pass --region, set AWS_DEFAULT_REGION, or give the connection a region_name")


def test_a_plan_naming_a_connection_airflow_lacks_is_refused(plans, sim, monkeypatch, capsys):
    path = plans / "three-tier.yaml"
    path.write_text(path.read_text().replace("aws_conn_id: aws_default", "aws_conn_id: dr_prod"))
    assert main(["check", "three-tier", "--plans", str(plans)]) == 2
    assert _one_error_line(capsys).startswith("drs-plan: error: Airflow connection 'dr_prod' not found, and without "
                                              "it the AWS calls would go to whatever account the default credentials")
    assert served(sim) == {}

    monkeypatch.setenv("AIRFLOW_CONN_DR_PROD", json.dumps({
        "conn_type": "aws", "login": "testing", "password": "testing",
        "extra": {"endpoint_url": sim.endpoint_url, "region_name": "us-east-1"}}))
    assert main(["check", "three-tier", "--plans", str(plans)]) == 0
    assert "ready for a drill" in capsys.readouterr().out
