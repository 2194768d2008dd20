"""Where botocore predates DRS native recovery plans (the oldest supported Airflow's image), every
native plan task fails at once, saying what to upgrade, before it calls DRS."""

from __future__ import annotations

import pytest

from airflow_provider_drs.drs_api_support import FIRST_BOTOCORE, DrsNativePlansUnsupported, has_native_recovery_plans
from airflow_provider_drs.operators.native_plan import DrsStartRecoveryPlanExecutionOperator
from airflow_provider_drs.operators.native_plan_tasks import NativeDrillCleanupOperator
from tests.operators.test_drs_sim import context

pytestmark = pytest.mark.skipif(has_native_recovery_plans(), reason="this botocore knows native recovery plans")
CONN = {"aws_conn_id": "aws_sim", "region_name": "us-east-1"}


def test_start_says_what_to_upgrade(sim):
    task = DrsStartRecoveryPlanExecutionOperator(task_id="start_native_plan", recovery_plan_name="p", **CONN)
    with pytest.raises(DrsNativePlansUnsupported, match=f"pip install -U 'botocore>={FIRST_BOTOCORE}'"):
        task.execute(context())
    assert sim.control.calls().get("ListRecoveryPlans", 0) == 0


def test_cleanup_of_a_recorded_execution_says_what_to_upgrade(sim):
    ctx = context()
    ctx["ti"].xcom["return_value"] = "arn:aws:drs:us-east-1:123456789012:recovery-plan-execution/rpe-0"
    task = NativeDrillCleanupOperator(task_id="cleanup", deferrable=False, **CONN)
    with pytest.raises(DrsNativePlansUnsupported):
        task.execute(ctx)
