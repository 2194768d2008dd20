"""The approval that starts a real recovery: it says what will be replaced, and a "no" is an outcome.

Before it asks, the approval reads (never changes) the plan's servers in DRS: a second failover of
a server that already has a live recovery instance replaces (terminates) that instance, and the
approver must know it. A failed read is said in the text; it never blocks the approval.

Reject skips only the task right after the approval (preflight); the waves are skipped by their
trigger rules and the report and notify tasks still run, so a rejected recovery ends as a
successful DAG run whose report says ``rejected``, who rejected it and when.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowFailException
from airflow.providers.standard.operators.hitl import ApprovalOperator

from airflow_provider_drs.hooks.connections import missing_connection
from airflow_provider_drs.hooks.drs import DrsHook
from airflow_provider_drs.hooks.drs_safety import replaced_by_recovery
from airflow_provider_drs.plan_tasks import DECISION
from airflow_provider_drs.version_compat import NoFormFields

if TYPE_CHECKING:
    from airflow.sdk import Context


def approval_time(value: Any) -> str | None:
    return value.isoformat() if hasattr(value, "isoformat") else value


def record_answer(context: Context, event: Mapping[str, Any]) -> None:
    """Push a human-in-the-loop answer (who, what, when, or the timeout's default) as the task's
    ``decision`` XCom, for the report."""
    if "error" not in event:
        context["ti"].xcom_push(key=DECISION, value={
            "chosen_options": event.get("chosen_options"), "responded_by_user": event.get("responded_by_user"),
            "responded_at": approval_time(event.get("responded_at")), "timed_out": bool(event.get("timedout"))})


def answer_outcome(payload: Mapping[str, Any] | None, decisions: Mapping[str, str], otherwise: str,
                   ) -> dict[str, Any] | None:
    """A ``decision`` XCom (see record_answer) as a report section: ``decision`` is
    ``decisions[chosen option]``, else ``otherwise``; then who answered, when, and whether the
    timeout's default decided."""
    if not payload:
        return None
    chosen = list(payload.get("chosen_options") or [])
    user = payload.get("responded_by_user") or {}
    return {
        "decision": decisions.get(chosen[0], otherwise) if len(chosen) == 1 else otherwise,
        "by": user.get("name") or user.get("id"),
        "by_id": user.get("id"),
        "at": approval_time(payload.get("responded_at")),
        "timed_out": bool(payload.get("timed_out")),
    }


def approval_outcome(payload: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The approval's answer as the report's ``approval`` section."""
    return answer_outcome(payload, {ApprovalOperator.APPROVE: "approved"}, "rejected")


class RecoveryApprovalOperator(NoFormFields, ApprovalOperator):
    """ApprovalOperator whose text names the live recovery instances the recovery will replace.

    :param servers: the plan's listed source servers.
    :param tag_groups: ``{group: {tag: value}}``, resolved now, for the same check.
    """

    def __init__(self, *, servers: list[str], tag_groups: Mapping[str, Mapping[str, str]],
                 aws_conn_id: str | None, region_name: str | None, **kwargs: Any):
        super().__init__(**kwargs)
        self.servers = list(servers)
        self.tag_groups = {g: dict(t) for g, t in tag_groups.items()}
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name

    def execute(self, context: Context) -> Any:
        # Nobody is asked to approve a recovery its preflight is certain to refuse.
        missing = missing_connection(DrsHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name))
        if missing:
            raise AirflowFailException(f"{missing}. Nobody was asked to approve; nothing was launched.")
        self.body = f"{self.body or ''}\n\n{self.replacement_notice()}".strip()
        return super().execute(context)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        # Recorded first: on Reject, Airflow's skip of the downstream tasks ends the task by an
        # exception, and the return value (with who answered) would never reach XCom.
        record_answer(context, event)
        return super().execute_complete(context, event)

    def replacement_notice(self) -> str:
        try:
            hook = DrsHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name)
            servers = list(self.servers)
            for tags in self.tag_groups.values():
                servers += [s["source_server_id"] for s in hook.list_source_servers(tags=tags)]
            replaced = replaced_by_recovery(hook.launch_holdings(servers))
        except Exception as error:  # the approver decides without this fact rather than not at all
            self.log.warning("drs.approval could not read the servers' recovery instances: %s", error)
            return f"**Could not check for live recovery instances** ({error}); check the DRS console first."
        if not replaced:
            return "No server of this plan has a live recovery instance: nothing will be replaced."
        lines = [f"**Second failover: {len(replaced)} live recovery instance(s) will be replaced "
                 "(terminated) by this recovery:**", ""]
        lines += [f"- {h.describe()}" for h in replaced]
        return "\n".join(lines)
