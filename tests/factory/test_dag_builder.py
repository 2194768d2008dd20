"""The shape of the DAGs a plan becomes (parse time: no Airflow DB, no AWS call)."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_drs.factory import build_dags, load_plan_dags
from airflow_provider_drs.plans import load_plan
from tests.served import served

PLANS = Path(__file__).resolve().parents[2] / "dags" / "plans"


def plan_with(tmp_path, text: str):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return load_plan(path)


BASE = """version: 1
plan: lab
region: eu-west-1
aws_conn_id: aws_lab
rto_minutes: 20
protection_groups:
  a: {servers: [s-3578f52ef3bdd58b4]}
  b: {servers: [s-0e5a9c4b2f7d18e36]}
  c: {tags: {Tier: web}}
waves:
  - {name: first, protection_groups: [a]}
  - {name: left, depends_on: [first], protection_groups: [b],
     pre: [{approval: {subject: "Go?"}}]}
  - {name: right, depends_on: [first], protection_groups: [c], optional: []}
"""


def test_waves_are_task_groups_wired_by_depends_on(tmp_path):
    drill, recovery, *_ = build_dags(plan_with(tmp_path, BASE))
    assert (drill.dag_id, recovery.dag_id) == ("drs_lab_drill", "drs_lab_recovery")
    tasks = drill.task_dict
    assert tasks["left.pre_1_approval"].downstream_task_ids == {"left.start_recovery"}
    assert tasks["left.start_recovery"].downstream_task_ids == {"left.wait_for_launch"}
    assert tasks["first.wait_for_launch"].downstream_task_ids >= {"left.pre_1_approval", "right.start_recovery"}
    # Independent waves: no path between them.
    assert "right.start_recovery" not in tasks["left.wait_for_launch"].get_flat_relative_ids(upstream=False)
    assert "left.start_recovery" not in tasks["right.wait_for_launch"].get_flat_relative_ids(upstream=False)
    assert tasks["preflight"].downstream_task_ids >= {"first.start_recovery"}
    assert tasks["first.start_recovery"].is_drill is True and recovery.task_dict["first.start_recovery"].is_drill is False
    assert (tasks["first.start_recovery"].aws_conn_id, tasks["first.start_recovery"].region_name) == ("aws_lab", "eu-west-1")
    assert tasks["preflight"].waves["right"] == {"servers": [], "tag_groups": {"c": {"Tier": "web"}}}


def test_drill_ends_with_cleanup_report_and_verdict(tmp_path):
    drill, *_ = build_dags(plan_with(tmp_path, BASE))
    tasks = drill.task_dict
    # Teardowns of the run's setup task: they run even when the run is marked failed mid-wave.
    assert tasks["begin"].is_setup and tasks["cleanup"].is_teardown and tasks["report"].is_teardown
    assert tasks["cleanup"].trigger_rule == "all_done_setup_success"
    assert tasks["cleanup"].upstream_task_ids >= {"left.wait_for_launch", "right.wait_for_launch", "preflight", "begin"}
    assert tasks["report"].trigger_rule == "all_done_setup_success" and "cleanup" in tasks["report"].upstream_task_ids
    assert tasks["verdict"].is_teardown and tasks["verdict"].on_failure_fail_dagrun
    assert drill.max_active_runs == 1
    assert "notify" not in tasks


def test_recovery_starts_with_approval_and_never_cleans_up(tmp_path):
    _, recovery, *_ = build_dags(plan_with(tmp_path, BASE))
    tasks = recovery.task_dict
    assert tasks["approve"].downstream_task_ids == {"preflight"}  # a Reject skips only preflight
    assert tasks["approve"].upstream_task_ids == {"begin"}
    assert "s-3578f52ef3bdd58b4" in tasks["approve"].body and "lab" in tasks["approve"].subject
    assert "cleanup" not in tasks
    assert type(recovery.timetable).__name__ == "NullTimetable"


@pytest.mark.parametrize(("policy", "trigger_rule"), [("always", "all_done_setup_success"), ("on_success", "all_success"),
                                                     ("never", None)])
def test_cleanup_policy(tmp_path, policy, trigger_rule):
    drill, *_ = build_dags(plan_with(tmp_path, BASE.replace("rto_minutes: 20", f"rto_minutes: 20\ndrill: {{cleanup: {policy}}}")))
    assert getattr(drill.task_dict.get("cleanup"), "trigger_rule", None) == trigger_rule


def test_notify_only_when_the_plan_names_a_topic(tmp_path):
    drill, *_ = build_dags(plan_with(tmp_path, BASE.replace(
        "rto_minutes: 20", 'rto_minutes: 20\nnotifications: {sns_topic_arn: "{{ ssm:/dr/topic }}"}')))
    notify = drill.task_dict["notify"]
    assert notify.topic_arn == "{{ ssm:/dr/topic }}" and "topic_arn" not in notify.template_fields
    assert notify.upstream_task_ids == {"report", "begin"} and notify.is_teardown


def test_parsing_makes_no_aws_call(sim, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", f'{{"conn_type": "aws", "extra": {{"endpoint_url": "{sim.endpoint_url}"}}}}')
    dags = load_plan_dags(folder=PLANS)
    assert len(dags) == 12  # drill, recovery, failback and cleanup of each sample plan
    assert served(sim) == {}


def test_recovery_approval_notifies_the_plan_topic(tmp_path):
    _, recovery, *_ = build_dags(plan_with(tmp_path, BASE.replace(
        "rto_minutes: 20", 'rto_minutes: 20\nnotifications: {sns_topic_arn: "{{ ssm:/dr/topic }}"}')))
    (notifier,) = recovery.task_dict["approve"].notifiers
    assert notifier.topic_arn == "{{ ssm:/dr/topic }}" and notifier.template_fields == ()


def test_a_failed_approval_notification_never_blocks_the_recovery(sim, capsys):
    from types import SimpleNamespace

    from airflow_provider_drs.operators.notify import ApprovalSnsNotifier

    notifier = ApprovalSnsNotifier(topic_arn="{{ ssm:/dr/does-not-exist }}", plan_name="lab",
                                   aws_conn_id="aws_sim", region_name="us-east-1")
    context = {"task": SimpleNamespace(subject="Recover?", body="waves"), "dag": SimpleNamespace(dag_id="d"),
               "run_id": "r"}
    notifier.notify(context)  # must not raise
    assert "drs.notify approval plan=lab failed" in capsys.readouterr().out
    assert sim.control.calls().get("sns:Publish", 0) == 0


QUEUE = "https://sqs.eu-west-1.amazonaws.com/111122223333/drs-launch-results"


def test_launch_waits_listen_to_the_configured_events_queue_and_a_plan_may_name_its_own(tmp_path, monkeypatch):
    drill, *_ = build_dags(plan_with(tmp_path, BASE))
    assert drill.task_dict["first.wait_for_launch"].events_queue_url is None  # polling only by default
    monkeypatch.setenv("AIRFLOW__DRS__EVENTS_QUEUE_URL", QUEUE)
    monkeypatch.setenv("AIRFLOW__DRS__EVENTS_POLL_INTERVAL", "120")
    drill, recovery, *_ = build_dags(plan_with(tmp_path, BASE))
    for dag in (drill, recovery):
        wait = dag.task_dict["left.wait_for_launch"]
        assert (wait.events_queue_url, wait.events_poll_interval) == (QUEUE, 120.0)
    own = QUEUE.replace("drs-launch-results", "lab-events")
    drill, *_ = build_dags(plan_with(tmp_path, BASE.replace("rto_minutes: 20", f"rto_minutes: 20\nevents_queue: {own}")))
    assert drill.task_dict["right.wait_for_launch"].events_queue_url == own


def test_a_configured_events_queue_that_is_not_a_url_is_ignored_saying_so(tmp_path, monkeypatch, caplog):
    from airflow_provider_drs.factory.dag_builder import _warn_once

    _warn_once.cache_clear()  # said once per process: make this test's parse the first
    monkeypatch.setenv("AIRFLOW__DRS__EVENTS_QUEUE_URL", "drs-launch-results")
    with caplog.at_level("WARNING"):
        drill, *_ = build_dags(plan_with(tmp_path, BASE))
    assert drill.task_dict["first.wait_for_launch"].events_queue_url is None  # polling: always correct
    assert "drs.events_queue_url_invalid value='drs-launch-results'" in caplog.text


def test_an_events_queue_that_is_not_a_queue_url_names_its_line(tmp_path):
    from airflow_provider_drs.plans import PlanValidationError

    with pytest.raises(PlanValidationError) as raised:
        plan_with(tmp_path, BASE.replace("rto_minutes: 20", "rto_minutes: 20\nevents_queue: drs-launch-results"))
    assert "p.yaml:6" in str(raised.value) and "events_queue" in str(raised.value)
    assert "not an SQS queue URL" in str(raised.value)


@pytest.mark.parametrize("enabled", [True, False])
def test_building_leaves_the_garbage_collector_as_it_found_it(tmp_path, enabled):
    import gc

    (tmp_path / "p.yaml").write_text(BASE)
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        assert set(load_plan_dags(folder=tmp_path)) == {"drs_lab_drill", "drs_lab_recovery", "drs_lab_failback", "drs_lab_cleanup"}
        assert gc.isenabled() is enabled
    finally:
        gc.enable() if was else gc.disable()


def test_each_plan_has_a_manual_cleanup_dag_for_its_drill_leftovers(tmp_path):
    *_, cleanup = build_dags(plan_with(tmp_path, BASE))
    assert cleanup.dag_id == "drs_lab_cleanup" and type(cleanup.timetable).__name__ == "NullTimetable"
    (task,) = cleanup.tasks  # no approval: it only ever terminates drill instances
    assert task.drill_dag_id == "drs_lab_drill" and task.force == "{{ params.force }}"
    assert task.waves["right"] == {"servers": [], "tag_groups": {"c": {"Tier": "web"}}}
    assert cleanup.params["force"] is False and (task.aws_conn_id, task.region_name) == ("aws_lab", "eu-west-1")


def _answer_window(task):
    """How long a human-in-the-loop task waits (response_timeout, or execution_timeout on older Airflow)."""
    return getattr(task, "response_timeout", None) or task.execution_timeout


def test_a_recovery_ends_with_commit_or_rollback_assigned_to_the_approvers(tmp_path):
    _, recovery, *_ = build_dags(plan_with(tmp_path, BASE.replace("rto_minutes: 20", """rto_minutes: 20
