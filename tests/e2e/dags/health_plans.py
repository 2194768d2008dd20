"""The plans of health_plans/ (waves gated on ready_when)."""
from pathlib import Path

from airflow_provider_drs.factory import load_plan_dags

load_plan_dags(__file__, globals(), folder=Path(__file__).parent / "health_plans")
