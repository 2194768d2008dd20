"""Event-driven completion against the simulator over HTTP: the simulator publishes DRS's launch
results to EventBridge, a rule feeds an SQS queue, and DrsJobTrigger's waits end on those events,
with DescribeJobs only as the safety net; lost events, an unreadable queue, events nobody watches
and two triggerers sharing one queue."""

from __future__ import annotations

import asyncio
import json
import threading

import boto3
import pytest

from airflow_provider_drs.hooks.drs import DrsHook
from airflow_provider_drs.hooks.drs_events import LAUNCH_RESULT, events_setup_template, parse_launch_result
from airflow_provider_drs.triggers import drs_events
from airflow_provider_drs.triggers.drs import DrsJobTrigger
from tests.waiting import wait_until

DB, APP, WEB1, WEB2 = "s-3578f52ef3bdd58b4", "s-0e5a9c4b2f7d18e36", "s-3c1730a9e0771ea14", "s-3d75cdc0d9a28a725"
SLOW = 1.0  # a launch takes about 5 s: the wait is running well before it ends, even on a busy machine
CONN = {"aws_conn_id": "aws_sim", "region_name": "us-east-1"}
# Polling alone could not finish these waits in time: only events can.
EVENTS_ONLY = {**CONN, "min_poll_interval": 0.2, "max_poll_interval": 1.0, "events_poll_interval": 600.0}


def client(sim, service):
    return boto3.client(service, endpoint_url=sim.endpoint_url, region_name="us-east-1")


@pytest.fixture
def queue_url(sim):
    """The rule and queue of `drs-plan events-setup`, created through the simulator's CloudFormation;
    launches slow enough (about 5 s) that a wait starts before they end."""
    sim.control.set_time_scale(SLOW)
    cfn = client(sim, "cloudformation")
    cfn.create_stack(StackName="drs-events", TemplateBody=json.dumps(events_setup_template()))
    outputs = cfn.describe_stacks(StackName="drs-events")["Stacks"][0]["Outputs"]
    return next(o["OutputValue"] for o in outputs if o["OutputKey"] == "QueueUrl")


def start(servers, is_drill=True):
    return DrsHook(**CONN).start_recovery(servers, is_drill)["jobID"]


def run_trigger(trigger, timeout=30):
    async def first_event():
        async for event in trigger.run():
            return event.payload

    return asyncio.run(asyncio.wait_for(first_event(), timeout))


def queue_depth(sim, url):
    attributes = client(sim, "sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_the_simulator_publishes_each_launch_result_as_drs_does(sim, queue_url):
    sim.control.fail_server(APP, "CONVERSION")
    job_id = start([DB, APP])
    sqs = client(sim, "sqs")
    bodies = []
    wait_until(lambda: bodies.extend(json.loads(m["Body"]) for m in sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])) or len(bodies) >= 2,
        timeout=20, what="two launch results in the queue")
    by_server = {b["resources"][0].rsplit("/", 1)[1]: b for b in bodies}
    assert set(by_server) == {DB, APP}
    db = by_server[DB]
    # (moto's EventBridge leaves "account" out of what it delivers to SQS; AWS keeps it.)
    assert (db["source"], db["detail-type"], db["region"], db["version"]) == ("aws.drs", LAUNCH_RESULT,
                                                                              "us-east-1", "0")
    assert db["resources"] == [f"arn:aws:drs:us-east-1:123456789012:source-server/{DB}"]
    assert db["detail"] == {"state": "RECOVERY_LAUNCH_SUCCEEDED", "job-id": job_id, "is-drill": "TRUE"}
    assert by_server[APP]["detail"]["state"] == "RECOVERY_LAUNCH_FAILED"
    parsed = {b["resources"][0].rsplit("/", 1)[1]: parse_launch_result(b) for b in bodies}
    assert parsed[DB].launch_status == "LAUNCHED" and parsed[APP].launch_status == "FAILED"
    assert parsed[DB].job_id == job_id and parsed[DB].is_drill is True


