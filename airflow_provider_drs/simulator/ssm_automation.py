"""SSM Automation (json 1.1), which moto lacks: Start/Get/StopAutomationExecution, and
DescribeDocument for the AWS-owned documents (moto has none; documents created through the SSM API
are moto's to describe).

An execution is a timeline like a DRS job: Pending, then its steps one after another, then
Success or Failed. A document with an InstanceId parameter fails unless that instance exists in
the embedded EC2, which catches plans whose ``{{ instance:... }}`` resolution went wrong.
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field

from fastapi import APIRouter, Request
from starlette.responses import Response

from . import errors, moto_bridge
from .faults import FaultSet
from .ids import ACCOUNT_ID, uuid
from .request_validation import input_shape, problems

TARGET_PREFIX = "AmazonSSM."
OPERATIONS = ("StartAutomationExecution", "GetAutomationExecution", "StopAutomationExecution")
PENDING_SHARE = 0.1  # of the duration spent Pending before the first step
# Steps of the AWS-owned documents a DR runbook most often uses; others run as one step.
KNOWN_DOCUMENTS = {
    "AWS-RestartEC2Instance": [("stopInstances", "aws:changeInstanceState"),
                               ("startInstances", "aws:changeInstanceState")],
    "AWS-StopEC2Instance": [("stopInstances", "aws:changeInstanceState")],
    "AWS-StartEC2Instance": [("startInstances", "aws:changeInstanceState")],
    "AWS-CreateImage": [("createImage", "aws:createImage")],
}
AWS_OWNED_PREFIXES = ("AWS", "Amazon")
COMMAND_DOCUMENTS = {"AWS-RunShellScript", "AWS-RunPowerShellScript", "AWS-RunPatchBaseline",
                     "AWS-ConfigureAWSPackage", "AWS-RunRemoteScript"}
DESCRIBE_DOCUMENT = "DescribeDocument"


def is_aws_owned(region: str, name: str) -> bool:
    """An AWS-owned document moto cannot describe (a document created under that name is moto's)."""
    return name.startswith(AWS_OWNED_PREFIXES) and moto_bridge.automation_document_steps(region, name) is None


@dataclass
class Step:
    name: str
    action: str
    start: float
    end: float
    step_id: str
    failure: str | None = None


@dataclass
class Execution:
    execution_id: str
    document: str
    version: str
    parameters: dict
    created: float
    steps: list[Step]
    end: float
    failure: str | None
    cancelled_at: float | None = None
    step_outputs: dict = field(default_factory=dict)

    def status(self, now: float) -> str:
        if self.cancelled_at is not None and self.cancelled_at < self.end:
            return "Cancelled"
        if now < self.steps[0].start:
            return "Pending"
        if now < self.end:
            return "InProgress"
        return "Failed" if self.failure else "Success"

    def to_api(self, now: float) -> dict:
        status = self.status(now)
        stop = self.cancelled_at if status == "Cancelled" else self.end
        out = {
            "AutomationExecutionId": self.execution_id, "DocumentName": self.document,
            "DocumentVersion": self.version, "ExecutionStartTime": self.created,
            "AutomationExecutionStatus": status, "Mode": "Auto",
            "ExecutedBy": f"arn:aws:iam::{ACCOUNT_ID}:user/drs-sim", "StepExecutionsTruncated": False,
            "StepExecutions": [],
        }
        if self.parameters:
            out["Parameters"] = self.parameters
        if status in ("Success", "Failed", "Cancelled"):
            out["ExecutionEndTime"] = stop
        if status == "Failed":
            out["FailureMessage"] = self.failure
        for step in self.steps:
            item = {"StepName": step.name, "Action": step.action, "StepExecutionId": step.step_id,
                    "OnFailure": "Abort", "MaxAttempts": 1, "StepStatus": "Pending"}
            if now >= step.start and (stop is None or step.start <= stop):
                item["ExecutionStartTime"] = step.start
                if status == "Cancelled" and stop < step.end:
                    item.update(StepStatus="Cancelled", ExecutionEndTime=stop)
                elif now < step.end:
                    item["StepStatus"] = "InProgress"
                else:
                    item.update(StepStatus="Failed" if step.failure else "Success", ExecutionEndTime=step.end)
                    if step.failure:
                        item["FailureMessage"] = step.failure
            elif status == "Cancelled":
                item["StepStatus"] = "Cancelled"
            out["StepExecutions"].append(item)
            if step.failure:
                break  # later steps never run after an Abort
        if status == "InProgress":
            current = next(s for s in self.steps if s.start <= now < s.end)
            out.update(CurrentStepName=current.name, CurrentAction=current.action)
        return out


class AutomationService:
    def __init__(self, duration: float, time_scale: float, seed: int, faults: FaultSet):
        self.duration, self.time_scale, self.seed, self.faults = duration, time_scale, seed, faults
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.executions: dict[str, Execution] = {}
            self.rng = random.Random(f"ssm/{self.seed}")

    def _steps_of(self, region: str, document: str) -> list[tuple[str, str]]:
        steps = moto_bridge.automation_document_steps(region, document)
        if steps is not None:
            return steps
        if document in KNOWN_DOCUMENTS:
            return KNOWN_DOCUMENTS[document]
        if document.startswith(AWS_OWNED_PREFIXES):
            return [("executeAutomation", "aws:executeScript")]
        raise errors.ApiError(400, "AutomationDefinitionNotFoundException",
                              f"Automation document {document} was not found in {region}. Create it with "
                              "ssm create_document (DocumentType Automation) or use an AWS-owned document.")

    def _instance_problem(self, region: str, parameters: dict) -> str | None:
        for key in ("InstanceId", "InstanceIds"):
            for value in parameters.get(key, []):
                state = moto_bridge.instance_state(region, value)
                if state is None or state == "terminated":
                    why = "does not exist" if state is None else "is terminated"
                    return f"InvalidInstanceId: the instance ID '{value}' {why} in {region}"
        return None

    def start(self, region: str, body: dict) -> dict:
        document = body["DocumentName"]
        parameters = body.get("Parameters") or {}
        with self.lock:
            names = self._steps_of(region, document)
            now = time.time()
            total = self.duration * self.time_scale
            t = now + total * PENDING_SHARE
            per_step = (total - total * PENDING_SHARE) / len(names)
            steps = []
            for name, action in names:
                steps.append(Step(name, action, t, t + per_step, uuid(self.rng)))
                t += per_step
            failing, reason = None, self._instance_problem(region, parameters)
            if reason:
                failing = steps[0]
            elif document in self.faults.automation_failures:
                wanted = self.faults.automation_failures[document]
                failing = next((s for s in steps if s.name == wanted), steps[-1])
                reason = f"Simulated failure of step {failing.name} (fault injected for {document})"
            failure = None
            if failing:
                failing.failure = (f"Step fails when it is Executing. Fail to execute step {failing.name}. "
                                   f"{reason}")
                failure = failing.failure + " Please refer to Automation Service Troubleshooting Guide."
                steps = steps[: steps.index(failing) + 1]
            execution = Execution(uuid(self.rng), document, body.get("DocumentVersion") or "1",
                                  parameters, now, steps, steps[-1].end, failure)
            self.executions[execution.execution_id] = execution
            return {"AutomationExecutionId": execution.execution_id}

    def describe_document(self, region: str, body: dict) -> dict:
        name = body["Name"]
        if not is_aws_owned(region, name):
            raise errors.ApiError(400, "InvalidDocument", f"Document {name} does not exist in {region}")
        kind = "Command" if name in COMMAND_DOCUMENTS else "Automation"
        return {"Document": {
            "Name": name, "Owner": "Amazon", "DocumentType": kind, "DocumentFormat": "JSON", "Status": "Active",
            "SchemaVersion": "2.2" if kind == "Command" else "0.3", "DocumentVersion": "1", "LatestVersion": "1",
            "DefaultVersion": "1", "PlatformTypes": ["Windows", "Linux", "MacOS"], "CreatedDate": 1_600_000_000.0,
            "Description": f"{name} (AWS-owned; described by drs-sim)"}}

    def _get(self, execution_id: str) -> Execution:
        execution = self.executions.get(execution_id)
        if execution is None:
            raise errors.ApiError(400, "AutomationExecutionNotFoundException",
                                  f"Automation execution {execution_id} not found")
        return execution

    def get(self, region: str, body: dict) -> dict:
        with self.lock:
            return {"AutomationExecution": self._get(body["AutomationExecutionId"]).to_api(time.time())}

    def stop(self, region: str, body: dict) -> dict:
        with self.lock:
            execution, now = self._get(body["AutomationExecutionId"]), time.time()
            if execution.status(now) not in ("Pending", "InProgress"):
                raise errors.ApiError(400, "InvalidAutomationStatusUpdateException",
                                      f"Execution {execution.execution_id} is already {execution.status(now)}")
            execution.cancelled_at = now
            return {}


def router(service: AutomationService) -> APIRouter:
    api = APIRouter()
    calls = {"StartAutomationExecution": service.start, "GetAutomationExecution": service.get,
             "StopAutomationExecution": service.stop, DESCRIBE_DOCUMENT: service.describe_document}

    @api.post("/", include_in_schema=False)
    async def automation(request: Request) -> Response:
        operation = request.headers.get("x-amz-target", "").removeprefix(TARGET_PREFIX)
        try:
            try:
                body = json.loads(await request.body() or b"{}")
            except ValueError:
                raise errors.ApiError(400, "SerializationException", "Request body is not valid JSON") from None
            found = problems(input_shape("ssm", operation), body)
            if found:
                raise errors.ApiError(400, "ValidationException", "; ".join(f"{f} {m}" for f, m in found))
            payload = calls[operation](request.scope["sim.region"], body)
        except errors.ApiError as err:
            return errors.json11_response(err)
        return Response(json.dumps(payload), 200, media_type="application/x-amz-json-1.1")

    return api
