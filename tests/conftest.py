"""Suite-wide settings: no test ever reaches real AWS; credentials are dummies; Airflow runs from a
temporary AIRFLOW_HOME (set here, before any test module imports Airflow and reads its config)."""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

for name, value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AIRFLOW_HOME": tempfile.mkdtemp(prefix="drs-test-airflow-"),
    "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
    # dag.test() only runs DAGs of a configured bundle: the product's dags and the tests' own.
    "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps([
        {"name": "dags-folder", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
         "kwargs": {"path": str(REPO / "dags")}},
        {"name": "test-dags", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
         "kwargs": {"path": str(REPO / "tests" / "e2e" / "dags")}},
    ]),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__DRS__MIN_POLL_INTERVAL": "0.2",
    "AIRFLOW__DRS__MAX_POLL_INTERVAL": "1",
    "AIRFLOW__DRS__FAILBACK_POLL_INTERVAL": "0.5",
    # dag.test() cannot run a DAG with a deadline (see factory.dag_builder.rto_deadline); the RTO
    # deadline is tested on the stack (tests/stack/test_rto_deadline.py) and its parts one by one.
    "AIRFLOW__DRS__RTO_DEADLINE": "False",
}.items():
    os.environ[name] = value


import pytest  # noqa: E402

SIM_TIME_SCALE = 0.1  # default phases (about 5 s a server) take about half a second


@pytest.fixture(scope="session")
def airflow_db():
    """An initialised metadata database (SQLite) in the suite's temporary AIRFLOW_HOME."""
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, env=os.environ.copy(),
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=300)


@pytest.fixture(scope="session")
def drs_simulator():
    """One simulator for the session, served over real HTTP on a free loopback port."""
    from airflow_provider_drs.simulator import simulator

    with simulator(time_scale=SIM_TIME_SCALE) as running:
        yield running


@pytest.fixture
def sim(drs_simulator, monkeypatch):
    """The session's simulator, reset to its inventory with no faults, and an Airflow AWS
    connection ``aws_sim`` pointing at it."""
    drs_simulator.control.reset()
    drs_simulator.control.set_time_scale(SIM_TIME_SCALE)
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_SIM",
        json.dumps({"conn_type": "aws", "login": "testing", "password": "testing",
                    "extra": {"endpoint_url": drs_simulator.endpoint_url, "region_name": "us-east-1"}}),
    )
    yield drs_simulator
    drs_simulator.control.clear_faults()
