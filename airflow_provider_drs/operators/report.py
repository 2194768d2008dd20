"""The report task (every run, whatever happened) and the verdict task (fails a run that failed)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from airflow.providers.common.compat.sdk import AirflowFailException, BaseOperator, conf
from botocore.config import Config

from airflow_provider_drs.hooks.report_store import open_report_store
from airflow_provider_drs.operators.approval import approval_outcome
from airflow_provider_drs.operators.decision import decision_outcome
from airflow_provider_drs.plan_tasks import (
    DECISION, FINISHED_AT, GATE, JOB, LAUNCH_SETTINGS, POINT_IN_TIME, PREFLIGHT, READINESS, REPLACED,
    RESTORE_LAUNCH_SETTINGS, RESULTS, SERVERS, SNAPSHOTS, START_RECOVERY, TERMINATED, WAIT_FOR_LAUNCH, in_wave)
from airflow_provider_drs.reports.html import render_html
from airflow_provider_drs.reports.metrics import DEFAULT_NAMESPACE, metric_data
from airflow_provider_drs.reports.run_report import build_report, format_table, wave_state, with_decision

if TYPE_CHECKING:
    from airflow.sdk import Context

# CloudWatch unreachable (no route, no endpoint) must not hold the report for minutes.
METRICS_CLIENT_CONFIG = Config(connect_timeout=5, read_timeout=10, retries={"mode": "standard", "max_attempts": 3})


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        value = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    return str(value)


def run_task_states(ti: Any, dag_run: Any, log: Any) -> dict[str, str | None]:
    """task id -> state of this run's tasks (Airflow's own record of how each wave went)."""
    try:
        by_run = ti.get_task_states(dag_id=dag_run.dag_id, run_ids=[dag_run.run_id])
    except Exception as error:  # the report is still worth writing without the states
        log.warning("drs.report could not read the task states: %s", error)
        return {}
    states = by_run.get(dag_run.run_id, {}) if isinstance(by_run, Mapping) else {}
    return {task: str(getattr(state, "value", state)) if state else None for task, state in states.items()}


class PlanReportOperator(BaseOperator):
    """Gather every wave's per-server results into one JSON report; return it and write it under
    ``$AIRFLOW_HOME/drs_reports/<dag_id>/<run_id>.json``.

    :param plan: ``{"name", "description", "rto_minutes", "region"}``.
    :param waves: ``[{"name", "depends_on", "optional"}]`` in plan order.
    :param mode: ``drill`` or ``recovery``.
    """

    ui_color = "#c8e6c9"

    def __init__(self, *, plan: Mapping[str, Any], waves: Sequence[Mapping[str, Any]], mode: str,
                 cleanup_policy: str | None = None, cleanup_task_id: str | None = None,
                 approval_task_id: str | None = None, aws_conn_id: str | None = "aws_default",
                 region_name: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.approval_task_id = approval_task_id
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.plan = dict(plan)
        self.waves = [dict(w) for w in waves]
        self.mode = mode
        self.cleanup_policy = cleanup_policy
        self.cleanup_task_id = cleanup_task_id

    def execute(self, context: Context) -> dict[str, Any]:
        ti = context["ti"]
        dag_run = context["dag_run"]
        resolved = ti.xcom_pull(task_ids=PREFLIGHT) or {}
        states = run_task_states(ti, dag_run, self.log)
        waves, replaced = self._wave_entries(ti, states, resolved)
        replaced = list(ti.xcom_pull(task_ids=PREFLIGHT, key=REPLACED) or []) + replaced
        cleanup = ti.xcom_pull(task_ids=self.cleanup_task_id) if self.cleanup_task_id else None
        approval = approval_outcome(ti.xcom_pull(task_ids=self.approval_task_id, key=DECISION)
                                    ) if self.approval_task_id else None
        report = build_report(
            plan=self.plan, mode=self.mode, dag_id=dag_run.dag_id, run_id=dag_run.run_id,
            started_at=_iso(dag_run.start_date), finished_at=_iso(datetime.now(timezone.utc)), waves=waves,
            servers=ti.xcom_pull(task_ids=PREFLIGHT, key=SERVERS), cleanup=cleanup,
            cleanup_policy=self.cleanup_policy, approval=approval,
            replaced_instances=list({r["recovery_instance_id"]: r for r in replaced}.values()),
            readiness=ti.xcom_pull(task_ids=PREFLIGHT, key=READINESS) or [],
            point_in_time=(context.get("params") or {}).get(POINT_IN_TIME) or "latest",
            snapshots=ti.xcom_pull(task_ids=PREFLIGHT, key=SNAPSHOTS),
            launch_settings=ti.xcom_pull(task_ids=PREFLIGHT, key=LAUNCH_SETTINGS),
            restored_launch_settings=ti.xcom_pull(task_ids=RESTORE_LAUNCH_SETTINGS) if self.mode == "drill" else None,
        )
        self._add_to_report(report, ti)
        report["metrics"] = self._publish_metrics(report)
        store = open_report_store()
        # The page first: a report JSON without its page would be shown as "no page" in the UI.
        store.put(dag_run.dag_id, dag_run.run_id, ".html", render_html(report))
        where = store.put(dag_run.dag_id, dag_run.run_id, ".json", json.dumps(report, indent=2))
        self.log.info("drs.report plan=%s mode=%s path=%s\n%s", self.plan["name"], self.mode, where, format_table(report))
        return report

    def _wave_entries(self, ti: Any, states: Mapping[str, str | None],
                      resolved: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Each wave as build_report takes it, and the live instances its start replaced."""
        waves, replaced = [], []
        for wave in self.waves:
            name = wave["name"]
            job = ti.xcom_pull(task_ids=in_wave(name, WAIT_FOR_LAUNCH), key=JOB)
            job_id = ti.xcom_pull(task_ids=in_wave(name, START_RECOVERY))
            if job is None and job_id:
                job = {"job_id": job_id}
            replaced += ti.xcom_pull(task_ids=in_wave(name, START_RECOVERY), key=REPLACED) or []
            ends = [ti.xcom_pull(task_ids=t, key=FINISHED_AT) for t in wave.get("post_tasks") or ()]
            gate = ti.xcom_pull(task_ids=wave["gate_task"], key=GATE) if wave.get("gate_task") else None
            waves.append({**wave, "servers": resolved.get(name), "job": job, "post_actions_finished": ends,
                          "gate": gate,
                          "state": wave_state({t: st for t, st in states.items() if t.startswith(f"{name}.")}),
                          "results": ti.xcom_pull(task_ids=in_wave(name, WAIT_FOR_LAUNCH), key=RESULTS)})
        return waves, replaced

    def _add_to_report(self, report: dict[str, Any], ti: Any) -> None:
        """What a subclass adds to the report before it is published (nothing here)."""

    def _publish_metrics(self, report: Mapping[str, Any]) -> dict[str, Any]:
        """Send the run's CloudWatch metrics (``[drs] metrics_namespace``, empty to turn them off).
        A failure is logged and recorded in the report, never raised: the report matters more."""
        namespace = conf.get("drs", "metrics_namespace", fallback=DEFAULT_NAMESPACE)
        if not namespace:
            return {"namespace": None, "published": [], "error": None}
        data = metric_data(report)
        try:
            hook = AwsBaseHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name, client_type="cloudwatch",
                               config=METRICS_CLIENT_CONFIG)
            hook.conn.put_metric_data(Namespace=namespace, MetricData=data)
        except Exception as error:
            self.log.error("drs.metrics not published to CloudWatch namespace %s: %s", namespace, error)
            return {"namespace": namespace, "published": [], "error": str(error)}
        self.log.info("drs.metrics namespace=%s %s", namespace, " ".join(f"{d['MetricName']}={d['Value']:g}" for d in data))
        return {"namespace": namespace, "published": [d["MetricName"] for d in data], "error": None}


