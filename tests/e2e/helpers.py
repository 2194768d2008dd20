"""Running a real DAG of the dags folder under dag.test() and reading what it left behind."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime

from airflow_provider_drs.reports.storage import report_path
from tests.waiting import wait_until
from airflow_provider_drs.reports.run_report import parse_time


def run_dag(dagbag, dag_id: str):
    dag = dagbag.dags[dag_id]
    return dag.test()


def task_states(dag_run) -> dict[str, str]:
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = session.query(TaskInstance).filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id).all()
        return {ti.task_id: str(ti.state.value if hasattr(ti.state, "value") else ti.state) for ti in tis}


def try_numbers(dag_run) -> dict[str, int]:
    """task id -> how many tries it took (1: it never retried)."""
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = session.query(TaskInstance).filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id).all()
        return {ti.task_id: ti.try_number for ti in tis}


def is_state(dag_run, state: str) -> bool:
    return str(dag_run.state) in (state, f"DagRunState.{state.upper()}")


def read_report(dag_run) -> dict:
    return json.loads(report_path(dag_run.dag_id, dag_run.run_id).read_text())


def read_report_page(dag_run):
    """The HTML page the report task wrote beside the JSON, parsed."""
    from tests.reports.page import read_page

    page = read_page(report_path(dag_run.dag_id, dag_run.run_id).with_suffix(".html").read_text())
    assert page.scripts == 0 and page.external == [], "a report page is self-contained"
    return page


def cloudwatch_sums(sim, plan: str, mode: str, namespace: str = "DRSOrchestration") -> dict[str, float]:
    """metric name -> the sum of what this run's plan and mode sent to CloudWatch in the last hour."""
    from datetime import timedelta, timezone

    cloudwatch, now = sim.client("cloudwatch"), datetime.now(timezone.utc)
    dims = [{"Name": "Plan", "Value": plan}, {"Name": "Mode", "Value": mode}]
    names = {m["MetricName"] for m in cloudwatch.list_metrics(Namespace=namespace, Dimensions=dims)["Metrics"]}
    return {name: sum(p["Sum"] for p in cloudwatch.get_metric_statistics(
        Namespace=namespace, MetricName=name, Dimensions=dims, StartTime=now - timedelta(hours=1),
        EndTime=now + timedelta(minutes=5), Period=3600, Statistics=["Sum"])["Datapoints"]) for name in names}


def replication_lags(sim, server_ids) -> dict[str, float]:
    """server id -> its replication lag in seconds, as DRS reports it (an ISO-8601 duration)."""
    from airflow_provider_drs.simulator.state import duration_seconds

    servers = sim.client("drs").describe_source_servers(filters={"sourceServerIDs": list(server_ids)})["items"]
    return {s["sourceServerID"]: duration_seconds(s["dataReplicationInfo"]["lagDuration"]) for s in servers}


def interval(wave_report) -> tuple[datetime, datetime]:
    """From the wave's StartRecovery to its last server launched."""
    launched = [parse_time(s["launched_at"]) for s in wave_report["servers"] if s["launched_at"]]
    return parse_time(wave_report["job_created_at"]), max(launched)


def running_instance_states(ec2) -> dict[str, str]:
    return {i["InstanceId"]: i["State"]["Name"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]}


def subscribe_queue(sim, topic_arn: str):
    """Subscribe a fresh SQS queue to an SNS topic; return a function reading what it received."""
    sqs, sns = sim.client("sqs"), sim.client("sns")
    url = sqs.create_queue(QueueName="drs-notifications")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)

    def received() -> list[dict]:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]

    return received


class HitlResponder(threading.Thread):
    """Answers a human-in-the-loop task the way the UI does, through the database, once it waits.

    Records what had happened in DRS when the approval was found (``calls_when_waiting``). Gives up
    after ``timeout`` seconds by rejecting, so a test can fail but never hang.
    """

    def __init__(self, dag_id: str, task_id: str, sim, choice: str = "Approve", timeout: float = 120):
        # Import and configure every model here, in the main thread: importing them from this
        # thread while dag.test() imports in the main one deadlocks on Python's module locks.
        import airflow.api_fastapi.core_api.routes.public.hitl  # noqa: F401
        import airflow.models
        from sqlalchemy.orm import configure_mappers

        airflow.models.import_all_models()
        configure_mappers()
        super().__init__(daemon=True)
        self.dag_id, self.task_id, self.sim, self.choice, self.timeout = dag_id, task_id, sim, choice, timeout
        self.calls_when_waiting: dict | None = None
        self.body_when_waiting: str | None = None
        self.answered: str | None = None

    def run(self) -> None:
        from airflow.models import TaskInstance
        from airflow.models.hitl import HITLDetail
        from airflow.utils.session import create_session

        from tests.airflow_compat import hitl_waiting_states

        waiting_states = hitl_waiting_states()
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            with create_session() as session:
                ti = (session.query(TaskInstance)
                      .filter_by(dag_id=self.dag_id, task_id=self.task_id)
                      .filter(TaskInstance.state.in_(waiting_states)).first())
                detail = session.get(HITLDetail, ti.id) if ti else None
                waiting = (ti.dag_id, ti.run_id) if detail else None
                if detail:
                    self.body_when_waiting = detail.body
            if waiting:
                time.sleep(1.0)  # give anything that must not happen before approval a chance to
                self.calls_when_waiting = self.sim.control.calls()
                self._answer(*waiting, self.choice)
                return
            time.sleep(0.2)
        with create_session() as session:  # never hang: reject whatever still waits
            for ti in session.query(TaskInstance).filter(TaskInstance.state.in_(waiting_states)).all():
                if session.get(HITLDetail, ti.id) is None:
                    continue
                self._answer(ti.dag_id, ti.run_id, "Reject", task_id=ti.task_id)

    def _answer(self, dag_id: str, run_id: str, choice: str, task_id: str | None = None) -> None:
        """What PATCH /dags/{dag}/dagRuns/{run}/taskInstances/{task}/-1/hitlDetails does."""
        from airflow.api_fastapi.core_api.datamodels.hitl import UpdateHITLDetailPayload
        from airflow.api_fastapi.core_api.routes.public.hitl import update_hitl_detail
        from airflow.utils.session import create_session

        with create_session() as session:
            update_hitl_detail(dag_id=dag_id, dag_run_id=run_id, task_id=task_id or self.task_id,
                               update_hitl_detail_payload=UpdateHITLDetailPayload(chosen_options=[choice]),
                               user=_Responder(), session=session, map_index=-1)
        self.answered = choice


class _Responder:
    """The user answering, as the REST API's auth layer would hand it over."""

    def get_id(self) -> str:
        return "sre-on-call"

    def get_name(self) -> str:
        return "SRE on call"


def launch(sim, servers: list[str], is_drill: bool, wait: bool = True) -> dict:
    """Start a job outside Airflow (the console, another tool) and optionally wait for it."""
    drs = sim.client("drs")
    job = drs.start_recovery(sourceServers=[{"sourceServerID": s} for s in servers], isDrill=is_drill)["job"]
    if wait:
        wait_until(lambda: drs.describe_jobs(filters={"jobIDs": [job["jobID"]]})["items"][0]["status"] == "COMPLETED",
                   timeout=60)
    return job
