"""Plans -> Airflow DAGs: a drill DAG and a recovery DAG per plan (dag_builder), and a cleanup DAG
(cleanup_dag)."""

from airflow_provider_drs.factory.dag_builder import build_dag
from airflow_provider_drs.factory.loader import PlanImportError, build_dags, load_plan_dags, plans_folder

__all__ = ["PlanImportError", "build_dag", "build_dags", "load_plan_dags", "plans_folder"]
