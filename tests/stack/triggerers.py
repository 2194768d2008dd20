"""Moving a deferred wait between the stack's two triggerers, as the fault tests do."""

from __future__ import annotations

import functools
import time

from tests.waiting import wait_until as _wait_until

wait_until = functools.partial(_wait_until, interval=0.25)  # each look asks PostgreSQL


def kill_the_triggerer_holding(stack, dag_id: str, run_id: str, task_id: str) -> tuple[str, str, float]:
    """With triggerer-2 stopped, wait until triggerer-1 holds the task's trigger; start triggerer-2,
    SIGKILL triggerer-1, and wait until another triggerer holds the task's trigger (the same one,
    once triggerer-1's heartbeat is stale, or a new one if the task deferred again meanwhile).
    Returns (first holder, second holder, seconds from the kill to the handover)."""
    trigger = "(select t.triggerer_id from trigger t join task_instance ti on ti.trigger_id = t.id " \
              f"where ti.dag_id = '{dag_id}' and ti.run_id = '{run_id}' and ti.task_id = '{task_id}')"
    first = wait_until(lambda: stack.sql(f"select {trigger}"), 180, what=f"the trigger of {task_id} is assigned")
    stack.restart("airflow-triggerer-2")
    wait_until(lambda: stack.alive_jobs("TriggererJob") >= 2, 90, what="triggerer-2 heartbeats")
    killed_at = time.monotonic()
    stack.kill("airflow-triggerer-1")
    second = wait_until(lambda: (owner := stack.sql(f"select {trigger}")) not in ("", first) and owner, 120,
                        what="the trigger moves to the other triggerer")
    return first, second, time.monotonic() - killed_at
