"""`drs-plan discover` against the simulator over HTTP: the draft validates unchanged, on the
default inventory and on a 300-server one (several pages, waves over the per-job limit), marks
servers other plans recover and servers that are not ready, and fails with one line and exit 2."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from airflow_provider_drs.cli import main
from airflow_provider_drs.plans import load_plan
from airflow_provider_drs.simulator import simulator

PLANS = Path(__file__).parents[2] / "dags" / "plans"
DB, APP, WEB1, WEB2 = "s-3578f52ef3bdd58b4", "s-0e5a9c4b2f7d18e36", "s-3c1730a9e0771ea14", "s-3d75cdc0d9a28a725"


def _endpoint_env(monkeypatch, url: str) -> str:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": url}.items():
        monkeypatch.setenv(name, value)  # discover sets AWS_ENDPOINT_URL itself: monkeypatch restores it
    return url


@pytest.fixture
def endpoint(sim, monkeypatch):
    return _endpoint_env(monkeypatch, sim.endpoint_url)


@pytest.fixture
def no_plans(tmp_path):
    folder = tmp_path / "no-plans"
    folder.mkdir()
    return str(folder)


def _discover(capsys, tmp_path, *args) -> tuple[Path, str]:
    """Run discover, write its stdout to a file, check `drs-plan validate` takes it unchanged."""
    assert main(["discover", *args]) == 0, capsys.readouterr().err
    text = capsys.readouterr().out
    draft = tmp_path / "draft.yaml"
    draft.write_text(text)
    assert main(["validate", str(draft)]) == 0, capsys.readouterr().out
    capsys.readouterr()
    return draft, text


def _line_of(text: str, server: str) -> str:
    return next(line for line in text.splitlines() if line.strip().startswith(f"- {server}"))


def test_default_inventory_one_group_per_server_in_one_wave(sim, endpoint, capsys, tmp_path, no_plans):
    draft, text = _discover(capsys, tmp_path, "--endpoint", endpoint, "--plans-dir", no_plans)
    plan = load_plan(draft)
    assert plan.region == "us-east-1" and plan.name == "discovered"
    assert [w.name for w in plan.waves] == ["all"]
    assert sorted(plan.static_servers()) == sorted([DB, APP, WEB1, WEB2])
    assert set(plan.protection_groups) == {"ec2amaz-fqtjg64", "ec2amaz-h0jbe4j", "ec2amaz-4imb9pn", "ec2amaz-rlp9u5v"}
    assert re.search(r"ec2amaz-fqtjg64:\s+# EC2AMAZ-FQTJG64$", text, re.M)
    assert "EC2AMAZ-FQTJG64 | CONTINUOUS, lag PT2S, last launch NOT_STARTED" in _line_of(text, DB)
    assert "no recovery order is known" in text and "NOT READY" not in text


def test_groups_by_tag_and_waves_in_numeric_order(sim, endpoint, capsys, tmp_path, no_plans):
    drs = sim.client("drs")
    arns = {s["sourceServerID"]: s["arn"] for s in drs.describe_source_servers()["items"]}
    for server, wave in {DB: "1", APP: "2", WEB1: "10"}.items():  # 10 after 2: numeric, not "10" < "2"
        drs.tag_resource(resourceArn=arns[server], tags={"DrWave": wave})
    draft, text = _discover(capsys, tmp_path, "--endpoint", endpoint, "--plans-dir", no_plans,
                            "--group-by-tag", "Tier", "--wave-tag", "DrWave", "--name", "estate")
    plan = load_plan(draft)
    assert [(w.name, w.depends_on, w.protection_groups) for w in plan.waves] == [
        ("wave-1", [], ["database"]),
        ("wave-2", ["wave-1"], ["app"]),
        ("wave-10", ["wave-2"], ["web-wave-10"]),    # Tier=web is in two waves: one group per wave
        ("unassigned", ["wave-10"], ["web-unassigned"]),  # WEB2 has no DrWave tag: last, to review
    ]
    assert plan.protection_groups["web-unassigned"].servers == [WEB2]
    assert "servers without a DrWave tag: last" in text


def test_marks_servers_of_other_plans_and_servers_not_ready(sim, endpoint, capsys, tmp_path):
    sim.control.set_replication(WEB2, "DISCONNECTED", lag="PT2H")
    sim.control.set_replication(APP, "INITIAL_SYNC")
    folder = tmp_path / "plans"
    shutil.copytree(PLANS, folder)
    draft, text = _discover(capsys, tmp_path, "--endpoint", endpoint, "--plans-dir", str(folder),
                            "--group-by-tag", "Tier")
    assert "plan three-tier (three-tier.yaml)" in _line_of(text, DB)    # listed by id there
    assert "plan three-tier (three-tier.yaml)" in _line_of(text, APP)   # selected by Tier=app there
    assert "| also in plan diamond (diamond.yaml), plan orders (orders.yaml), plan three-tier" in _line_of(text, WEB1)
    assert "# NOT READY: DISCONNECTED (agent disconnected) | EC2AMAZ-RLP9U5V | lag PT2H" in _line_of(text, WEB2)
    assert "# NOT READY: INITIAL_SYNC (initial sync not finished" in _line_of(text, APP)
    assert "NOT READY" not in _line_of(text, WEB1)
    assert "2 server(s) marked NOT READY" in text
    # Dropped into the plans folder as it is, the whole folder still validates.
    shutil.copy(draft, folder / "discovered.yaml")
    assert main(["validate", str(folder)]) == 0, capsys.readouterr().out


def test_servers_of_a_shared_group_are_left_out_and_names_do_not_clash(sim, endpoint, capsys, tmp_path):
    folder = tmp_path / "plans"
    folder.mkdir()
    (folder / "groups.yaml").write_text(f"version: 1\nkind: protection_groups\nprotection_groups:\n"
                                        f"  ec2amaz-h0jbe4j: {{servers: [{DB}]}}\n")
    (folder / "discovered.yaml").write_text(
        "version: 1\nplan: discovered\nregion: us-east-1\nrto_minutes: 5\n"
        "protection_groups: {ec2amaz-h0jbe4j-x: {tags: {Tier: app}}}\n"
        "waves: [{name: w, protection_groups: [ec2amaz-h0jbe4j]}, {name: x, protection_groups: [ec2amaz-h0jbe4j-x]}]\n")
    draft, text = _discover(capsys, tmp_path, "--endpoint", endpoint, "--plans-dir", str(folder))
    plan = load_plan(draft)
    assert plan.name == "discovered-2"  # `discovered` is taken in the folder
    assert DB not in plan.static_servers() and f"{DB}  EC2AMAZ-FQTJG64: shared protection group" in text
    assert "ec2amaz-h0jbe4j-2" in plan.protection_groups  # the shared group's name is taken
    shutil.copy(draft, folder / "draft.yaml")
    assert main(["validate", str(folder)]) == 0, capsys.readouterr().out


def _big_inventory() -> dict:
    """300 servers pinned to us-east-1: 150 app servers in wave 2 (over the per-job limit), tiers
    and waves as tags, every 25th server untagged."""
    servers = []
    for n in range(300):
        tier, wave = ("db", "1") if n < 50 else ("app", "2") if n < 200 else ("web", "3")
        tags = {} if n % 25 == 7 else {"Tier": tier, "Wave": wave}
        servers.append({"id": f"s-{n:017x}", "hostname": f"host-{n:03d}", "tags": tags, "region": "us-east-1",
                        "replication_state": "STALLED" if n == 299 else "CONTINUOUS", "lag": f"PT{n % 7}S"})
    return {"version": 1, "source_servers": servers}


@pytest.fixture(scope="module")
def big_sim():
    with simulator(inventory=_big_inventory(), time_scale=1.0) as running:
        yield running


def test_300_servers_over_several_pages_split_within_the_job_limit(big_sim, monkeypatch, capsys, tmp_path, no_plans):
    url = _endpoint_env(monkeypatch, big_sim.endpoint_url)
    before = big_sim.control.calls().get("DescribeSourceServers", 0)
    draft, text = _discover(capsys, tmp_path, "--endpoint", url, "--plans-dir", no_plans,
                            "--group-by-tag", "Tier", "--wave-tag", "Wave")
    assert big_sim.control.calls().get("DescribeSourceServers", 0) - before >= 3  # 300 servers, 100 a page
    plan = load_plan(draft)
    assert len(set(plan.static_servers())) == 300
    waves = {w.name: w for w in plan.waves}
    assert list(waves) == ["wave-1", "wave-2-part-1", "wave-2-part-2", "wave-3", "unassigned"]
    assert all(len(w.static_servers(plan)) <= 100 for w in plan.waves)
    assert waves["wave-3"].depends_on == ["wave-2-part-1", "wave-2-part-2"]
    assert waves["wave-2-part-1"].depends_on == waves["wave-2-part-2"].depends_on == ["wave-1"]
    assert "split into 2 waves that run in parallel" in text
    assert "# NOT READY: STALLED (replication stalled) | host-299" in _line_of(text, f"s-{299:017x}")
    assert len(plan.protection_groups["untagged"].servers) == 12
    assert waves["wave-2-part-1"].protection_groups == ["app-1"]  # 144 app servers: a group per job
    assert waves["wave-2-part-2"].protection_groups == ["app-2"]
    assert len(plan.protection_groups["app-1"].servers) == 100 and len(plan.protection_groups["app-2"].servers) == 44


def _error(capsys) -> str:
    """The one error line on stderr (Airflow 3.1's Amazon provider may log a line of its own there)."""
    captured = capsys.readouterr()
    assert captured.out == ""
    errors = [line for line in captured.err.splitlines() if line.startswith("drs-plan")]
    assert len(errors) == 1, captured.err
    return errors[0]


def test_errors_are_one_line_and_exit_2(big_sim, sim, monkeypatch, capsys, no_plans):
    url = _endpoint_env(monkeypatch, big_sim.endpoint_url)
    assert main(["discover", "--endpoint", url, "--region", "eu-west-1", "--plans-dir", no_plans]) == 2
    assert _error(capsys) == ("drs-plan: error: DRS has no source servers in eu-west-1: nothing to draft a plan "
                              "from (check --region, and that replication agents are installed)")

    assert main(["discover", "--endpoint", "http://127.0.0.1:9", "--plans-dir", no_plans]) == 2
    assert _error(capsys).startswith("drs-plan: error: reading DRS source servers failed: Could not connect")

    url = _endpoint_env(monkeypatch, sim.endpoint_url)
    sim.control.error_rate(1.0, ["DescribeSourceServers"])
    assert main(["discover", "--endpoint", url, "--plans-dir", no_plans]) == 2
    assert _error(capsys).startswith("drs-plan: error: reading DRS source servers failed: An error occurred")

    assert main(["discover", "--endpoint", url, "--name", "bad name"]) == 2
    assert "--name 'bad name' is not a plan name" in capsys.readouterr().err
    assert main(["discover", "--endpoint", url, "--plans-dir", "/nonexistent/plans"]) == 2
    assert "no plans folder /nonexistent/plans" in capsys.readouterr().err


def test_draft_round_trips_awkward_names(tmp_path):
    from airflow_provider_drs.plans.draft import Draft, draft_plan

    items = [{"sourceServerID": f"s-{n:017x}", "tags": {"T": value, "W": wave},
              "sourceProperties": {"identificationHints": {"hostname": host}}}
             for n, (value, wave, host) in enumerate([("yes", "b", "1"), ("null", "a", "---"), ("Web Tier!", "a", "x\ny")])]
    items[0]["replicationDirection"] = "FAILBACK"
    text = draft_plan(items, Draft(name="n", region="us-east-1", group_by_tag="T", wave_tag="W"))
    data = yaml.safe_load(text)
    assert sorted(data["protection_groups"]) == ["null", "web-tier", "yes"]  # strings, not None and True
    assert [w["name"] for w in data["waves"]] == ["wave-a", "wave-b"]
    assert "replicating in the FAILBACK direction" in _line_of(text, "s-" + "0" * 17)
    assert "x?y" in text  # a newline in a hostname does not break out of its comment
    (tmp_path / "n.yaml").write_text(text)
    assert load_plan(tmp_path / "n.yaml").static_servers()


def test_default_plans_folder_is_the_dag_factorys(sim, endpoint, capsys, tmp_path, monkeypatch):
    # The suite's [core] dags_folder is the repository's dags/: its plans/ holds three-tier.yaml.
    monkeypatch.delenv("DRS_PLANS_FOLDER", raising=False)
    _, text = _discover(capsys, tmp_path, "--endpoint", endpoint)
    assert "plan three-tier (three-tier.yaml)" in _line_of(text, DB)
    assert "plan: discovered" in text

    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "db.yaml").write_text(f"version: 1\nplan: db\nregion: us-east-1\nrto_minutes: 5\n"
                                    f"protection_groups: {{db: {{servers: [{DB}]}}}}\nwaves: [{{name: db, protection_groups: [db]}}]\n")
    monkeypatch.setenv("DRS_PLANS_FOLDER", str(folder))
    _, text = _discover(capsys, tmp_path, "--endpoint", endpoint)
    assert "| also in plan db (db.yaml)" in _line_of(text, DB) and "three-tier" not in text

    assert main(["discover", "--endpoint", endpoint, "--name", "db"]) == 0  # regenerating a plan: said, not refused
    assert f"note: plan db is already in {folder / 'db.yaml'}: the draft would replace it" in capsys.readouterr().err
