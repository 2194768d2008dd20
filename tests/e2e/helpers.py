"""Running a real DAG of the dags folder under dag.test() and reading what it left behind."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime

from airflow_provider_drs.reports.storage import report_path
from tests.waiting import wait_until
from airflow_provider_drs.reports.run_report import parse_time


def run_dag(dagbag, dag_id: str, conf: dict | None = None):
    """One run of the DAG under dag.test(); ``conf`` sets its params (e.g. point_in_time)."""
    dag = dagbag.dags[dag_id]
    return dag.test(run_conf=conf) if conf else dag.test()


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
    """Answers human-in-the-loop tasks the way the UI does, through the database, once they wait:
    ``task_id`` with ``choice``, then each ``(task, choice)`` of ``then`` in turn (``None`` as the
    choice: leave that task unanswered and stop).

    Records what had happened in DRS when the first one was found (``calls_when_waiting``) and each
    task's question (``bodies``). Gives up after ``timeout`` seconds per task by choosing the last
    option of whatever still waits (Reject, Roll back), so a test can fail but never hang.
    """

    def __init__(self, dag_id: str, task_id: str, sim, choice: str = "Approve", timeout: float = 120,
                 then: tuple[tuple[str, str | None], ...] = (), user: tuple[str, str] = ("sre-on-call", "SRE on call")):
        # Import and configure every model here, in the main thread: importing them from this
        # thread while dag.test() imports in the main one deadlocks on Python's module locks.
        import airflow.api_fastapi.core_api.routes.public.hitl  # noqa: F401
        import airflow.models
        from sqlalchemy.orm import configure_mappers

        from airflow.api_fastapi.app import create_auth_manager

        airflow.models.import_all_models()
        configure_mappers()
        create_auth_manager()  # the answer route asks it whether the user is one of the task's assignees
        super().__init__(daemon=True)
        self.dag_id, self.task_id, self.sim, self.choice, self.timeout = dag_id, task_id, sim, choice, timeout
        self.answers = ((task_id, choice), *then)
        self.calls_when_waiting: dict | None = None
        self.body_when_waiting: str | None = None
        self.bodies: dict[str, str] = {}
        self.answered_all: dict[str, str] = {}
        self.error: BaseException | None = None
        self.user = _Responder(*user)

    def run(self) -> None:
        try:
            self._answer_all()
        except BaseException as error:  # a refused answer must fail the test, not hang it
            self.error = error
            self._give_up()
            raise

    def _answer_all(self) -> None:
        for task_id, choice in self.answers:
            waiting = self._wait_for(task_id)
            if waiting is None:
                self._give_up()
                return
            if choice is None:
                return
            self._answer(*waiting, choice, task_id=task_id)

    def _wait_for(self, task_id: str) -> tuple[str, str] | None:
        from airflow.models import TaskInstance
        from airflow.models.hitl import HITLDetail
        from airflow.utils.session import create_session

        from tests.airflow_compat import hitl_waiting_states

        waiting_states = hitl_waiting_states()
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            with create_session() as session:
                ti = (session.query(TaskInstance)
                      .filter_by(dag_id=self.dag_id, task_id=task_id)
                      .filter(TaskInstance.state.in_(waiting_states)).first())
                detail = session.get(HITLDetail, ti.id) if ti else None
                if detail:
                    self.bodies[task_id] = detail.body
                    waiting = (ti.dag_id, ti.run_id)
                else:
                    waiting = None
            if waiting:
                if task_id == self.task_id:
                    self.body_when_waiting = self.bodies[task_id]
                    time.sleep(1.0)  # give anything that must not happen before approval a chance to
                    self.calls_when_waiting = self.sim.control.calls()
                return waiting
            time.sleep(0.2)
        return None

    def _give_up(self) -> None:
        from airflow.models import TaskInstance
        from airflow.models.hitl import HITLDetail
        from airflow.utils.session import create_session

        from tests.airflow_compat import hitl_waiting_states

        with create_session() as session:  # never hang: answer whatever still waits with its last option
            waiting = []
            for ti in session.query(TaskInstance).filter(TaskInstance.state.in_(hitl_waiting_states())).all():
                detail = session.get(HITLDetail, ti.id)
                if detail is not None and detail.responded_at is None:
                    waiting.append((ti.dag_id, ti.run_id, ti.task_id, list(detail.options)[-1]))
        for dag_id, run_id, task_id, option in waiting:
            self._answer(dag_id, run_id, option, task_id=task_id)

    def _answer(self, dag_id: str, run_id: str, choice: str, task_id: str | None = None) -> None:
        """What PATCH /dags/{dag}/dagRuns/{run}/taskInstances/{task}/-1/hitlDetails does."""
        from airflow.api_fastapi.core_api.datamodels.hitl import UpdateHITLDetailPayload
        from airflow.api_fastapi.core_api.routes.public.hitl import update_hitl_detail
        from airflow.utils.session import create_session

        with create_session() as session:
            update_hitl_detail(dag_id=dag_id, dag_run_id=run_id, task_id=task_id or self.task_id,
                               update_hitl_detail_payload=UpdateHITLDetailPayload(chosen_options=[choice]),
                               user=self.user, session=session, map_index=-1)
        self.answered_all[task_id or self.task_id] = choice

    @property
    def answered(self) -> str | None:
        """The answer to the first task."""
        return self.answered_all.get(self.task_id)


class _Responder:
    """The user answering, as the REST API's auth layer would hand it over."""

    def __init__(self, user_id: str, name: str):
        self.user_id, self.name = user_id, name

    def get_id(self) -> str:
        return self.user_id

    def get_name(self) -> str:
        return self.name


def launch(sim, servers: list[str], is_drill: bool, wait: bool = True) -> dict:
    """Start a job outside Airflow (the console, another tool) and optionally wait for it."""
    drs = sim.client("drs")
    job = drs.start_recovery(sourceServers=[{"sourceServerID": s} for s in servers], isDrill=is_drill)["job"]
    if wait:
        wait_until(lambda: drs.describe_jobs(filters={"jobIDs": [job["jobID"]]})["items"][0]["status"] == "COMPLETED",
                   timeout=60)
    return job
