"""Fixtures of the SSM Automation tests: an Airflow AWS connection from the environment."""

from __future__ import annotations

import json

import pytest


@pytest.fixture(autouse=True)
def aws_env(monkeypatch):
    """Dummy credentials so no test can reach a real account, and an offline `aws_test` connection."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_TEST",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {"region_name": "us-east-1"},
            }
        ),
    )