recovery: {approvers: [alice, bob], approval_timeout_minutes: 30, decision_timeout_minutes: 90, on_timeout: rollback}""")))
    decide, rollback = recovery.task_dict["decide"], recovery.task_dict["rollback"]
    # Asked once the report is written (the RTO is on record without waiting for a person).
    assert decide.upstream_task_ids == {"report"} and decide.trigger_rule == "all_done"
    assert decide.downstream_task_ids == {"commit", "rollback"}
    assert decide.options == ["Commit", "Roll back"] and decide.defaults == ["Roll back"]
    assert decide.options_mapping == {"Commit": "commit", "Roll back": "rollback"}
    assert [u["id"] for u in decide.assigned_users] == ["alice", "bob"]
    assert _answer_window(decide).total_seconds() == 90 * 60
    assert rollback.wave_names == ["first", "left", "right"] and rollback.launches_drills is False
    assert recovery.task_dict["record_decision"].upstream_task_ids == {"commit", "rollback"}
    assert "record_decision" in recovery.task_dict["verdict"].upstream_task_ids
    approve = recovery.task_dict["approve"]  # unanswered in 30 min: rejected, nothing launches
    assert approve.defaults == ["Reject"] and _answer_window(approve).total_seconds() == 30 * 60
    assert [u["id"] for u in approve.assigned_users] == ["alice", "bob"]


def test_decision_defaults_commit_after_a_day_and_approvals_wait_unless_told(tmp_path):
    drill, recovery, *_ = build_dags(plan_with(tmp_path, BASE.replace(
        'pre: [{approval: {subject: "Go?"}}]', 'pre: [{approval: {subject: "Go?", approvers: [carol], timeout_minutes: 5}}]')))
    decide = recovery.task_dict["decide"]
    assert decide.defaults == ["Commit"] and _answer_window(decide).total_seconds() == 24 * 3600
    assert recovery.task_dict["approve"].defaults is None and not _answer_window(recovery.task_dict["approve"])
    assert not {"decide", "commit", "rollback"} & set(drill.task_dict)  # a drill always cleans up
    gate = drill.task_dict["left.pre_1_approval"]
    assert [u["id"] for u in gate.assigned_users] == ["carol"] and _answer_window(gate).total_seconds() == 300


def test_failback_runs_the_waves_in_reverse_dependency_order(tmp_path):
    *_, failback, _ = build_dags(plan_with(tmp_path, BASE))
    assert failback.dag_id == "drs_lab_failback" and type(failback.timetable).__name__ == "NullTimetable"
    assert failback.task_dict["find_recovery_instances"].upstream_task_ids == {"approve"}
    # left and right depend on first: they fail back first, then first.
    for wave in ("left", "right"):
        assert failback.task_dict[f"{wave}.reverse_replication"].upstream_task_ids == {"find_recovery_instances"}
    assert failback.task_dict["first.reverse_replication"].upstream_task_ids == {
        "left.wait_for_failback", "right.wait_for_failback"}
    steps = ["reverse_replication", "wait_for_replication", "start_failback_launch", "wait_for_failback"]
    for before, after in zip(steps, steps[1:]):
        assert failback.task_dict[f"first.{after}"].upstream_task_ids == {f"first.{before}"}
    assert failback.task_dict["first.wait_for_replication"].target == "ready"
    assert "first.stop_failback" not in failback.task_dict
    assert failback.task_dict["first.reverse_replication"].recovery_instance_ids == (
        "{{ ti.xcom_pull(task_ids='find_recovery_instances')['first'] | tojson }}")


def test_failback_stops_the_replication_when_the_plan_says_so(tmp_path):
    *_, failback, _ = build_dags(plan_with(tmp_path, BASE.replace("rto_minutes: 20", "rto_minutes: 20\nfailback: {stop_replication: true}")))
    assert failback.task_dict["first.stop_failback"].upstream_task_ids == {"first.wait_for_failback"}


def test_the_graphs_in_the_failover_docs_are_the_dags_the_factory_builds():
    from airflow_provider_drs.factory.task_graph import dag_mermaid

    page = (PLANS.parents[1] / "docs" / "failover-failback-cleanup.md").read_text()
    blocks = [b.split("```", 1)[0] for b in page.split("```mermaid\n")[1:]]
    _, recovery, failback, cleanup = build_dags(load_plan(PLANS / "three-tier.yaml"))
    assert blocks == [dag_mermaid(recovery), dag_mermaid(failback), dag_mermaid(cleanup)], (
        "regenerate with: drs-plan graph three-tier --dag recovery|failback|cleanup")


WHEN = BASE.replace('''     pre: [{approval: {subject: "Go?"}}]}''', '''     pre: [{approval: {subject: "Go?"}, when: recovery}],
     post: [{ssm_automation: {document: Smoke-Test}, when: drill},
            {ssm_automation: {document: DNS-Switch}, when: recovery},
            {ssm_automation: {document: AWS-RestartEC2Instance}}]}''')


def test_when_steps_are_only_in_their_modes_dag(tmp_path):
    drill, recovery, *_ = build_dags(plan_with(tmp_path, WHEN))
    d, r = drill.task_dict, recovery.task_dict
    # Task ids keep the step's place in the plan; the other mode's steps have no task.
    assert {t for t in d if t.startswith("left.")} == {
        "left.start_recovery", "left.wait_for_launch", "left.post_1_ssm_automation", "left.post_3_ssm_automation"}
    assert {t for t in r if t.startswith("left.")} == {
        "left.pre_1_approval", "left.start_recovery", "left.wait_for_launch", "left.post_2_ssm_automation",
        "left.post_3_ssm_automation"}
    assert d["left.post_1_ssm_automation"].document_name == "Smoke-Test"
    assert r["left.post_2_ssm_automation"].document_name == "DNS-Switch"
    # The drill's wave, its only pre step left out, starts straight after the wave it depends on.
    assert d["first.wait_for_launch"].downstream_task_ids >= {"left.start_recovery"}
    assert d["left.wait_for_launch"].downstream_task_ids == {"left.post_1_ssm_automation"}
    assert d["left.post_1_ssm_automation"].downstream_task_ids == {"left.post_3_ssm_automation"}
    assert r["left.wait_for_launch"].downstream_task_ids == {"left.post_2_ssm_automation"}
    assert r["first.wait_for_launch"].downstream_task_ids >= {"left.pre_1_approval"}
    # The wave's last task feeds cleanup / report; preflight checks only this mode's documents.
    assert "left.post_3_ssm_automation" in d["report"].upstream_task_ids
    assert d["preflight"].documents == ["Smoke-Test", "AWS-RestartEC2Instance"]
    assert r["preflight"].documents == ["DNS-Switch", "AWS-RestartEC2Instance"]
    assert [w["post_tasks"] for w in d["report"].waves if w["name"] == "left"] == [
        ["left.post_1_ssm_automation", "left.post_3_ssm_automation"]]
    assert "Smoke-Test" in drill.doc_md and "DNS-Switch" not in drill.doc_md
    assert "DNS-Switch" in recovery.doc_md and "Smoke-Test" not in recovery.doc_md


def test_questions_have_no_form_fields_although_the_run_has_a_point_in_time_parameter(tmp_path):
    # Before Airflow 3.2 a HITL task's params include its DAG's: the question's form would show
    # point_in_time, and an answer that does not fill it in would be refused.
    _, recovery, *_ = build_dags(plan_with(tmp_path, BASE.replace("rto_minutes: 20", """rto_minutes: 20
