"""plans/native.py: a plan as native recovery plan steps and back, with no AWS (pure functions)."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_drs.hooks.native_plan_sync import diff_steps
from airflow_provider_drs.plans import load_plan
from airflow_provider_drs.plans.native import (
    NativeStep, native_to_plan_yaml, plan_to_native, server_id_of, wait_step_name)

PLANS = Path(__file__).resolve().parents[2] / "dags" / "plans"
DB, APP, WEB_A, WEB_B = "s-3578f52ef3bdd58b4", "s-0e5a9c4b2f7d18e36", "s-3c1730a9e0771ea14", "s-3d75cdc0d9a28a725"


def arn(server: str) -> str:
    return f"arn:aws:drs:us-east-1:123456789012:source-server/{server}"


ARNS = {s: arn(s) for s in (DB, APP, WEB_A, WEB_B)}


def write(tmp_path, text: str, name: str = "p.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return load_plan(path)


def test_three_tier_is_three_server_steps_in_dependency_order_with_the_tag_group_resolved():
    export = plan_to_native(load_plan(PLANS / "three-tier.yaml"), ARNS, {"app": [APP]})
    assert not export.errors
    assert [s.name for s in export.steps] == ["database", "app", "web"]
    assert export.steps[0].servers == ((arn(DB), "CRITICAL"),)
    assert export.steps[1].servers == ((arn(APP), "CRITICAL"),)
    assert export.steps[2].servers == ((arn(WEB_A), "CRITICAL"), (arn(WEB_B), "OPTIONAL"))
    text = "\n".join(export.warnings)
    for lost in ("pre/post action", "approval is not exported", "drill cleanup (always)", "drill schedule",
                 "notifications", "rto_minutes (30) and rpo_minutes (15)", "selects servers by tags {'Tier': 'app'}"):
        assert lost in text
    assert "parallel" not in text


def test_diamond_is_flattened_saying_which_branches():
    export = plan_to_native(load_plan(PLANS / "diamond.yaml"), ARNS)
    assert [s.name for s in export.steps] == ["core", "app", "web-a", "web-b"]
    assert any("waves app, web-a run in parallel in the plan" in w for w in export.warnings)


PLAN = """version: 1
plan: lab
region: us-east-1
rto_minutes: 20
protection_groups:
  a: {servers: [s-3578f52ef3bdd58b4]}
  b: {tags: {Tier: many}}
waves:
  - name: first
    protection_groups: [a]
  - name: second
    depends_on: [first]
    delay_minutes: 15
    protection_groups: [b]
