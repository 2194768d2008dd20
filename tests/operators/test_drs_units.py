"""Unit tests in the Amazon provider's style: serialisation, template fields, deferral, events."""

from __future__ import annotations

from unittest import mock

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, TaskDeferred

from airflow_provider_drs.operators.drs import DrsStartRecoveryOperator, DrsTerminateRecoveryInstancesOperator
from airflow_provider_drs.hooks.drs_verdict import as_id_list
from airflow_provider_drs.sensors.drs import DrsJobSensor
from airflow_provider_drs.triggers.drs import DrsJobTrigger

JOB = "drsjob-3f1a9c2e7b6d40a1c"


def _result(server_id, status, phase=None, raw=None):
    return {"source_server_id": server_id, "launch_status": status, "failed_phase": phase, "raw_error": raw,
            "ec2_instance_id": "i-0aa11bb22cc33dd44" if status == "LAUNCHED" else None}


QUEUE = "https://sqs.eu-west-1.amazonaws.com/111122223333/drs-launch-results"


class TestDrsJobTrigger:
    def test_serialize_round_trip(self):
        trigger = DrsJobTrigger(job_ids=[JOB], aws_conn_id="aws_sim", region_name="eu-west-1",
                                verify=False, botocore_config={"read_timeout": 5},
                                min_poll_interval=0.5, max_poll_interval=9, max_consecutive_errors=3,
                                events_queue_url=QUEUE, events_poll_interval=45)
        classpath, kwargs = trigger.serialize()
        assert classpath == "airflow_provider_drs.triggers.drs.DrsJobTrigger"
        assert kwargs == {"job_ids": [JOB], "aws_conn_id": "aws_sim", "region_name": "eu-west-1",
                          "verify": False, "botocore_config": {"read_timeout": 5}, "min_poll_interval": 0.5,
                          "max_poll_interval": 9, "max_consecutive_errors": 3, "events_queue_url": QUEUE,
                          "events_poll_interval": 45}
        module, _, name = classpath.rpartition(".")
        rebuilt = getattr(__import__(module, fromlist=[name]), name)(**kwargs)
        assert rebuilt.serialize() == (classpath, kwargs)

    def test_single_job_id_string_is_a_list(self):
        assert DrsJobTrigger(job_ids=JOB).job_ids == [JOB]

    def test_max_interval_never_below_min(self):
        assert DrsJobTrigger(job_ids=[JOB], min_poll_interval=5, max_poll_interval=1).max_poll_interval == 5


