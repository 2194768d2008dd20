"""An auth manager for the UI page tests: Airflow's simple auth manager, except that the user
``auditor`` may read drill DAGs only. Airflow's own simple manager cannot deny one DAG, and the
report pages must be shown to exactly the users Airflow would show the DAG's runs to."""

from __future__ import annotations

from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager


class DrillsOnlyForAuditor(SimpleAuthManager):
    def is_authorized_dag(self, *, method, user, access_entity=None, details=None) -> bool:
        if user.get_name() == "auditor" and details is not None and not (details.id or "").endswith("_drill"):
            return False
        return super().is_authorized_dag(method=method, user=user, access_entity=access_entity, details=details)
