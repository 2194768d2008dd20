"""Native recovery plans as code against the simulator: drs-plan export-native / import-native and
DrsRecoveryPlanHook.sync_plan, counting the write calls the simulator served."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_drs.cli import main
from airflow_provider_drs.exceptions import DrsForeignNativePlan
from airflow_provider_drs.hooks.drs_recovery_plans import PLAN_TAG, DrsRecoveryPlanHook
from airflow_provider_drs.plans import load_plan
from tests.airflow_compat import needs_native_recovery_plans
from tests.native_plans import native_plan_file

pytestmark = needs_native_recovery_plans()

PLANS = Path(__file__).resolve().parents[2] / "dags" / "plans"
WRITES = ("CreateRecoveryPlan", "UpdateRecoveryPlan", "DeleteRecoveryPlan", "CreateRecoveryPlanStep",
          "UpdateRecoveryPlanStep", "DeleteRecoveryPlanStep", "ReorderRecoveryPlanSteps", "TagResource")
DB, APP, WEB_A, WEB_B = "s-3578f52ef3bdd58b4", "s-0e5a9c4b2f7d18e36", "s-3c1730a9e0771ea14", "s-3d75cdc0d9a28a725"


@pytest.fixture
def endpoint(sim, monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": sim.endpoint_url}.items():
        monkeypatch.setenv(name, value)  # the CLI sets AWS_ENDPOINT_URL itself: monkeypatch restores it
    return sim.endpoint_url


def writes_served(sim) -> dict[str, int]:
    calls = sim.control.calls()
    return {op: n for op, n in calls.items() if op.rsplit(".", 1)[-1] in WRITES or op in WRITES}


def hook() -> DrsRecoveryPlanHook:
    return DrsRecoveryPlanHook(aws_conn_id="aws_sim", region_name="us-east-1")


def steps_of(name: str) -> list[tuple[str, object]]:
    h = hook()
    out = []
    for step in h.plan_steps(h.find_plan(name)["recoveryPlanArn"]):
        config = step["configuration"]
        if "waitStepConfiguration" in config:
            out.append((step["stepName"], config["waitStepConfiguration"]["waitDurationMinutes"]))
        else:
            out.append((step["stepName"], [(s["serverArn"].rsplit("/", 1)[1], s["impactLevel"])
                                           for s in config["serverStepConfiguration"]["servers"]]))
    return out


@pytest.mark.parametrize("plan_file, flattened", [("three-tier.yaml", False), ("diamond.yaml", True)])
def test_export_then_import_round_trips(sim, endpoint, capsys, tmp_path, plan_file, flattened):
    plan = load_plan(PLANS / plan_file)
    assert main(["export-native", str(PLANS / plan_file), "--endpoint", endpoint]) == 0
    out, err = capsys.readouterr()
    assert f"CreateRecoveryPlan {plan.name}" in out
    assert ("WARNING waves app, web-a run in parallel in the plan" in err) is flattened
    assert main(["import-native", plan.name, "--endpoint", endpoint, "--region", "us-east-1"]) == 0
    text = capsys.readouterr().out
    back_file = tmp_path / "back.yaml"
    back_file.write_text(text)
    assert main(["validate", str(back_file)]) == 0  # the imported YAML validates unchanged
    back = load_plan(back_file)
    tags = {"app": [APP]}  # three-tier's tag-selected group, as the simulator's inventory resolves it
    order = [w.name for w in plan.waves] if not flattened else ["core", "app", "web-a", "web-b"]
    assert [w.name for w in back.waves] == order
    for wave in back.waves:
        original = plan.wave(wave.name)
        servers = original.static_servers(plan) + [s for g in original.tag_selectors(plan) for s in tags[g]]
        assert wave.static_servers(back) == servers
        assert set(wave.optional) == set(original.optional)
    assert "# EC2AMAZ-FQTJG64" in text  # hostnames as comments


def test_a_second_export_makes_no_write(sim, endpoint, capsys):
    plan = PLANS / "three-tier.yaml"
    assert main(["export-native", str(plan), "--endpoint", endpoint]) == 0
    capsys.readouterr()
    before = writes_served(sim)
    assert sum(before.values()) == 1 + 3  # the plan and its three steps: in plan order, no reorder
    assert main(["export-native", str(plan), "--endpoint", endpoint]) == 0
    assert "native plan three-tier is up to date with plan three-tier (3 steps)" in capsys.readouterr().out
    assert writes_served(sim) == before
    loaded = load_plan(plan)
    from airflow_provider_drs.plans.native import native_description, plan_to_native

    servers = hook().source_servers()
    export = plan_to_native(loaded, {s: v["arn"] for s, v in servers.items()}, {"app": [APP]})
    sync = hook().sync_plan("three-tier", export.steps, plan_name="three-tier", plan_file=str(plan),
                            description=native_description(loaded))
    assert sync.writes == [] and writes_served(sim) == before


BASE = """version: 1
plan: shop
description: shop
region: us-east-1
rto_minutes: 30
protection_groups:
  db: {servers: [s-3578f52ef3bdd58b4]}
  app: {servers: [s-0e5a9c4b2f7d18e36, s-3c1730a9e0771ea14]}
  web: {servers: [s-3d75cdc0d9a28a725]}