def test_a_wait_with_events_ends_on_them_with_one_describe_jobs(sim, queue_url):
    job_id = start([DB, APP, WEB1])
    before = sim.control.calls()
    event = run_trigger(DrsJobTrigger(job_ids=[job_id], events_queue_url=queue_url, **EVENTS_ONLY))
    calls = sim.control.calls()
    assert event["status"] == "success", event["message"]
    assert event["jobs"][job_id]["settled_by"] == "events"
    results = event["results"]
    assert {r["launch_status"] for r in results.values()} == {"LAUNCHED"}
    assert all(r["ec2_instance_id"] and r["launched_at_source"] == "event" for r in results.values())
    # The first read learns the job's servers; the events do the rest; one final log read.
    assert calls.get("DescribeJobs", 0) - before.get("DescribeJobs", 0) == 1
    assert calls.get("DescribeJobLogItems", 0) - before.get("DescribeJobLogItems", 0) == 1
    assert wait_until(lambda: queue_depth(sim, queue_url) == 0 or None, timeout=10, what="queue drained")


def test_a_failed_launch_arrives_as_an_event_too(sim, queue_url):
    sim.control.fail_server(APP, "LAUNCH", "Simulated LAUNCH failure")
    job_id = start([DB, APP])
    event = run_trigger(DrsJobTrigger(job_ids=[job_id], events_queue_url=queue_url, **EVENTS_ONLY))
    assert event["status"] == "success" and event["jobs"][job_id]["settled_by"] == "events"
    assert event["results"][APP]["launch_status"] == "FAILED"
    assert event["results"][APP]["failed_phase"] == "LAUNCH"


def test_with_every_event_lost_the_wait_still_ends_by_polling(sim, queue_url):
    sim.control.launch_events(loss_rate=1.0)
    job_id = start([DB, APP])
    event = run_trigger(DrsJobTrigger(job_ids=[job_id], events_queue_url=queue_url,
                                      **{**EVENTS_ONLY, "events_poll_interval": 1.0}))
    assert event["status"] == "success", event["message"]
    assert event["jobs"][job_id]["settled_by"] == "read"
    assert {r["launch_status"] for r in event["results"].values()} == {"LAUNCHED"}
    assert sim.control.launch_event_stats()["lost"] == 2


def test_an_unreadable_queue_means_polling_as_without_events(sim):
    sim.control.set_time_scale(SLOW)
    missing = f"{sim.endpoint_url}/123456789012/no-such-queue"
    job_id = start([DB])
    event = run_trigger(DrsJobTrigger(job_ids=[job_id], events_queue_url=missing, **EVENTS_ONLY), timeout=30)
    assert event["status"] == "success", event["message"]
    assert event["jobs"][job_id]["settled_by"] == "read"


def test_events_nobody_watches_are_dropped_not_kept(sim, queue_url, monkeypatch):
    monkeypatch.setattr(drs_events, "UNCLAIMED_EVENT_SECONDS", 1.0)
    orphan = start([WEB2])  # launched by someone else: no trigger watches it
    sim.control.launch_events(delay=0.0)
    wait_until(lambda: sim.control.launch_event_stats()["published"] >= 1, timeout=20, what="orphan's event")
    watched = start([DB], is_drill=True)
    event = run_trigger(DrsJobTrigger(job_ids=[watched], events_queue_url=queue_url, **EVENTS_ONLY))
    assert event["status"] == "success" and event["jobs"][watched]["settled_by"] == "events"
    assert orphan not in event["jobs"]
    wait_until(lambda: queue_depth(sim, queue_url) == 0 or None, timeout=15, what="the orphan's event dropped")