recovery: {approvers: [alice]}""")))
    assert "point_in_time" in recovery.params
    for task_id in ("approve", "decide"):
        assert recovery.task_dict[task_id].serialized_params == {}, task_id


def test_a_gated_wave_ends_with_its_gate_after_the_post_actions(tmp_path):
    text = BASE.replace("  - {name: first, protection_groups: [a]}", """  - name: first
    protection_groups: [a]
    post: [{ssm_automation: {document: AWS-RestartEC2Instance}}]
    ready_when: {ec2_status_ok: true, probes: [{tcp: "localhost:5432"}, {http: "http://{{ ssm:/dr/url }}/"}]}""")
    for dag in build_dags(plan_with(tmp_path, text))[:2]:
        gate = dag.get_task("first.wait_until_ready")
        assert gate.upstream_task_ids == {"first.post_1_ssm_automation"}
        # The dependent waves start from the gate: they wait until it passes.
        assert {"left.pre_1_approval", "right.start_recovery"} <= gate.downstream_task_ids
        assert gate.checks == {"ec2_status_ok": True, "ssm_online": True, "timeout_minutes": 15,
                               "probes": [{"tcp": "localhost:5432"}, {"http": "http://{{ ssm:/dr/url }}/"}]}
        assert gate.retries == 0  # the gate already waited its timeout; a retry would wait it again
        assert not any(t.endswith("wait_until_ready") for t in dag.task_ids if not t.startswith("first."))


def test_a_delayed_wave_begins_with_a_deferred_wait_after_its_upstream_waves(tmp_path):
    from datetime import timedelta

    from airflow.providers.standard.sensors.time_delta import WaitSensor

    text = BASE.replace('pre: [{approval: {subject: "Go?"}}]}', 'delay_minutes: 7, pre: [{approval: {subject: "Go?"}}]}')
    text = text.replace("- {name: first, protection_groups: [a]}", "- {name: first, delay_minutes: 2, protection_groups: [a]}")
    for dag in build_dags(plan_with(tmp_path, text))[:2]:
        tasks = dag.task_dict
        delay = tasks["left.delay"]
        assert isinstance(delay, WaitSensor) and delay.deferrable is True and delay.retries == 2
        assert delay.time_to_wait == timedelta(minutes=7)
        # After the wave it depends on, before the wave's first own task.
        assert delay.upstream_task_ids == {"first.wait_for_launch"}
        assert delay.downstream_task_ids == {"left.pre_1_approval"}
        # A first wave's delay runs after preflight.
        assert tasks["first.delay"].upstream_task_ids == {"preflight"}
        assert tasks["first.delay"].downstream_task_ids == {"first.start_recovery"}
        assert "right.delay" not in tasks
        assert "| left | first, then 7 min |" in dag.doc_md
