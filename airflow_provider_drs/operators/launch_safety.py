"""The run a DRS task belongs to, and the check every launch makes before it replaces anything.

Used by the start operator (right before its StartRecovery) and by a plan's preflight (for every
server of every wave, before anything launches). The rules are in ``hooks.drs_safety``; this module
adds what only a running Airflow task knows: its own run, and the state of another run.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_drs.hooks.drs_safety import Holding, RunRef, assess_drill, replaced_by_recovery

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_drs.hooks.drs import DrsHook



def run_ref(context: Context) -> RunRef:
    dag_run = context["dag_run"]
    return RunRef(dag_run.dag_id, dag_run.run_id)


def run_started_at(context: Context) -> datetime:
    """When this DAG run started: LAUNCH jobs created since then may belong to it. No slack is
    added: the previous run's jobs, a few seconds older, must never be adopted."""
    dag_run = context.get("dag_run")
    started = getattr(dag_run, "start_date", None) or getattr(dag_run, "run_after", None)
    if started is None:
        started = datetime.now(timezone.utc)
    if started.tzinfo is None:
        started = started.replace(tzinfo=timezone.utc)
    return started


def airflow_run_state(context: Context, ref: RunRef) -> str | None:
    """The state of another DAG run of this Airflow (``queued``, ``running``, ``success``,
    ``failed``), or None when this Airflow does not know it."""
    try:
        state = context["ti"].get_dagrun_state(dag_id=ref.dag_id, run_id=ref.run_id)
    except Exception:  # not found, or a DAG of another Airflow: unknown
        return None
    return str(getattr(state, "value", state)) if state else None


def check_launch(hook: DrsHook, context: Context, server_ids: Sequence[str], is_drill: bool,
                 log: Any, what: str) -> list[Holding]:
    """Refuse a drill that would harm a recovery or another live run; return what the launch will
    replace (leftover drill instances for a drill, every live instance for a recovery), logged.

    Raises AirflowFailException (no retry: a retry after the other job ends would launch anyway),
    with one line per refusal naming server, recovery instance, EC2 instance, job and run.
    """
    own = run_ref(context)
    found = hook.launch_holdings(server_ids)
    if is_drill:
        assessment = assess_drill(found, own, lambda ref: airflow_run_state(context, ref))
        if assessment.refused:
            raise AirflowFailException(
                f"{what}: drill refused, nothing was launched:\n  - " + "\n  - ".join(assessment.refusals)
            )
        replaced = assessment.replaced
    else:
        replaced = replaced_by_recovery(found, own)
    for holding in replaced:
        log.warning("drs.replaces_instance %s: this %s replaces (terminates) it", holding.describe(),
                    "drill" if is_drill else "recovery")
    return replaced
