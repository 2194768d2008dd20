"""Event-driven completion on the production topology: two triggerers share one events queue, and
a drill's parallel waves end on DRS's launch-result events, not on polling."""

from __future__ import annotations

import pytest

from airflow_provider_drs.cli import main as drs_plan
from tests.stack.estate import Estate, read_report

pytestmark = pytest.mark.timeout(900)
DAG = "drs_evented_drill"


def test_parallel_waves_end_on_launch_events_shared_by_two_triggerers(stack, api, sim, monkeypatch, capsys):
    monkeypatch.setenv("AWS_ENDPOINT_URL", stack.sim_url)  # restored after the test
    assert drs_plan(["events-setup", "--apply", "--endpoint", stack.sim_url, "--region", "us-east-1"]) == 0
    assert "drs-launch-results" in capsys.readouterr().out
    # Launches of about 20 s: a wave's wait is in a triggerer (worker start, StartRecovery, defer,
    # triggerer pick-up) well before its servers' results, so every result can come as an event.
    sim.set_time_scale(4.0)
    estate = Estate(stack.sim_url)
    run_id = api.trigger(DAG)
    run = api.wait_for_run(DAG, run_id, timeout=600)
    assert run["state"] == "success", api.task_states(DAG, run_id)
    report = read_report(stack.endpoints.airflow_home, DAG, run_id)
    servers = [s for wave in report["waves"] for s in wave["servers"]]
    assert len(servers) == 4 and {s["launched_at_source"] for s in servers} == {"event"}, servers
    assert estate.live_drill_instances() == [] and estate.duplicate_launches() == []
    calls = sim.calls()
    print(f"\nevents drill: DescribeJobs {calls.get('DescribeJobs', 0)}, sqs:ReceiveMessage "
          f"{calls.get('sqs:ReceiveMessage', 0)}, handed back {calls.get('sqs:ChangeMessageVisibilityBatch', 0)}")
