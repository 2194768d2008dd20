"""Small run reports for the history, store and UI page tests, built by the real report builder."""

from __future__ import annotations

import json

from airflow_provider_drs.reports.run_report import build_report


def write_report(folder, plan, mode, day, seconds, failed=False, rto_minutes=30):
    """A report of a one-server run on 2026-11-<day>, its launch `seconds` after the start."""
    start = f"2026-11-{day:02d}T06:00:00Z"
    result = {"launch_status": "FAILED" if failed else "LAUNCHED", "failed_phase": "LAUNCH" if failed else None,
              "launched_at": None if failed else f"2026-11-{day:02d}T06:{seconds // 60:02d}:{seconds % 60:02d}Z",
              "phases": {}}
    report = build_report(plan={"name": plan, "rto_minutes": rto_minutes}, mode=mode, dag_id=f"drs_{plan}_{mode}",
                          run_id=f"manual__{day}", started_at=start, finished_at=start, waves=[
                              {"name": "db", "servers": ["s-a"], "results": {"s-a": result},
                               "job": {"job_id": "drsjob-1", "creation_date_time": start}}])
    path = folder / f"drs_{plan}_{mode}" / f"manual__{day}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report))
    return path
