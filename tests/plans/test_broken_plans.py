"""Every rule of the plan language against the corpus in broken/: exact line, field path, message.

Each entry lists ALL the errors the file must produce (no more, no fewer) as
(line, path, substring of the message or hint).
"""

from __future__ import annotations

import os

import pytest

from airflow_provider_drs.plans import PlanValidationError, load_catalogue, load_plan

HERE = os.path.dirname(__file__)
BROKEN = os.path.join(HERE, "broken")

CASES = {
    "unknown_key_top": [(1, "region", "missing required key 'region'"),
                        (3, "regoin", "did you mean 'region'?")],
    "unknown_key_wave": [(12, "waves[1].depend_on", "did you mean 'depends_on'?")],
    "unknown_key_action": [(15, "waves[1].post[0].ssm_automaton", "did you mean 'ssm_automation'?")],
    "wrong_type_rto": [(4, "rto_minutes", "expected a whole number, got a string")],
    "wrong_type_depends": [(12, "waves[1].depends_on", "expected a list, got a string")],
    "missing_required": [(1, "region", "missing required key 'region'"),
                         (1, "rto_minutes", "missing required key 'rto_minutes'")],
    "missing_wave_groups": [(7, "protection_groups.app", "not used by any wave"),
                            (11, "waves[1].protection_groups", "missing required key 'protection_groups'")],
    "duplicate_wave": [(11, "waves[1].name", "duplicate wave name 'database'")],
    "duplicate_group_key": [(8, "protection_groups.db", "duplicate key 'db' (first at line 6)")],
    "duplicate_yaml_key": [(5, "rto_minutes", "duplicate key 'rto_minutes' (first at line 4)")],
    "unknown_wave": [(12, "waves[1].depends_on[0]", "unknown wave 'databse' (hint: did you mean 'database'?")],
    "unknown_group": [(7, "protection_groups.app", "not used by any wave"),
                      (13, "waves[1].protection_groups[0]", "unknown protection group 'ap' (hint: did you mean 'app'?")],
    "cycle": [(11, "waves[0].depends_on", "dependency cycle: a -> c -> b -> a")],
    "self_cycle": [(12, "waves[1].depends_on", "dependency cycle: app -> app")],
    "server_two_groups": [(8, "protection_groups.web.servers[1]",
                           "server s-3578f52ef3bdd58b4 is already in protection group 'db' (line 6)")],
    "server_two_waves": [(15, "waves[2].protection_groups[0]", "already recovered by wave 'database' (line 10)")],
    "wave_over_limit": [(12, "waves[1].name", "wave 'big' has 101 servers, over the DRS limit of 100")],
    "bad_server_id": [(7, "protection_groups.app.servers[0]", "malformed source server id 's-0e5a9c4b2f7d18e3'")],
    "bad_cron": [(6, "drill.schedule", "hour '25' is out of range 0-23")],
    "bad_preset": [(6, "drill.schedule", "unknown schedule preset '@continuous'")],
    "recovery_schedule": [(7, "recovery.schedule", "a recovery can't be scheduled")],
    "recovery_approval_off": [(6, "recovery.approval", "must be 'required', not 'none'")],
    "bad_reference_kind": [(17, "waves[1].post[0].ssm_automation.parameters.InstanceId[0]",
                            "'{{ secret:/db/id }}' is not a plan reference")],
    "bad_reference_unclosed": [(17, "waves[1].post[0].ssm_automation.parameters.InstanceId", "without a closing '}}'")],
    "instance_ref_not_in_plan": [(17, "waves[1].post[0].ssm_automation.parameters.InstanceId",
                                  "server s-3c1730a9e0771ea14 is not recovered by this plan")],
    "instance_ref_pre_own_wave": [(17, "waves[1].pre[0].ssm_automation.parameters.InstanceId",
                                   "pre actions run before wave 'app' recovers s-0e5a9c4b2f7d18e36")],
    "instance_ref_not_upstream": [(16, "waves[1].post[0].ssm_command.instance_ids[0]",
                                   "recovered by wave 'database', which does not run before 'app'")],
    "instance_ref_in_notifications": [(6, "notifications.sns_topic_arn", "notifications are not tied to a wave")],
    "empty_wave": [(15, "waves[2].protection_groups", "wave 'nothing' is empty")],
    "optional_not_in_wave": [(14, "waves[1].optional[0]", "is recovered by wave 'database', not 'app'"),
                             (14, "waves[1].optional[1]", "optional server s-3d75cdc0d9a28a725 is not in wave 'app'")],
    "rto_zero": [(4, "rto_minutes", "positive number of minutes, got 0")],
    "delay_zero": [(13, "waves[1].delay_minutes", "delay_minutes must be a positive number of minutes, got 0 (hint: e.g. delay_minutes: 10")],
    "delay_text": [(13, "waves[1].delay_minutes", "expected a whole number, got a string")],
    "delay_misspelt": [(13, "waves[1].delay_minute", "did you mean 'delay_minutes'?")],
    "rpo_zero": [(5, "rpo_minutes", "rpo_minutes must be a positive number of minutes, got 0")],
    "native_plan_with_waves": [(7, "drill.cleanup", "a native plan's drill always cleans up"),
                               (8, "protection_groups", "protection_groups are not used with native_plan"),
                               (10, "waves", "either waves or native_plan, not both"),
                               (13, "failback", "a native plan has no failback DAG")],
    "native_plan_bad_name": [(5, "native_plan", "bad name 'three tier'")],
    "no_waves_no_native_plan": [(1, "waves", "or 'native_plan: NAME' to run a DRS native recovery plan")],
    "cleanup_bad": [(6, "drill.cleanup", "must be one of always, on_success, never; got 'sometime'")],
    "action_when_bad": [(16, "waves[1].post[0].when", "must be one of both, drill, recovery; got 'drills'"),
                        (17, "waves[1].post[1]", "an action needs a kind besides 'when'")],
    "action_two_kinds": [(15, "waves[1].post[0]", "exactly one kind, this one has ssm_automation, approval")],
    "ssm_command_no_targets": [(15, "waves[1].post[0].ssm_command", "exactly one of 'targets' or 'instance_ids'")],
    "approval_no_subject": [(15, "waves[1].pre[0].approval.subject", "missing required key 'subject'")],
    "group_servers_and_tags": [(7, "protection_groups.app", "by 'servers' or by 'tags', not both")],
    "unused_group": [(8, "protection_groups.spare", "protection group 'spare' is not used by any wave")],
    "yaml_syntax": [(11, "", "YAML syntax error")],
    "not_mapping": [(1, "", "a plan file is a YAML mapping; this one is a list")],
    "version_unsupported": [(1, "version", "unsupported version 2")],
    "version_missing": [(1, "version", "missing required key 'version'")],
    "groups_without_kind": [(1, "plan", "add 'kind: protection_groups'")],
    "unknown_kind": [(2, "kind", "unknown kind 'protection_group' (hint: did you mean 'protection_groups'?")],
    "reference_outside_actions": [(5, "description", "only resolved in wave actions (pre, post)")],
    "ready_when_probe_two_kinds": [(12, "waves[0].ready_when.probes[0]", "exactly one kind, this one has tcp, http")],
    "ready_when_bad_probe": [(12, "waves[0].ready_when.probes[0].tcp", "'localhost:99999' is not host:port"),
                             (13, "waves[0].ready_when.probes[1].http", "'localhost/health' is not an http(s) URL")],
    "ready_when_timeout_zero": [(12, "waves[0].ready_when.timeout_minutes",
                                 "timeout_minutes must be a positive number of minutes, got 0")],
    "ready_when_probes_without_ssm": [(10, "waves[0].ready_when", "probes imply ssm_online: true")],
    "ready_when_nothing": [(10, "waves[0].ready_when", "ready_when checks nothing")],
    "bad_sns_arn": [(6, "notifications.sns_topic_arn", "is not an SNS topic ARN")],
    "bad_plan_name": [(2, "plan", "bad name 'three tier'")],
    "launch_bad_values": [
        (9, "protection_groups.db.launch.subnet", "malformed subnet id 'subnet-12'"),
        (10, "protection_groups.db.launch.security_groups[1]", "malformed security group id 'default'"),
        (11, "protection_groups.db.launch.private_ip", "must be 'copy', 'auto' or an IPv4 address, not '10.0.300.1'"),
        (12, "protection_groups.db.launch.launch_disposition", "must be one of STARTED, STOPPED; got 'RUNNING'"),
        (13, "protection_groups.db.launch.drill.instance_typ", "did you mean 'instance_type'?"),
    ],
    "launch_type_conflict": [(11, "protection_groups.web.launch.servers.s-3d75cdc0d9a28a725.instance_type",
                              "conflicts with right_sizing BASIC (DRS would replace the type)")],
    "launch_one_server_keys": [
        (9, "protection_groups.web.launch.private_ip", "is for one server, and this is a group of 2 servers"),
        (11, "protection_groups.web.launch.drill.launch_into_instance", "cannot serve many servers"),
        (13, "protection_groups.web.launch.servers.s-3578f52ef3bdd58b4", "is not in this protection group"),
        (19, "protection_groups.app.launch.servers.s-0e5a9c4b2f7d18e36", "need a group that lists its servers"),
    ],
    "several_errors": [
        (4, "rto_minutes", "got -5"),
        (6, "drill.schedule", "day of week 'funday' has an unknown name"),
        (9, "protection_groups.db.servers[1]", "malformed source server id 's-bad'"),
        (15, "waves[0].pre[0].approvl", "did you mean 'approval'?"),
        (17, "waves[1].depends_on[0]", "unknown wave 'databse'"),
        (17, "waves[1].depends_on", "dependency cycle: web -> web"),
        (18, "waves[1].protection_groups[1]", "unknown protection group 'cache'"),
        (19, "waves[1].optional[0]", "optional server s-0e5a9c4b2f7d18e36 is not in wave 'web'"),
    ],
}


