"""One validated plan -> its drill DAG and its recovery DAG.

Drill:    begin -> preflight -> waves -> cleanup [-> restore_launch_settings] -> report [-> notify]   (+ verdict)
Recovery: begin -> approve -> preflight -> waves -> report [-> notify]    (+ verdict)
                                                     report -> decide -> commit | rollback -> record_decision
begin is the run's setup task; cleanup (policy always), report, notify and verdict are its
teardowns, so they run even when a user marks the run failed mid-wave; verdict fails the run
when any task failed. A recovery's report is written before its commit-or-roll-back question, so
the RTO is on record (and notified) without waiting for a person; record_decision adds the answer.
Wave (TaskGroup named after the wave): [delay, for delay_minutes ->] pre actions -> start_recovery -> wait_for_launch -> post
actions [-> wait_until_ready, the ready_when gate]; group edges follow depends_on, so independent waves run in parallel.
"""

from __future__ import annotations

import functools
import logging
import os
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.providers.common.compat.sdk import conf
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, Param, TaskGroup, chain

from airflow_provider_drs.factory.actions import action_task, action_task_id, hitl_users
from airflow_provider_drs.factory.docs import plan_doc_md
from airflow_provider_drs.operators.approval import RecoveryApprovalOperator
from airflow_provider_drs.operators.cleanup import DrillCleanupOperator
from airflow_provider_drs.operators.decision import RecoveryDecisionOperator
from airflow_provider_drs.operators.drs import DrsStartRecoveryOperator
from airflow_provider_drs.operators.launch_settings import RestoreLaunchSettingsOperator
from airflow_provider_drs.operators.notify import ApprovalSnsNotifier, PlanNotifyOperator, notify_rto_breach
from airflow_provider_drs.operators.preflight import PlanPreflightOperator
from airflow_provider_drs.operators.report import DecisionRecordOperator, PlanReportOperator, verdict
from airflow_provider_drs.operators.rollback import RecoveryRollbackOperator
from airflow_provider_drs.plan_tasks import (
    APPROVE, BEGIN, CLEANUP, COMMIT, DECIDE, DELAY, NOTIFY, POINT_IN_TIME, PREFLIGHT, RECORD_DECISION, REPORT,
    RESTORE_LAUNCH_SETTINGS, ROLLBACK, SNAPSHOTS, START_RECOVERY, VERDICT, WAIT_FOR_LAUNCH, WAIT_UNTIL_READY, in_wave)
from airflow_provider_drs.plans import MAX_SERVERS_PER_JOB, Plan, WaveGraph
from airflow_provider_drs.plans.iam_policy import PolicyContext, build_policy
from airflow_provider_drs.plans.launch import launch_spec
from airflow_provider_drs.plans.model import SQS_QUEUE_URL
from airflow_provider_drs.sensors.drs import DrsJobSensor
from airflow_provider_drs.sensors.instance_health import DrsWaveHealthSensor
from airflow_provider_drs.sensors.wave_delay import WaveDelaySensor
from airflow_provider_drs.timetables.drill import DrillTimetable
from airflow_provider_drs.version_compat import (
    AIRFLOW_VERSION, DEADLINE_ALERTS_HAVE_NAMES, HAS_DEADLINE_ALERTS, AsyncCallback, DeadlineAlert,
    DeadlineReference, hitl_answer_window)

log = logging.getLogger(__name__)

START_DATE = datetime(2024, 1, 1, tzinfo=timezone.utc)


def polling() -> dict[str, float]:
    """Sensor polling bounds, from Airflow config ``[drs]`` (env AIRFLOW__DRS__MIN_POLL_INTERVAL...)."""
    return {
        "min_poll_interval": conf.getfloat("drs", "min_poll_interval", fallback=2.0),
        "max_poll_interval": conf.getfloat("drs", "max_poll_interval", fallback=30.0),
    }


def iam_policy(plan: Plan, mode: str, events_queue_url: str | None) -> dict[str, Any]:
    """The IAM policy preflight checks the connection against (`drs-plan iam-policy`, this mode)."""
    from airflow_provider_drs.reports.metrics import DEFAULT_NAMESPACE

    context = PolicyContext(
        region=plan.region, reports_location=conf.get("drs", "reports_location", fallback="") or None,
        metrics_namespace=conf.get("drs", "metrics_namespace", fallback=DEFAULT_NAMESPACE) or None,
        events_queue_url=events_queue_url)
    return build_policy(plan, mode, context)


