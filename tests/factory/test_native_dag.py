"""The DAGs of a plan with native_plan: shape only (parse time, no AWS)."""

from __future__ import annotations

from airflow_provider_drs.factory.loader import build_dags
from airflow_provider_drs.plans import load_plan
from tests.native_plans import native_plan_file

PLAN = native_plan_file("native-shape")


def downstream(dag, task_id):
    return sorted(dag.get_task(task_id).downstream_task_ids)


def test_native_plan_builds_a_drill_and_a_recovery_only(tmp_path):
    path = tmp_path / "native.yaml"
    path.write_text(PLAN)
    drill, recovery = build_dags(load_plan(path))
    assert (drill.dag_id, recovery.dag_id) == ("drs_native_shape_drill", "drs_native_shape_recovery")

    assert downstream(drill, "preflight") == ["cleanup", "report", "start_native_plan", "verdict"]
    assert downstream(drill, "start_native_plan") == ["cleanup", "report", "verdict", "wait_for_native_plan"]
    assert downstream(drill, "cleanup") == ["report", "verdict"]
    assert downstream(drill, "report") == ["notify", "verdict"]
    assert drill.get_task("cleanup").is_teardown and drill.get_task("report").is_teardown
    assert drill.get_task("start_native_plan").is_drill is True
    assert type(drill.timetable).__name__ == "DrillTimetable"

    assert "cleanup" not in recovery.task_ids
    assert downstream(recovery, "approve") == ["preflight"]
    assert recovery.get_task("start_native_plan").is_drill is False
    assert recovery.get_task("start_native_plan").recovery_plan_name == "three-tier"
    assert type(recovery.timetable).__name__ == "NullTimetable"
