"""Test helper: a DRS native recovery plan created in the simulator with boto3 (as a team would in
the DRS console), for the tests of running native plans from Airflow."""

from __future__ import annotations

import boto3

NATIVE_PLAN_FILE = """\
version: 1
plan: {plan}
region: us-east-1
rto_minutes: 30
native_plan: three-tier
drill:
  schedule: "@weekly"
notifications:
  sns_topic_arn: arn:aws:sns:us-east-1:123456789012:dr
"""


def native_plan_file(plan: str) -> str:
    """The text of a plan file that runs the native plan 'three-tier' (scheduled drill, a topic)."""
    return NATIVE_PLAN_FILE.format(plan=plan)


def drs_client(endpoint_url: str):
    return boto3.client("drs", endpoint_url=endpoint_url, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def create_native_plan(endpoint_url: str, name: str, steps: list[tuple[str, object]]) -> str:
    """A native plan; each step is (name, {server_id: "CRITICAL" | "OPTIONAL"}) or (name, wait_minutes)."""
    client = drs_client(endpoint_url)
    arns = {s["sourceServerID"]: s["arn"] for page in client.get_paginator("describe_source_servers").paginate()
            for s in page["items"]}
    plan_arn = client.create_recovery_plan(name=name)["recoveryPlan"]["recoveryPlanArn"]
    for order, (step_name, body) in enumerate(steps, 1):
        if isinstance(body, int):
            configuration = {"waitStepConfiguration": {"waitDurationMinutes": body}}
        else:
            configuration = {"serverStepConfiguration": {"servers": [
                {"serverArn": arns[sid], "impactLevel": level} for sid, level in body.items()]}}
        client.create_recovery_plan_step(recoveryPlanArn=plan_arn, stepName=step_name, stepOrder=order,
                                         configuration=configuration)
    return plan_arn
