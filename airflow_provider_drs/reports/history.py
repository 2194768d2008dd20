"""A plan's past runs, read back from the run reports: the history table, the RTO trend, and the
"overdue drill" check (no successful drill in N days), for a terminal, a cron job or CI.

Reports are read from a report store (``storage.py``: a folder or an S3 prefix, laid out as the
report task writes it); a report that cannot be read is skipped and named.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from airflow_provider_drs.plans.model import MODES, dag_id_of
from airflow_provider_drs.reports.html import MARKER_SCALE_LIMIT, duration, environment
from airflow_provider_drs.reports.run_report import failed_servers_of, parse_time
from airflow_provider_drs.reports.storage import LocalReportStore, ReportStore, StoredReport

TREND_WIDTH, TREND_HEIGHT, TREND_MARGIN = 640, 160, 40
BAR_WIDTH = 40  # characters of the terminal trend's longest bar


@dataclass(frozen=True)
class PastRun:
    started_at: datetime
    mode: str
    outcome: str
    run_id: str
    dag_id: str
    rto_seconds: float | None
    rto_target_minutes: int | None
    rto_met: bool
    rpo_worst_seconds: float | None
    rpo_met: bool | None
    failed_servers: tuple[str, ...]
    path: str

    @classmethod
    def from_report(cls, report: dict[str, Any], stored: StoredReport) -> PastRun:
        rto, rpo = report["rto"], report.get("rpo") or {}
        failed = tuple(s["source_server_id"] for _, s in failed_servers_of(report))
        started = parse_time(report.get("started_at") or report.get("finished_at")) or stored.modified
        return cls(started, report["mode"], report["outcome"], report["run_id"], report["dag_id"],
                   rto.get("achieved_seconds"), rto.get("target_minutes"), bool(rto.get("met")),
                   rpo.get("worst_seconds"), rpo.get("met"), failed, stored.where)


@dataclass
class History:
    plan: str
    folder: str
    runs: list[PastRun] = field(default_factory=list)  # oldest first
    skipped: list[str] = field(default_factory=list)  # "FILE: why"
    other_plans: list[str] = field(default_factory=list)  # plans with reports, for a mistyped name

    def last_successful_drill(self) -> PastRun | None:
        return next((r for r in reversed(self.runs) if r.mode == "drill" and r.outcome == "succeeded"), None)

    def overdue(self, days: float, now: datetime | None = None) -> str | None:
        """Why the plan is overdue for a drill (no successful drill in ``days`` days), or None."""
        now = now or datetime.now(timezone.utc)
        last = self.last_successful_drill()
        if last is None:
            return f"plan {self.plan} has no successful drill in the reports under {self.folder}"
        age = now - last.started_at
        if age > timedelta(days=days):
            return (f"plan {self.plan}'s last successful drill was {age.total_seconds() / 86400:.1f} days ago "
                    f"({last.started_at:%Y-%m-%d %H:%M} UTC, run {last.run_id}); more than {days:g} days")
        return None


def load_history(store: ReportStore | str | Path, plan: str, other_plans: bool = True) -> History:
    """Every report of the plan (its two DAGs' folders); of the other folders, only the plan name
    (for a mistyped name, unless ``other_plans`` is off), from their first readable report.
    ``store`` may be a local folder."""
    if not isinstance(store, ReportStore):
        store = LocalReportStore(store)
    history = History(plan, store.location)
    own = {dag_id_of(plan, mode) for mode in MODES}
    others: set[str] = set()
    for dag_id in store.dag_ids():
        if dag_id not in own and not other_plans:
            continue
        for stored in store.reports(dag_id):
            try:
                report = json.loads(stored.text)
                run = PastRun.from_report(report, stored) if dag_id in own else None
                name = report["plan"]
            except (ValueError, KeyError, TypeError) as error:
                if dag_id in own:
                    history.skipped.append(f"{stored.where}: not a readable run report ({type(error).__name__}: {error})")
                continue
            if run is None:
                others.add(str(name))
                break
            history.runs.append(run)
    history.runs.sort(key=lambda r: r.started_at)
    history.other_plans = sorted(others)
    return history


def format_history(history: History) -> str:
    """The history as a terminal table, then the achieved RTO of each run as a bar (the trend)."""
    header = ("STARTED (UTC)", "MODE", "OUTCOME", "RTO", "RPO", "FAILED SERVERS", "RUN")
    rows = [header] + [(f"{r.started_at:%Y-%m-%d %H:%M}", r.mode, r.outcome,
                        duration(r.rto_seconds) + ("" if r.rto_seconds is None or r.rto_met else " MISSED"),
                        duration(r.rpo_worst_seconds) + (" MISSED" if r.rpo_met is False else ""),
                        ", ".join(r.failed_servers) or "-", r.run_id) for r in history.runs]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    achieved = [r for r in history.runs if r.rto_seconds is not None]
    if achieved:
        longest = max(r.rto_seconds for r in achieved)
        lines.append("\nAchieved RTO, oldest first:")
        for r in history.runs:
            bar = "#" * max(1, round(BAR_WIDTH * r.rto_seconds / longest)) if r.rto_seconds is not None else "(not achieved)"
            lines.append(f"  {r.started_at:%Y-%m-%d %H:%M} {r.mode:<8} {bar} {duration(r.rto_seconds)}")
    return "\n".join(lines)


def latest_rto_target(runs: Sequence[PastRun]) -> int | None:
    """The RTO target the trend is drawn against: the newest run's (a plan's target may change)."""
    return next((r.rto_target_minutes for r in reversed(runs) if r.rto_target_minutes), None)


def trend_points(runs: Sequence[PastRun]) -> tuple[list[tuple[float, float, PastRun]], float | None]:
    """SVG (x, y, run) of each run with an achieved RTO, oldest left, and the y of the target line
    (the latest run's target), or None when the target is so far above every run (over
    MARKER_SCALE_LIMIT times the slowest) that drawing it would flatten the trend."""
    achieved = [r for r in runs if r.rto_seconds is not None]
    target = latest_rto_target(runs)
    slowest = max([r.rto_seconds for r in achieved] or [1.0])
    target_on_scale = bool(target) and target * 60 <= slowest * MARKER_SCALE_LIMIT
    top = max(slowest, target * 60 if target_on_scale else 0.0) * 1.1
    width = TREND_WIDTH - 2 * TREND_MARGIN
    step = width / max(len(achieved) - 1, 1)

    def y(seconds: float) -> float:
        return TREND_HEIGHT - TREND_MARGIN / 2 - seconds / top * (TREND_HEIGHT - TREND_MARGIN)

    points = [(TREND_MARGIN + i * step, y(r.rto_seconds), r) for i, r in enumerate(achieved)]
    return points, (y(target * 60) if target_on_scale else None)


def render_history_html(history: History, run_href: Callable[[str, str], str] | None = None) -> str:
    """The history page; ``run_href(dag_id, run_id)``, when given, links each run to its report."""
    points, target_y = trend_points(history.runs)
    target = latest_rto_target(history.runs)
    return environment().get_template("history.html.j2").render(
        history=history, points=points, target_y=target_y, target=target, width=TREND_WIDTH,
        height=TREND_HEIGHT, margin=TREND_MARGIN, duration=duration, run_href=run_href,
    )
