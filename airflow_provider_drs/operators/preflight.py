"""The preflight task: resolve every wave's servers once, and check the plan is ready, before
anything is launched.

Tag-selected protection groups are resolved here, at run time (parsing never calls AWS). Then the
readiness checks (``hooks.readiness``): every server exists, replicates, lags within the RPO; no
wave is over the per-job quota; the SSM documents and the SNS topic exist. Before a drill a failed
check stops the run (unless the plan's ``drill.readiness_warnings`` lists it); before a real
recovery only missing servers and quotas do: on the worst day a stale server is still recovered
from its last snapshot. Then the launch safety check (``operators.launch_safety``) over every
server of every wave: a drill that would replace a live recovery instance, or the live instances
of another run, fails here, before any wave launches. Last, the plan's launch settings for this
mode are applied to every server (``operators.launch_settings``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_drs.hooks.connections import missing_connection
from airflow_provider_drs.hooks.drs import DrsHook
from airflow_provider_drs.hooks.drs_launch_settings import LaunchSettingsHook
from airflow_provider_drs.hooks.iam_permissions import IamPermissionsHook
from airflow_provider_drs.hooks.readiness import (
    check_documents,
    check_servers,
    check_topic,
    resolve_waves,
    stoppers,
)
from airflow_provider_drs.operators.launch_safety import check_launch
from airflow_provider_drs.operators.launch_settings import apply_launch_settings
from airflow_provider_drs.operators.point_in_time import resolve_run_snapshots
from airflow_provider_drs.plan_tasks import READINESS, REPLACED, SERVERS
from airflow_provider_drs.plans import MAX_SERVERS_PER_JOB

if TYPE_CHECKING:
    from airflow.sdk import Context


class PlanPreflightOperator(AwsBaseOperator[DrsHook]):
    """Resolve and check each wave's source servers; return ``{wave: [server ids]}``.

    Also pushes XCom ``servers``: ``{server id: {hostname, replication_state, lag, wave}}``,
    ``readiness``: every finding with whether it stopped the run, ``snapshots``: the recovery
    snapshot the run's ``point_in_time`` chose per server, ``replaced_instances``: the live
    recovery instances this run's launches will replace, and ``launch_settings``: per server the
    launch settings it changed and the drift it found.

    :param waves: ``{wave: {"servers": [ids], "tag_groups": {group: {tag: value}}}}``.
    """

    aws_hook_class = DrsHook
    ui_color = "#e8f0fe"

    def __init__(self, *, plan_name: str, waves: Mapping[str, Mapping[str, Any]], is_drill: bool = True,
                 max_servers_per_job: int = MAX_SERVERS_PER_JOB, rpo_minutes: int | None = None,
                 documents: Sequence[str] = (), topic_arn: str | None = None,
                 readiness_warnings: Sequence[str] = (), launch: Mapping[str, Any] | None = None,
                 iam_policy: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.plan_name = plan_name
        self.is_drill = is_drill
        self.waves = waves
        self.max_servers_per_job = max_servers_per_job
        self.rpo_minutes = rpo_minutes
        self.documents = list(documents)
        self.topic_arn = topic_arn
        self.readiness_warnings = list(readiness_warnings)
        self.launch = launch  # plans.launch.launch_spec of this mode
        # plans.iam_policy.build_policy of this mode, or a function returning it (the factory's: built
        # when the task runs, not at every parse of the DAG file). Checked, never enforced.
        self.iam_policy = iam_policy

    def execute(self, context: Context) -> dict[str, list[str]]:
        self.require_connection()
        inventory = {s["sourceServerID"]: s for s in self.hook.describe_source_servers()}
        resolved, resolution = resolve_waves(inventory, self.waves)
        for wave, servers in resolved.items():
            self.log.info("drs.preflight plan=%s wave=%s servers=%s", self.plan_name, wave, ",".join(servers))
        # Busy servers are the launch safety check's to judge: it knows this run's own jobs.
        readiness = check_servers(self.hook, resolved, inventory, self.rpo_minutes, self.max_servers_per_job,
                                  busy=False)
        readiness.plan, readiness.plan_findings[:0] = self.plan_name, resolution
        readiness.plan_findings += check_documents(self.aws_conn_id, self.region_name, self.documents)
        if self.topic_arn:
            readiness.plan_findings += check_topic(self.aws_conn_id, self.region_name, self.topic_arn)
        problems, warnings = stoppers(readiness, "drill" if self.is_drill else "recovery", self.readiness_warnings)
        self.log.info("drs.preflight plan=%s readiness:\n%s", self.plan_name, readiness.table())
        for finding in warnings:
            self.log.warning("drs.readiness plan=%s check=%s (warning): %s", self.plan_name, finding.check,
                             finding.message)
        findings = [{"check": f.check, "message": f.message, "stopped_the_run": f in problems}
                    for f in readiness.findings]
        findings += self._permission_findings()
        context["ti"].xcom_push(key=READINESS, value=findings)
        if problems:
            raise AirflowFailException(
                f"Preflight of plan {self.plan_name} failed; nothing was launched:\n  - "
                + "\n  - ".join(f.message for f in problems)
                + "\n(drs-plan check shows the same; a plan may list checks under drill.readiness_warnings)")
        details = {}
        for server in readiness.servers:
            details[server.server_id] = {"hostname": server.hostname, "replication_state": server.replication_state,
                                         "lag": server.lag, "wave": server.wave}
        context["ti"].xcom_push(key=SERVERS, value=details)
        resolve_run_snapshots(self.hook, context, resolved, self.plan_name, findings)  # the run's point_in_time
        every_server = [sid for servers in resolved.values() for sid in servers]
        replaced = check_launch(self.hook, context, every_server, self.is_drill, self.log, f"Preflight of plan {self.plan_name}")
        context["ti"].xcom_push(key=REPLACED, value=[h.as_dict() for h in replaced])
        # A recovery also reads plans without launch settings: a dead drill may have left its own.
        if not self.is_drill or (self.launch and (self.launch.get("servers") or self.launch.get("tag_groups"))):
            apply_launch_settings(LaunchSettingsHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name),
                                  context, self.plan_name, "drill" if self.is_drill else "recovery", self.launch or {},
                                  inventory, every_server, self.log)
        return resolved

    def require_connection(self) -> None:
        """Stop before any call when the plan names an AWS connection Airflow does not have."""
        missing = missing_connection(self.hook)
        if missing:
            raise AirflowFailException(f"Preflight of plan {self.plan_name}: {missing}. Nothing was launched.")

    def _permission_findings(self) -> list[dict[str, Any]]:
        """The policy's actions the connection's principal lacks, as warnings (never a stop: the
        simulation can be wrong where the real call would pass, e.g. under an SCP or a boundary)."""
        if not self.iam_policy:
            return []
        try:
            hook = IamPermissionsHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name)
            check = hook.check(self.iam_policy() if callable(self.iam_policy) else self.iam_policy)
        except Exception as error:  # a permission check must never fail the run
            self.log.info("drs.preflight plan=%s IAM permissions not checked: %s", self.plan_name, error)
            return []
        if check.unchecked:
            self.log.info("drs.preflight plan=%s %s", self.plan_name, check.message())
            return []
        if not check.missing:
            self.log.info("drs.preflight plan=%s %s", self.plan_name, check.message())
            return []
        self.log.warning("drs.readiness plan=%s check=permissions (warning): %s", self.plan_name, check.message())
        return [{"check": "permissions", "message": check.message(), "stopped_the_run": False}]
