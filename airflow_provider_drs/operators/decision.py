"""The question after the last wave of a real recovery: commit it, or roll it back.

Commit keeps the recovered instances (the failover is final; failback is a later, separate DAG).
Roll back terminates the recovery instances this run launched (operators/rollback.py). Unanswered
for the plan's ``decision_timeout_minutes``, the plan's ``on_timeout`` is taken, and the report says
nobody answered. A run that launched nothing asks nothing: the question is skipped, and with it
both branches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowSkipException
from airflow.providers.standard.operators.hitl import HITLBranchOperator

from airflow_provider_drs.hooks.drs import DrsHook
from airflow_provider_drs.operators.approval import answer_outcome, record_answer
from airflow_provider_drs.operators.run_launches import instances_of_jobs, run_launch_jobs
from airflow_provider_drs.plan_tasks import COMMIT, ROLLBACK
from airflow_provider_drs.version_compat import NoFormFields

if TYPE_CHECKING:
    from airflow.sdk import Context

COMMIT_OPTION, ROLLBACK_OPTION = "Commit", "Roll back"
CHOICES = {"commit": COMMIT_OPTION, "rollback": ROLLBACK_OPTION}


def decision_outcome(payload: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The question's answer as the report's ``decision`` section."""
    return answer_outcome(payload, {ROLLBACK_OPTION: "rollback"}, "commit")


class RecoveryDecisionOperator(NoFormFields, HITLBranchOperator):
    """Ask "commit or roll back?" naming the instances a rollback would terminate; branch to the
    ``commit`` or ``rollback`` task.

    :param wave_names: the plan's waves, whose launch jobs are this run's.
    :param on_timeout: ``commit`` or ``rollback``: the answer when nobody answers in time.
    """

    ui_color = "#fff59d"

    def __init__(self, *, wave_names: Sequence[str], on_timeout: str, aws_conn_id: str | None,
                 region_name: str | None, **kwargs: Any):
        super().__init__(options=[COMMIT_OPTION, ROLLBACK_OPTION], defaults=[CHOICES[on_timeout]],
                         options_mapping={COMMIT_OPTION: COMMIT, ROLLBACK_OPTION: ROLLBACK}, **kwargs)
        self.wave_names = list(wave_names)
        self.on_timeout = on_timeout
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name

    def execute(self, context: Context) -> Any:
        hook = DrsHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name)
        job_ids = run_launch_jobs(hook, context, self.wave_names, False, self.log)
        jobs = hook.describe_jobs(job_ids) if job_ids else {}
        instances = [i for i in instances_of_jobs(hook, jobs) if not i.get("isDrill")]
        if not instances:
            raise AirflowSkipException("This recovery launched no recovery instance: nothing to commit or roll back.")
        lines = [f"This recovery launched {len(instances)} recovery instance(s):", ""]
        lines += [f"- {i.get('sourceServerID')}: recovery instance {i['recoveryInstanceID']}, "
                  f"EC2 {i.get('ec2InstanceID')}" for i in instances]
        unanswered = "committed" if self.on_timeout == "commit" else "rolled back"
        lines += ["", "**Commit** keeps them: the failover is final (fail back later with the failback DAG).",
                  "**Roll back** terminates these instances, and only these; the source servers keep replicating.",
                  "", f"Unanswered, the recovery is **{unanswered}**."]
        question = "\n".join(lines)
        self.body = f"{self.body or ''}\n\n{question}".strip()
        return super().execute(context)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        # Recorded before branching: the branch's skip of the other task must not lose who answered.
        record_answer(context, event)
        self.log.info("drs.decision chosen=%s by=%s timed_out=%s", event.get("chosen_options"),
                      (event.get("responded_by_user") or {}).get("id"), bool(event.get("timedout")))
        return super().execute_complete(context, event)
