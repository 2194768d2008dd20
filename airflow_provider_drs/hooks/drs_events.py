"""DRS's own word that a server's launch ended: the "DRS Source Server Launch Result" EventBridge
event, read from the SQS queue an EventBridge rule feeds.

DRS publishes the event the moment a server's drill or recovery launch succeeds or fails (per the
DRS user guide's sample: ``detail.state`` RECOVERY_LAUNCH_SUCCEEDED or RECOVERY_LAUNCH_FAILED,
``detail.job-id``, ``detail.is-drill``, the source server's ARN in ``resources``). Delivery is best
effort, so the events only speed a wait up; DescribeJobs stays the safety net (``triggers.drs_poller``).

Here: parsing the event, the SQS reads and writes of the queue, and the CloudFormation template
that creates the rule, the queue and its policy (``drs-plan events-setup``).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from airflow.providers.amazon.aws.hooks.cloud_formation import CloudFormationHook
from airflow.providers.amazon.aws.hooks.sqs import SqsHook

EVENT_SOURCE = "aws.drs"
LAUNCH_RESULT = "DRS Source Server Launch Result"
# An SQS long poll waits at most 20 s for a message (ReceiveMessage WaitTimeSeconds).
LONG_POLL_SECONDS = 20
RECEIVE_BATCH = 10          # ReceiveMessage and the *Batch calls take at most 10 entries
# Messages nobody claims are deleted this long after they were sent: by then every triggerer
# has seen them, and a wait that starts later reads its job with DescribeJobs first anyway.
UNCLAIMED_EVENT_SECONDS = 60.0
QUEUE_RETENTION_SECONDS = 600   # the queue forgets what no triggerer took, whatever happens


@dataclass(frozen=True)
class LaunchResult:
    """One server's launch outcome as DRS announced it."""

    job_id: str
    source_server_id: str
    launch_status: str          # LAUNCHED | FAILED (the job's launchStatus spelling)
    time: str | None            # ISO-8601 UTC, the event's time
    is_drill: bool | None
    region: str | None


def parse_launch_result(event: dict[str, Any]) -> LaunchResult | None:
    """The launch result an EventBridge event carries, or None for any other event (or a malformed one)."""
    if event.get("source") != EVENT_SOURCE or event.get("detail-type") != LAUNCH_RESULT:
        return None
    detail = event.get("detail") or {}
    state = str(detail.get("state") or "")
    if state.endswith("LAUNCH_SUCCEEDED"):
        status = "LAUNCHED"
    elif state.endswith("LAUNCH_FAILED"):
        status = "FAILED"
    else:
        return None
    job_id = detail.get("job-id") or detail.get("jobId") or detail.get("jobID")
    server_id = detail.get("sourceServerID") or next(
        (arn.rsplit("/", 1)[1] for arn in event.get("resources") or [] if ":source-server/" in str(arn)), None)
    if not job_id or not server_id:
        return None
    drill = detail.get("is-drill")
    is_drill = None if drill is None else str(drill).upper() == "TRUE"
    return LaunchResult(str(job_id), str(server_id), status, event.get("time"), is_drill, event.get("region"))


@dataclass
class QueuedEvent:
    """One SQS message of the events queue: its handle, when it was sent and what it says."""

    receipt_handle: str
    message_id: str
    sent_at: float              # epoch seconds (SQS SentTimestamp)
    receive_count: int          # SQS ApproximateReceiveCount, this receive included
    result: LaunchResult | None

    def age(self, now: float | None = None) -> float:
        return (time.time() if now is None else now) - self.sent_at


def _queued_event(message: dict[str, Any]) -> QueuedEvent:
    attributes = message.get("Attributes") or {}
    try:
        result = parse_launch_result(json.loads(message.get("Body") or "{}"))
    except (ValueError, TypeError, AttributeError):
        result = None
    return QueuedEvent(
        message["ReceiptHandle"], message.get("MessageId", ""),
        int(attributes.get("SentTimestamp", time.time() * 1000)) / 1000.0,
        int(attributes.get("ApproximateReceiveCount", 1)), result,
    )


_AWS_QUEUE_HOST = re.compile(r"^https://sqs\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?/")


def queue_region(queue_url: str) -> str | None:
    """The region an AWS queue URL names (https://sqs.REGION.amazonaws.com/...), else None."""
    match = _AWS_QUEUE_HOST.match(queue_url)
    return match.group(1) if match else None