class TestDrsJobSensor:
    def test_template_fields(self):
        assert set(DrsJobSensor.template_fields) >= {"job_id", "optional_server_ids", "aws_conn_id", "region_name"}

    def test_defers_by_default_with_its_settings(self):
        sensor = DrsJobSensor(task_id="wait", job_id=JOB, aws_conn_id=None, region_name="us-east-1",
                              min_poll_interval=0.5, max_poll_interval=4)
        with mock.patch("airflow_provider_drs.sensors.drs.DrsJobLink.persist"), pytest.raises(TaskDeferred) as deferred:
            sensor.execute({})
        trigger = deferred.value.trigger
        assert isinstance(trigger, DrsJobTrigger)
        assert (trigger.job_ids, trigger.min_poll_interval, trigger.max_poll_interval) == ([JOB], 0.5, 4)
        assert deferred.value.method_name == "execute_complete"

    def test_passes_its_events_queue_to_the_trigger(self):
        sensor = DrsJobSensor(task_id="wait", job_id=JOB, aws_conn_id=None, region_name="us-east-1",
                              events_queue_url=QUEUE, events_poll_interval=90)
        with mock.patch("airflow_provider_drs.sensors.drs.DrsJobLink.persist"), pytest.raises(TaskDeferred) as deferred:
            sensor.execute({})
        trigger = deferred.value.trigger
        assert (trigger.events_queue_url, trigger.events_poll_interval) == (QUEUE, 90)

    def test_event_success_returns_results(self):
        sensor = DrsJobSensor(task_id="wait", job_id=JOB, aws_conn_id=None, region_name="us-east-1")
        results = {"s-3578f52ef3bdd58b4": _result("s-3578f52ef3bdd58b4", "LAUNCHED")}
        with mock.patch("airflow_provider_drs.sensors.drs.persist_instance_link"):
            assert sensor.execute_complete({}, {"status": "success", "results": results, "job_ids": [JOB]}) == results

    def test_no_event_is_a_trigger_error(self):
        sensor = DrsJobSensor(task_id="wait", job_id=JOB, aws_conn_id=None, region_name="us-east-1")
        with pytest.raises(AirflowException, match="event is None"):
            sensor.execute_complete({}, None)

    def test_event_error_fails_with_its_message(self):
        sensor = DrsJobSensor(task_id="wait", job_id=JOB, aws_conn_id=None, region_name="us-east-1")
        with pytest.raises(AirflowException, match="DescribeJobs failed 9 times"):
            sensor.execute_complete({}, {"status": "error", "message": "DescribeJobs failed 9 times in a row"})

    def test_critical_failure_names_server_phase_and_raw_error(self):
        sensor = DrsJobSensor(task_id="wait", job_id=JOB, aws_conn_id=None, region_name="us-east-1")
        results = {
            "s-3578f52ef3bdd58b4": _result("s-3578f52ef3bdd58b4", "LAUNCHED"),
            "s-3c1730a9e0771ea14": _result("s-3c1730a9e0771ea14", "FAILED", "CONVERSION", "disk unreadable"),
        }
        with mock.patch("airflow_provider_drs.sensors.drs.persist_instance_link"), pytest.raises(AirflowFailException) as failed:
            sensor.execute_complete({}, {"status": "success", "results": results})
        assert "s-3c1730a9e0771ea14: FAILED at CONVERSION (disk unreadable)" in str(failed.value)
        assert "s-3578f52ef3bdd58b4" not in str(failed.value)

    def test_optional_failure_only_warns(self, capsys):
        sensor = DrsJobSensor(task_id="wait", job_id=JOB, aws_conn_id=None, region_name="us-east-1",
                              optional_server_ids="s-3c1730a9e0771ea14")
        results = {"s-3c1730a9e0771ea14": _result("s-3c1730a9e0771ea14", "FAILED", "LAUNCH", "no capacity")}
        with mock.patch("airflow_provider_drs.sensors.drs.persist_instance_link"):
            assert sensor.execute_complete({}, {"status": "success", "results": results}) == results
        warning = [line for line in capsys.readouterr().out.splitlines() if "optional_server_failed" in line]
        assert len(warning) == 1 and "s-3c1730a9e0771ea14: FAILED at LAUNCH (no capacity)" in warning[0]


class TestOperators:
    def test_start_template_fields(self):
        assert set(DrsStartRecoveryOperator.template_fields) >= {"source_server_ids", "is_drill", "optional_server_ids", "aws_conn_id"}

    def test_terminate_template_fields(self):
        assert set(DrsTerminateRecoveryInstancesOperator.template_fields) >= {"job_ids", "source_server_ids"}

    def test_start_passes_job_limit_to_hook(self):
        op = DrsStartRecoveryOperator(task_id="start", source_server_ids=["s-3578f52ef3bdd58b4"],
                                      aws_conn_id=None, region_name="us-east-1", max_servers_per_job=7)
        assert op.hook.max_servers_per_job == 7

    def test_start_event_error(self):
        op = DrsStartRecoveryOperator(task_id="start", source_server_ids=["s-3578f52ef3bdd58b4"], aws_conn_id=None)
        with pytest.raises(AirflowException, match="throttled"):
            op.execute_complete({}, {"status": "error", "job_ids": [JOB], "message": "throttled"})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["s-1", "s-2"], ["s-1", "s-2"]),
        ('["s-1", "s-2"]', ["s-1", "s-2"]),
        ("s-1, s-2", ["s-1", "s-2"]),
        ("", []),
        (None, []),
        (("s-1",), ["s-1"]),
    ],
)
def test_id_lists_from_templates(value, expected):
    assert as_id_list(value) == expected


class TestLinks:
    def test_job_link(self):
        from airflow_provider_drs.links.drs import DrsJobLink

        url = DrsJobLink().format_link(aws_domain="aws.amazon.com", region_name="eu-west-1", job_id=JOB)
        assert url == f"https://console.aws.amazon.com/drs/home?region=eu-west-1#/launchHistory/{JOB}"

    def test_recovered_instances_link_lists_every_instance(self):
        from airflow_provider_drs.links.drs import DrsRecoveryInstancesLink

        link = DrsRecoveryInstancesLink()
        url = link.format_link(aws_domain="amazonaws.cn", region_name="cn-north-1",
                               instance_ids=["i-0aa11bb22cc33dd44", "i-0ee55ff66aa77bb88"])
        assert url == ("https://console.amazonaws.cn/ec2/home?region=cn-north-1"
                       "#Instances:instanceId=i-0aa11bb22cc33dd44,i-0ee55ff66aa77bb88")
        assert link.format_link(aws_domain="aws.amazon.com", region_name="us-east-1", instance_ids=[]) == ""
