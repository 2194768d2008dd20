"""The plans of native_plans/ (plans that run a DRS native recovery plan instead of waves)."""
from pathlib import Path

from airflow_provider_drs.factory import load_plan_dags

load_plan_dags(__file__, globals(), folder=Path(__file__).parent / "native_plans")