class LaunchEventQueue:
    """The SQS queue of launch results, read through the Amazon provider's SqsHook (async client),
    in the queue's own region when its URL names one (the DRS connection may be elsewhere)."""

    def __init__(self, queue_url: str, **hook_params: Any):
        self.queue_url = queue_url
        region = queue_region(queue_url)
        self.hook = SqsHook(**{**hook_params, **({"region_name": region} if region else {})})

    @asynccontextmanager
    async def async_client(self) -> AsyncIterator[Any]:
        async with await self.hook.get_async_conn() as client:
            yield client

    async def receive(self, client: Any, wait_seconds: int = LONG_POLL_SECONDS) -> list[QueuedEvent]:
        answer = await client.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=RECEIVE_BATCH, WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["SentTimestamp", "ApproximateReceiveCount"],
        )
        return [_queued_event(message) for message in answer.get("Messages", [])]

    async def delete(self, client: Any, events: Sequence[QueuedEvent]) -> None:
        await self._in_batches(client.delete_message_batch, [{"ReceiptHandle": e.receipt_handle} for e in events])

    async def hand_back(self, client: Any, events: Sequence[tuple[QueuedEvent, int]]) -> None:
        """Make messages visible again after the given seconds, for another triggerer to take."""
        await self._in_batches(client.change_message_visibility_batch,
                               [{"ReceiptHandle": e.receipt_handle, "VisibilityTimeout": s} for e, s in events])

    async def _in_batches(self, call: Any, entries: list[dict[str, Any]]) -> None:
        for start in range(0, len(entries), RECEIVE_BATCH):
            batch = entries[start:start + RECEIVE_BATCH]
            await call(QueueUrl=self.queue_url, Entries=[{"Id": str(n), **e} for n, e in enumerate(batch)])


def events_setup_template(queue_name: str = "drs-launch-results", rule_name: str = "drs-launch-results") -> dict:
    """CloudFormation: the EventBridge rule on DRS launch results, the SQS queue it feeds, and the
    queue policy that lets this rule (and only it) send to the queue."""
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "DRS launch results for airflow-provider-drs: an EventBridge rule on aws.drs "
                       f"'{LAUNCH_RESULT}' events feeding one SQS queue shared by every triggerer.",
        "Resources": {
            "LaunchResultsQueue": {
                "Type": "AWS::SQS::Queue",
                "Properties": {
                    "QueueName": queue_name,
                    "MessageRetentionPeriod": QUEUE_RETENTION_SECONDS,
                    "ReceiveMessageWaitTimeSeconds": LONG_POLL_SECONDS,
                    "VisibilityTimeout": 30,
                    "SqsManagedSseEnabled": True,
                },
            },
            "LaunchResultsRule": {
                "Type": "AWS::Events::Rule",
                "Properties": {
                    "Name": rule_name,
                    "Description": "DRS server launch results, for airflow-provider-drs job waits",
                    "State": "ENABLED",
                    "EventPattern": {"source": [EVENT_SOURCE], "detail-type": [LAUNCH_RESULT]},
                    "Targets": [{"Id": "launch-results-queue", "Arn": {"Fn::GetAtt": ["LaunchResultsQueue", "Arn"]}}],
                },
            },
            "LaunchResultsQueuePolicy": {
                "Type": "AWS::SQS::QueuePolicy",
                "Properties": {
                    "Queues": [{"Ref": "LaunchResultsQueue"}],
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [{
                            "Sid": "DrsLaunchResultsFromEventBridge",
                            "Effect": "Allow",
                            "Principal": {"Service": "events.amazonaws.com"},
                            "Action": "sqs:SendMessage",
                            "Resource": {"Fn::GetAtt": ["LaunchResultsQueue", "Arn"]},
                            "Condition": {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["LaunchResultsRule", "Arn"]}}},
                        }],
                    },
                },
            },
        },
        "Outputs": {
            "QueueUrl": {"Description": "Set [drs] events_queue_url (or a plan's events_queue) to this",
                         "Value": {"Ref": "LaunchResultsQueue"}},
            "QueueArn": {"Value": {"Fn::GetAtt": ["LaunchResultsQueue", "Arn"]}},
        },
    }


def deploy_events_setup(stack_name: str, template: dict, aws_conn_id: str | None,
                        region_name: str | None) -> tuple[str, dict[str, str]]:
    """Create the stack, or update it when it exists; wait for it. Returns (status, outputs)."""
    client = CloudFormationHook(aws_conn_id=aws_conn_id, region_name=region_name).get_conn()
    body = json.dumps(template)
    try:
        client.describe_stacks(StackName=stack_name)
        exists = True
    except client.exceptions.ClientError as error:
        if "does not exist" not in str(error):
            raise
        exists = False
    if not exists:
        client.create_stack(StackName=stack_name, TemplateBody=body)
        client.get_waiter("stack_create_complete").wait(StackName=stack_name)
    else:
        try:
            client.update_stack(StackName=stack_name, TemplateBody=body)
            client.get_waiter("stack_update_complete").wait(StackName=stack_name)
        except client.exceptions.ClientError as error:
            if "No updates are to be performed" not in str(error):
                raise
    stack = client.describe_stacks(StackName=stack_name)["Stacks"][0]
    return stack["StackStatus"], {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
