"""SsmAutomationTrigger: serialisation, and error events when AWS cannot be reached."""

from __future__ import annotations

import json

import pytest
from airflow.sdk.module_loading import import_string

from airflow_provider_drs.hooks.ssm_automation import SsmAutomationHook
from airflow_provider_drs.triggers.ssm_automation import SsmAutomationTrigger

EXECUTION_ID = "4105a4fc-f944-11e6-9d32-0123456789ab"


def test_serialize_round_trip():
    trigger = SsmAutomationTrigger(
        execution_id=EXECUTION_ID,
        poll_interval=2,
        max_attempts=30,
        max_transient_errors=4,
        aws_conn_id="aws_test",
        region_name="eu-west-1",
        verify="/etc/ssl/ca.pem",
        botocore_config={"read_timeout": 5, "retries": {"mode": "adaptive"}},
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_drs.triggers.ssm_automation.SsmAutomationTrigger"
    assert kwargs == {
        "execution_id": EXECUTION_ID,
        "poll_interval": 2,
        "max_attempts": 30,
        "max_transient_errors": 4,
        "aws_conn_id": "aws_test",
        "region_name": "eu-west-1",
        "verify": "/etc/ssl/ca.pem",
        "botocore_config": {"read_timeout": 5, "retries": {"mode": "adaptive"}},
    }
    json.dumps(kwargs)  # the triggerer stores kwargs in the database
    rebuilt = import_string(classpath)(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)


def test_defaults():
    _, kwargs = SsmAutomationTrigger(execution_id=EXECUTION_ID).serialize()
    assert kwargs["poll_interval"] == 5
    assert kwargs["aws_conn_id"] == "aws_default"


def test_hook_is_built_from_the_serialized_fields():
    trigger = SsmAutomationTrigger(
        execution_id=EXECUTION_ID,
        aws_conn_id="aws_test",
        region_name="eu-west-1",
        verify=False,
        botocore_config={"read_timeout": 5},
    )
    hook = trigger.hook()
    assert isinstance(hook, SsmAutomationHook)
    assert hook.aws_conn_id == "aws_test"
    assert hook.region_name == "eu-west-1"
    assert hook.verify is False
    assert hook.config.read_timeout == 5


@pytest.fixture
def dead_endpoint(monkeypatch):
    """A connection whose SSM endpoint refuses connections (port 1 on loopback)."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_DEAD",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {"region_name": "us-east-1", "endpoint_url": "http://127.0.0.1:1"},
            }
        ),
    )
    return "aws_dead"


async def test_connection_errors_end_in_one_error_event_after_the_budget(dead_endpoint):
    trigger = SsmAutomationTrigger(
        execution_id=EXECUTION_ID,
        poll_interval=0,
        max_attempts=10,
        max_transient_errors=2,
        aws_conn_id=dead_endpoint,
        botocore_config={"retries": {"mode": "standard", "total_max_attempts": 1}, "connect_timeout": 1},
    )
    events = [event async for event in trigger.run()]
    assert len(events) == 1
    payload = events[0].payload
    assert payload["status"] == "error"
    assert payload["execution_id"] == EXECUTION_ID
    assert payload["execution_status"] is None
    assert payload["outputs"] == {}
    assert "could not read its status" in payload["message"]
    assert "127.0.0.1:1" in payload["message"]
