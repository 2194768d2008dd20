"""The sample plans load, and the model API the DAG factory relies on behaves."""

from __future__ import annotations

import os

import pytest

from airflow_provider_drs.plans import Plan, load_catalogue, load_plan
from airflow_provider_drs.plans.yaml_lines import load_yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
SAMPLES = os.path.join(ROOT, "dags", "plans")


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue(SAMPLES)


def test_samples_are_valid(catalogue):
    assert catalogue.errors == []
    assert {"three-tier", "diamond"} <= set(catalogue.plans)


def test_three_tier(catalogue):
    plan: Plan = catalogue.plans["three-tier"]
    assert plan.dag_id("drill") == "drs_three_tier_drill"
    assert plan.dag_id("recovery") == "drs_three_tier_recovery"
    assert (plan.region, plan.aws_conn_id, plan.rto_minutes) == ("us-east-1", "aws_default", 30)
    assert plan.drill.schedule == "0 6 * * 1" and plan.drill.cleanup == "always"
    assert plan.recovery.approval == "required"
    assert [w.name for w in plan.waves] == ["database", "app", "web"]
    database, app, web = plan.waves
    assert database.static_servers(plan) == ["s-3578f52ef3bdd58b4"]
    assert app.static_servers(plan) == [] and app.tag_selectors(plan) == {"app": {"Tier": "app"}}
    assert web.static_servers(plan) == ["s-3c1730a9e0771ea14", "s-3d75cdc0d9a28a725"]
    assert web.optional == ["s-3d75cdc0d9a28a725"]
    action = database.post[0]
    assert action.kind == "ssm_automation"
    assert action.spec.document == "AWS-RestartEC2Instance"
    assert action.spec.parameters == {"InstanceId": ["{{ instance:s-3578f52ef3bdd58b4 }}"]}
    assert plan.source_file.endswith("three-tier.yaml")
    with pytest.raises(ValueError):
        plan.dag_id("test")


def test_plan_is_frozen(catalogue):
    plan = catalogue.plans["three-tier"]
    with pytest.raises(Exception):
        plan.rto_minutes = 5


def test_defaults_and_pre_reference_to_upstream(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("""version: 1
plan: minimal
region: eu-west-1
rto_minutes: 15
notifications: {sns_topic_arn: "{{ ssm:/dr/topic }}"}
protection_groups:
  a: {servers: [s-3578f52ef3bdd58b4]}
  b: {servers: [s-0e5a9c4b2f7d18e36]}
  c: {servers: [s-3c1730a9e0771ea14]}
waves:
  - name: a
    protection_groups: [a]
  - name: b
    depends_on: [a]
    protection_groups: [b]
  - name: c
    depends_on: [b]
    protection_groups: [c]
    pre:
      - approval: {subject: "Go?"}
      - ssm_command:
          document: AWS-RunShellScript
          instance_ids: ["{{ instance:s-3578f52ef3bdd58b4 }}"]   # two waves up: fine
          parameters: {commands: "echo {{ cfn:Net.VpcId }}", count: 3}
""")
    plan = load_plan(path)
    assert plan.aws_conn_id == "aws_default"
    assert plan.drill.schedule is None and plan.drill.cleanup == "always"
    assert plan.notifications.sns_topic_arn == "{{ ssm:/dr/topic }}"
    command = plan.wave("c").pre[1].spec
    assert command.parameters == {"commands": ["echo {{ cfn:Net.VpcId }}"], "count": ["3"]}


def test_line_numbers_survive_anchors_and_merge_keys():
    doc = load_yaml("base: &b\n  x: 1\nother:\n  <<: *b\n  y: 2\nlist:\n  - a\n  - b\n", "f.yaml")
    assert doc.errors == []
    assert doc.data == {"base": {"x": 1}, "other": {"x": 1, "y": 2}, "list": ["a", "b"]}
    assert doc.lines.line(("other", "y")) == 5
    assert doc.lines.line(("list", 1)) == 8
    assert doc.lines.line(("list", 1, "missing")) == 8


def test_unsafe_tags_are_refused(tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text("version: 1\nplan: !!python/object/apply:os.system ['true']\n")
    catalogue = load_catalogue(path)
    assert catalogue.plans == {}
    assert [(e.line, e.path) for e in catalogue.errors if "YAML" in e.message] == [(2, "plan")]
    path.write_text("version: 1\nplan: !!python/name:os.system\n")
    errors = load_catalogue(path).errors
    assert errors[0].line == 2 and "YAML" in errors[0].message


def test_missing_path_raises():
    with pytest.raises(FileNotFoundError):
        load_catalogue("/nonexistent/plans")


def test_complete_example_in_docs_is_valid(tmp_path):
    with open(os.path.join(ROOT, "docs", "plan-language.md")) as handle:
        doc = handle.read()
    example = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "example.yaml").write_text(example)
    catalogue = load_catalogue(tmp_path)
    assert catalogue.errors == [] and list(catalogue.plans) == ["three-tier"]
    assert catalogue.plans["three-tier"].wave("app").pre[0].kind == "approval"


def test_ready_when_defaults_references_and_schema(tmp_path):
    from airflow_provider_drs.plans.schema import plan_json_schema

    path = tmp_path / "gated.yaml"
    path.write_text("""version: 1
plan: gated
region: us-east-1
rto_minutes: 30
protection_groups:
  db: {servers: [s-3578f52ef3bdd58b4]}
  app: {servers: [s-0e5a9c4b2f7d18e36]}
waves:
  - name: database
    protection_groups: [db]
    ready_when: {ec2_status_ok: true}
  - name: app
    depends_on: [database]
    protection_groups: [app]
    ready_when:
      probes:
        - tcp: "{{ ssm:/dr/db-host }}:5432"
        - http: "http://{{ instance:s-3578f52ef3bdd58b4 }}:8080/"
        - command: "curl -fsS http://{{ instance:s-0e5a9c4b2f7d18e36 }}/ready"
""")
    plan = load_plan(str(path))
    database, app = plan.waves
    assert (database.ready_when.timeout_minutes, database.ready_when.needs_ssm) == (15, False)
    assert app.ready_when.needs_ssm and [p.kind for p in app.ready_when.probes] == ["tcp", "http", "command"]
    schema = str(plan_json_schema())
    assert "ready_when" in schema and "timeout_minutes" in schema and "tcp" in schema