def _check(errors, expected, file):
    got = [(e.line, e.path, str(e)) for e in errors]
    assert len(got) == len(expected), "\n".join(g[2] for g in got)
    for (line, path, text), (want_line, want_path, want_text) in zip(got, expected):
        assert (line, path) == (want_line, want_path), text
        assert want_text in text
        assert text.startswith(f"{file}:{want_line}: ")


def test_corpus_is_complete():
    on_disk = {f[:-5] for f in os.listdir(BROKEN) if f.endswith(".yaml")}
    assert on_disk == set(CASES)
    assert len(CASES) >= 30


@pytest.mark.parametrize("name", sorted(CASES))
def test_broken_plan(name):
    path = os.path.join(BROKEN, f"{name}.yaml")
    catalogue = load_catalogue([path])
    assert catalogue.plans == {}
    assert catalogue.invalid_files == [path]
    _check(catalogue.errors, CASES[name], path)


def test_load_plan_raises_with_every_error():
    path = os.path.join(BROKEN, "several_errors.yaml")
    with pytest.raises(PlanValidationError) as info:
        load_plan(path)
    assert len(info.value.errors) == len(CASES["several_errors"])
    assert f"{path}:17: waves[1].depends_on[0]: unknown wave 'databse'" in str(info.value)


def test_shared_groups_bad_group_only_invalidates_its_users():
    folder = os.path.join(BROKEN, "shared")
    catalogue = load_catalogue(folder)
    assert sorted(catalogue.plans) == ["uses-good"]
    by_file = {os.path.basename(f): [(e.line, e.path, e.message) for e in errs]
               for f, errs in catalogue.errors_by_file().items()}
    assert by_file["groups.yaml"] == [(6, "protection_groups.web.servers[1]", "malformed source server id 's-3d75cdc0d9a28a72'")]
    assert [(line, path) for line, path, _ in by_file["more-groups.yaml"]] == [
        (4, "protection_groups.database"), (5, "protection_groups.reporting.servers[1]")]
    assert "duplicate shared protection group 'database'" in by_file["more-groups.yaml"][0][2]
    assert by_file["uses-bad.yaml"] == [(7, "waves[0].protection_groups[0]", "shared protection group 'web' is invalid")]
    assert [(line, path) for line, path, _ in by_file["inline-clash.yaml"]] == [
        (6, "protection_groups.app"), (7, "protection_groups.mine.servers[0]")]
    good = catalogue.plans["uses-good"]
    assert set(good.protection_groups) == {"database", "app", "batch"}  # shared + inline, merged
    assert good.wave("app").tag_selectors(good) == {"app": {"Tier": "app"}}
    assert good.wave("app").static_servers(good) == ["s-0e5a9c4b2f7d18e36"]


