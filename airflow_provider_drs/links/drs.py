"""Console links shown on DRS tasks (persisted to XCom by the operators that know the ids)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.providers.amazon.aws.links.base_aws import BASE_AWS_CONSOLE_LINK, BaseAwsLink


class DrsJobLink(BaseAwsLink):
    """The DRS job in the DRS console's recovery job history."""

    name = "DRS Job"
    key = "_drs_job_details"
    format_str = BASE_AWS_CONSOLE_LINK + "/drs/home?region={region_name}#/launchHistory/{job_id}"


class DrsRecoveryInstancesLink(BaseAwsLink):
    """The EC2 instances a job recovered, as one filtered EC2 console list."""

    name = "Recovered EC2 Instances"
    key = "_drs_recovered_instances"
    format_str = BASE_AWS_CONSOLE_LINK + "/ec2/home?region={region_name}#Instances:instanceId={instance_ids}"

    def format_link(self, **kwargs) -> str:
        ids = kwargs.get("instance_ids")
        if not ids:
            return ""
        return super().format_link(**{**kwargs, "instance_ids": ",".join(ids) if isinstance(ids, list) else ids})


def persist_instance_link(task: Any, context: Any, results: Mapping[str, Mapping[str, Any]]) -> None:
    """The task's link to the EC2 console, filtered to the instances the job launched."""
    ids = [r["ec2_instance_id"] for r in results.values() if r.get("ec2_instance_id")]
    DrsRecoveryInstancesLink.persist(
        context=context, operator=task, region_name=task.hook.conn_region_name,
        aws_partition=task.hook.conn_partition, instance_ids=ids,
    )
