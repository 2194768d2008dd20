"""A plan with ``native_plan`` -> its drill DAG and its recovery DAG (parse time; no AWS call).

Drill:    begin -> preflight -> start_native_plan -> wait_for_native_plan -> cleanup -> report [-> notify]  (+ verdict)
Recovery: begin -> approve -> preflight -> start_native_plan -> wait_for_native_plan -> report [-> notify]  (+ verdict)
DRS runs the steps; Airflow adds what DRS does not: the approval of a real recovery, the drill's
cleanup (DRS never terminates what a native plan launched), the run report and its notification.
cleanup (always), report, notify and verdict are teardowns of begin, as in the wave DAGs, so a
drill marked failed mid-run still cancels its execution and terminates its instances.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, chain

from airflow_provider_drs.factory.actions import hitl_users
from airflow_provider_drs.factory.dag_builder import plan_source, polling, run_dag_arguments
from airflow_provider_drs.operators.native_plan import DrsStartRecoveryPlanExecutionOperator
from airflow_provider_drs.operators.native_plan_tasks import (
    NativeDrillCleanupOperator, NativePlanPreflightOperator, NativePlanReportOperator, NativeRecoveryApprovalOperator)
from airflow_provider_drs.operators.notify import ApprovalSnsNotifier, PlanNotifyOperator
from airflow_provider_drs.operators.report import verdict
from airflow_provider_drs.plan_tasks import (
    APPROVE, BEGIN, CLEANUP, NOTIFY, PREFLIGHT, REPORT, SNAPSHOTS, START_NATIVE_PLAN, VERDICT, WAIT_FOR_NATIVE_PLAN)
from airflow_provider_drs.plans import Plan
from airflow_provider_drs.sensors.native_plan import DrsRecoveryPlanExecutionSensor
from airflow_provider_drs.version_compat import hitl_answer_window


def build_native_dag(plan: Plan, mode: str) -> DAG:
    conn = {"aws_conn_id": plan.aws_conn_id, "region_name": plan.region}
    poll = polling()
    drill = mode == "drill"
    with DAG(**run_dag_arguments(plan, mode, f"DRS {mode} of plan {plan.name} (native plan {plan.native_plan})",
                                 _doc_md(plan, mode), tags=("native-plan",))) as dag:
        begin = EmptyOperator(task_id=BEGIN).as_setup()
        first = [begin]
        topic = plan.notifications.sns_topic_arn
        if not drill:
            timeout = plan.recovery.approval_timeout_minutes
            first.append(NativeRecoveryApprovalOperator(
                task_id=APPROVE, subject=f"Recover plan {plan.name} in {plan.region} (REAL recovery, not a drill)?",
                body=(f"Plan **{plan.name}** runs the DRS native recovery plan **{plan.native_plan}** in RECOVERY "
                      f"mode: every server of its steps is launched for real.\n\nRTO target {plan.rto_minutes} min."),
                retries=0, recovery_plan_name=plan.native_plan, assigned_users=hitl_users(plan.recovery.approvers),
                **({"defaults": [NativeRecoveryApprovalOperator.REJECT]} if timeout else {}),
                **hitl_answer_window(timedelta(minutes=timeout) if timeout else None),
                notifiers=[ApprovalSnsNotifier(topic_arn=topic, plan_name=plan.name, **conn)] if topic else None,
                **conn,
            ))
        preflight = NativePlanPreflightOperator(
            task_id=PREFLIGHT, plan_name=plan.name, recovery_plan_name=plan.native_plan, is_drill=drill,
            rpo_minutes=plan.rpo_minutes, topic_arn=topic, readiness_warnings=list(plan.drill.readiness_warnings),
            **conn)
        start = DrsStartRecoveryPlanExecutionOperator(
            task_id=START_NATIVE_PLAN, recovery_plan_name=plan.native_plan, is_drill=drill,
            recovery_snapshots=f"{{{{ (ti.xcom_pull(task_ids='{PREFLIGHT}', key='{SNAPSHOTS}') or {{}}) | tojson }}}}",
            **conn)
        wait = DrsRecoveryPlanExecutionSensor(
            task_id=WAIT_FOR_NATIVE_PLAN, execution_arn=f"{{{{ ti.xcom_pull(task_ids='{START_NATIVE_PLAN}') }}}}",
            poll_interval=max(poll["max_poll_interval"], poll["min_poll_interval"]), retries=1, **conn)
        chain(*first, preflight, start, wait)

        cleanup = None
        if drill:  # always: DRS never terminates what the native plan launched
            cleanup = NativeDrillCleanupOperator(task_id=CLEANUP, deferrable=True, **poll, **conn)
            [preflight, start, wait] >> cleanup
            cleanup.as_teardown(setups=begin)
        report = NativePlanReportOperator(
            task_id=REPORT, mode=mode, waves=[], cleanup_policy="always" if drill else None,
            cleanup_task_id=CLEANUP if cleanup else None, approval_task_id=None if drill else APPROVE,
            plan={"name": plan.name, "description": plan.description, "rto_minutes": plan.rto_minutes,
                  "rpo_minutes": plan.rpo_minutes, "region": plan.region, "source": plan_source(plan)},
            **conn).as_teardown(setups=begin)
        [preflight, start, wait, *([cleanup] if cleanup else [])] >> report
        judge = PythonOperator(task_id=VERDICT, python_callable=verdict, retries=0).as_teardown(
            setups=begin, on_failure_fail_dagrun=True)
        [preflight, start, wait, report, *([cleanup] if cleanup else [])] >> judge
        if topic:
            report >> PlanNotifyOperator(task_id=NOTIFY, topic_arn=topic, **conn).as_teardown(setups=begin)
    return dag


def _doc_md(plan: Plan, mode: str) -> str:
    lines = [f"# {plan.name} ({mode})", "", plan.description or "", "",
             f"- **Runs:** DRS native recovery plan `{plan.native_plan}` in {'DRILL' if mode == 'drill' else 'RECOVERY'} "
             "mode (its steps, servers and order live in DRS)",
             f"- **RTO target:** {plan.rto_minutes} min (achieved RTO in every run's report)",
             f"- **Region:** {plan.region} via connection `{plan.aws_conn_id}`"]
    if mode == "drill":
        lines += [f"- **Schedule:** {plan.drill.schedule or 'manual'}",
                  "- **Cleanup:** always: the execution is cancelled if still running, then its drill instances "
                  "are terminated"]
    else:
        lines += ["- **Approval:** required before anything is launched; launches real recovery instances"]
    lines += [f"- **Source:** `{plan.source_file}`"]
    return "\n".join(lines)
