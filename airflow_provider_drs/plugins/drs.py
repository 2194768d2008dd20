"""The provider's Airflow plugin, registered by the ``airflow.plugins`` entry point (setup.cfg).

Not through ``get_provider_info``'s ``plugins`` key: Airflow reads that only when
``[core] lazy_discover_providers`` is off, and it is on by default."""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from airflow_provider_drs.timetables.drill import DrillTimetable

URL_PREFIX = "/drs"
RUN_TAB_ROUTE, HISTORY_TAB_ROUTE = "drs_report", "drs_history"


class ReportPagesApp:
    """The report pages' ASGI app, imported on the first request: every Airflow process loads
    plugins, and only the api-server needs FastAPI's security layer and the metadata models."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        from airflow_provider_drs.plugins.report_views import app

        await app(scope, receive, send)


class DrsPlugin(AirflowPlugin):
    name = "airflow_provider_drs"
    # Custom timetables must be registered for the scheduler to deserialize the drill DAGs.
    timetables = [DrillTimetable]
    fastapi_apps = [{"app": ReportPagesApp(), "url_prefix": URL_PREFIX, "name": "DR reports"}]
    # A "DR report" tab on every DAG run and a "DR history" tab on every DAG. Airflow 3.3 cannot
    # limit a tab to some DAGs; for a DAG that is not a plan the page says there is no report.
    external_views = [
        {"name": "DR report", "href": URL_PREFIX + "/runs/{DAG_ID}/{RUN_ID}", "destination": "dag_run",
         "url_route": RUN_TAB_ROUTE},
        {"name": "DR history", "href": URL_PREFIX + "/history/{DAG_ID}", "destination": "dag",
         "url_route": HISTORY_TAB_ROUTE},
    ]
