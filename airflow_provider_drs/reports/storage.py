"""Where run reports live: ``<location>/<dag_id>/<run>.json`` and ``.html`` beside it.

The location is a local folder (default ``$AIRFLOW_HOME/drs_reports``) or an S3 prefix
(``hooks/report_store.py``); both are read and written through the same small interface, so the
report task, the UI plugin and ``drs-plan history`` see the same reports wherever they run.
"""

from __future__ import annotations

import os
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

# Airflow's own DAG id alphabet; never "." or "..": a DAG id names a folder.
_DAG_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def reports_folder() -> Path:
    return Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow")) / "drs_reports"


def report_name(run_id: str) -> str:
    """The file stem of a run's report: the run id with anything outside a safe alphabet replaced."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id)


def report_path(dag_id: str, run_id: str) -> Path:
    return reports_folder() / checked_dag_id(dag_id) / f"{report_name(run_id)}.json"


def checked_dag_id(dag_id: str) -> str:
    if not _DAG_ID.fullmatch(dag_id):
        raise ValueError(f"not a DAG id: {dag_id!r}")
    return dag_id


class StoredReport(NamedTuple):
    where: str  # a path or an s3:// URL, to name it in messages
    text: str
    modified: datetime


class ReportStore(ABC):
    """Reports by DAG and run. ``suffix`` is ``.json`` (the report) or ``.html`` (its page).
    Two stores: LocalReportStore (a folder) and hooks.report_store.S3ReportStore."""

    location: str

    @abstractmethod
    def put(self, dag_id: str, run_id: str, suffix: str, text: str) -> str:
        """Write one report file; return where it went."""

    @abstractmethod
    def get(self, dag_id: str, run_id: str, suffix: str = ".json") -> str | None:
        """One report file's text, None when there is none."""

    @abstractmethod
    def dag_ids(self) -> list[str]:
        """The DAGs that have reports."""

    @abstractmethod
    def reports(self, dag_id: str) -> Iterator[StoredReport]:
        """The JSON reports of one DAG, in name order."""


class LocalReportStore(ReportStore):
    def __init__(self, folder: str | Path | None = None):
        self.folder = Path(folder) if folder else reports_folder()
        self.location = str(self.folder)

    def path(self, dag_id: str, run_id: str, suffix: str) -> Path:
        return self.folder / checked_dag_id(dag_id) / f"{report_name(run_id)}{suffix}"

    def put(self, dag_id: str, run_id: str, suffix: str, text: str) -> str:
        path = self.path(dag_id, run_id, suffix)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside then renamed: a reader (the UI, history) never sees half a report.
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
        return str(path)

    def get(self, dag_id: str, run_id: str, suffix: str = ".json") -> str | None:
        try:
            return self.path(dag_id, run_id, suffix).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def dag_ids(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(p.name for p in self.folder.iterdir() if p.is_dir() and _DAG_ID.fullmatch(p.name))

    def reports(self, dag_id: str) -> Iterator[StoredReport]:
        for path in sorted((self.folder / checked_dag_id(dag_id)).glob("*.json")):
            try:
                yield StoredReport(str(path), path.read_text(encoding="utf-8"),
                                   datetime.fromtimestamp(path.stat().st_mtime, timezone.utc))
            except OSError:
                continue
