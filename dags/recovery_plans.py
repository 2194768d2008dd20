"""Every recovery plan under dags/plans/ becomes a drill DAG and a recovery DAG (airflow-provider-drs)."""
from airflow_provider_drs.factory import load_plan_dags

load_plan_dags(__file__, globals())
