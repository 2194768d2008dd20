"""A plan's history from its run reports: order, failures, the trend, and the overdue-drill check."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from airflow_provider_drs.cli import main
from airflow_provider_drs.reports.history import load_history, render_history_html, trend_points
from tests.reports.page import read_page
from tests.reports.samples import write_report


@pytest.fixture
def reports(tmp_path):
    write_report(tmp_path, "shop", "drill", 20, 300)
    write_report(tmp_path, "shop", "recovery", 9, 600)
    write_report(tmp_path, "shop", "drill", 27, 0, failed=True)
    write_report(tmp_path, "other", "drill", 21, 100)
    (tmp_path / "drs_shop_drill" / "half-written.json").write_text("{")
    return tmp_path


def test_runs_are_listed_oldest_first_with_their_failures_and_bad_files_named(reports):
    history = load_history(reports, "shop")
    assert [(r.started_at.day, r.mode, r.outcome) for r in history.runs] == [
        (9, "recovery", "succeeded"), (20, "drill", "succeeded"), (27, "drill", "failed")]
    assert [r.failed_servers for r in history.runs] == [(), (), ("s-a",)]
    assert [r.rto_seconds for r in history.runs] == [600.0, 300.0, None]
    assert len(history.skipped) == 1 and "half-written.json: not a readable run report" in history.skipped[0]
    assert history.other_plans == ["other"]


def test_overdue_counts_only_successful_drills(reports):
    history = load_history(reports, "shop")
    assert history.last_successful_drill().started_at.day == 20  # the failed drill of the 27th does not count
    assert history.overdue(10, now=datetime(2026, 11, 28, tzinfo=timezone.utc)) is None
    why = history.overdue(7, now=datetime(2026, 11, 28, tzinfo=timezone.utc))
    assert "last successful drill was 7.8 days ago" in why and "manual__20" in why


def test_the_trend_draws_the_target_only_when_it_does_not_flatten_the_runs(reports):
    runs = load_history(reports, "shop").runs
    points, target_y = trend_points(runs)
    assert [p[2].started_at.day for p in points] == [9, 20]  # runs with an achieved RTO, oldest left
    assert points[0][1] < points[1][1]  # 600 s is drawn higher than 300 s
    assert target_y is not None and target_y < points[0][1]  # 30 min: within 3x of 10 min, above both
    write_report(reports, "slow", "drill", 1, 10, rto_minutes=600)
    assert trend_points(load_history(reports, "slow").runs)[1] is None


def test_drs_plan_history_prints_writes_the_page_and_checks_overdue(reports, tmp_path, capsys):
    page_path = tmp_path / "history.html"
    assert main(["history", "shop", "--reports", str(reports), "--html", str(page_path)]) == 0
    out = capsys.readouterr()
    assert out.out.index("manual__9") < out.out.index("manual__20") < out.out.index("manual__27")
    assert "half-written.json" in out.err
    page = read_page(page_path.read_text())
    assert page.scripts == 0 and page.external == [] and "RTO target 30 min" in page.text
    assert main(["history", "shop", "--reports", str(reports), "--overdue", "1"]) == 1
    assert "OVERDUE: plan shop's last successful drill was" in capsys.readouterr().err
    assert main(["history", "shpo", "--reports", str(reports), "--overdue", "1"]) == 1
    assert "plans with reports there: other, shop" in capsys.readouterr().out
    assert main(["history", "shop", "--reports", str(tmp_path / "nope")]) == 2


def test_an_empty_history_still_renders(tmp_path):
    page = read_page(render_history_html(load_history(tmp_path, "shop")))
    assert "No run achieved an RTO yet" in page.text
