"""The notify task: publish the run's outcome and report table to the plan's SNS topic."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.sns import SnsHook
from airflow.providers.common.compat.sdk import BaseOperator

from airflow_provider_drs.hooks.references import AwsReferenceResolver
from airflow_provider_drs.plans import render
from airflow_provider_drs.reports.run_report import format_table

if TYPE_CHECKING:
    from airflow.sdk import Context


def subject_line(report: dict[str, Any]) -> str:
    rto = report["rto"]
    achieved = f"RTO {rto['achieved_minutes']} of {rto['target_minutes']} min" if rto["achieved_seconds"] is not None \
        else f"RTO not achieved (target {rto['target_minutes']} min)"
    return f"[DRS {report['mode']}] {report['plan']}: {report['outcome']}, {achieved}"[:100]


class PlanNotifyOperator(BaseOperator):
    """Publish the report of this run to SNS. The topic may be a plan reference (`{{ ssm:... }}`),
    resolved when the task runs; it is deliberately not an Airflow template field."""

    ui_color = "#fff3cd"

    def __init__(self, *, topic_arn: str, aws_conn_id: str | None, region_name: str | None,
                 report_task_id: str = "report", **kwargs: Any):
        super().__init__(**kwargs)
        self.topic_arn = topic_arn
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.report_task_id = report_task_id

    def execute(self, context: Context) -> str:
        report = context["ti"].xcom_pull(task_ids=self.report_task_id)
        if not report:
            raise ValueError(f"No report from task {self.report_task_id}: nothing to notify about.")
        topic = render(self.topic_arn, AwsReferenceResolver(self.aws_conn_id, self.region_name, {}))
        message_id = SnsHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name).publish_to_target(
            target_arn=topic, subject=subject_line(report), message=format_table(report),
        )
        self.log.info("drs.notify plan=%s topic=%s message_id=%s", report["plan"], topic, message_id)
        return message_id