def events(plan: Plan) -> dict[str, Any]:
    """Where a plan's launch waits hear DRS's launch-result events: the plan's events_queue, else
    ``[drs] events_queue_url``; none means polling only. A setting that is not a queue URL is
    ignored, saying so: events only speed waits up, polling alone is always correct."""
    queue_url = plan.events_queue or conf.get("drs", "events_queue_url", fallback="").strip() or None
    if queue_url and not SQS_QUEUE_URL.match(queue_url):
        _warn_once(f"drs.events_queue_url_invalid value={queue_url!r}: not an SQS queue URL "
                   "(https://sqs.REGION.amazonaws.com/ACCOUNT/QUEUE); launch waits poll. Set [drs] events_queue_url "
                   "to the QueueUrl that drs-plan events-setup --apply prints.")
        queue_url = None
    return {"events_queue_url": queue_url,
            "events_poll_interval": conf.getfloat("drs", "events_poll_interval", fallback=60.0)}


def run_dag_arguments(plan: Plan, mode: str, description: str, doc_md: str, tags: tuple[str, ...] = ()) -> dict[str, Any]:
    """The DAG arguments of a plan's drill or recovery DAG, whatever runs inside it (waves or a native plan)."""
    conn = {"aws_conn_id": plan.aws_conn_id, "region_name": plan.region}
    return {
        "dag_id": plan.dag_id(mode),
        "description": (plan.description or description)[:200],
        "schedule": (DrillTimetable(plan.drill.schedule, timezone="UTC")
                     if mode == "drill" and plan.drill.schedule else None),
        "start_date": START_DATE,
        "catchup": False,
        "max_active_runs": 1,  # two runs of one plan would fight over the same servers
        "tags": ["drs", mode, f"plan:{plan.name}", *tags],
        "doc_md": doc_md,
        "default_args": {"retries": 2, "retry_delay": timedelta(seconds=30)},
        "deadline": rto_deadline(plan, mode, conn),
        "params": run_params(),
    }


def build_dag(plan: Plan, mode: str, graph: WaveGraph | None = None) -> DAG:
    graph = graph or WaveGraph(plan)
    conn = {"aws_conn_id": plan.aws_conn_id, "region_name": plan.region}
    poll, listen = polling(), events(plan)
    server_waves = {server: wave.name for wave in plan.waves for server in wave.static_servers(plan)}
    drill = mode == "drill"
    with DAG(**run_dag_arguments(plan, mode, f"DRS {mode} of plan {plan.name}", plan_doc_md(plan, mode, graph))) as dag:
        # Setup of the run: cleanup, report and notify are its teardowns, so they still run when a
        # user marks the run failed (or success) mid-wave: Airflow then skips every pending task
        # but teardowns. Cancelling a drill terminates its instances and leaves a report.
        begin = EmptyOperator(task_id=BEGIN).as_setup()
        first: list[Any] = [begin]
        if not drill:
            topic = plan.notifications.sns_topic_arn
            timeout = plan.recovery.approval_timeout_minutes
            first.append(RecoveryApprovalOperator(
                task_id=APPROVE, subject=f"Recover plan {plan.name} in {plan.region} (REAL recovery, not a drill)?",
                body=_approval_body(plan, graph), retries=0, servers=plan.static_servers(),
                assigned_users=hitl_users(plan.recovery.approvers),
                # Unanswered in time is a rejection: nothing launches without a yes.
                **({"defaults": [RecoveryApprovalOperator.REJECT]} if timeout else {}),
                **hitl_answer_window(timedelta(minutes=timeout) if timeout else None),
                tag_groups={g: t for w in plan.waves for g, t in w.tag_selectors(plan).items()},
                notifiers=[ApprovalSnsNotifier(topic_arn=topic, plan_name=plan.name, **conn)] if topic else None,
                **conn,
            ))
        preflight = PlanPreflightOperator(
            task_id=PREFLIGHT, plan_name=plan.name, waves=plan.wave_specs(), is_drill=drill,
            rpo_minutes=plan.rpo_minutes, documents=plan.documents(mode), topic_arn=plan.notifications.sns_topic_arn,
            readiness_warnings=list(plan.drill.readiness_warnings), launch=launch_spec(plan.protection_groups, mode),
            iam_policy=functools.partial(iam_policy, plan, mode, listen["events_queue_url"]), **conn)
        # The approval's only direct downstream task is preflight: a Reject skips it (and so the
        # waves), while report and notify run by their trigger rules and say "rejected".
        chain(*first, preflight)

        groups = {name: _wave_group(plan, name, drill, conn, poll, listen, server_waves) for name in graph.order}
        for name, (group_start, group_end) in groups.items():
            wave = plan.wave(name)
            if not wave.depends_on:
                preflight >> group_start
            for upstream in wave.depends_on:
                groups[upstream][1] >> group_start
        ends = [end for _, end in groups.values()]

        waves_info = [{"name": w.name, "depends_on": list(w.depends_on), "optional": list(w.optional),
                       **({"gate_task": in_wave(w.name, WAIT_UNTIL_READY)} if w.ready_when else {}),
                       "post_tasks": [in_wave(w.name, action_task_id("post", i, a)) for i, a in w.actions("post", mode)]}
                      for w in plan.waves]
        plan_info = {"name": plan.name, "description": plan.description, "rto_minutes": plan.rto_minutes,
                     "rpo_minutes": plan.rpo_minutes, "region": plan.region, "source": plan_source(plan)}
        cleanup = None
        if drill and plan.drill.cleanup != "never":
            cleanup = DrillCleanupOperator(
                task_id=CLEANUP, wave_names=graph.order, deferrable=True, **poll, **conn,
            )
            [preflight, *ends] >> cleanup
            if plan.drill.cleanup == "always":
                cleanup.as_teardown(setups=begin)
            else:  # on_success: a failed drill keeps its instances for investigation
                cleanup.trigger_rule = "all_success"
        restore = None
        if drill and any(g.launch is not None for g in plan.protection_groups.values()):
            # After the drill's launches (and its cleanup), production's launch settings go back.
            restore = RestoreLaunchSettingsOperator(
                task_id=RESTORE_LAUNCH_SETTINGS, plan_name=plan.name, wave_names=graph.order,
                production=launch_spec(plan.protection_groups, "recovery"),
                poll_interval=poll["min_poll_interval"], **conn).as_teardown(setups=begin)
            [preflight, *ends, *([cleanup] if cleanup else [])] >> restore
        report = PlanReportOperator(
            task_id=REPORT, plan=plan_info, waves=waves_info, mode=mode,
            cleanup_policy=plan.drill.cleanup if drill else None, cleanup_task_id=CLEANUP if cleanup else None,
            approval_task_id=None if drill else APPROVE, **conn,
        ).as_teardown(setups=begin)
        [preflight, *ends, *([cleanup] if cleanup else []), *([restore] if restore else [])] >> report
        judged = [preflight, *ends, report, *([cleanup] if cleanup else []), *([restore] if restore else [])]
        if not drill:
            judged.append(_commit_or_rollback(plan, graph, report, poll, conn))
        judge = PythonOperator(task_id=VERDICT, python_callable=verdict, retries=0).as_teardown(
            setups=begin, on_failure_fail_dagrun=True)
        judged >> judge
        if plan.notifications.sns_topic_arn:
            report >> PlanNotifyOperator(task_id=NOTIFY, topic_arn=plan.notifications.sns_topic_arn,
                                         **conn).as_teardown(setups=begin)
    return dag