waves:
  - name: db
    protection_groups: [db]
  - name: app
    depends_on: [db]
    delay_minutes: 5
    protection_groups: [app]
  - name: web
    depends_on: [app]
    protection_groups: [web]
"""


def export(tmp_path, endpoint, capsys, text: str, *extra: str) -> tuple[int, list[str], str]:
    path = tmp_path / "shop.yaml"
    path.write_text(text)
    capsys.readouterr()  # what the test's own hook calls logged
    code = main(["export-native", str(path), "--endpoint", endpoint, *extra])
    out, err = capsys.readouterr()
    assert "[info" not in out, out  # stdout is the writes alone
    return code, [line.split(":")[0] for line in out.splitlines() if not line.startswith("native plan ")], err


def test_a_changed_plan_syncs_step_by_step(sim, endpoint, capsys, tmp_path):
    code, writes, _ = export(tmp_path, endpoint, capsys, BASE)
    assert code == 0 and writes == ["CreateRecoveryPlan shop", "CreateRecoveryPlanStep shop/db",
                                    "CreateRecoveryPlanStep shop/wait before app", "CreateRecoveryPlanStep shop/app",
                                    "CreateRecoveryPlanStep shop/web"]
    assert steps_of("shop") == [("db", [(DB, "CRITICAL")]), ("wait before app", 5),
                                ("app", [(APP, "CRITICAL"), (WEB_A, "CRITICAL")]), ("web", [(WEB_B, "CRITICAL")])]

    # A server moves from app to web (and becomes optional there); the delay changes.
    moved = BASE.replace("servers: [s-0e5a9c4b2f7d18e36, s-3c1730a9e0771ea14]", "servers: [s-0e5a9c4b2f7d18e36]")
    moved = moved.replace("web: {servers: [s-3d75cdc0d9a28a725]}",
                          "web: {servers: [s-3d75cdc0d9a28a725, s-3c1730a9e0771ea14]}")
    moved = moved.replace("delay_minutes: 5", "delay_minutes: 9").replace(
        "    protection_groups: [web]", "    protection_groups: [web]\n    optional: [s-3c1730a9e0771ea14]")
    before = writes_served(sim)
    code, writes, _ = export(tmp_path, endpoint, capsys, moved)
    assert code == 0 and writes == ["UpdateRecoveryPlanStep shop/wait before app", "UpdateRecoveryPlanStep shop/app",
                                    "UpdateRecoveryPlanStep shop/web"]
    after = writes_served(sim)
    assert sum(after.values()) - sum(before.values()) == 3
    assert steps_of("shop")[1:] == [("wait before app", 9), ("app", [(APP, "CRITICAL")]),
                                    ("web", [(WEB_B, "CRITICAL"), (WEB_A, "OPTIONAL")])]

    # A wave added in the middle, the delay removed: a create, a delete, a reorder.
    added = moved.replace("    delay_minutes: 9\n", "").replace("""  - name: web
    depends_on: [app]""", """  - name: cache
    depends_on: [app]
    protection_groups: [cache]
  - name: web
    depends_on: [cache]""").replace("  web: {", "  cache: {servers: [s-0e5a9c4b2f7d18e36]}\n  web: {").replace(
        "app: {servers: [s-0e5a9c4b2f7d18e36]}", "app: {servers: [s-3578f52ef3bdd58b4]}").replace(
        "db: {servers: [s-3578f52ef3bdd58b4]}", "db: {servers: [s-3d75cdc0d9a28a725]}").replace(
        "web: {servers: [s-3d75cdc0d9a28a725, s-3c1730a9e0771ea14]}", "web: {servers: [s-3c1730a9e0771ea14]}").replace(
        "    optional: [s-3c1730a9e0771ea14]\n", "")
    code, writes, err = export(tmp_path, endpoint, capsys, added)
    assert code == 0, err
    assert writes[0] == "DeleteRecoveryPlanStep shop/wait before app"
    assert "CreateRecoveryPlanStep shop/cache" in writes and writes[-1] == "ReorderRecoveryPlanSteps shop"
    assert steps_of("shop") == [("db", [(WEB_B, "CRITICAL")]), ("app", [(DB, "CRITICAL")]),
                                ("cache", [(APP, "CRITICAL")]), ("web", [(WEB_A, "CRITICAL")])]

    # A wave removed: one delete.
    removed = BASE.replace("""  - name: web
    depends_on: [app]
    protection_groups: [web]
