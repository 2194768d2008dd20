from __future__ import annotations

import json
import re
import os

import pytest

from airflow_provider_drs.cli import COMMANDS, main
from airflow_provider_drs.plans import plan_json_schema

from .test_valid_plans import ROOT, SAMPLES

BROKEN = os.path.join(os.path.dirname(__file__), "broken")


def test_validate_samples_exits_0(capsys):
    assert main(["validate", SAMPLES]) == 0
    out = capsys.readouterr().out
    assert ("ok three-tier: 3 waves, 3 servers (1 tag group), rto 30 min -> "
            "drs_three_tier_drill, drs_three_tier_recovery") in out
    assert "ok diamond: 4 waves, 4 servers, rto 45 min" in out


def test_validate_broken_exits_1_and_prints_every_error(capsys):
    path = os.path.join(BROKEN, "several_errors.yaml")
    assert main(["validate", path, os.path.join(SAMPLES, "three-tier.yaml")]) == 1
    captured = capsys.readouterr()
    lines = [line for line in captured.out.splitlines() if line.startswith(path)]
    assert len(lines) == 8
    assert f"{path}:17: waves[1].depends_on[0]: unknown wave 'databse' (hint: did you mean 'database'?" in captured.out
    assert "ok three-tier" in captured.out  # valid plans still reported
    assert "8 error(s) in 1 file(s)" in captured.err


def test_validate_github_and_json_formats(capsys):
    path = os.path.join(BROKEN, "unknown_wave.yaml")
    assert main(["validate", "--format", "github", path]) == 1
    assert f"::error file={path},line=12::waves[1].depends_on[0]: unknown wave" in capsys.readouterr().out
    assert main(["validate", "--format", "json", path]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False and data["errors"][0]["line"] == 12


def test_usage_errors_exit_2(capsys, tmp_path):
    assert main(["validate", "/nonexistent"]) == 2
    assert main(["validate", str(tmp_path)]) == 2
    with pytest.raises(SystemExit) as info:
        main(["nope"])
    assert info.value.code == 2


def test_graph_mermaid_and_text(capsys, monkeypatch):
    assert main(["graph", os.path.join(SAMPLES, "diamond.yaml")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("flowchart LR\n")
    assert '    w0["core<br/>1 server"]' in out
    assert "    w0 --> w1" in out and "    w2 --> w3" in out
    monkeypatch.chdir(ROOT)
    assert main(["graph", "three-tier", "--format", "text"]) == 0
    out = capsys.readouterr().out
    assert "    database: 1 server, post: ssm_automation\n        app: tags Tier=app\n" in out
    assert "critical path: database -> app -> web" in out
    assert main(["graph", "missing-plan"]) == 2
    assert main(["graph", os.path.join(BROKEN, "cycle.yaml")]) == 1


def test_graph_of_one_of_the_plans_dags(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert main(["graph", "three-tier", "--dag", "cleanup"]) == 0
    assert capsys.readouterr().out == 'flowchart LR\n    t0["clear_leftover_drill_instances"]\n'
    assert main(["graph", "three-tier", "--dag", "failback"]) == 0
    out = capsys.readouterr().out
    assert 'subgraph g0["app"]' in out and '["wait_for_replication"]' in out


def test_schema(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema == json.loads(json.dumps(plan_json_schema()))
    plan = schema["$defs"]["PlanDocument"]
    assert {"version", "plan", "region", "rto_minutes"} <= set(plan["required"])
    assert plan["oneOf"] == [{"required": ["waves"]}, {"required": ["native_plan"]}]
    assert plan["additionalProperties"] is False
    assert "source_file" not in plan["properties"]
    group = schema["$defs"]["ProtectionGroup"]
    assert group["properties"]["servers"]["items"]["pattern"] == "^s-[0-9a-zA-Z]{17}$"


def test_subcommands_are_a_list_to_extend():
    assert [c.name for c in COMMANDS][:3] == ["validate", "graph", "schema"]


def test_plans_package_is_pure_python():
    folder = os.path.join(ROOT, "airflow_provider_drs", "plans")
    banned = re.compile(r"^\s*(import|from)\s+(airflow|boto3|botocore|aiobotocore)\b", re.MULTILINE)
    for name in os.listdir(folder):
        if name.endswith(".py"):
            with open(os.path.join(folder, name)) as handle:
                assert not banned.search(handle.read()), f"{name} imports Airflow or AWS SDK code"
