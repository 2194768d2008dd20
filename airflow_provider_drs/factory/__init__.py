"""Plans -> Airflow DAGs: a drill DAG and a recovery DAG per plan (see dag_builder)."""

from airflow_provider_drs.factory.dag_builder import build_dag, build_dags
from airflow_provider_drs.factory.loader import PlanImportError, load_plan_dags, plans_folder

__all__ = ["PlanImportError", "build_dag", "build_dags", "load_plan_dags", "plans_folder"]
