"""The run report as one self-contained HTML page, rendered from the JSON run report.

Inline CSS and SVG, no script and nothing fetched, so the page can be mailed or archived as it is.
The timeline's geometry is computed here (pure Python, testable); the template only draws it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from airflow_provider_drs.reports.run_report import failed_servers_of, parse_time

# Phase name -> (start key in a server's phases, end keys tried in order). The launch phase has no
# end event in DRS: it ends when the server was seen LAUNCHED (``launched_at``).
PHASES = (
    ("snapshot", "snapshot_start", ("snapshot_end", "conversion_start")),
    ("conversion", "conversion_start", ("conversion_end", "launch_start")),
    ("launch", "launch_start", ("launched_at",)),
)

LABEL_WIDTH, CHART_WIDTH, ROW_HEIGHT, BAND_HEIGHT, AXIS_HEIGHT = 300, 640, 18, 22, 28
# The RTO target is drawn to scale when it falls within this many times the run's span; further
# out it would squash every bar into a sliver, so it is drawn at the right edge, marked off scale.
MARKER_SCALE_LIMIT = 3.0
TICK_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400)


@dataclass
class Bar:
    phase: str
    x: float
    width: float
    failed: bool
    title: str


@dataclass
class Row:
    kind: str  # "band" (a wave's header), "server", "post" (a wave's post actions) or "approval"
    label: str
    y: float
    server_id: str | None = None
    bars: list[Bar] = field(default_factory=list)


@dataclass
class Timeline:
    rows: list[Row]
    ticks: list[tuple[float, str]]
    height: float
    rto_x: float | None
    rto_label: str
    rto_off_scale: bool


def _seconds(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds()


def _bars_of(server: Mapping[str, Any]) -> list[tuple[str, datetime, datetime, bool]]:
    """(phase, start, end, failed) for each phase the server went through."""
    times = {**(server.get("phases") or {}), "launched_at": server.get("launched_at")}
    failed_at = parse_time(times.get("failed"))
    bars = []
    for phase, start_key, end_keys in PHASES:
        start = parse_time(times.get(start_key))
        if start is None:
            continue
        end = next((parse_time(times[k]) for k in end_keys if times.get(k)), None)
        failed = end is None and failed_at is not None
        end = end or failed_at
        if end is not None and end >= start:
            bars.append((phase, start, end, failed))
    # A gated wave's server: from its launch until it passed the ready_when gate.
    launched, ready = parse_time(server.get("launched_at")), parse_time(server.get("ready_at"))
    if launched and ready and ready >= launched:
        bars.append(("ready", launched, ready, False))
    return bars


def _post_actions_of(wave: Mapping[str, Any]) -> tuple[datetime, datetime] | None:
    """From the wave's last server launched to when its post actions finished (None: none ran to the end)."""
    end = parse_time(wave.get("post_actions_finished_at"))
    launched = [t for t in (parse_time(s.get("launched_at")) for s in wave["servers"]) if t]
    if end is None or not launched or end < max(launched):
        return None
    return max(launched), end


def _tick_step(span: float) -> int:
    return next((s for s in TICK_STEPS if span / s <= 8), TICK_STEPS[-1])


def _tick_label(seconds: float) -> str:
    if seconds < 120:
        return f"+{seconds:g} s"
    return f"+{seconds / 60:g} min" if seconds < 7200 else f"+{seconds / 3600:g} h"


def timeline(report: Mapping[str, Any]) -> Timeline | None:
    """Rows of phase bars (one per server and phase, grouped in wave bands), the approval wait of a
    recovery, and the RTO target's marker. None when no server ever started a phase."""
    approval = report.get("approval") or {}
    started = parse_time(report.get("started_at"))
    decided = parse_time(approval.get("at"))
    servers = [(wave, s, _bars_of(s)) for wave in report["waves"] for s in wave["servers"]]
    post = {w["name"]: _post_actions_of(w) for w in report["waves"]}
    moments = [t for _, _, bars in servers for _, a, b, _ in bars for t in (a, b)]
    moments += [t for span_ in post.values() if span_ for t in span_]
    if not moments:
        return None
    origin = min([*moments, *([started] if started else [])])
    end = max([*moments, *([decided] if decided else [])])
    span = max(_seconds(origin, end), 1.0)
    rto = report["rto"]
    first_start = parse_time(rto.get("first_start_recovery_at"))
    target = rto.get("target_minutes")
    marker = _seconds(origin, first_start) + target * 60 if first_start and target else None
    off_scale = marker is not None and marker > span * MARKER_SCALE_LIMIT
    if marker is not None and not off_scale:
        span = max(span, marker)
    scale = CHART_WIDTH / span

    def bar(phase: str, start: datetime, stop: datetime, failed: bool) -> Bar:
        x, width = _seconds(origin, start) * scale, max(_seconds(start, stop) * scale, 1.0)
        title = f"{phase}: {start.isoformat()} to {stop.isoformat()} ({_seconds(start, stop):.1f} s)"
        return Bar(phase, LABEL_WIDTH + x, width, failed, title + (", failed" if failed else ""))

    rows: list[Row] = []
    y = AXIS_HEIGHT
    if started and decided and report.get("mode") == "recovery":
        rows.append(Row("approval", f"approval ({approval.get('decision')} by {approval.get('by') or 'unknown'})", y,
                        bars=[bar("approval", started, decided, False)]))
        y += ROW_HEIGHT
    current = None
    for index, (wave, server, bars) in enumerate(servers):
        if wave["name"] != current:
            current = wave["name"]
            rows.append(Row("band", f"wave {current}", y))
            y += BAND_HEIGHT
        label = f"{server.get('hostname') or '-'} {server['source_server_id']}"
        rows.append(Row("server", label, y, server["source_server_id"], [bar(*b) for b in bars]))
        y += ROW_HEIGHT
        last_of_wave = index + 1 == len(servers) or servers[index + 1][0]["name"] != current
        if last_of_wave and post.get(current):
            rows.append(Row("post", f"post actions ({wave['post_actions']})", y,
                            bars=[bar("post", *post[current], False)]))
            y += ROW_HEIGHT
    step = _tick_step(span)
    ticks = [(LABEL_WIDTH + t * scale, _tick_label(t)) for t in range(0, int(span) + 1, step)]
    rto_x = None if marker is None else LABEL_WIDTH + (CHART_WIDTH if off_scale else marker * scale)
    label = f"RTO target {target} min" + (" (off scale)" if off_scale else "") if target else ""
    return Timeline(rows, ticks, y + 8, rto_x, label, off_scale)


def duration(seconds: float | None) -> str:
    """Seconds as people read them: "42.0 s", "12.5 min"; "-" when unknown."""
    if seconds is None:
        return "-"
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


_ENV = Environment(
    loader=PackageLoader("airflow_provider_drs.reports", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["duration"] = duration


def environment() -> Environment:
    """The templates' environment (autoescaped): every page of the reports renders through it."""
    return _ENV


def render_html(report: Mapping[str, Any]) -> str:
    """The report page of one run (see module docstring)."""
    return _ENV.get_template("run_report.html.j2").render(
        report=report, timeline=timeline(report), failed=failed_servers_of(report),
        chart_width=LABEL_WIDTH + CHART_WIDTH + 20, label_width=LABEL_WIDTH,
    )
