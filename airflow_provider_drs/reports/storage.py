"""Where run reports live: ``$AIRFLOW_HOME/drs_reports/<dag_id>/<run>.json`` (and ``.html``)."""

from __future__ import annotations

import os
import re
from pathlib import Path


def reports_folder() -> Path:
    return Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow")) / "drs_reports"


def report_path(dag_id: str, run_id: str) -> Path:
    safe_run_id = re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id)
    return reports_folder() / dag_id / f"{safe_run_id}.json"
