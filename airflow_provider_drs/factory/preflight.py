"""The preflight task: resolve every wave's servers once, before anything is launched.

Tag-selected protection groups are resolved here, at run time (parsing never calls AWS), and the
rules that could not be checked at parse time are checked on the resolved sets: every listed
server exists, no server is in two waves, no wave is over the per-job limit. Then the launch
safety check (``operators.launch_safety``) runs over every server of every wave: a drill that
would replace a live recovery instance, or the live instances of another run, fails here, before
any wave launches. Replication health only warns: on the worst day a stale server is still
recovered from its last snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_drs.hooks.drs import DrsHook
from airflow_provider_drs.operators.launch_safety import REPLACED_XCOM_KEY, check_launch
from airflow_provider_drs.plans import MAX_SERVERS_PER_JOB

if TYPE_CHECKING:
    from airflow.sdk import Context

HEALTHY_REPLICATION = {"CONTINUOUS"}


class PlanPreflightOperator(AwsBaseOperator[DrsHook]):
    """Resolve and check each wave's source servers; return ``{wave: [server ids]}``.

    Also pushes XCom ``servers``: ``{server id: {hostname, replication_state, lag, wave}}``, and
    ``replaced_instances``: the live recovery instances this run's launches will replace.

    :param waves: ``{wave: {"servers": [ids], "tag_groups": {group: {tag: value}}}}``.
    """

    aws_hook_class = DrsHook
    ui_color = "#e8f0fe"

    def __init__(self, *, plan_name: str, waves: Mapping[str, Mapping[str, Any]], is_drill: bool = True,
                 max_servers_per_job: int = MAX_SERVERS_PER_JOB, **kwargs: Any):
        super().__init__(**kwargs)
        self.plan_name = plan_name
        self.is_drill = is_drill
        self.waves = waves
        self.max_servers_per_job = max_servers_per_job

    def execute(self, context: Context) -> dict[str, list[str]]:
        inventory = {s["source_server_id"]: s for s in self.hook.list_source_servers()}
        resolved, problems = {}, []
        for wave, spec in self.waves.items():
            servers = list(dict.fromkeys(spec.get("servers", [])))
            missing = [s for s in servers if s not in inventory]
            if missing:
                problems.append(f"wave {wave}: source servers not found in DRS ({self.hook.region_name}): "
                                f"{', '.join(missing)}")
            for group, tags in (spec.get("tag_groups") or {}).items():
                matched = sorted(sid for sid, s in inventory.items()
                                 if all(s["tags"].get(k) == v for k, v in tags.items()))
                if not matched:
                    problems.append(f"wave {wave}: protection group {group} (tags {tags}) matches no source server")
                self.log.info("drs.preflight plan=%s wave=%s group=%s tags=%s servers=%s",
                              self.plan_name, wave, group, tags, ",".join(matched))
                servers.extend(s for s in matched if s not in servers)
            if len(servers) > self.max_servers_per_job:
                problems.append(f"wave {wave}: {len(servers)} servers, over the per-job limit of "
                                f"{self.max_servers_per_job}; split the wave")
            resolved[wave] = servers
        problems.extend(self._overlaps(resolved))
        if problems:
            raise AirflowFailException(
                f"Preflight of plan {self.plan_name} failed; nothing was launched:\n  - " + "\n  - ".join(problems)
            )
        details = {}
        for wave, servers in resolved.items():
            for sid in servers:
                summary = inventory[sid]
                details[sid] = {"hostname": summary["hostname"], "replication_state": summary["replication_state"],
                                "lag": summary["lag"], "wave": wave}
                if summary["replication_state"] not in HEALTHY_REPLICATION:
                    self.log.warning("drs.preflight plan=%s wave=%s server=%s replication_state=%s lag=%s: "
                                     "it will be recovered from its last good snapshot", self.plan_name, wave, sid,
                                     summary["replication_state"], summary["lag"])
        context["ti"].xcom_push(key="servers", value=details)
        every_server = [sid for servers in resolved.values() for sid in servers]
        replaced = check_launch(self.hook, context, every_server, self.is_drill, self.log, f"Preflight of plan {self.plan_name}")
        context["ti"].xcom_push(key=REPLACED_XCOM_KEY, value=[h.as_dict() for h in replaced])
        return resolved

    @staticmethod
    def _overlaps(resolved: Mapping[str, list[str]]) -> list[str]:
        seen: dict[str, str] = {}
        problems = []
        for wave, servers in resolved.items():
            for sid in servers:
                if sid in seen:
                    problems.append(f"server {sid} is in waves {seen[sid]} and {wave} (a tag group matched it); "
                                    "a server may be recovered by one wave only")
                seen.setdefault(sid, wave)
        return problems
