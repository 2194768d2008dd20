"""Provider metadata read by Airflow's ProvidersManager (entry point ``apache_airflow_provider``)."""

from __future__ import annotations

from airflow_provider_drs import __version__


def _option(description: str, type_: str, default: str | None, example: str | None = None) -> dict:
    return {"description": description, "version_added": None, "type": type_, "example": example,
            "default": default}


# Every [drs] setting the code reads (a test checks none is missing), shown by `airflow config list`.
CONFIG = {
    "drs": {
        "description": "Disaster-recovery orchestration for AWS Elastic Disaster Recovery: where plans and "
                       "reports are, how DRS jobs are polled, what a run reports.",
        "options": {
            "plans_folder": _option(
                "The folder of recovery plan files. Empty: plans/ beside the dags file that loads them. The "
                "environment variable DRS_PLANS_FOLDER, when set, wins.", "string", "", "/opt/airflow/dags/plans"),
            "min_poll_interval": _option(
                "Seconds between reads of a waiting DRS job once its servers launch (the fastest poll).",
                "float", "2.0"),
            "max_poll_interval": _option(
                "Seconds between reads of a DRS job while its servers snapshot and convert (the slowest poll).",
                "float", "30.0"),
            "events_queue_url": _option(
                "The SQS queue that DRS's 'Source Server Launch Result' events reach through an EventBridge rule "
                "(drs-plan events-setup creates both). Launch waits then end as soon as every server's result "
                "arrives, and DescribeJobs is read only every events_poll_interval, for lost events. One queue "
                "serves every triggerer. A plan's events_queue wins. Empty: poll only.", "string", "",
                "https://sqs.eu-west-1.amazonaws.com/111122223333/drs-launch-results"),
            "events_poll_interval": _option(
                "With an events queue, seconds between the DescribeJobs reads that make up for lost events "
                "(EventBridge delivery is best effort).", "float", "60.0"),
            "failback_poll_interval": _option(
                "Seconds between the reads of a failback DAG's waits (replication back to the origin takes "
                "hours for large disks).", "float", "60.0"),
            "reports_location": _option(
                "Where run reports (JSON and HTML) are written and read: a folder, or s3://bucket/prefix when "
                "workers and the api-server share no disk. Empty: $AIRFLOW_HOME/drs_reports.", "string", "",
                "s3://dr-evidence/airflow"),
            "reports_aws_conn_id": _option(
                "The Airflow AWS connection used for an S3 reports_location.", "string", "aws_default"),
            "metrics_namespace": _option(
                "CloudWatch namespace of each run's metrics (RunSucceeded, ServersLaunched, ServersFailed, "
                "AchievedRTOSeconds, WorstRPOSeconds). Empty: send none.", "string", "DRSOrchestration"),
            "rto_deadline": _option(
                "Attach each plan's RTO to its DAGs as an Airflow deadline that tells the plan's SNS topic of a "
                "breach while the run goes. Turn it off to rehearse with dag.test(), which in Airflow 3.3 fails "
                "at the end of a successful run of a DAG with a deadline.", "boolean", "True"),
        },
    },
}


def get_provider_info() -> dict:
    return {
        "package-name": "airflow-provider-drs",
        "name": "AWS Elastic Disaster Recovery (DRS)",
        "description": "Disaster-recovery orchestration for AWS Elastic Disaster Recovery: recovery "
        "plans as code, drills and recoveries as DAGs, and a local DRS simulator.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "AWS Elastic Disaster Recovery (DRS)",
                "external-doc-url": "https://docs.aws.amazon.com/drs/latest/userguide/what-is-drs.html",
                "tags": ["aws"],
            },
            {
                "integration-name": "AWS Systems Manager Automation",
                "external-doc-url": "https://docs.aws.amazon.com/systems-manager/latest/userguide/systems-manager-automation.html",
                "tags": ["aws"],
            },
        ],
        "hooks": [
            {
                "integration-name": "AWS Elastic Disaster Recovery (DRS)",
                "python-modules": ["airflow_provider_drs.hooks.drs",
                                   "airflow_provider_drs.hooks.instance_health",
                                   "airflow_provider_drs.hooks.drs_plan_executions"],
            },
            {
                "integration-name": "AWS Systems Manager Automation",
                "python-modules": ["airflow_provider_drs.hooks.ssm_automation"],
            },
        ],
        "operators": [
            {
                "integration-name": "AWS Elastic Disaster Recovery (DRS)",
                "python-modules": ["airflow_provider_drs.operators.drs",
                                   "airflow_provider_drs.operators.native_plan"],
            },
            {
                "integration-name": "AWS Systems Manager Automation",
                "python-modules": ["airflow_provider_drs.operators.ssm_automation"],
            },
        ],
        "sensors": [
            {
                "integration-name": "AWS Elastic Disaster Recovery (DRS)",
                "python-modules": ["airflow_provider_drs.sensors.drs",
                                   "airflow_provider_drs.sensors.instance_health",
                                   "airflow_provider_drs.sensors.native_plan"],
            }
        ],
        "triggers": [
            {
                "integration-name": "AWS Elastic Disaster Recovery (DRS)",
                "python-modules": ["airflow_provider_drs.triggers.drs",
                                   "airflow_provider_drs.triggers.instance_health",
                                   "airflow_provider_drs.triggers.native_plan"],
            },
            {
                "integration-name": "AWS Systems Manager Automation",
                "python-modules": ["airflow_provider_drs.triggers.ssm_automation"],
            },
        ],
        "config": CONFIG,
        "extra-links": [
            "airflow_provider_drs.links.drs.DrsJobLink",
            "airflow_provider_drs.links.drs.DrsRecoveryInstancesLink",
        ],
    }
