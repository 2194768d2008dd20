"""A run's report as CloudWatch metrics, so people can alarm on a failed scheduled drill.

Pure: the report in, PutMetricData entries out (the report task sends them). Every metric has
the dimensions Plan and Mode (drill / recovery), and is timestamped when the report was written:
- RunSucceeded: 1 or 0 (not sent for a rejected recovery: a "no" is neither);
- ServersLaunched, ServersFailed: counts of this run's servers;
- AchievedRTOSeconds: only when the RTO was achieved (every critical server launched);
- WorstRPOSeconds: only when a launched server's snapshot time is known.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_drs.reports.run_report import failed_servers_of, parse_time

DEFAULT_NAMESPACE = "DRSOrchestration"


def metric_data(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    launched = sum(s["launch_status"] == "LAUNCHED" for wave in report["waves"] for s in wave["servers"])
    failed = len(failed_servers_of(report))
    values: list[tuple[str, float, str]] = [("ServersLaunched", launched, "Count"), ("ServersFailed", failed, "Count")]
    if report["outcome"] != "rejected":
        values.append(("RunSucceeded", 1.0 if report["outcome"] == "succeeded" else 0.0, "Count"))
    if report["rto"].get("achieved_seconds") is not None:
        values.append(("AchievedRTOSeconds", report["rto"]["achieved_seconds"], "Seconds"))
    worst_rpo = (report.get("rpo") or {}).get("worst_seconds")
    if worst_rpo is not None:
        values.append(("WorstRPOSeconds", worst_rpo, "Seconds"))
    dimensions = [{"Name": "Plan", "Value": str(report["plan"])}, {"Name": "Mode", "Value": str(report["mode"])}]
    when = parse_time(report.get("finished_at"))
    return [{"MetricName": name, "Dimensions": dimensions, "Value": float(value), "Unit": unit,
             **({"Timestamp": when} if when else {})} for name, value, unit in values]
