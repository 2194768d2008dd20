"""A plan that names an AWS connection Airflow does not have is refused before any AWS call: the
Amazon provider would otherwise act with the default credentials, in whatever account they reach."""

from __future__ import annotations

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_drs.operators.approval import RecoveryApprovalOperator
from airflow_provider_drs.operators.preflight import PlanPreflightOperator
from tests.served import served

WAVES = {"database": {"servers": ["s-3578f52ef3bdd58b4"], "tag_groups": {}}}


def test_preflight_refuses_a_named_connection_airflow_does_not_have(sim):
    preflight = PlanPreflightOperator(task_id="preflight", plan_name="three-tier", waves=WAVES,
                                      aws_conn_id="dr_prod_typo", region_name="us-east-1")
    with pytest.raises(AirflowFailException, match=r"Preflight of plan three-tier: Airflow connection 'dr_prod_typo' "
                                                   r"not found.*Nothing was launched"):
        preflight.execute({})
    assert served(sim) == {}  # no call reached DRS (nor anything else)


def test_preflight_goes_on_with_a_connection_airflow_has(sim):
    # aws_sim exists (the sim fixture's AIRFLOW_CONN_AWS_SIM): past the check, preflight reads DRS.
    preflight = PlanPreflightOperator(task_id="preflight", plan_name="three-tier", waves=WAVES,
                                      aws_conn_id="aws_sim", region_name="us-east-1")
    assert preflight.require_connection() is None
    assert preflight.hook.describe_source_servers()


def test_the_recovery_approval_asks_nobody_when_the_connection_is_missing(sim):
    approve = RecoveryApprovalOperator(task_id="approve", subject="Recover plan three-tier?", servers=[],
                                       tag_groups={}, aws_conn_id="dr_prod_typo", region_name="us-east-1")
    with pytest.raises(AirflowFailException, match=r"Airflow connection 'dr_prod_typo' not found.*Nobody was asked"):
        approve.execute({})
    assert served(sim) == {}
