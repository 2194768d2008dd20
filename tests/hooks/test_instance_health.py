"""The health gate's pure evaluation over EC2 / SSM / Run Command answers, and its probe scripts
(run for real in bash where they can be)."""

from __future__ import annotations

import socket
import subprocess

import pytest

from airflow_provider_drs.hooks.instance_health import (
    failures, describe, new_records, observe, probe_commands, ready_for_probes, settled, time_out)

DB, APP, WEB = "s-3578f52ef3bdd58b4", "s-0e5a9c4b2f7d18e36", "s-3c1730a9e0771ea14"
RESULTS = {DB: {"launch_status": "LAUNCHED", "ec2_instance_id": "i-db"},
           APP: {"launch_status": "LAUNCHED", "ec2_instance_id": "i-app"},
           WEB: {"launch_status": "FAILED", "ec2_instance_id": None}}
ALL = {"ec2_status_ok": True, "ssm_online": True, "probes": [{"tcp": "localhost:5432"}], "timeout_minutes": 5}


def test_servers_that_did_not_launch_are_skipped():
    records = new_records(RESULTS, optional=[APP])
    assert {s: r["state"] for s, r in records.items()} == {DB: "waiting", APP: "waiting", WEB: "skipped"}
    assert records[APP]["optional"] and not records[DB]["optional"]


def test_checks_pass_in_order_and_probes_wait_for_the_agent():
    records = new_records(RESULTS, ())
    observe(records, ALL, {"i-db": ("running", "initializing", "initializing"), "i-app": ("running", "ok", "ok")},
            online={"i-app"}, invocations={}, now="t1")
    assert ready_for_probes(records, ALL) == [APP]  # the database's status checks still initialize
    assert "initializing" in records[DB]["detail"]
    records[APP]["command_id"] = "c1"
    assert ready_for_probes(records, ALL) == []  # a probe in flight is not sent twice
    ok = {"i-db": ("running", "ok", "ok"), "i-app": ("running", "ok", "ok")}
    observe(records, ALL, ok, {"i-db", "i-app"}, {"i-app": {"Status": "InProgress"}}, "t2")
    assert ready_for_probes(records, ALL) == [DB] and not settled(records)
    observe(records, ALL, ok, {"i-db", "i-app"}, {"i-app": {"Status": "Success"}}, "t3")
    assert (records[APP]["state"], records[APP]["ready_at"]) == ("passed", "t3")
    assert records[DB]["state"] == "waiting"


def test_a_failed_probe_is_sent_again_and_keeps_its_output():
    records = new_records({DB: RESULTS[DB]}, ())
    records[DB]["command_id"] = "c1"
    failed = {"Status": "Failed", "StandardErrorContent": "x" * 600 + "probe 1 (tcp: localhost:5432) failed\n"}
    observe(records, ALL, {"i-db": ("running", "ok", "ok")}, {"i-db"}, {"i-db": failed}, "t1")
    assert records[DB]["command_id"] is None and ready_for_probes(records, ALL) == [DB]
    assert records[DB]["detail"].endswith("probe 1 (tcp: localhost:5432) failed") and len(records[DB]["detail"]) < 600


def test_timeout_fails_on_the_first_check_not_passed_and_optional_only_warns():
    records = new_records(RESULTS, optional=[APP])
    observe(records, ALL, {"i-db": ("running", "ok", "ok"), "i-app": ("running", "impaired", "ok")},
            online={"i-db"}, invocations={}, now="t1")
    time_out(records, ALL)
    assert (records[DB]["failed_check"], records[APP]["failed_check"]) == ("probes", "ec2_status_ok")
    critical, optional = failures(records)
    assert [r["server_id"] for r in critical] == [DB] and [r["server_id"] for r in optional] == [APP]
    assert describe(critical[0]).startswith(f"server {DB} (instance i-db) failed probes: timed out after 5 min")
    assert "instance status impaired" in describe(optional[0])


def test_an_instance_no_longer_running_fails_at_once():
    records = new_records({DB: RESULTS[DB]}, ())
    observe(records, {"ec2_status_ok": True}, {"i-db": ("terminated", "not-applicable", "not-applicable")},
            set(), {}, "t1")
    assert (records[DB]["state"], records[DB]["failed_check"]) == ("failed", "ec2_status_ok")


def test_ssm_online_alone_passes_without_status_checks():
    records = new_records({DB: RESULTS[DB]}, ())
    checks = {"ssm_online": True}
    observe(records, checks, {}, set(), {}, "t1")
    assert records[DB]["state"] == "waiting" and records[DB]["ec2_status_ok"] is None
    observe(records, checks, {}, {"i-db"}, {}, "t2")
    assert records[DB]["state"] == "passed"


def _run(lines: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", "\n".join(lines)], capture_output=True, text=True, timeout=20)


def test_tcp_and_command_probes_run_in_bash():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert _run(probe_commands([{"tcp": f"127.0.0.1:{port}"}, {"command": "true"}])).returncode == 0
    closed = _run(probe_commands([{"command": "true"}, {"tcp": f"127.0.0.1:{port}"}]))
    assert closed.returncode == 1 and f"probe 2 (tcp: 127.0.0.1:{port}) failed" in closed.stderr
    assert _run(probe_commands([{"command": "exit 3"}])).returncode == 1


@pytest.mark.parametrize("url", ["http://localhost:8080/health?a=1&b=$(reboot)"])
def test_http_probe_quotes_its_url(url):
    (line,) = probe_commands([{"http": url}])
    assert "curl -fsS --max-time 10 -o /dev/null 'http://localhost:8080/health?a=1&b=$(reboot)'" in line