""", "").replace("  web: {servers: [s-3d75cdc0d9a28a725]}\n", "")
    code, writes, _ = export(tmp_path, endpoint, capsys, removed)
    assert code == 0 and "DeleteRecoveryPlanStep shop/web" in writes
    assert [name for name, _ in steps_of("shop")] == ["db", "wait before app", "app"]
    assert export(tmp_path, endpoint, capsys, removed)[1] == []  # and then up to date


def test_dry_run_lists_the_writes_and_makes_none(sim, endpoint, capsys, tmp_path):
    code, writes, _ = export(tmp_path, endpoint, capsys, BASE, "--dry-run")
    assert code == 0 and writes[0] == "would CreateRecoveryPlan shop" and len(writes) == 5
    assert writes_served(sim) == {} and hook().find_plan("shop") is None


def test_a_native_plan_drs_plan_did_not_make_is_refused_unless_adopted(sim, endpoint, capsys, tmp_path):
    drs = sim.client("drs")
    foreign = drs.create_recovery_plan(name="shop", description="made in the console")["recoveryPlan"]
    drs.create_recovery_plan_step(recoveryPlanArn=foreign["recoveryPlanArn"], stepName="by hand", configuration={
        "waitStepConfiguration": {"waitDurationMinutes": 3}})
    before = writes_served(sim)
    code, writes, err = export(tmp_path, endpoint, capsys, BASE)
    assert code == 1 and writes == []
    assert "refused: Refusing to change the native recovery plan 'shop'" in err
    assert f"it has no {PLAN_TAG} tag: drs-plan did not make it" in err and "--adopt" in err
    assert writes_served(sim) == before
    with pytest.raises(DrsForeignNativePlan):
        hook().sync_plan("shop", [], plan_name="other", plan_file=None, description="x")

    code, writes, _ = export(tmp_path, endpoint, capsys, BASE, "--adopt")
    assert code == 0 and writes[:3] == ["TagResource shop", "UpdateRecoveryPlan shop",
                                        "DeleteRecoveryPlanStep shop/by hand"]
    assert hook().get_plan(foreign["recoveryPlanArn"])["tags"][PLAN_TAG] == "shop"
    assert [name for name, _ in steps_of("shop")] == ["db", "wait before app", "app", "web"]
    # Now it is this plan's: another plan's export of that name is refused, naming the owner.
    code, _, err = export(tmp_path, endpoint, capsys, BASE.replace("plan: shop", "plan: other"), "--name", "shop")
    assert code == 1 and "drs-plan made it for the plan 'shop'" in err


def test_a_plan_that_does_not_fit_is_refused_before_any_call_that_writes(sim, endpoint, capsys, tmp_path):
    code, writes, err = export(tmp_path, endpoint, capsys, BASE.replace("delay_minutes: 5", "delay_minutes: 150"))
    assert code == 1 and writes[0].endswith("shop.yaml")
    assert "does not fit a DRS native recovery plan" in err
    assert writes_served(sim) == {}


def test_a_plan_that_runs_a_native_plan_has_nothing_to_export_and_writes_nothing(sim, endpoint, capsys, tmp_path):
    path = tmp_path / "nat.yaml"
    path.write_text(native_plan_file("nat"))
    assert main(["export-native", str(path), "--endpoint", endpoint]) == 2
    err = capsys.readouterr().err
    assert f"plan nat ({path}) has no waves to export: it runs the DRS native recovery plan 'three-tier'" in err
    assert writes_served(sim) == {}  # until then it made an empty, INVALID native plan named nat


def test_import_of_an_unknown_name_exits_1(sim, endpoint, capsys):
    assert main(["import-native", "nope", "--endpoint", endpoint, "--region", "us-east-1"]) == 1
    assert "no native recovery plan named 'nope' in us-east-1" in capsys.readouterr().err


def test_a_step_deleted_by_hand_is_created_again_not_replayed(sim, endpoint, capsys, tmp_path):
    one = BASE.split("  - name: app")[0].replace("  app: {servers: [s-0e5a9c4b2f7d18e36, s-3c1730a9e0771ea14]}\n", "")
    one = one.replace("  web: {servers: [s-3d75cdc0d9a28a725]}\n", "")
    assert export(tmp_path, endpoint, capsys, one)[:2] == (0, ["CreateRecoveryPlan shop", "CreateRecoveryPlanStep shop/db"])
    h = hook()
    (step,) = h.plan_steps(h.find_plan("shop")["recoveryPlanArn"])
    sim.client("drs").delete_recovery_plan_step(recoveryPlanStepArn=step["recoveryPlanStepArn"])
    # Same plan, same step, same (empty) plan around it: still a new request, since the plan changed.
    code, writes, err = export(tmp_path, endpoint, capsys, one)
    assert (code, writes) == (0, ["CreateRecoveryPlanStep shop/db"]), err
    assert steps_of("shop") == [("db", [(DB, "CRITICAL")])]
