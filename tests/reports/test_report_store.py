"""Reports in S3 (the simulator's embedded moto, over HTTP) read and written like a local folder."""

from __future__ import annotations

import boto3
import pytest

from airflow_provider_drs.cli import main
from airflow_provider_drs.hooks.report_store import S3ReportStore, open_report_store
from airflow_provider_drs.reports.history import load_history
from airflow_provider_drs.reports.storage import LocalReportStore
from tests.reports.samples import write_report

BUCKET = "dr-evidence"


@pytest.fixture
def bucket(sim):
    boto3.client("s3", endpoint_url=sim.endpoint_url, region_name="us-east-1").create_bucket(Bucket=BUCKET)
    return f"s3://{BUCKET}/reports/prod"


def copy_to(store, folder):
    local = LocalReportStore(folder)
    for dag_id in local.dag_ids():
        for stored in local.reports(dag_id):
            run_id = stored.where.rsplit("/", 1)[1].removesuffix(".json")
            store.put(dag_id, run_id, ".json", stored.text)


def test_s3_store_round_trip_and_history_match_the_local_folder(bucket, tmp_path):
    for day, mode, failed in ((20, "drill", False), (9, "recovery", False), (27, "drill", True)):
        write_report(tmp_path, "shop", mode, day, 300, failed=failed)
    write_report(tmp_path, "other", "drill", 21, 100)
    store = S3ReportStore(bucket, "aws_sim")
    copy_to(store, tmp_path)

    assert store.dag_ids() == ["drs_other_drill", "drs_shop_drill", "drs_shop_recovery"]
    assert store.get("drs_shop_drill", "manual__20") == (tmp_path / "drs_shop_drill" / "manual__20.json").read_text()
    assert store.get("drs_shop_drill", "manual__21") is None
    where = store.put("drs_shop_drill", "manual__20", ".html", "<p>page</p>")
    assert where == f"{bucket}/drs_shop_drill/manual__20.html"

    from_s3, from_disk = load_history(store, "shop"), load_history(tmp_path, "shop")
    assert [(r.run_id, r.mode, r.outcome) for r in from_s3.runs] == [
        (r.run_id, r.mode, r.outcome) for r in from_disk.runs] == [
        ("manual__9", "recovery", "succeeded"), ("manual__20", "drill", "succeeded"), ("manual__27", "drill", "failed")]
    assert from_s3.other_plans == ["other"]
    assert from_s3.runs[0].path == f"{bucket}/drs_shop_recovery/manual__9.json"


def test_history_command_reads_s3(bucket, tmp_path, capsys):
    write_report(tmp_path, "shop", "drill", 20, 300)
    copy_to(S3ReportStore(bucket, "aws_sim"), tmp_path)
    assert main(["history", "shop", "--reports", bucket, "--conn", "aws_sim", "--overdue", "100000"]) == 0
    out = capsys.readouterr().out
    assert "manual__20" in out and "not overdue" in out


def test_a_dag_id_cannot_leave_the_reports_location(tmp_path):
    store = LocalReportStore(tmp_path)
    for bad in ("..", ".", "a/b", "../drs_x"):
        with pytest.raises(ValueError, match="not a DAG id"):
            store.get(bad, "run")


def test_location_setting_chooses_the_store(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW__DRS__REPORTS_LOCATION", "s3://b/p")
    assert isinstance(open_report_store(), S3ReportStore) and open_report_store().location == "s3://b/p"
    monkeypatch.setenv("AIRFLOW__DRS__REPORTS_LOCATION", str(tmp_path))
    assert open_report_store().location == str(tmp_path)
    with pytest.raises(ValueError, match="expected s3://bucket/prefix"):
        S3ReportStore("s3:///nobucket")
