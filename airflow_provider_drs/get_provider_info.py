"""Provider metadata read by Airflow's ProvidersManager (entry point ``apache_airflow_provider``)."""

from __future__ import annotations

from airflow_provider_drs import __version__


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
                "python-modules": ["airflow_provider_drs.hooks.drs"],
            },
            {
                "integration-name": "AWS Systems Manager Automation",
                "python-modules": ["airflow_provider_drs.hooks.ssm_automation"],
            },
        ],
        "operators": [
            {
                "integration-name": "AWS Elastic Disaster Recovery (DRS)",
                "python-modules": ["airflow_provider_drs.operators.drs"],
            },
            {
                "integration-name": "AWS Systems Manager Automation",
                "python-modules": ["airflow_provider_drs.operators.ssm_automation"],
            },
        ],
        "sensors": [
            {
                "integration-name": "AWS Elastic Disaster Recovery (DRS)",
                "python-modules": ["airflow_provider_drs.sensors.drs"],
            }
        ],
        "triggers": [
            {
                "integration-name": "AWS Elastic Disaster Recovery (DRS)",
                "python-modules": ["airflow_provider_drs.triggers.drs"],
            },
            {
                "integration-name": "AWS Systems Manager Automation",
                "python-modules": ["airflow_provider_drs.triggers.ssm_automation"],
            },
        ],
        "extra-links": [
            "airflow_provider_drs.links.drs.DrsJobLink",
            "airflow_provider_drs.links.drs.DrsRecoveryInstancesLink",
        ],
    }
