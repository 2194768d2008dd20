"""What differs between the Airflow versions the provider supports (see the README's Compatibility
table). Features are detected by what Airflow exports, not by version number, so a backport works."""

from __future__ import annotations

import functools
import inspect
from typing import Any
from datetime import timedelta

from airflow import __version__ as AIRFLOW_VERSION

try:  # Public from Airflow 3.2 (task SDK 1.2); 3.1 kept deadlines experimental, outside airflow.sdk.
    from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference
except ImportError:  # pragma: no cover - exercised by the oldest-Airflow suite
    AsyncCallback = DeadlineAlert = DeadlineReference = None

HAS_DEADLINE_ALERTS = DeadlineAlert is not None
# Alerts have a name (shown in the UI) from Airflow 3.3; 3.2 refuses the keyword.
DEADLINE_ALERTS_HAVE_NAMES = HAS_DEADLINE_ALERTS and "name" in inspect.signature(DeadlineAlert).parameters

__all__ = ["AIRFLOW_VERSION", "AsyncCallback", "DeadlineAlert", "DeadlineReference", "DEADLINE_ALERTS_HAVE_NAMES",
           "HAS_DEADLINE_ALERTS", "dag_bag", "hitl_answer_window"]


def hitl_answer_window(timeout: timedelta | None) -> dict[str, timedelta]:
    """The keyword that bounds how long a human-in-the-loop task waits for its answer:
    ``response_timeout`` where Airflow's HITLOperator has it (standard provider 1.10+), before that
    ``execution_timeout``, which those versions read as the answer's deadline."""
    if timeout is None:
        return {}
    return {"response_timeout" if _hitl_has_response_timeout() else "execution_timeout": timeout}


@functools.cache
def _hitl_has_response_timeout() -> bool:
    from airflow.providers.standard.operators.hitl import HITLOperator

    return "response_timeout" in inspect.signature(HITLOperator.__init__).parameters


class NoFormFields:
    """For human-in-the-loop operators whose question has no form fields. Before Airflow 3.2 a HITL
    task's params include its DAG's (the run's ``point_in_time``): the form would show them, and an
    answer that does not fill them in is refused ("params_input {} does not match params")."""

    @property
    def serialized_params(self) -> dict[str, Any]:
        return {}


def dag_bag(dag_folder: str):
    """Airflow's DagBag over a folder: in ``airflow.dag_processing`` from 3.2, ``airflow.models`` before."""
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.1
        from airflow.models.dagbag import DagBag
    return DagBag(dag_folder=dag_folder)