def run_params() -> dict[str, Param]:
    """The trigger form of a drill or recovery: which point in time to recover (preflight checks it)."""
    return {POINT_IN_TIME: Param(
        "latest", type="string", title="Point in time",
        description='latest, an ISO time like 2026-11-27T03:00Z, or a JSON object {"s-...": "pit-..."}: '
                    "recover each server from its newest snapshot taken at or before that time, or from the "
                    "named snapshots (other servers: latest). latest takes a fresh snapshot.")}


def _commit_or_rollback(plan: Plan, graph: WaveGraph, report: Any, poll: dict[str, float],
                        conn: dict[str, Any]) -> Any:
    """report -> decide -> commit | rollback -> record_decision; returns record_decision."""
    decide = RecoveryDecisionOperator(
        task_id=DECIDE, subject=f"Commit the recovery of plan {plan.name}, or roll it back?",
        wave_names=graph.order, on_timeout=plan.recovery.on_timeout, assigned_users=hitl_users(plan.recovery.approvers),
        trigger_rule="all_done", retries=0,
        **hitl_answer_window(timedelta(minutes=plan.recovery.decision_timeout_minutes)), **conn)
    commit = EmptyOperator(task_id=COMMIT)
    rollback = RecoveryRollbackOperator(task_id=ROLLBACK, wave_names=graph.order, deferrable=True, **poll, **conn)
    record = DecisionRecordOperator(task_id=RECORD_DECISION, decision_task_id=DECIDE, rollback_task_id=ROLLBACK,
                                    trigger_rule="all_done", retries=0)
    report >> decide >> [commit, rollback] >> record
    return record


