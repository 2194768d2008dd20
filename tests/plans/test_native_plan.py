"""`native_plan: NAME`: a plan that runs a DRS native recovery plan instead of waves."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from airflow_provider_drs.plans import load_catalogue, load_plan, plan_json_schema
from airflow_provider_drs.plans.model import PlanDocument
from tests.native_plans import native_plan_file

NATIVE = native_plan_file("three-tier-native")


def test_native_plan_loads_without_waves_or_groups(tmp_path):
    path = tmp_path / "native.yaml"
    path.write_text(NATIVE)
    plan = load_plan(path)
    assert plan.is_native and plan.native_plan == "three-tier"
    assert plan.waves == [] and plan.protection_groups == {}
    assert plan.drill.cleanup == "always"
    assert load_catalogue([str(path)]).plans.keys() == {"three-tier-native"}


def test_drill_cleanup_always_is_accepted(tmp_path):
    path = tmp_path / "native.yaml"
    path.write_text(NATIVE.replace('  schedule: "@weekly"\n', '  schedule: "@weekly"\n  cleanup: always\n'))
    assert load_plan(path).is_native


def test_model_wants_exactly_one_of_waves_or_native_plan():
    header = {"version": 1, "plan": "p", "region": "us-east-1", "rto_minutes": 5}
    with pytest.raises(ValidationError, match="either waves or native_plan"):
        PlanDocument.model_validate(header)
    assert PlanDocument.model_validate({**header, "native_plan": "p"}).native_plan == "p"


def test_schema_documents_native_plan():
    field = plan_json_schema()["$defs"]["PlanDocument"]["properties"]["native_plan"]
    assert "DRS native recovery plan" in field["description"]