class DecisionRecordOperator(BaseOperator):
    """Add a recovery's commit-or-roll-back answer, and what a rollback terminated, to the report the
    report task wrote before the question (so the RTO was on record, and notified, without waiting
    for a person)."""

    ui_color = "#c8e6c9"

    def __init__(self, *, decision_task_id: str, rollback_task_id: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.decision_task_id = decision_task_id
        self.rollback_task_id = rollback_task_id

    def execute(self, context: Context) -> dict[str, Any] | None:
        ti, dag_run = context["ti"], context["dag_run"]
        decision = decision_outcome(ti.xcom_pull(task_ids=self.decision_task_id, key=DECISION))
        states = run_task_states(ti, dag_run, self.log)
        rollback_failed = states.get(self.rollback_task_id) in FAILED_STATES
        terminated = ti.xcom_pull(task_ids=self.rollback_task_id, key=TERMINATED) or []
        store = open_report_store()
        stored = store.get(dag_run.dag_id, dag_run.run_id)
        if stored is None:
            self.log.error("drs.report no report of run %s to add the decision to", dag_run.run_id)
            return decision
        report = with_decision(json.loads(stored), decision, terminated, rollback_failed)
        store.put(dag_run.dag_id, dag_run.run_id, ".html", render_html(report))
        store.put(dag_run.dag_id, dag_run.run_id, ".json", json.dumps(report, indent=2))
        self.log.info("drs.report decision added\n%s", format_table(report))
        return report["decision"]


FAILED_STATES = {"failed", "upstream_failed"}


def verdict(ti: Any, dag_run: Any, **_: Any) -> None:
    """Fail when any task of this run failed. The report and cleanup succeed by design, so without
    this task a failed drill would show as a successful DAG run. It is a teardown that fails the
    run: it also runs, and fails, when a user marks the run failed mid-wave (Airflow then skips
    every other pending task, and would otherwise end the run by its skipped leaves: success)."""
    states = ti.get_task_states(dag_id=dag_run.dag_id, run_ids=[dag_run.run_id]).get(dag_run.run_id, {})
    failed = sorted(task for task, state in states.items()
                    if str(getattr(state, "value", state)) in FAILED_STATES and task != ti.task_id)
    if failed:
        raise AirflowFailException(f"Tasks of this run failed ({', '.join(failed)}): the drill or recovery did not "
                                   "succeed. See the report.")