def rto_deadline(plan: Plan, mode: str, conn: dict[str, Any]) -> Any:
    """The RTO as an Airflow deadline: breached while the run goes, the plan's topic hears of it then.

    ``[drs] rto_deadline = False`` leaves it out, for rehearsals under ``dag.test()``: Airflow 3.3's
    dag.test() fails at the end of a successful run of a DAG with a deadline (its in-memory
    scheduler DAG keeps the alert definitions where the database keeps their ids). Airflow 3.1 has
    no public DeadlineAlert: the breach is then only reported after the run, and the log says so."""
    if not conf.getboolean("drs", "rto_deadline", fallback=True):
        return None
    if not HAS_DEADLINE_ALERTS:
        _warn_no_deadline_alerts()
        return None
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT, interval=timedelta(minutes=plan.rto_minutes),
        callback=AsyncCallback(notify_rto_breach, kwargs={
            "plan_name": plan.name, "mode": mode, "rto_minutes": plan.rto_minutes,
            "topic_arn": plan.notifications.sns_topic_arn, **conn}),
        **({"name": f"RTO {plan.rto_minutes} min"} if DEADLINE_ALERTS_HAVE_NAMES else {}))


@functools.cache
def _warn_once(message: str) -> None:
    log.warning(message)


@functools.cache
def _warn_no_deadline_alerts() -> None:
    log.warning("drs.rto_deadline_unavailable airflow=%s: this Airflow has no public DeadlineAlert "
                "(3.2+), so an RTO breach is reported after the run, not while it runs", AIRFLOW_VERSION)


def plan_source(plan: Plan) -> dict[str, Any] | None:
    """The plan file this DAG is built from, for the report (which hashes it: not at parse time)."""
    if plan.source_text is None:
        return None
    return {"file": os.path.basename(plan.source_file or ""), "yaml": plan.source_text}


def _approval_body(plan: Plan, graph: WaveGraph) -> str:
    lines = [f"Plan **{plan.name}**: {plan.description}", "", f"RTO target {plan.rto_minutes} min.", ""]
    for name in graph.order:
        wave = plan.wave(name)
        servers = wave.static_servers(plan) + [f"tags {t}" for t in wave.tag_selectors(plan).values()]
        lines.append(f"- wave **{name}**: {', '.join(servers)}")
    return "\n".join(lines)


def _wave_group(plan: Plan, name: str, drill: bool, conn: dict[str, Any], poll: dict[str, float],
                listen: dict[str, Any], server_waves: dict[str, str]) -> tuple[Any, Any]:
    """Build one wave's TaskGroup; return its first and last task."""
    wave = plan.wave(name)
    with TaskGroup(group_id=name, tooltip=f"wave {name}"):
        # Only this mode's steps (when: drill | recovery); task ids keep the step's place in the plan.
        mode = "drill" if drill else "recovery"
        # delay_minutes: measured from the wait task's own start (after the upstream waves), and
        # deferred, so a long delay holds no worker slot.
        delay = [WaveDelaySensor(task_id=DELAY, time_to_wait=timedelta(minutes=wave.delay_minutes))
                 ] if wave.delay_minutes else []
        pre = [action_task(a, action_task_id("pre", i, a), conn, server_waves, poll["min_poll_interval"])
               for i, a in wave.actions("pre", mode)]
        start = DrsStartRecoveryOperator(
            task_id=START_RECOVERY,
            source_server_ids=f"{{{{ ti.xcom_pull(task_ids='{PREFLIGHT}')['{name}'] | tojson }}}}",
            is_drill=drill, max_servers_per_job=MAX_SERVERS_PER_JOB, **poll, **conn,
            recovery_snapshots=f"{{{{ (ti.xcom_pull(task_ids='{PREFLIGHT}', key='{SNAPSHOTS}') or {{}}) | tojson }}}}",
        )
        wait = DrsJobSensor(
            task_id=WAIT_FOR_LAUNCH, job_id=f"{{{{ ti.xcom_pull(task_ids='{in_wave(name, START_RECOVERY)}') }}}}",
            optional_server_ids=list(wave.optional), deferrable=True, retries=1, **poll, **listen, **conn,
        )
        post = [action_task(a, action_task_id("post", i, a), conn, server_waves, poll["min_poll_interval"])
                for i, a in wave.actions("post", mode)]
        # The gate checks the state the post actions leave (a restart there would break it), and
        # being the group's last task, it holds the dependent waves until the application answers.
        gate = [DrsWaveHealthSensor(
            task_id=WAIT_UNTIL_READY, launch_task_id=in_wave(name, WAIT_FOR_LAUNCH), wave_name=name,
            checks=gate_checks(wave.ready_when), optional_server_ids=list(wave.optional),
            server_waves=server_waves, **poll, **conn,
        )] if wave.ready_when else []
        chain(*delay, *pre, start, wait, *post, *gate)
    return (delay or pre or [start])[0], (gate or post or [wait])[-1]


def gate_checks(ready_when: Any) -> dict[str, Any]:
    """A wave's ready_when as the gate sensor's plain-data checks."""
    return {"ec2_status_ok": ready_when.ec2_status_ok, "ssm_online": ready_when.needs_ssm,
            "probes": [{p.kind: p.target} for p in ready_when.probes], "timeout_minutes": ready_when.timeout_minutes}
