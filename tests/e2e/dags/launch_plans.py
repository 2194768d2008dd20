"""The plans of launch_plans/ (launch settings as code, with drill overrides)."""
from pathlib import Path

from airflow_provider_drs.factory import load_plan_dags

load_plan_dags(__file__, globals(), folder=Path(__file__).parent / "launch_plans")
