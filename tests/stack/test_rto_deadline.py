"""The RTO as an Airflow deadline on the production topology: the scheduler notices the missed
deadline, a triggerer runs the provider's callback, and the plan's SNS topic hears of the breach
while the drill is still running (read back through an SQS subscription in the simulator's moto)."""

from __future__ import annotations

import json
import time

import pytest

from tests.stack.estate import Estate
from tests.waiting import wait_until

DAG, TOPIC = "drs_rto_breach_drill", "arn:aws:sns:us-east-1:123456789012:dr-notify"
pytestmark = pytest.mark.timeout(600)


def test_rto_breach_is_published_while_the_drill_still_runs(stack, api, sim):
    estate = Estate(stack.sim_url)
    sqs, sns = estate.client("sqs"), estate.client("sns")
    queue = sqs.create_queue(QueueName="rto-breach")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=TOPIC, Protocol="sqs", Endpoint=arn)
    sim.set_time_scale(30.0)  # the one server takes minutes to launch: well past the 1-minute RTO

    run_id = api.trigger(DAG)
    started = time.monotonic()
    received: list[dict] = []

    def breach_heard() -> bool:
        for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
            received.append(json.loads(message["Body"]))
        return any("RTO of 1 min breached" in m.get("Subject", "") for m in received)

    wait_until(breach_heard, timeout=240, interval=1.0, what="the RTO breach message")
    heard_after = time.monotonic() - started
    state_when_heard = api.run(DAG, run_id)["state"]
    breach = next(m for m in received if "breached" in m["Subject"])

    # Stop the slow drill; its cleanup still terminates what it launched.
    api.set_run_state(DAG, run_id, "failed")
    sim.set_time_scale(1.0)
    api.wait_for_run(DAG, run_id, timeout=300)
    wait_until(lambda: api.task_states(DAG, run_id).get("cleanup") in ("success", "failed"), timeout=300,
               interval=1.0, what="cleanup")

    assert state_when_heard == "running"
    assert run_id in breach["Message"] and 60 <= heard_after < 180, heard_after
    assert estate.live_drill_instances() == []
    print(f"\nRTO deadline: breach published {heard_after:.1f} s after the trigger (RTO 60 s), run still running")
