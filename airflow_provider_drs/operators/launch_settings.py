"""Launch settings in a plan run: preflight applies the mode's settings; after a drill,
``restore_launch_settings`` puts production's back.

A drill cannot "never change" the settings: DRS's StartRecovery takes no launch settings, it
launches with whatever the server's launch configuration and template's default version hold at
launch time. So a drill with `drill:` overrides applies them in preflight and, once its launch
jobs are COMPLETED (DRS has read the template by then), restores production's - but only on servers
whose settings are still the ones this drill applied: a recovery's preflight (which applies
production settings and records itself) or a person may have changed them meanwhile, and a drill
must never clobber that.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator

from airflow_provider_drs.hooks.drs import DrsHook
from airflow_provider_drs.hooks.drs_launch_settings import (
    LaunchSettingsHook, applied_by, drill_leftovers, restore_after_drill)
from airflow_provider_drs.operators.run_launches import run_launch_jobs
from airflow_provider_drs.plan_tasks import LAUNCH_SETTINGS, PREFLIGHT
from airflow_provider_drs.plans.launch import desired_for

if TYPE_CHECKING:
    from airflow.sdk import Context


def apply_launch_settings(hook: LaunchSettingsHook, context: Context, plan: str, mode: str,
                          spec: Mapping[str, Any], inventory: Mapping[str, Mapping[str, Any]],
                          servers: Sequence[str], log: Any) -> dict[str, dict]:
    """Apply `spec` (plans.launch.launch_spec) to the resolved servers; push and return
    ``{server: {"changed": {key: [old, new]}, "drift": {key: [applied, found]}}}`` (servers whose
    settings the plan names; an empty dict when it names none)."""
    label = applied_by(plan, mode, context["dag_run"].run_id)
    results = {}
    try:
        for server in servers:
            desired = desired_for(spec, server, dict(inventory.get(server, {}).get("tags") or {}))
            if mode == "recovery":
                desired = {**_undo_dead_drill(hook, plan, server, log), **desired}
            if not desired:
                continue
            result = results[server] = hook.apply(server, desired, label)
            for key, (old, new) in result["changed"].items():
                log.info("drs.launch_settings plan=%s mode=%s server=%s %s: %s -> %s", plan, mode, server, key, old,
                         new)
            for key, (was, found) in result["drift"].items():
                log.warning("drs.launch_settings plan=%s server=%s drift %s: the plan applied %s, found %s (changed "
                            "outside the plan since its last run; the plan's value is applied again)",
                            plan, server, key, was, found)
    finally:  # also when a server fails: the drill's restore needs every server already changed
        context["ti"].xcom_push(key=LAUNCH_SETTINGS, value=results)
    return results


def _undo_dead_drill(hook: LaunchSettingsHook, plan: str, server: str, log: Any) -> dict[str, Any]:
    """Before a real recovery: what a dead drill (of any plan) left on the server, to put back."""
    try:
        leftovers = drill_leftovers(hook.read(server))
    except Exception as error:  # noqa: BLE001 - a recovery never fails for a check it could not read
        log.warning("drs.launch_settings plan=%s server=%s could not read its launch settings to check for a "
                    "drill's leftovers (%s); recovering with what DRS holds", plan, server, error)
        return {}
    if leftovers:
        log.warning("drs.launch_settings plan=%s server=%s a drill left its launch settings %s in place; putting "
                    "back %s before the recovery", plan, server, sorted(leftovers), leftovers)
    return leftovers


class RestoreLaunchSettingsOperator(AwsBaseOperator[LaunchSettingsHook]):
    """After a drill: put production's launch settings back where this drill changed them.

    Waits until the run's launch jobs are COMPLETED, then, per server the drill's preflight changed,
    restores the production value of each changed key (the plan's recovery value, or the value it
    replaced when the plan manages the key only for drills). A server whose settings are no longer
    this drill's (another run or a person changed them since) is left alone, and the log says why.
    Returns ``{server: "restored" | "left: <why>"}``.
    """

    aws_hook_class = LaunchSettingsHook
    ui_color = "#e8f0fe"

    def __init__(self, *, plan_name: str, production: Mapping[str, Any], wave_names: Sequence[str],
                 poll_interval: float = 5.0, max_wait_seconds: float = 3600.0, **kwargs: Any):
        super().__init__(**kwargs)
        self.plan_name, self.production, self.wave_names = plan_name, production, list(wave_names)
        self.poll_interval, self.max_wait_seconds = poll_interval, max_wait_seconds

    def execute(self, context: Context) -> dict[str, str]:
        # Every server preflight handled (a retried preflight finds nothing left to change: what the
        # drill changed is read from the launch template's tags, not from this XCom).
        applied = context["ti"].xcom_pull(task_ids=PREFLIGHT, key=LAUNCH_SETTINGS) or {}
        if not applied:
            self.log.info("drs.launch_settings plan=%s: the drill applied no launch settings", self.plan_name)
            return {}
        drs = DrsHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name)
        self._wait_for_launches(drs, context)
        # Tags select the production settings of a tag-selected group's servers.
        tags = {s["sourceServerID"]: dict(s.get("tags") or {}) for s in drs.describe_source_servers(list(applied))}
        drill_label = applied_by(self.plan_name, "drill", context["dag_run"].run_id)
        restore_label = applied_by(self.plan_name, "restore", context["dag_run"].run_id)
        outcome = {}
        for server, result in applied.items():
            state = self.hook.read(server)
            if state.applied_by != drill_label and not result.get("changed"):
                continue  # the drill changed nothing here (and not in an earlier try either)
            restore, why = restore_after_drill(state, drill_label,
                                               desired_for(self.production, server, tags.get(server, {})))
            if restore is None and why == "the drill changed nothing":
                continue
            if restore is None:
                self.log.warning("drs.launch_settings plan=%s server=%s not restored: %s", self.plan_name, server, why)
                outcome[server] = f"left: {why}"
                continue
            self.hook.apply(server, restore, restore_label)
            self.log.info("drs.launch_settings plan=%s server=%s restored %s", self.plan_name, server, restore)
            outcome[server] = "restored"
        return outcome

    def _wait_for_launches(self, drs: DrsHook, context: Context) -> None:
        """DRS reads the launch template when it launches: restoring earlier would launch the drill
        with production's settings."""
        job_ids = run_launch_jobs(drs, context, self.wave_names, True, self.log)
        deadline = time.monotonic() + self.max_wait_seconds
        while job_ids:
            jobs = drs.describe_jobs(job_ids)
            job_ids = [j for j in job_ids if (jobs.get(j) or {}).get("status") != "COMPLETED"]
            if not job_ids:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"launch jobs {', '.join(job_ids)} of this drill did not complete in "
                                   f"{self.max_wait_seconds:.0f}s; production launch settings were not restored")
            time.sleep(self.poll_interval)
