"""The product's main job: real plan DAGs run by Airflow (dag.test) against the DRS simulator."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from airflow_provider_drs.hooks.report_store import S3ReportStore
from airflow_provider_drs.reports.history import load_history
from airflow_provider_drs.reports.run_report import parse_time
from airflow_provider_drs.reports.storage import report_path, reports_folder
from tests.reports.page import read_page
from tests.plans.test_limits import laughs
from tests.e2e.helpers import (
    HitlResponder,
    interval,
    read_report,
    read_report_page,
    cloudwatch_sums,
    replication_lags,
    run_dag,
    running_instance_states,
    subscribe_queue,
    task_states,
)

DB, APP, WEB1, WEB2 = "s-3578f52ef3bdd58b4", "s-0e5a9c4b2f7d18e36", "s-3c1730a9e0771ea14", "s-3d75cdc0d9a28a725"
REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(300)  # per test; see pyproject for the method


def test_sample_plans_import_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert {"drs_three_tier_drill", "drs_three_tier_recovery", "drs_diamond_drill", "drs_diamond_recovery"} <= set(dagbag.dags)
    drill = dagbag.dags["drs_three_tier_drill"]
    assert drill.task_group.get_child_by_label("database").get_child_by_label("start_recovery") is not None
    assert "RTO target:** 30 min" in drill.doc_md
    assert type(dagbag.dags["drs_three_tier_recovery"].timetable).__name__ == "NullTimetable"  # never scheduled
    assert type(drill.timetable).__name__ == "DrillTimetable" and drill.timetable.summary == "0 6 * * 1"


def test_broken_plan_is_an_import_error_while_the_others_load(tmp_path, airflow_db):
    from airflow_provider_drs.version_compat import dag_bag

    shutil.copy(REPO / "dags" / "recovery_plans.py", tmp_path)
    shutil.copytree(REPO / "dags" / "plans", tmp_path / "plans")
    (tmp_path / "plans" / "typo.yaml").write_text(
        "version: 1\nplan: typo\nregion: us-east-1\nrto_minutes: 10\n"
        "protection_groups:\n  db: {servers: [s-3578f52ef3bdd58b4]}\n"
        "waves:\n  - name: db\n    protection_groups: [db]\n  - name: app\n    depends_on: [dbb]\n"
        "    protection_groups: [db]\n"
    )
    bag = dag_bag(str(tmp_path))
    assert {"drs_three_tier_drill", "drs_diamond_drill"} <= set(bag.dags)
    assert not any("typo" in dag_id for dag_id in bag.dags)
    (error,) = bag.import_errors.values()
    assert f"{tmp_path / 'plans' / 'typo.yaml'}:11: waves[1].depends_on[0]: unknown wave 'dbb'" in error
    assert "three-tier" not in error and "diamond" not in error


def test_dagbag_loads_the_valid_plans_beside_a_bomb_and_names_its_file(tmp_path, airflow_db):
    from airflow_provider_drs.version_compat import dag_bag

    shutil.copy(REPO / "dags" / "recovery_plans.py", tmp_path)
    shutil.copytree(REPO / "dags" / "plans", tmp_path / "plans")
    (tmp_path / "plans" / "bomb.yaml").write_text(laughs(9))
    bag = dag_bag(str(tmp_path))
    assert {"drs_three_tier_drill", "drs_diamond_drill", "drs_diamond_recovery"} <= set(bag.dags)
    (error,) = bag.import_errors.values()
    assert f"{tmp_path / 'plans' / 'bomb.yaml'}:8: l3: YAML aliases expand" in error


def test_three_tier_drill(dagbag, airflow_sim):
    ec2 = airflow_sim.client("ec2")
    bystander = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    inbox = subscribe_queue(airflow_sim, "arn:aws:sns:us-east-1:123456789012:dr-notify")

    dag_run = run_dag(dagbag, "drs_three_tier_drill")

    states = task_states(dag_run)
    assert str(dag_run.state) in ("success", "DagRunState.SUCCESS"), states
    report = read_report(dag_run)
    waves = {w["name"]: w for w in report["waves"]}
    # Waves in dependency order: each starts after the one before it has launched.
    assert interval(waves["database"])[1] < interval(waves["app"])[0]
    assert interval(waves["app"])[1] < interval(waves["web"])[0]
    launched = {s["ec2_instance_id"] for w in report["waves"] for s in w["servers"]}
    assert len(launched) == 4 and None not in launched
    # Cleanup terminated exactly the drill instances it launched, and nothing else.
    assert {t["ec2_instance_id"] for t in report["cleanup"]["terminated"]} == launched
    instances = running_instance_states(ec2)
    assert {instances[i] for i in launched} == {"terminated"}
    assert instances[bystander] == "running"
    assert report["rto"]["met"] is True and report["rto"]["achieved_seconds"] > 0
    # The database's post action ran, with {{ instance:... }} resolved to the recovered instance.
    assert airflow_sim.control.calls().get("StartAutomationExecution") == 1
    assert states["verdict"] == "success"
    # The plan's topic ({{ ssm:/dr/notify-topic }}) got the outcome and the table.
    (message,) = inbox()
    assert message["Subject"] == f"[DRS drill] three-tier: succeeded, RTO {report['rto']['achieved_minutes']} of 30 min"
    assert "EC2AMAZ-FQTJG64" in message["Message"] and "Achieved RTO" in message["Message"]
    # The report page: one timeline bar per server and phase, the RTO marker, the RPO of each
    # server (its snapshot's age when the recovery started: the simulator's replication lag).
    page = read_report_page(dag_run)
    servers = [s for w in report["waves"] for s in w["servers"]]
    assert Counter((b["server"], b["phase"]) for b in page.bars) == Counter(
        [(s["source_server_id"], p) for s in servers for p in ("snapshot", "conversion", "launch")]
        + [("", "post")])  # the database wave's post action, on its own row
    # The service is back when the database's post action finished, after every server launched:
    # the achieved RTO and the time to recover run to that moment.
    database = next(w for w in report["waves"] if w["name"] == "database")
    last_launch = max(s["launched_at"] for s in servers)
    assert database["post_actions"] == 1 and database["post_actions_finished_at"] > database["servers"][0]["launched_at"]
    assert report["rto"]["service_back_at"] == max(last_launch, database["post_actions_finished_at"])
    assert report["rto"]["achieved_seconds"] == pytest.approx(
        (parse_time(report["rto"]["service_back_at"]) - parse_time(report["rto"]["first_start_recovery_at"]))
        .total_seconds(), abs=0.001)  # the report keeps milliseconds
    assert page.rto_markers == 1 and "RTO target 30 min" in page.rto_label
    lags = replication_lags(airflow_sim, [s["source_server_id"] for s in servers])
    for s in servers:
        assert s["rpo_seconds"] == pytest.approx(lags[s["source_server_id"]], abs=0.01), s
        assert page.server_rows[s["source_server_id"]][-1] == f"{s['rpo_seconds']:.1f} s"
    assert report["rpo"]["worst_seconds"] == max(lags.values()) > 0
    # CloudWatch got the run's metrics, dimensioned by plan and mode.
    assert cloudwatch_sums(airflow_sim, "three-tier", "drill") == {
        "RunSucceeded": 1.0, "ServersLaunched": 4.0, "ServersFailed": 0.0,
        "AchievedRTOSeconds": report["rto"]["achieved_seconds"], "WorstRPOSeconds": max(lags.values())}
    assert report["metrics"]["error"] is None and len(report["metrics"]["published"]) == 5
    plan_text = (REPO / "dags" / "plans" / "three-tier.yaml").read_text()
    assert report["plan_source"]["yaml"] == plan_text
    assert page.sha256 == hashlib.sha256(plan_text.encode()).hexdigest()


def test_diamond_middle_waves_overlap_and_its_report_goes_to_s3(dagbag, airflow_sim, monkeypatch):
    airflow_sim.control.set_time_scale(1.0)  # jobs long enough to see two of them in flight at once
    airflow_sim.client("s3").create_bucket(Bucket="dr-evidence")
    monkeypatch.setenv("AIRFLOW__DRS__REPORTS_LOCATION", "s3://dr-evidence/runs")
    dag_run = run_dag(dagbag, "drs_diamond_drill")
    assert str(dag_run.state) in ("success", "DagRunState.SUCCESS"), task_states(dag_run)
    store = S3ReportStore("s3://dr-evidence/runs", "aws_default")
    assert not report_path(dag_run.dag_id, dag_run.run_id).exists()
    report = json.loads(store.get(dag_run.dag_id, dag_run.run_id))
    assert report["run_id"] == dag_run.run_id
    bars = read_page(store.get(dag_run.dag_id, dag_run.run_id, ".html")).bars
    assert len([b for b in bars if b["server"]]) == 3 * sum(len(w["servers"]) for w in report["waves"])
    waves = {w["name"]: w for w in report["waves"]}
    app, web_a = interval(waves["app"]), interval(waves["web-a"])
    assert app[0] < web_a[1] and web_a[0] < app[1], (app, web_a)
    assert max(app[1], web_a[1]) < interval(waves["web-b"])[0]
    assert interval(waves["core"])[1] < min(app[0], web_a[0])


def test_critical_failure_fails_its_wave_skips_dependents_and_still_cleans_up(dagbag, airflow_sim):
    airflow_sim.control.fail_server(APP, "LAUNCH", raw_error="InsufficientInstanceCapacity")
    dag_run = run_dag(dagbag, "drs_three_tier_drill")

    states = task_states(dag_run)
    assert str(dag_run.state) in ("failed", "DagRunState.FAILED")
    assert states["app.wait_for_launch"] == "failed"
    assert states["web.start_recovery"] == "upstream_failed"
    assert (states["cleanup"], states["report"], states["verdict"]) == ("success", "success", "failed")
    report = read_report(dag_run)
    assert report["outcome"] == "failed" and report["rto"]["met"] is False
    assert {w["name"]: w["state"] for w in report["waves"]} == {
        "database": "success", "app": "failed", "web": "upstream_failed"}
    assert APP in report["rto"]["why_not_achieved"]
    app_row = next(s for w in report["waves"] if w["name"] == "app" for s in w["servers"])
    assert (app_row["launch_status"], app_row["failed_phase"], app_row["raw_error"]) == (
        "FAILED", "LAUNCH", "InsufficientInstanceCapacity")
    db_instance = next(s for w in report["waves"] if w["name"] == "database" for s in w["servers"])["ec2_instance_id"]
    assert [t["ec2_instance_id"] for t in report["cleanup"]["terminated"]] == [db_instance]
    assert running_instance_states(airflow_sim.client("ec2"))[db_instance] == "terminated"
    assert airflow_sim.control.calls()["StartRecovery"] == 2  # database and app; web never started
    # The page: the failed server with its phase and rawError; a red launch bar; no bars for web.
    page = read_report_page(dag_run)
    assert [row[1:] for row in page.failed_rows] == [
        [APP, "EC2AMAZ-H0JBE4J", "yes", "FAILED", "LAUNCH", "InsufficientInstanceCapacity"]]
    assert [b["phase"] for b in page.bars if b["server"] == APP and "failed" in b["class"].split()] == ["launch"]
    assert not [b for b in page.bars if b["server"] in (WEB1, WEB2)]
    assert page.rto_markers == 1 and "not achieved" in page.text
    # The metric an alarm on a failed scheduled drill watches.
    sums = cloudwatch_sums(airflow_sim, "three-tier", "drill")
    assert (sums["RunSucceeded"], sums["ServersFailed"], sums["ServersLaunched"]) == (0.0, 1.0, 1.0)
    assert "AchievedRTOSeconds" not in sums
    # The plan's history ends with this run, its failed server named.
    newest = load_history(reports_folder(), "three-tier").runs[-1]
    assert (newest.run_id, newest.outcome, newest.failed_servers) == (dag_run.run_id, "failed", (APP,))


def test_drill_with_a_stalled_server_stops_in_preflight_and_says_why(dagbag, airflow_sim):
    airflow_sim.control.set_replication(APP, "STALLED", "PT3H")
    dag_run = run_dag(dagbag, "drs_three_tier_drill")

    states = task_states(dag_run)
    assert str(dag_run.state) in ("failed", "DagRunState.FAILED")
    assert states["preflight"] == "failed" and states["database.start_recovery"] == "upstream_failed"
    assert airflow_sim.control.calls().get("StartRecovery", 0) == 0
    report = read_report(dag_run)
    assert report["outcome"] == "not_started"
    assert [(f["check"], f["stopped_the_run"]) for f in report["readiness"]] == [("replication", True), ("rpo", True)]
    assert all(APP in f["message"] for f in report["readiness"])
    rows = read_report_page(dag_run).readiness_rows
    assert [(r[0], r[2]) for r in rows] == [("replication", "stopped the run"), ("rpo", "stopped the run")]


def test_recovery_waits_for_approval_then_recovers_for_real(dagbag, airflow_sim):
    inbox = subscribe_queue(airflow_sim, "arn:aws:sns:us-east-1:123456789012:dr-notify")
    responder = HitlResponder("drs_three_tier_recovery", "approve", airflow_sim, then=(("decide", "Commit"),))
    responder.start()
    dag_run = run_dag(dagbag, "drs_three_tier_recovery")
    responder.join(timeout=10)

    assert responder.answered == "Approve"
    # Before the approval, only reads (to name what would be replaced): nothing launched.
    assert responder.calls_when_waiting.get("StartRecovery", 0) == 0
    assert "nothing will be replaced" in responder.body_when_waiting
    assert str(dag_run.state) in ("success", "DagRunState.SUCCESS"), task_states(dag_run)
    hook_jobs = airflow_sim.client("drs").describe_jobs()["items"]
    launches = [j for j in hook_jobs if j["type"] == "LAUNCH"]
    assert len(launches) == 3 and {j["initiatedBy"] for j in launches} == {"START_RECOVERY"}
    instances = airflow_sim.client("drs").describe_recovery_instances()["items"]
    assert len(instances) == 4 and {i["isDrill"] for i in instances} == {False}  # committed: all kept
    states = task_states(dag_run)
    assert (states["decide"], states["commit"], states["rollback"]) == ("success", "success", "skipped")
    assert "launched 4 recovery instance(s)" in responder.bodies["decide"]
    report = read_report(dag_run)
    assert report["cleanup"] is None
    assert (report["decision"]["decision"], report["decision"]["by"], report["decision"]["terminated"]) == (
        "commit", "SRE on call", [])
    # The approvers were told, then everyone got the outcome.
    subjects = sorted(m["Subject"] for m in inbox())
    assert len(subjects) == 2 and subjects[0] == "[DRS recovery] approval needed: three-tier"
    assert subjects[1].startswith("[DRS recovery] three-tier: succeeded")


def test_hand_written_start_sensor_cleanup_dag(airflow_sim):
    from airflow_provider_drs.version_compat import dag_bag

    bag = dag_bag(str(Path(__file__).parent / "dags"))
    assert bag.import_errors == {}
    dag_run = bag.dags["one_wave_drill"].test()
    assert str(dag_run.state) in ("success", "DagRunState.SUCCESS"), task_states(dag_run)
    instances = airflow_sim.client("drs").describe_recovery_instances()["items"]
    assert instances == []  # terminated and gone
    ec2_states = set(running_instance_states(airflow_sim.client("ec2")).values())
    assert ec2_states == {"terminated"}
    assert airflow_sim.control.calls()["StartRecovery"] == 1
    assert airflow_sim.control.calls()["TerminateRecoveryInstances"] == 1


def test_a_drill_whose_waits_listen_to_drs_events_ends_each_wave_on_them(airflow_sim):
    """The three waves' launch waits end on DRS's launch-result events (the events queue of
    event_plans/evented.yaml): each reads DescribeJobs once, to learn its job's servers, and every
    launch time in the report is the event's."""
    import boto3

    from airflow_provider_drs.hooks.drs_events import events_setup_template
    from airflow_provider_drs.version_compat import dag_bag

    cfn = boto3.client("cloudformation", endpoint_url=airflow_sim.endpoint_url, region_name="us-east-1")
    cfn.create_stack(StackName="drs-events", TemplateBody=json.dumps(events_setup_template()))
    # Launches of about 15 s: each wave's wait is deferred and running before they end, on every
    # supported Airflow (dag.test() of 3.1 takes several seconds to get a trigger going).
    scale = 3.0
    airflow_sim.control.set_time_scale(scale)
    bag = dag_bag(str(Path(__file__).parent / "dags"))
    assert bag.import_errors == {}
    dag = bag.dags["drs_evented_drill"]
    assert dag.task_dict["web.wait_for_launch"].events_queue_url.endswith("/123456789012/drs-launch-results")
    before = airflow_sim.control.calls()
    dag_run = dag.test()
    assert str(dag_run.state) in ("success", "DagRunState.SUCCESS"), task_states(dag_run)
    calls = Counter(airflow_sim.control.calls()) - Counter(before)
    report = read_report(dag_run)
    servers = [s for wave in report["waves"] for s in wave["servers"]]
    assert len(servers) == 4 and {s["launched_at_source"] for s in servers} == {"event"}
    assert calls["sqs:DeleteMessageBatch"] >= 1
    # Polling alone, even at its slowest here (max_poll_interval 1 s), would read each job at least
    # once a second while it launches (5 s of phases x scale), on top of the start and cleanup
    # tasks' reads; with events each wait reads its job once.
    polling_alone = 3 * 5 * scale / 1.0
    assert calls["DescribeJobs"] < polling_alone, dict(calls)
