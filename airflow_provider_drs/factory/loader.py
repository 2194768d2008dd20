"""Load a folder of plans into Airflow DAGs, for the two-line file in the dags folder.

A plan that fails validation never becomes a DAG, and must not take the others down. Airflow
keeps import errors per Python file, and an exception raised while the dags file runs drops every
DAG of that file. But Airflow validates each DAG of a file on its own when it bags them: a DAG
whose ``validate()`` raises becomes the file's import error while the others are bagged. So the
invalid plan files are carried by one stand-in DAG, never bagged, whose validation raises
PlanImportError with the validator's messages (FILE:LINE: field: message) of those files only.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from airflow.providers.common.compat.sdk import conf
from airflow.sdk import DAG

from airflow_provider_drs.exceptions import DrsProviderError
from airflow_provider_drs.factory.cleanup_dag import build_cleanup_dag
from airflow_provider_drs.factory.dag_builder import build_dag
from airflow_provider_drs.factory.failback_dag import build_failback_dag
from airflow_provider_drs.factory.native_dag import build_native_dag
from airflow_provider_drs.plans import Plan, WaveGraph, load_catalogue


class PlanImportError(DrsProviderError):
    """Some plan files are invalid; their DAGs were not built (the other plans' DAGs were)."""


INVALID_PLANS_DAG_ID = "drs_invalid_plans"


class InvalidPlansDag(DAG):
    """Stand-in for the invalid plan files: Airflow's validation of it reports their errors."""

    def validate(self) -> None:
        raise PlanImportError(self.doc_md or "invalid plans")


def plans_folder(dag_file: str | os.PathLike[str] | None = None) -> Path:
    """The plans folder: env DRS_PLANS_FOLDER, else config [drs] plans_folder, else plans/ beside
    the dags file. (Not an Airflow Variable: reading one on every parse hits the database.)"""
    configured = os.environ.get("DRS_PLANS_FOLDER") or conf.get("drs", "plans_folder", fallback=None)
    if configured:
        return Path(configured)
    return Path(dag_file).resolve().parent / "plans" if dag_file else Path("plans")


def build_dags(plan: Plan) -> list[DAG]:
    """A plan's DAGs: its drill, its recovery, its failback, and the cleanup of what dead drill runs left."""
    if plan.is_native:  # DRS holds the steps: no waves to fail back or to sweep by server at parse time
        return [build_native_dag(plan, "drill"), build_native_dag(plan, "recovery")]
    graph = WaveGraph(plan)
    return [build_dag(plan, "drill", graph), build_dag(plan, "recovery", graph), build_failback_dag(plan, graph),
            build_cleanup_dag(plan)]


@contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """Building thousands of operators is one bulk allocation of objects that all stay alive: the
    cyclic collector would scan the growing heap again and again for nothing (about a fifth of the
    build time). Paused for the build only; anything cyclic left over is collected afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load_plan_dags(dag_file: str | os.PathLike[str] | None = None, namespace: dict[str, Any] | None = None,
                   folder: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Build the DAGs of every valid plan under the folder; raise PlanImportError for the rest.

    :param dag_file: the calling dags file (``__file__``): plans/ beside it is the default folder.
    :param namespace: where to put the DAGs (``globals()`` of the dags file); without one, any
        invalid plan raises PlanImportError (and Airflow would then load none of them).
    """
    with no_cyclic_gc():
        catalogue = load_catalogue(Path(folder) if folder else plans_folder(dag_file))
        dags: dict[str, Any] = {}
        for plan in catalogue.plans.values():
            for dag in build_dags(plan):
                dags[dag.dag_id] = dag
    if catalogue.errors:
        by_file = catalogue.errors_by_file()
        details = "\n".join(f"{error}" for errors in by_file.values() for error in errors)
        message = (f"{len(by_file)} invalid plan file(s) ({', '.join(sorted(by_file))}) did not become DAGs; "
                   f"{len(catalogue.plans)} valid plan(s) loaded. Fix these (drs-plan validate shows the same):\n{details}")
        if namespace is None:
            raise PlanImportError(message)
        namespace[INVALID_PLANS_DAG_ID] = InvalidPlansDag(dag_id=INVALID_PLANS_DAG_ID, doc_md=message, schedule=None)
    if namespace is not None:
        namespace.update(dags)
    return dags
