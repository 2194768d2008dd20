"""End-to-end fixtures: the repository's dags folder, with `aws_default` pointing at the simulator
(the metadata database fixture, `airflow_db`, is suite-wide)."""

from __future__ import annotations

import json
import os

import pytest


@pytest.fixture
def airflow_sim(sim, airflow_db, monkeypatch):
    """The simulator as Airflow's `aws_default` connection (the sample plans use it)."""
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps({
        "conn_type": "aws", "login": "testing", "password": "testing",
        "extra": {"endpoint_url": sim.endpoint_url, "region_name": "us-east-1"},
    }))
    return sim


@pytest.fixture(scope="session", autouse=True)
def hitl_under_dag_test():
    from tests.airflow_compat import route_hitl_reads_in_dag_test

    route_hitl_reads_in_dag_test()


@pytest.fixture(scope="session")
def dagbag(airflow_db):
    from airflow_provider_drs.version_compat import dag_bag

    return dag_bag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])


@pytest.fixture(scope="session")
def test_dagbag(airflow_db):
    """The DAGs of tests/e2e/dags: the plans written for one test each."""
    from pathlib import Path

    from airflow_provider_drs.version_compat import dag_bag

    bag = dag_bag(str(Path(__file__).parent / "dags"))
    assert bag.import_errors == {}
    return bag
