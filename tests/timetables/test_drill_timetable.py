"""Unpausing a scheduled drill never launches a drill for a slot that is already past."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from airflow.sdk.timezone import utcnow
from airflow.timetables.base import DataInterval, TimeRestriction
from airflow.timetables.trigger import CronTriggerTimetable

from airflow_provider_drs.timetables.drill import DrillTimetable

START = datetime(2024, 1, 1, tzinfo=timezone.utc)
WEEKLY = "0 6 * * 1"


def first_run(timetable, last=None):
    return timetable.next_dagrun_info(last_automated_data_interval=last,
                                      restriction=TimeRestriction(earliest=START, latest=None, catchup=False))


def test_first_unpause_waits_for_the_next_cron_time():
    now = utcnow()
    info = first_run(DrillTimetable(WEEKLY, timezone="UTC"))
    assert now <= info.run_after <= now + timedelta(days=7)
    assert info.run_after.weekday() == 0 and (info.run_after.hour, info.run_after.minute) == (6, 0)
    # What Airflow's own cron timetable does (the bug): the last past Monday, at once.
    assert first_run(CronTriggerTimetable(WEEKLY, timezone="UTC")).run_after < now


def test_unpause_after_weeks_paused_skips_the_missed_slots():
    three_weeks_ago = utcnow() - timedelta(days=21)
    last = DataInterval(three_weeks_ago, three_weeks_ago)
    assert first_run(DrillTimetable(WEEKLY, timezone="UTC"), last).run_after >= utcnow()


def test_a_run_on_time_is_followed_by_the_next_slot():
    slot = DrillTimetable(WEEKLY, timezone="UTC")._align_to_next(utcnow())
    last = DataInterval(slot, slot)
    assert first_run(DrillTimetable(WEEKLY, timezone="UTC"), last).run_after == slot + timedelta(days=7)


def test_the_scheduler_can_read_it_back():
    """Registered by the provider's plugin: serialized and deserialized as Airflow's scheduler does."""
    from airflow_provider_drs.factory.dag_builder import build_dag
    from airflow_provider_drs.plans import load_plan
    from tests.airflow_compat import dag_serialization

    DagSerialization = dag_serialization()

    plans = Path(__file__).resolve().parents[2] / "dags" / "plans"
    dag = build_dag(load_plan(plans / "three-tier.yaml", [plans]), "drill")
    restored = DagSerialization.from_dict(DagSerialization.to_dict(dag))
    assert type(restored.timetable).__name__ == "DrillTimetable" and restored.timetable.summary == WEEKLY
