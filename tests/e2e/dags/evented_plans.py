"""The plans of event_plans/ (launch waits that listen to DRS's launch-result events)."""
from pathlib import Path

from airflow_provider_drs.factory import load_plan_dags

load_plan_dags(__file__, globals(), folder=Path(__file__).parent / "event_plans")
