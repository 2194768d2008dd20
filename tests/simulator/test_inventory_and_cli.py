"""Inventory files (errors name file, line and field) and the ``drs-sim`` command."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap

import boto3
import pytest

from airflow_provider_drs.simulator import InventoryError, SimulatorClient, load_inventory, simulator

from .conftest import wait_job_completed, wait_until

CUSTOM = textwrap.dedent("""\
    version: 1
    defaults:
      launch: {snapshot: 0.5, conversion: 0.5, launch: 0.5}
      jitter: 0
    source_servers:
      - id: s-aaaaaaaaaaaaaaaaa
        hostname: ERP-DB-01
        tags: {Tier: database}
        lag: PT30S
      - id: s-bbbbbbbbbbbbbbbbb
        hostname: ERP-APP-01
        region: eu-west-1
        launch: {fail_at: CONVERSION, raw_error: "Unsupported kernel"}
    """)


def test_default_inventory_is_the_reference_environment():
    inventory = load_inventory()
    assert [(s.id, s.hostname, s.tags["Tier"]) for s in inventory.source_servers] == [
        ("s-3578f52ef3bdd58b4", "EC2AMAZ-FQTJG64", "database"), ("s-0e5a9c4b2f7d18e36", "EC2AMAZ-H0JBE4J", "app"),
        ("s-3c1730a9e0771ea14", "EC2AMAZ-4IMB9PN", "web"), ("s-3d75cdc0d9a28a725", "EC2AMAZ-RLP9U5V", "web")]


@pytest.mark.parametrize("text, expected", [
    ("source_servers:\n  - id: s-aaaaaaaaaaaaaaaaa\n    hostname: a\n    launch: {fail_at: BOOT}\n",
     "bad.yaml:4: source_servers[0].launch.fail_at: Input should be 'SNAPSHOT', 'CONVERSION' or 'LAUNCH'"),
    ("source_servers:\n  - id: s-123\n    hostname: a\n",
     "bad.yaml:2: source_servers[0].id: String should match pattern"),
    ("source_servers:\n  - id: s-aaaaaaaaaaaaaaaaa\n    hostname: a\n    lag: 30s\n",
     "bad.yaml:4: source_servers[0].lag: Value error, '30s' is not an ISO-8601 duration"),
    ("source_servers:\n  - id: s-aaaaaaaaaaaaaaaaa\n    hostname: a\n    colour: red\n",
     "bad.yaml:4: source_servers[0].colour: Extra inputs are not permitted"),
    ("source_servers:\n  - id: s-aaaaaaaaaaaaaaaaa\n    hostname: a\n  - id: s-aaaaaaaaaaaaaaaaa\n    hostname: b\n",
     "bad.yaml:4: source_servers[1].id: duplicate source server s-aaaaaaaaaaaaaaaaa"),
    ("source_servers: [\n", "bad.yaml:2: YAML syntax error"),
    ("defaults:\n  jitter: 2\nsource_servers: []\n", "bad.yaml:2: defaults.jitter: Input should be less than"),
])
def test_inventory_errors_name_file_line_and_field(tmp_path, text, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    assert any(p.endswith(expected) or expected in p for p in info.value.problems), info.value.problems
    assert str(path) in str(info.value)


def test_custom_inventory_behaviour_and_pinned_region(tmp_path):
    path = tmp_path / "estate.yaml"
    path.write_text(CUSTOM)
    with simulator(inventory=path, time_scale=0.2) as sim:
        east, west = sim.client("drs"), sim.client("drs", region="eu-west-1")
        assert [s["sourceServerID"] for s in east.describe_source_servers()["items"]] == ["s-aaaaaaaaaaaaaaaaa"]
        assert len(west.describe_source_servers()["items"]) == 2
        job = west.start_recovery(sourceServers=[{"sourceServerID": "s-aaaaaaaaaaaaaaaaa"},
                                                 {"sourceServerID": "s-bbbbbbbbbbbbbbbbb"}], isDrill=True)["job"]
        final = wait_job_completed(west, job["jobID"])
        assert [s["launchStatus"] for s in final["participatingServers"]] == ["LAUNCHED", "FAILED"]
        failure = [e for e in west.describe_job_log_items(jobID=job["jobID"])["items"] if e["event"] == "CONVERSION_FAIL"]
        assert failure[0]["eventData"]["rawError"] == "Unsupported kernel"
        instance = west.describe_recovery_instances()["items"][0]
        lag = (_ts(final["creationDateTime"]) - _ts(instance["pointInTimeSnapshotDateTime"]))
        assert abs(lag - 30) < 0.01


def _ts(value: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_cli_serve_answers_boto3(tmp_path):
    port = _free_port()
    cmd = [os.path.join(os.path.dirname(sys.executable), "drs-sim"), "serve", "--port", str(port),
           "--time-scale", "0.1", "--seed", "3", "--log-level", "warning"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        client = SimulatorClient(f"http://127.0.0.1:{port}", timeout=2)

        def healthy():
            try:
                return client.health()
            except OSError:
                return None

        health = wait_until(healthy, 20, 0.1)
        assert health["time_scale"] == 0.1 and health["seed"] == 3
        drs = boto3.client("drs", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1")
        ids = [s["sourceServerID"] for s in drs.describe_source_servers()["items"]]
        assert ids == ["s-3578f52ef3bdd58b4", "s-0e5a9c4b2f7d18e36", "s-3c1730a9e0771ea14", "s-3d75cdc0d9a28a725"]
        assert client.calls() == {"DescribeSourceServers": 1}
        client.reset()
        assert client.calls() == {}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_cli_reports_bad_inventory(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("source_servers:\n  - id: s-aaaaaaaaaaaaaaaaa\n    hostnme: typo\n")
    exe = os.path.join(os.path.dirname(sys.executable), "drs-sim")
    result = subprocess.run([exe, "validate", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"{path}:3: source_servers[0].hostnme: Extra inputs are not permitted" in result.stderr
    assert f"{path}:2: source_servers[0].hostname: Field required" in result.stderr
    help_text = subprocess.run([exe, "serve", "--help"], capture_output=True, text=True, timeout=60).stdout
    assert "X < 1 is faster" in " ".join(help_text.split())
