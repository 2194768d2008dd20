"""Preflight's point-in-time step: the run's ``point_in_time`` parameter resolved to one recovery
snapshot per server (``hooks.drs_snapshots`` holds the rules), before anything is launched."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_drs.exceptions import DrsPointInTimeError
from airflow_provider_drs.hooks.drs_snapshots import parse_point_in_time, resolve_point_in_time
from airflow_provider_drs.plan_tasks import POINT_IN_TIME, READINESS, SNAPSHOTS

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_drs.hooks.drs import DrsHook


def resolve_run_snapshots(hook: DrsHook, context: Context, resolved: Mapping[str, Sequence[str]],
                          plan_name: str, findings: Sequence[dict]) -> dict[str, dict[str, str]]:
    """Resolve the run's ``point_in_time`` for every server of every wave; push XCom ``snapshots``
    (server -> ``{snapshot_id, timestamp}``; empty for ``latest``) and return it. A failure joins
    the preflight's readiness ``findings`` (re-pushed), so the run report says why nothing launched.

    :raises AirflowFailException: a malformed parameter, or a server without a usable snapshot
        (named, with why): retrying would not help, and nothing has been launched yet.
    """
    value = (context.get("params") or {}).get(POINT_IN_TIME)
    servers = [s for wave in resolved.values() for s in wave]
    try:
        point = parse_point_in_time(value)
        snapshots = resolve_point_in_time(hook, point, servers)
    except DrsPointInTimeError as error:
        context["ti"].xcom_push(key=READINESS, value=[
            *findings, {"check": POINT_IN_TIME, "message": str(error), "stopped_the_run": True}])
        raise AirflowFailException(f"Preflight of plan {plan_name} failed; nothing was launched: {error}") from None
    hook.log.info("drs.point_in_time plan=%s point_in_time=%s snapshots=%d of %d servers", plan_name,
                  point.describe(), len(snapshots), len(servers))
    context["ti"].xcom_push(key=SNAPSHOTS, value=snapshots)
    return snapshots

