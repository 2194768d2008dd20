"""The plans of decision_plans/ (a recovery's commit-or-roll-back question)."""
from pathlib import Path

from airflow_provider_drs.factory import load_plan_dags

load_plan_dags(__file__, globals(), folder=Path(__file__).parent / "decision_plans")
