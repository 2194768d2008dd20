"""SNS notifications of a plan: the run's report (notify task) and a pending approval (notifier).

The topic may be a plan reference (`{{ ssm:... }}`): it is resolved when the message is sent and is
deliberately not an Airflow template field."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.sns import SnsHook
from airflow.providers.common.compat.sdk import BaseOperator
from airflow.sdk import BaseNotifier

from airflow_provider_drs.hooks.references import AwsReferenceResolver
from airflow_provider_drs.hooks.report_store import open_report_store
from airflow_provider_drs.plan_tasks import REPORT
from airflow_provider_drs.plans import render
from airflow_provider_drs.reports.run_report import format_table

if TYPE_CHECKING:
    from airflow.sdk import Context

log = logging.getLogger(__name__)


def subject_line(report: dict[str, Any]) -> str:
    if report["outcome"] == "rejected":
        approval = report.get("approval") or {}
        if approval.get("timed_out"):
            return f"[DRS {report['mode']}] {report['plan']}: not approved in time, nothing launched"
        by = approval.get("by") or "an approver"
        return f"[DRS {report['mode']}] {report['plan']}: rejected by {by}, nothing launched"
    rto = report["rto"]
    achieved = f"RTO {rto['achieved_minutes']} of {rto['target_minutes']} min" if rto["achieved_seconds"] is not None \
        else f"RTO not achieved (target {rto['target_minutes']} min)"
    return f"[DRS {report['mode']}] {report['plan']}: {report['outcome']}, {achieved}"


def publish(topic_ref: str, subject: str, message: str, aws_conn_id: str | None, region_name: str | None) -> tuple[str, str]:
    """Resolve the topic and publish; return (topic ARN, message id)."""
    topic = render(topic_ref, AwsReferenceResolver(aws_conn_id, region_name, {}))
    hook = SnsHook(aws_conn_id=aws_conn_id, region_name=region_name)
    response = hook.publish_to_target(target_arn=topic, subject=subject[:100], message=message)
    # The hook answers SNS's whole response (newer Amazon providers) or the message id (older ones).
    return topic, response["MessageId"] if isinstance(response, dict) else str(response)


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
                 report_task_id: str = REPORT, **kwargs: Any):
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


def _reported(dag_id: str, run_id: str) -> bool:
    try:
        return open_report_store().get(dag_id, run_id) is not None
    except Exception as error:  # unreadable store: say the breach rather than stay silent
        log.warning("drs.rto_deadline could not read the report store: %s", error)
        return False


async def notify_rto_breach(*, plan_name: str, mode: str, rto_minutes: int, topic_arn: str | None,
                            aws_conn_id: str | None, region_name: str | None,
                            context: dict[str, Any] | None = None) -> str:
    """The DAG's RTO deadline was missed (an Airflow DeadlineAlert; this runs in the triggerer):
    tell the plan's topic while the run is still going. A run that already ended is not a breach
    in progress (Airflow keeps the deadline of a failed run), so it says nothing."""
    run = (context or {}).get("dag_run") or {}
    state, run_id = run.get("state"), run.get("dag_run_id") or run.get("run_id")
    if state not in ("queued", "running"):
        log.info("drs.rto_deadline plan=%s run=%s already %s: no breach message", plan_name, run_id, state)
        return f"run {run_id} already {state}"
    if run.get("dag_id") and run_id and await asyncio.to_thread(_reported, run["dag_id"], run_id):
        # A recovery waiting on its commit-or-roll-back question: the waves are over, and the
        # report (already sent) says whether the RTO was met.
        log.info("drs.rto_deadline plan=%s run=%s: waves over and reported, no breach message", plan_name, run_id)
        return f"run {run_id} already reported"
    subject = f"[DRS {mode}] {plan_name}: RTO of {rto_minutes} min breached, run still going"
    message = (f"The {mode} of plan {plan_name} (DAG {run.get('dag_id')}, run {run_id}) has been running longer than "
               f"its RTO target of {rto_minutes} min. It is still going: see the run in Airflow.")
    log.warning("drs.rto_deadline plan=%s run=%s: RTO of %s min breached while %s", plan_name, run_id, rto_minutes,
                state)
    if not topic_arn:
        return "no notification topic"
    topic, message_id = await asyncio.to_thread(publish, topic_arn, subject, message, aws_conn_id, region_name)
    return f"published {message_id} to {topic}"
