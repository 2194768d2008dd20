"""SNS notifications of a plan: the run's report (notify task) and a pending approval (notifier).

The topic may be a plan reference (`{{ ssm:... }}`): it is resolved when the message is sent and is
deliberately not an Airflow template field."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.sns import SnsHook
from airflow.providers.common.compat.sdk import BaseOperator
from airflow.sdk import BaseNotifier

from airflow_provider_drs.hooks.references import AwsReferenceResolver
from airflow_provider_drs.plans import render
from airflow_provider_drs.reports.run_report import format_table

if TYPE_CHECKING:
    from airflow.sdk import Context


def subject_line(report: dict[str, Any]) -> str:
    if report["outcome"] == "rejected":
        by = (report.get("approval") or {}).get("by") or "an approver"
        return f"[DRS {report['mode']}] {report['plan']}: rejected by {by}, nothing launched"
    rto = report["rto"]
    achieved = f"RTO {rto['achieved_minutes']} of {rto['target_minutes']} min" if rto["achieved_seconds"] is not None \
        else f"RTO not achieved (target {rto['target_minutes']} min)"
    return f"[DRS {report['mode']}] {report['plan']}: {report['outcome']}, {achieved}"


def publish(topic_ref: str, subject: str, message: str, aws_conn_id: str | None, region_name: str | None) -> tuple[str, str]:
    """Resolve the topic and publish; return (topic ARN, message id)."""
    topic = render(topic_ref, AwsReferenceResolver(aws_conn_id, region_name, {}))
    hook = SnsHook(aws_conn_id=aws_conn_id, region_name=region_name)
    return topic, hook.publish_to_target(target_arn=topic, subject=subject[:100], message=message)


class ApprovalSnsNotifier(BaseNotifier):
    """Tell the plan's topic that a recovery waits for a human approval. A failure to notify is
    logged, never raised: it must not stand between the approver and the recovery."""

    template_fields = ()

    def __init__(self, *, topic_arn: str, plan_name: str, aws_conn_id: str | None, region_name: str | None):
        super().__init__()
        self.topic_arn, self.plan_name = topic_arn, plan_name
        self.aws_conn_id, self.region_name = aws_conn_id, region_name

    def notify(self, context: Context) -> None:
        task = context["task"]
        subject = f"[DRS recovery] approval needed: {self.plan_name}"
        message = f"{task.subject}\n\n{task.body or ''}\n\nApprove or reject it under Required Actions in Airflow " \
                  f"(DAG {context['dag'].dag_id}, run {context['run_id']})."
        try:
            topic, message_id = publish(self.topic_arn, subject, message, self.aws_conn_id, self.region_name)
            self.log.info("drs.notify approval plan=%s topic=%s message_id=%s", self.plan_name, topic, message_id)
        except Exception as error:
            self.log.warning("drs.notify approval plan=%s failed: %s", self.plan_name, error)


class PlanNotifyOperator(BaseOperator):
    """Publish the report of this run to the plan's SNS topic."""

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
        topic, message_id = publish(self.topic_arn, subject_line(report), format_table(report),
                                    self.aws_conn_id, self.region_name)
        self.log.info("drs.notify plan=%s topic=%s message_id=%s", report["plan"], topic, message_id)
        return message_id
