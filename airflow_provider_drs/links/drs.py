"""Console links shown on DRS tasks (persisted to XCom by the operators that know the ids)."""

from __future__ import annotations

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
