"""Readiness before a run (`drs-plan check`, and the same checks in preflight) against the simulator."""

from __future__ import annotations

import shutil
from pathlib import Path

import boto3
import pytest

from airflow_provider_drs.cli import main
from airflow_provider_drs.hooks.readiness import duration_seconds

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
