"""A wave's delay_minutes: Airflow's standard WaitSensor, deferred, measured from its own start."""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.sensors.time_delta import WaitSensor


class WaveDelaySensor(WaitSensor):
    """Wait ``time_to_wait`` from this task's start, deferred (no worker slot held).

    WaitSensor's deferred wait ends the task in the triggerer (``end_from_trigger``) and so has no
    ``execute_complete``; ``dag.test()``, which runs triggers in line, resumes the task on the
    trigger's event anyway and fails it for the lack of one. Here it is: the wait is over.
    """

    ui_color = "#eceff1"

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("deferrable", True)
        super().__init__(**kwargs)

    def execute_complete(self, context: Any, event: Any = None) -> None:
        return None
