"""Test helpers for the Airflow versions CI runs (the README's Compatibility table)."""

from __future__ import annotations


def dag_serialization():
    """The scheduler's DAG (de)serializer: ``DagSerialization`` from Airflow 3.2, ``SerializedDAG`` before."""
    from airflow.serialization import serialized_objects

    return getattr(serialized_objects, "DagSerialization", None) or serialized_objects.SerializedDAG


def hitl_waiting_states() -> tuple[str, ...]:
    """States of a human-in-the-loop task waiting for its answer (it has a HITL detail row then):
    AWAITING_INPUT from Airflow 3.3; before, the task defers to Airflow's HITL trigger (and while
    dag.test() runs that trigger in line, the task shows QUEUED)."""
    from airflow.utils.state import TaskInstanceState

    if hasattr(TaskInstanceState, "AWAITING_INPUT"):
        return (TaskInstanceState.AWAITING_INPUT,)
    return (TaskInstanceState.DEFERRED, TaskInstanceState.QUEUED)


def route_hitl_reads_in_dag_test() -> bool:
    """Airflow 3.1/3.2's dag.test() runs triggers in process, but its supervisor does not route the
    HITL trigger's read of the answer (GetHITLDetailResponse), nor its write of the defaults when
    nobody answered in time (UpdateHITLDetail): the task fails where a triggerer would have done
    them. Route both as the triggerer does (airflow.jobs.triggerer_job_runner: the execution API's
    HITL detail, sent back as HITLDetailResponseResult). Airflow 3.3 needs nothing: its HITL task
    waits in AWAITING_INPUT without a trigger. Returns whether the route was added."""
    from airflow.utils.state import TaskInstanceState

    if hasattr(TaskInstanceState, "AWAITING_INPUT"):
        return False
    from airflow.jobs.triggerer_job_runner import HITLDetailResponseResult
    from airflow.sdk.execution_time.comms import GetHITLDetailResponse, UpdateHITLDetail
    from airflow.sdk.execution_time.supervisor import InProcessTestSupervisor

    handle = InProcessTestSupervisor._handle_request

    def _handle_request(self, msg, log, req_id):
        if isinstance(msg, GetHITLDetailResponse):
            detail = self.client.hitl.get_detail_response(ti_id=msg.ti_id)
        elif isinstance(msg, UpdateHITLDetail):
            detail = self.client.hitl.update_response(ti_id=msg.ti_id, chosen_options=msg.chosen_options,
                                                      params_input=msg.params_input)
        else:
            return handle(self, msg, log, req_id)
        self.send_msg(HITLDetailResponseResult.from_api_response(detail), request_id=req_id, error=None)

    InProcessTestSupervisor._handle_request = _handle_request
    return True


def hitl_timeout_sweep():
    """What ends an unanswered human-in-the-loop task when its time is up, for dag.test(): Airflow
    3.3's scheduler sweep (its task waits in AWAITING_INPUT, and dag.test() runs no scheduler),
    as a function to call repeatedly; None before 3.3, where the HITL trigger dag.test() runs in
    line times the task out itself."""
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner

    sweep = getattr(SchedulerJobRunner, "check_awaiting_input_timeouts", None)
    if sweep is None:
        return None
    import logging
    from types import SimpleNamespace

    scheduler = SimpleNamespace(log=logging.getLogger("tests.hitl_timeout_sweep"))
    return lambda: sweep(scheduler)


def needs_native_recovery_plans():
    """Skip marker for tests of DRS native recovery plans: the oldest Airflow's image pins a botocore
    whose DRS model predates them (what runs there instead refuses clearly: tests/test_native_support.py)."""
    import botocore
    import pytest

    from airflow_provider_drs.drs_api_support import has_native_recovery_plans

    return pytest.mark.skipif(not has_native_recovery_plans(),
                              reason=f"botocore {botocore.__version__} has no DRS recovery-plan API")
