"""JSON Schema of the plan language, for editors (yaml-language-server) and other tooling."""

from __future__ import annotations

from typing import Any, Union

from pydantic import TypeAdapter

from airflow_provider_drs.plans.model import PlanDocument, ProtectionGroupsDocument

SCHEMA_ID = "https://github.com/airflow-provider-drs/airflow-provider-drs/plan-v1.schema.json"


def plan_json_schema() -> dict[str, Any]:
    """Schema of one file: a plan (`kind: plan`, the default) or shared protection groups.

    The schema covers structure only; the whole-plan rules (references, cycles, one group per
    server, ...) need `drs-plan validate`.
    """
    schema = TypeAdapter(Union[PlanDocument, ProtectionGroupsDocument]).json_schema(by_alias=True)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "airflow-provider-drs plan file, version 1",
        **schema,
    }
