"""The steps of a failback, per wave: reverse replication, the failback launch, stopping the
failback replication; and, first, which recovery instances a plan fails back.

Each step is safe to retry: it reads the instances' failback state first and does only what is
not done yet (no second ReverseReplication, no second failback launch job).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import AirflowFailException, AirflowSkipException

from airflow_provider_drs.hooks.drs import DrsHook
from airflow_provider_drs.hooks.drs_failback import COMPLETED, READY, REPLICATING, failback_state, is_on_premises
from airflow_provider_drs.hooks.drs_verdict import as_id_list
from airflow_provider_drs.hooks.readiness import resolve_servers_now
from airflow_provider_drs.operators.launch_safety import run_ref

if TYPE_CHECKING:
    from airflow.sdk import Context


class _FailbackStep(AwsBaseOperator[DrsHook]):
    """A step over the recovery instances of one wave; none skips it."""

    aws_hook_class = DrsHook
    template_fields = aws_template_fields("recovery_instance_ids")

    def __init__(self, *, recovery_instance_ids: Sequence[str] | str, **kwargs: Any):
        super().__init__(**kwargs)
        self.recovery_instance_ids = recovery_instance_ids

    def _instances(self) -> list[dict[str, Any]]:
        ids = as_id_list(self.recovery_instance_ids)
        if not ids:
            raise AirflowSkipException("this wave has no recovery instance to fail back")
        found = {i["recoveryInstanceID"]: i for i in self.hook.describe_recovery_instances(recovery_instance_ids=ids)}
        missing = [rid for rid in ids if rid not in found]
        if missing:
            raise AirflowFailException(f"Recovery instances {', '.join(missing)} no longer exist in DRS (terminated?): "
                                       "nothing to fail back for them. Run the failback DAG again to pick the live ones.")
        return [found[rid] for rid in ids]


class FailbackSelectionOperator(AwsBaseOperator[DrsHook]):
    """
    The recovery instances a plan fails back, per wave: the live non-drill recovery instance of
    each of the wave's servers (listed, and tag-selected resolved now). Drill instances are never
    picked. A server without one is named in the log (it was not recovered, or was rolled back);
    no instance at all fails the task: there is nothing to fail back.

    :param waves: ``Plan.wave_specs()``.
    :return: ``{wave: [recovery_instance_id, ...]}``.
    """

    aws_hook_class = DrsHook

    def __init__(self, *, plan_name: str, waves: Mapping[str, Mapping[str, Any]], **kwargs: Any):
        super().__init__(**kwargs)
        self.plan_name = plan_name
        self.waves = {name: dict(spec) for name, spec in waves.items()}

    def execute(self, context: Context) -> dict[str, list[str]]:
        resolved = resolve_servers_now(self.hook, self.waves)
        servers = [sid for ids in resolved.values() for sid in ids]
        live = {i["sourceServerID"]: i for i in self.hook.describe_recovery_instances(source_server_ids=servers)
                if not i.get("isDrill") and i.get("ec2InstanceState") not in ("TERMINATED", "NOT_FOUND")} if servers else {}
        selected: dict[str, list[str]] = {}
        for wave, ids in resolved.items():
            selected[wave] = [live[sid]["recoveryInstanceID"] for sid in ids if sid in live]
            for sid in ids:
                if sid in live:
                    i = live[sid]
                    self.log.info("drs.failback wave=%s server=%s recovery_instance=%s ec2=%s origin=%s state=%s", wave,
                                  sid, i["recoveryInstanceID"], i.get("ec2InstanceID"), i.get("originEnvironment"),
                                  failback_state(i))
                else:
                    self.log.warning("drs.failback wave=%s server=%s has no live recovery instance: not failed back",
                                     wave, sid)
        if not any(selected.values()):
            raise AirflowFailException(
                f"No server of plan {self.plan_name} has a live recovery instance: nothing to fail back (was the "
                "recovery rolled back, or never run?).")
        return selected


class DrsReverseReplicationOperator(_FailbackStep):
    """
    Start replicating recovery instances back to where they came from. An AWS-origin instance (a
    cross-region or cross-AZ source) gets ReverseReplication: this is also its reprotect. An
    on-premises one cannot: its replication starts when the DRS Failback Client is booted on the
    origin machine, which the log asks for (the next wait waits for it). An instance already
    replicating back is left as it is.

    :return: ``{recovery_instance_id: reversed source server ARN, or None}``.
    """

    def execute(self, context: Context) -> dict[str, str | None]:
        started: dict[str, str | None] = {}
        for instance in self._instances():
            rid = instance["recoveryInstanceID"]
            state = failback_state(instance)
            if state in REPLICATING:
                self.log.info("drs.reverse_replication %s already %s: left as it is", rid, state)
                started[rid] = None
            elif is_on_premises(instance):
                self.log.warning("drs.reverse_replication %s (source %s) is on premises: boot the DRS Failback "
                                 "Client on its origin machine and give it this recovery instance; the wait that "
                                 "follows waits for its replication", rid, instance.get("sourceServerID"))
                started[rid] = None
            else:
                started[rid] = self.hook.reverse_replication(rid)
        return started


class DrsStartFailbackLaunchOperator(_FailbackStep):
    """
    Launch the failback of recovery instances that are FAILBACK_READY_FOR_LAUNCH (StartFailbackLaunch,
    tagged with this run). An instance whose failback launch already started (``failbackJobID``)
    is not launched again: its job is returned instead.

    :return: the failback launch job ids.
    """

    def execute(self, context: Context) -> list[str]:
        instances = self._instances()
        job_of = {i["recoveryInstanceID"]: (i.get("failback") or {}).get("failbackJobID") for i in instances}
        # Launched already (in flight, or done): adopt its job rather than launch twice.
        launched = [i for i in instances
                    if failback_state(i) == COMPLETED or (failback_state(i) == READY and job_of[i["recoveryInstanceID"]])]
        adopted = sorted({job_of[i["recoveryInstanceID"]] for i in launched} - {None})
        to_launch = [i for i in instances if i not in launched]
        not_ready = [f"{i['recoveryInstanceID']} ({failback_state(i)})" for i in to_launch if failback_state(i) != READY]
        if not_ready:
            raise AirflowFailException(f"Not ready to fail back: {', '.join(not_ready)}. Nothing was launched.")
        if adopted:
            self.log.warning("drs.failback_launch already started: jobs %s", ",".join(adopted))
        jobs = self.hook.start_failback_launch([i["recoveryInstanceID"] for i in to_launch],
                                               tags=run_ref(context).tags()) if to_launch else []
        return adopted + [job["jobID"] for job in jobs]


class DrsStopFailbackOperator(_FailbackStep):
    """Stop the failback replication of recovery instances (StopFailback): after their failback
    launched, it ends the replication back to the origin."""

    def execute(self, context: Context) -> list[str]:
        stopped = []
        for instance in self._instances():
            self.hook.stop_failback(instance["recoveryInstanceID"])
            stopped.append(instance["recoveryInstanceID"])
        return stopped
