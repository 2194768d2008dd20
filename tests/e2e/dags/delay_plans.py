"""The plans of delay_plans/ (a wave with delay_minutes)."""
from pathlib import Path

from airflow_provider_drs.factory import load_plan_dags

load_plan_dags(__file__, globals(), folder=Path(__file__).parent / "delay_plans")
