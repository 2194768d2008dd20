"""The RTO as an Airflow DeadlineAlert: on every plan DAG, serialisable, and its callback (run by the
triggerer when the deadline passes) publishing to the plan's topic only while the run is going."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import logging

import pytest

from airflow_provider_drs.factory import build_dags
from airflow_provider_drs.factory.dag_builder import _warn_no_deadline_alerts
from airflow_provider_drs.operators.notify import notify_rto_breach
from airflow_provider_drs.plans import load_plan
from airflow_provider_drs.version_compat import HAS_DEADLINE_ALERTS
from tests.airflow_compat import dag_serialization
from tests.e2e.helpers import subscribe_queue

REPO = Path(__file__).resolve().parents[2]
TOPIC = "arn:aws:sns:us-east-1:123456789012:dr-notify"


def three_tier():
    return load_plan(str(REPO / "dags" / "plans" / "three-tier.yaml"), [str(REPO / "dags" / "plans")])


@pytest.mark.skipif(not HAS_DEADLINE_ALERTS, reason="Airflow 3.1 has no public DeadlineAlert")
def test_every_plan_dag_carries_its_rto_as_a_deadline(monkeypatch):
    monkeypatch.setenv("AIRFLOW__DRS__RTO_DEADLINE", "True")  # the suite turns it off for dag.test()
    plan = three_tier()
    for dag in build_dags(plan)[:2]:  # the drill and the recovery (the cleanup DAG has no RTO)
        deadlines = dag.deadline if isinstance(dag.deadline, list) else [dag.deadline]
        assert len(deadlines) == 1
        alert = deadlines[0]
        assert alert.interval == timedelta(minutes=plan.rto_minutes)
        assert alert.callback.path == "airflow_provider_drs.operators.notify.notify_rto_breach"
        assert alert.callback.kwargs["topic_arn"] == plan.notifications.sns_topic_arn
        assert alert.callback.kwargs["mode"] in ("drill", "recovery")
        # The scheduler stores DAGs serialised: the deadline must survive that.
        dag_serialization().to_dict(dag)
    monkeypatch.setenv("AIRFLOW__DRS__RTO_DEADLINE", "False")
    assert all(not dag.deadline for dag in build_dags(plan))


@pytest.mark.skipif(HAS_DEADLINE_ALERTS, reason="this Airflow has DeadlineAlert: the test above runs")
def test_without_deadline_alerts_the_dags_build_and_the_log_says_what_is_lost(monkeypatch, caplog):
    monkeypatch.setenv("AIRFLOW__DRS__RTO_DEADLINE", "True")
    _warn_no_deadline_alerts.cache_clear()
    with caplog.at_level(logging.WARNING, logger="airflow_provider_drs.factory.dag_builder"):
        dags = build_dags(three_tier())
    assert dags and all(not dag.deadline for dag in dags)
    [warning] = [r.getMessage() for r in caplog.records if "rto_deadline_unavailable" in r.getMessage()]
    assert "reported after the run, not while it runs" in warning


def breach(state: str, topic: str | None = TOPIC) -> str:
    return asyncio.run(notify_rto_breach(
        plan_name="three-tier", mode="drill", rto_minutes=30, topic_arn=topic, aws_conn_id="aws_sim",
        region_name="us-east-1",
        context={"dag_run": {"dag_id": "drs_three_tier_drill", "dag_run_id": "manual__1", "state": state}}))


def test_a_breach_while_running_is_published_to_the_plans_topic(sim):
    received = subscribe_queue(sim, TOPIC)
    assert breach("running").startswith("published ")
    messages = received()
    assert [m["Subject"] for m in messages] == ["[DRS drill] three-tier: RTO of 30 min breached, run still going"]
    assert "manual__1" in messages[0]["Message"]


def test_a_run_that_already_ended_is_not_reported_as_a_breach(sim):
    received = subscribe_queue(sim, TOPIC)
    assert breach("failed") == "run manual__1 already failed"
    assert breach("running", topic=None) == "no notification topic"
    assert received() == []


def test_a_topic_reference_is_resolved_like_the_notify_task_does(sim):
    received = subscribe_queue(sim, TOPIC)
    assert breach("running", topic="{{ ssm:/dr/notify-topic }}") == f"published {breach_id(received)} to {TOPIC}"


def breach_id(received) -> str:
    return received()[0]["MessageId"]


def test_a_recovery_waiting_on_its_commit_question_is_not_a_breach_once_reported(sim, tmp_path, monkeypatch):
    """Its waves are over and the report (already sent) says whether the RTO was met."""
    monkeypatch.setenv("AIRFLOW__DRS__REPORTS_LOCATION", str(tmp_path))
    from airflow_provider_drs.hooks.report_store import open_report_store

    received = subscribe_queue(sim, TOPIC)
    assert breach("running").startswith("published ")  # no report yet: the waves still go
    open_report_store().put("drs_three_tier_drill", "manual__1", ".json", "{}")
    assert breach("running") == "run manual__1 already reported"
    assert len(received()) == 1