def test_load_plan_with_shared_groups():
    folder = os.path.join(BROKEN, "shared")
    plan = load_plan(os.path.join(folder, "uses-good.yaml"), [folder])
    assert plan.name == "uses-good"
    with pytest.raises(PlanValidationError) as info:
        load_plan(os.path.join(folder, "uses-bad.yaml"), [folder])
    assert any("groups.yaml:6" in str(e) for e in info.value.errors)
    with pytest.raises(PlanValidationError, match="unknown protection group 'database'"):
        load_plan(os.path.join(folder, "uses-good.yaml"))  # without the shared folder


def test_duplicate_plan_names_across_files():
    folder = os.path.join(BROKEN, "dup_plans")
    catalogue = load_catalogue(folder)
    assert list(catalogue.plans) == ["site-a"]
    assert catalogue.plans["site-a"].source_file.endswith("a.yaml")
    errors = [(os.path.basename(e.file), e.line, e.path, e.message) for e in catalogue.errors]
    assert errors[0][:3] == ("b.yaml", 2, "plan") and "duplicate plan name 'site-a', first in" in errors[0][3]
    assert errors[1][:3] == ("c.yaml", 2, "plan") and "same DAG ids as plan 'site-a'" in errors[1][3]


def test_whole_broken_folder_loads_without_crashing():
    catalogue = load_catalogue(BROKEN)
    assert "uses-good" in catalogue.plans
    assert len(catalogue.invalid_files) >= 30
