"""The production topology as real processes (PostgreSQL, Redis, Celery, two triggerers, drs-sim),
started once for the stack tests (``make test-stack``). Every process is stopped at the end, and
when a test fails."""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import pytest

from airflow_provider_drs.simulator import SimulatorClient
from airflow_provider_drs.stack.native import ADMIN, NativeStack, stop_on_signals
from airflow_provider_drs.stack.rest import AirflowRestClient

REPO = Path(__file__).resolve().parents[2]
FIGURES = Path(os.environ.get("DRS_STACK_FIGURES", REPO / ".stack-figures.json"))


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    dags = tmp_path_factory.mktemp("dags")
    shutil.copy(REPO / "dags" / "recovery_plans.py", dags)
    shutil.copytree(REPO / "dags" / "plans", dags / "plans")
    shutil.copytree(Path(__file__).parent / "plans", dags / "plans", dirs_exist_ok=True)  # the tests' own
    with NativeStack(dags, root=tmp_path_factory.mktemp("stack"), sim_time_scale=1.0) as running:
        print(f"\nstack healthy after {running.healthy_after:.1f} s")
        # A test run stopped by SIGTERM or Ctrl-C stops the stack first. The exit is immediate:
        # pytest would take a SystemExit raised in a test for that test's failure and go on.
        previous = stop_on_signals(running, exit=os._exit)
        try:
            yield running
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


@pytest.fixture(scope="session")
def api(stack):
    client = AirflowRestClient(stack.api_url, ADMIN, stack.password)
    client.wait_for_dags({"drs_three_tier_drill", "drs_three_tier_recovery", "drs_diamond_drill",
                          "drs_diamond_recovery"})
    for dag_id in sorted(client.dag_ids()):
        client.unpause(dag_id)
    return client


@pytest.fixture
def sim(stack):
    client = SimulatorClient(stack.sim_url)
    client.reset()
    client.set_time_scale(1.0)
    yield client
    client.clear_faults()


@pytest.fixture(scope="session")
def figures():
    """Measurements of the fault matrix, printed at the end and written to a JSON file."""
    collected: dict = {}
    yield collected
    FIGURES.write_text(json.dumps(collected, indent=2))
    print("\nstack figures: " + json.dumps(collected, indent=2))
