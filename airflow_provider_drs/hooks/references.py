"""Resolve a plan's parameter references against AWS at run time.

`{{ ssm:/path }}` reads an SSM parameter (decrypted), `{{ cfn:Stack.Output }}` a CloudFormation
stack output, `{{ instance:s-... }}` the EC2 instance recovered for that server in this run (the
caller passes that mapping in: it comes from the wave's results, not from AWS).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from airflow.providers.amazon.aws.hooks.ssm import SsmHook

from airflow_provider_drs.plans import Reference, UnresolvedReference


class AwsReferenceResolver:
    """A plans.Resolver backed by SSM Parameter Store, CloudFormation and this run's instances."""

    def __init__(self, aws_conn_id: str | None, region_name: str | None, instances: Mapping[str, str | None]):
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.instances = dict(instances)
        self._outputs: dict[str, dict[str, str]] = {}

    @cached_property
    def _ssm(self) -> SsmHook:
        return SsmHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name)

    @cached_property
    def _cloudformation(self) -> AwsBaseHook:
        return AwsBaseHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name, client_type="cloudformation")

    def resolve(self, reference: Reference) -> str:
        if reference.kind == "instance":
            instance = self.instances.get(reference.value)
            if not instance:
                raise UnresolvedReference(
                    f"{reference}: server {reference.value} has no recovered EC2 instance in this run (it did "
                    "not launch, or its wave has not run). Make the action depend on a wave that launches it."
                )
            return instance
        if reference.kind == "ssm":
            value = self._ssm.get_parameter_value(reference.value, default=None)
            if value is None:
                raise UnresolvedReference(
                    f"{reference}: SSM parameter {reference.value} not found in {self.region_name}. Create it, "
                    "or fix the name in the plan."
                )
            return value
        if reference.kind == "cfn":
            stack, _, output = reference.value.partition(".")
            outputs = self._stack_outputs(stack)
            if output not in outputs:
                raise UnresolvedReference(
                    f"{reference}: stack {stack} has no output {output} (outputs: {', '.join(sorted(outputs)) or 'none'})."
                )
            return outputs[output]
        raise UnresolvedReference(f"{reference}: unknown reference kind {reference.kind!r}")

    def _stack_outputs(self, stack: str) -> dict[str, str]:
        if stack not in self._outputs:
            try:
                stacks = self._cloudformation.conn.describe_stacks(StackName=stack)["Stacks"]
            except self._cloudformation.conn.exceptions.ClientError as error:
                raise UnresolvedReference(f"{{{{ cfn:{stack}.* }}}}: cannot read stack {stack}: {error}") from error
            self._outputs[stack] = {o["OutputKey"]: o["OutputValue"] for s in stacks for o in s.get("Outputs", [])}
        return self._outputs[stack]