def test_two_triggerers_sharing_one_queue_each_end_every_wait_on_events(sim, queue_url):
    """Two event loops, as two triggerer processes: each watches its own jobs, SQS hands every
    message to either; none may be lost, and polling (600 s) cannot rescue a lost one in time."""
    jobs_a = [start([DB]), start([APP])]
    jobs_b = [start([WEB1]), start([WEB2])]
    outcomes: dict[str, list] = {}

    def triggerer(name, job_ids):
        async def wait_all():
            async def one(job_id):
                async for event in DrsJobTrigger(job_ids=[job_id], events_queue_url=queue_url,
                                                 **EVENTS_ONLY).run():
                    return event.payload
            return await asyncio.gather(*(one(j) for j in job_ids))

        outcomes[name] = asyncio.run(asyncio.wait_for(wait_all(), 40))

    threads = [threading.Thread(target=triggerer, args=("a", jobs_a)),
               threading.Thread(target=triggerer, args=("b", jobs_b))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    events = outcomes["a"] + outcomes["b"]
    assert len(events) == 4
    for event in events:
        assert event["status"] == "success", event["message"]
        (job,) = event["jobs"].values()
        assert job["settled_by"] == "events"
    wait_until(lambda: queue_depth(sim, queue_url) == 0 or None, timeout=10, what="queue drained")


def test_events_setup_prints_the_template_and_applies_it_idempotently(sim, monkeypatch, capsys):
    from airflow_provider_drs.cli import main

    assert main(["events-setup", "--queue-name", "dr-events"]) == 0
    template = json.loads(capsys.readouterr().out)
    resources = template["Resources"]
    assert {r["Type"] for r in resources.values()} == {"AWS::SQS::Queue", "AWS::Events::Rule", "AWS::SQS::QueuePolicy"}
    assert resources["LaunchResultsRule"]["Properties"]["EventPattern"] == {
        "source": ["aws.drs"], "detail-type": ["DRS Source Server Launch Result"]}
    statement = resources["LaunchResultsQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"} and statement["Action"] == "sqs:SendMessage"

    monkeypatch.setenv("AWS_ENDPOINT_URL", sim.endpoint_url)  # restored after the test
    for _ in range(2):  # a second apply changes nothing and still succeeds
        assert main(["events-setup", "--apply", "--endpoint", sim.endpoint_url, "--region", "us-east-1"]) == 0
        out = capsys.readouterr().out
        assert "events_queue_url = " in out
    queue_url = out.split("events_queue_url = ", 1)[1].split()[0]
    sim.control.set_time_scale(SLOW)
    job_id = start([DB])
    event = run_trigger(DrsJobTrigger(job_ids=[job_id], events_queue_url=queue_url, **EVENTS_ONLY))
    assert event["jobs"][job_id]["settled_by"] == "events"


def test_a_message_that_is_not_a_launch_result_is_left_alone(sim, queue_url):
    client(sim, "sqs").send_message(QueueUrl=queue_url, MessageBody=json.dumps({"hello": "another app's"}))
    job_id = start([DB])
    event = run_trigger(DrsJobTrigger(job_ids=[job_id], events_queue_url=queue_url, **EVENTS_ONLY))
    assert event["jobs"][job_id]["settled_by"] == "events"
    assert queue_depth(sim, queue_url) == 1  # handed back, never deleted


def test_the_queue_is_read_in_the_region_its_url_names():
    from airflow_provider_drs.hooks.drs_events import LaunchEventQueue, queue_region

    assert queue_region("https://sqs.eu-west-1.amazonaws.com/111122223333/q") == "eu-west-1"
    assert queue_region("https://sqs.cn-north-1.amazonaws.com.cn/111122223333/q") == "cn-north-1"
    assert queue_region("http://127.0.0.1:4566/123456789012/q") is None
    queue = LaunchEventQueue("https://sqs.eu-west-1.amazonaws.com/111122223333/q", aws_conn_id=None,
                             region_name="us-east-1")
    assert queue.hook.region_name == "eu-west-1"
