"""The report pages in the Airflow UI: a FastAPI app the api-server mounts under ``/drs``.

``/drs/runs/{dag_id}/{run_id}`` is one run's report page and ``/drs/history/{dag_id}`` the plan's
history with its RTO trend; the plugin shows them as a run tab and a DAG tab. Both are rendered
from the stored JSON report at request time, so a page always matches the installed templates.
Access follows Airflow's own auth manager: reading a page needs the right to read the DAG's runs.
"""

from __future__ import annotations

import json
from typing import Annotated
from urllib.parse import quote

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_dag
from airflow.models.dag import DagModel
from fastapi import Depends, FastAPI, Path
from fastapi.responses import HTMLResponse
from markupsafe import escape

from airflow_provider_drs.hooks.report_store import open_report_store
from airflow_provider_drs.plugins.drs import URL_PREFIX
from airflow_provider_drs.reports.history import load_history, render_history_html
from airflow_provider_drs.reports.html import render_html
from airflow_provider_drs.reports.storage import checked_dag_id

app = FastAPI(title="DR reports", docs_url=None, redoc_url=None, openapi_url=None)
CanReadRuns = Depends(requires_access_dag(method="GET", access_entity=DagAccessEntity.RUN))
DagId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")]


def run_page_href(dag_id: str, run_id: str) -> str:
    """A run's page, opened inside the history tab's frame: Airflow sandboxes plugin frames without
    top navigation, so a link cannot switch to the run's own tab."""
    return f"{URL_PREFIX}/runs/{quote(dag_id, safe='')}/{quote(run_id, safe='')}"


def _notice(title: str, text: str, status: int) -> HTMLResponse:
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title></head>"
            f"<body style='font-family: system-ui, sans-serif; margin: 24px; color: #1f2933'>"
            f"<h2>{escape(title)}</h2><p>{escape(text)}</p></body></html>")
    return HTMLResponse(page, status_code=status)


@app.get("/runs/{dag_id}/{run_id}", response_class=HTMLResponse, dependencies=[CanReadRuns])
def run_page(dag_id: DagId, run_id: str) -> HTMLResponse:
    store = open_report_store()
    text = store.get(checked_dag_id(dag_id), run_id)
    if text is None:
        return _notice("No DR report for this run yet",
                       f"The report task of {dag_id} writes it when run {run_id} ends (to {store.location}). "
                       "A run of a DAG that is not a recovery plan never has one.", 404)
    try:
        report = json.loads(text)
        return HTMLResponse(render_html(report))
    except (ValueError, KeyError, TypeError) as error:
        return _notice("This run's report cannot be shown",
                       f"The stored report of run {run_id} is not readable ({type(error).__name__}: {error}).", 500)


def _may_read_runs(user: BaseUser, dag_id: str) -> bool:
    return get_auth_manager().is_authorized_dag(
        method="GET", access_entity=DagAccessEntity.RUN, user=user,
        details=DagDetails(id=dag_id, team_name=DagModel.get_team_name(dag_id)))


@app.get("/history/{dag_id}", response_class=HTMLResponse, dependencies=[CanReadRuns])
def history_page(dag_id: DagId, user: GetUserDep) -> HTMLResponse:
    store = open_report_store()
    plan = None
    for stored in store.reports(checked_dag_id(dag_id)):  # the plan's name, from any readable report
        try:
            plan = json.loads(stored.text)["plan"]
            break
        except (ValueError, KeyError, TypeError):
            continue
    if plan is None:
        return _notice("No DR history yet", f"No run of {dag_id} has left a report in {store.location}.", 404)
    history = load_history(store, plan, other_plans=False)
    # The history shows both DAGs of the plan (drill and recovery): the other one's runs only to a
    # user who may read that DAG too.
    readable = {d for d in {r.dag_id for r in history.runs} if d == dag_id or _may_read_runs(user, d)}
    history.runs = [r for r in history.runs if r.dag_id in readable]
    return HTMLResponse(render_history_html(history, run_href=run_page_href))
