"""Fixtures: a fresh simulator per test at a fast time scale, with dummy AWS credentials."""

from __future__ import annotations

import pytest

from airflow_provider_drs.simulator import simulator
from tests.waiting import wait_until

FAST = 0.1  # every simulated duration x0.1: a launch takes ~0.6 s
DB, APP, WEB1, WEB2 = "s-3578f52ef3bdd58b4", "s-0e5a9c4b2f7d18e36", "s-3c1730a9e0771ea14", "s-3d75cdc0d9a28a725"


@pytest.fixture(autouse=True)
def aws_env(monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


@pytest.fixture
def sim():
    with simulator(time_scale=FAST, seed=0) as running:
        yield running


@pytest.fixture
def drs(sim):
    # One attempt: a fault must surface as the error, not be retried away by botocore.
    from botocore.config import Config

    return sim.client("drs", config=Config(retries={"total_max_attempts": 1}))


def wait_job_completed(drs, job_id: str, timeout: float = 10.0) -> dict:
    def done():
        job = drs.describe_jobs(filters={"jobIDs": [job_id]})["items"][0]
        return job if job["status"] == "COMPLETED" else None

    return wait_until(done, timeout)
