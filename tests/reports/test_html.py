"""The report page: timeline geometry, the RTO marker, RPO, time to decide, and the CLI."""

from __future__ import annotations

import json

import pytest

from airflow_provider_drs.cli import main
from airflow_provider_drs.reports.html import CHART_WIDTH, LABEL_WIDTH, render_html, timeline
from airflow_provider_drs.reports.run_report import build_report, format_table
from tests.reports.page import read_page

START = "2026-11-02T06:00:00Z"


def launched(phases_at: float, snapshot: str = "2026-11-02T05:59:50Z") -> dict:
    """A server whose snapshot, conversion and launch each took 10 s, starting at +phases_at s."""
    t = lambda s: f"2026-11-02T06:{int(s) // 60:02d}:{int(s) % 60:02d}Z"  # noqa: E731
    return {"launch_status": "LAUNCHED", "launched_at": t(phases_at + 30), "ec2_instance_id": "i-0123456789abcdef0",
            "point_in_time_snapshot": snapshot,
            "phases": {"snapshot_start": t(phases_at), "snapshot_end": t(phases_at + 10),
                       "conversion_start": t(phases_at + 10), "conversion_end": t(phases_at + 20),
                       "launch_start": t(phases_at + 20)}}


def report_of(rto_minutes: int, rpo_minutes: int | None = None, mode: str = "drill", approval=None, **server):
    plan = {"name": "p", "rto_minutes": rto_minutes, "rpo_minutes": rpo_minutes, "region": "us-east-1",
            "source": {"file": "p.yaml", "yaml": "plan: p\n# <b>not markup</b>\n", "sha256": "ab" * 32}}
    result = launched(5, **server)
    waves = [{"name": "db", "servers": ["s-a"], "job": {"job_id": "drsjob-1", "creation_date_time": "2026-11-02T06:00:05Z"},
              "results": {"s-a": result}}]
    return build_report(plan=plan, mode=mode, dag_id="d", run_id="r", started_at=START,
                        finished_at="2026-11-02T06:01:00Z", waves=waves, approval=approval)


def test_a_target_near_the_run_is_drawn_to_scale():
    line = timeline(report_of(rto_minutes=1))  # run spans 35 s, target at +5 s + 60 s
    assert line.rto_off_scale is False
    assert line.rto_x == pytest.approx(LABEL_WIDTH + CHART_WIDTH)  # the axis stretches to the marker
    launch = next(b for r in line.rows for b in r.bars if b.phase == "launch")
    assert launch.x == pytest.approx(LABEL_WIDTH + 25 * CHART_WIDTH / 65)


def test_a_far_target_sits_at_the_edge_marked_off_scale_and_bars_keep_their_size():
    line = timeline(report_of(rto_minutes=30))
    assert line.rto_off_scale is True and "off scale" in line.rto_label
    launch = next(b for r in line.rows for b in r.bars if b.phase == "launch")
    assert launch.width == pytest.approx(10 * CHART_WIDTH / 35)


def test_rpo_is_the_snapshot_age_when_the_recovery_started_against_the_target():
    report = report_of(rto_minutes=30, rpo_minutes=1, snapshot="2026-11-02T05:58:35Z")
    assert report["waves"][0]["servers"][0]["rpo_seconds"] == 90.0
    assert report["rpo"]["worst_seconds"] == 90.0 and report["rpo"]["met"] is False
    assert report_of(rto_minutes=30)["rpo"]["met"] is None  # no target: neither met nor missed
    page = read_page(render_html(report))
    assert page.server_rows["s-a"][-1] == "90.0 s" and "target 1 min: missed" in page.text
    assert "Worst achieved RPO: 90.0 s against a target of 1 min: MISSED" in format_table(report)


def test_a_recovery_shows_the_wait_for_approval_and_splits_decide_from_recover():
    approval = {"decision": "approved", "by": "ops-lead", "by_id": "7", "at": "2026-11-02T06:00:04Z"}
    report = report_of(rto_minutes=30, mode="recovery", approval=approval)
    assert report["rto"]["time_to_decide_seconds"] == 4.0
    assert report["rto"]["time_to_recover_seconds"] == 31.0  # approval to the last launch at +35 s
    page = read_page(render_html(report))
    assert [b["phase"] for b in page.bars] == ["approval", "snapshot", "conversion", "launch"]
    assert "Recovery approved by ops-lead (7)" in page.text


def test_the_plan_text_is_shown_as_text_never_as_markup():
    html = render_html(report_of(rto_minutes=30))
    assert "&lt;b&gt;not markup&lt;/b&gt;" in html and "<b>not markup</b>" not in html


def test_a_report_of_an_earlier_version_still_renders():
    report = report_of(rto_minutes=30)
    for key in ("rpo", "plan_source", "approval", "replaced_instances"):
        report.pop(key)
    page = read_page(render_html(report))
    assert page.rto_markers == 1 and "does not carry its plan file" in page.text


def test_drs_plan_report_prints_the_facts_and_renders_the_page(tmp_path, capsys):
    source = tmp_path / "run.json"
    source.write_text(json.dumps(report_of(rto_minutes=30)))
    out = tmp_path / "run.html"
    assert main(["report", str(source), "--html", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Achieved RTO: 30.0 s" in printed and f"HTML report: {out}" in printed
    assert read_page(out.read_text()).bars


@pytest.mark.parametrize("content, message", [
    (None, "can't read"), ("not json", "is not JSON"), ('{"plan": "p"}', "is not a run report: no mode"),
])
def test_drs_plan_report_refuses_what_is_not_a_report(tmp_path, capsys, content, message):
    path = tmp_path / "x.json"
    if content is not None:
        path.write_text(content)
    assert main(["report", str(path)]) == 2
    assert message in capsys.readouterr().err