"""


def test_a_delay_is_a_wait_step_before_its_wave(tmp_path):
    export = plan_to_native(write(tmp_path, PLAN), ARNS, {"b": [APP]})
    assert not export.errors
    assert [(s.name, s.wait_minutes) for s in export.steps] == [
        ("first", None), (wait_step_name("second"), 15), ("second", None)]
    assert export.steps[1].configuration() == {"waitStepConfiguration": {"waitDurationMinutes": 15}}


def test_what_drs_would_refuse_is_an_error_at_its_line(tmp_path):
    many = {f"s-{i:017d}": arn(f"s-{i:017d}") for i in range(101)}
    text = PLAN.replace("delay_minutes: 15", "delay_minutes: 121")
    export = plan_to_native(write(tmp_path, text), {**ARNS, **many}, {"b": list(many)})
    messages = [str(e) for e in export.errors]
    assert any(m.startswith(f"{tmp_path / 'p.yaml'}:13: waves[1].delay_minutes: a native wait step lasts at most "
                            "120 minutes, not 121") for m in messages), messages
    assert any(":11: waves[1].name: wave 'second' has 101 servers; a native server step holds at most 100" in m
               for m in messages), messages
    unknown = plan_to_native(write(tmp_path, PLAN), {}, {"b": []})
    assert [e.message for e in unknown.errors] == [
        "server s-3578f52ef3bdd58b4 of wave 'first' is not a DRS source server in this account and region",
        "wave 'second' selects no server now (its tag-selected groups match nothing)"]


def test_more_than_20_steps_counting_wait_steps_is_an_error(tmp_path):
    servers = [f"s-{i:017d}" for i in range(11)]
    groups = "".join(f"  g{i}: {{servers: [{s}]}}\n" for i, s in enumerate(servers))
    waves = "".join(f"  - {{name: w{i}, delay_minutes: 1, protection_groups: [g{i}]}}\n" for i in range(11))
    text = f"version: 1\nplan: long\nregion: us-east-1\nrto_minutes: 20\nprotection_groups:\n{groups}waves:\n{waves}"
    export = plan_to_native(write(tmp_path, text), {s: arn(s) for s in servers})
    assert [str(e).split(": ", 1)[1] for e in export.errors] == [
        "waves: the native plan would have 22 steps (11 waves, 11 wait steps); DRS allows 20 "
        "(hint: merge waves or drop delay_minutes, or keep this plan in Airflow only)"]
    ten = text.replace("  - {name: w10, delay_minutes: 1, protection_groups: [g10]}\n", "").replace(
        f"  g10: {{servers: [{servers[10]}]}}\n", "")
    assert not plan_to_native(write(tmp_path, ten), {s: arn(s) for s in servers}).errors  # exactly 20


def api_step(order: int, step: NativeStep) -> dict:
    return {"recoveryPlanStepArn": f"arn:aws:drs:us-east-1:123456789012:recovery-plan/rp-1/step/{order}",
            "stepOrder": order, "stepName": step.name, "configuration": step.configuration()}


def test_import_writes_a_plan_that_validates(tmp_path):
    steps = [NativeStep("Database tier", servers=((arn(DB), "CRITICAL"),)),
             NativeStep("pause", wait_minutes=10),
             NativeStep("App and web", servers=((arn(APP), "CRITICAL"), (arn(WEB_A), "OPTIONAL"))),
             NativeStep("cool down", wait_minutes=5)]
    native = {"name": "Prod DR", "recoveryPlanArn": "arn:aws:drs:us-east-1:123456789012:recovery-plan/rp-1"}
    text, warnings = native_to_plan_yaml(native, [api_step(i, s) for i, s in enumerate(steps, 1)], "us-east-1",
                                         {DB: "db01.example.com"})
    plan = write(tmp_path, text, "imported.yaml")
    assert plan.name == "Prod-DR"
    assert [(w.name, list(w.depends_on), w.delay_minutes) for w in plan.waves] == [
        ("Database-tier", [], None), ("App-and-web", ["Database-tier"], 10)]
    assert plan.wave("App-and-web").static_servers(plan) == [APP, WEB_A]
    assert list(plan.wave("App-and-web").optional) == [WEB_A]
    assert f"- {DB}   # db01.example.com" in text
    assert "REVIEW" in text and "ends with a wait of 5 minute(s)" in text
    assert any("5-minute wait step" in w for w in warnings)


def test_round_trip_of_three_tier_keeps_order_servers_and_optional_sets(tmp_path):
    plan = load_plan(PLANS / "three-tier.yaml")
    export = plan_to_native(plan, ARNS, {"app": [APP]})
    text, _ = native_to_plan_yaml({"name": plan.name}, [api_step(i, s) for i, s in enumerate(export.steps, 1)],
                                  plan.region)
    back = write(tmp_path, text, "back.yaml")
    assert [w.name for w in back.waves] == ["database", "app", "web"]
    assert [w.static_servers(back) for w in back.waves] == [[DB], [APP], [WEB_A, WEB_B]]
    assert [list(w.optional) for w in back.waves] == [[], [], [WEB_B]]


def test_server_id_of_arn():
    assert server_id_of(arn(DB)) == DB
    with pytest.raises(ValueError):
        server_id_of("arn:aws:drs:us-east-1:123456789012:recovery-plan/rp-1")


def test_step_diff_writes_only_what_differs_and_frees_a_server_before_another_step_takes_it():
    a, b = NativeStep("a", servers=((arn(DB), "CRITICAL"),)), NativeStep("b", servers=((arn(APP), "CRITICAL"),))
    existing = [api_step(1, a), api_step(2, b)]
    same = diff_steps(existing, [a, b])
    assert (same.delete, same.update, same.create, same.reorder_needed([a, b])) == ([], [], [], False)
    # DB moves from a to b: a must let it go first, whatever the plan order.
    a2 = NativeStep("a", servers=((arn(WEB_A), "CRITICAL"),))
    b2 = NativeStep("b", servers=((arn(APP), "CRITICAL"), (arn(DB), "CRITICAL")))
    moved = diff_steps(existing, [b2, a2])
    assert [s.name for _, s in moved.update] == ["a", "b"] and moved.reorder_needed([b2, a2])
    # a and b trade servers: no update order works; one becomes a delete and a create.
    swap = diff_steps(existing, [NativeStep("a", servers=b.servers), NativeStep("b", servers=a.servers)])
    assert [s["stepName"] for s in swap.delete] == ["a"] and [s.name for s in swap.create] == ["a"]
    assert [s.name for _, s in swap.update] == ["b"]
    # A step whose type changes is replaced (DRS: a step's type is immutable).
    typed = diff_steps(existing, [NativeStep("a", wait_minutes=3), b])
    assert [s["stepName"] for s in typed.delete] == ["a"] and [s.name for s in typed.create] == ["a"]
