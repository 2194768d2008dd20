"""WaveHealthTrigger: poll a wave's health gate in the triggerer until it is decided, or until the
sensor must send probes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Any

from airflow.triggers.base import TriggerEvent

from airflow_provider_drs.hooks.instance_health import (
    InstanceHealthHook, observe, ready_for_probes, settled, time_out)
from airflow_provider_drs.triggers.base import AwsReadingTrigger


class WaveHealthTrigger(AwsReadingTrigger):
    """
    Read EC2 status checks, SSM agent registration and the probe invocations of a wave's servers
    (all reads: safe to run twice) and fold them into the gate's records.

    Yields one event ``{"status": "done" | "send" | "error", "records": {...}, "message": str,
    "checks": ..., "deadline": ...}`` (the last two echoed: the sensor needs them after each deferral):
    ``done`` when every server passed or failed (or the deadline passed: the waiting ones fail),
    ``send`` when servers are ready for probes (agent Online, no probe in flight) - the sensor
    sends them (SendCommand is not a trigger's to make) and defers again. A probe that failed is
    sent again only after one more poll interval.

    :param records: the gate's records (hooks.instance_health).
    :param checks: the wave's ready_when (ec2_status_ok, ssm_online, probes, timeout_minutes).
    :param deadline: epoch seconds when the gate times out.
    :param min_poll_interval: first interval between two reads; it grows to max_poll_interval.
    """

    serialized_fields = ("records", "checks", "deadline", "min_poll_interval", "max_poll_interval")

    def __init__(self, *, records: dict[str, dict[str, Any]], checks: dict[str, Any], deadline: float,
                 min_poll_interval: float = 2.0, max_poll_interval: float = 30.0, **connection: Any) -> None:
        super().__init__(**connection)
        self.records, self.checks, self.deadline = records, checks, deadline
        self.min_poll_interval, self.max_poll_interval = min_poll_interval, max_poll_interval

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = InstanceHealthHook(**self.hook_params())
        records, interval, errors = self.records, self.min_poll_interval, 0
        while True:
            in_flight = {s for s, r in records.items() if r.get("command_id")}
            try:
                answers = await asyncio.to_thread(hook.read, records, self.checks)
                errors = 0
            except Exception as error:  # transient AWS trouble: the deadline still bounds the wait
                errors += 1
                self.log.warning("drs.health_gate read failed (%d in a row): %r", errors, error)
                if errors >= 5:
                    yield TriggerEvent(self._event("error", records, f"could not read instance health: {error!r}"))
                    return
                answers = None
            if answers is not None:
                observe(records, self.checks, answers["statuses"], answers["online"], answers["invocations"],
                        datetime.now(timezone.utc).isoformat())
            if not settled(records) and time.time() >= self.deadline:
                time_out(records, self.checks)
            if settled(records):
                yield TriggerEvent(self._event("done", records))
                return
            # A probe that just failed waits one interval before it is sent again.
            if set(ready_for_probes(records, self.checks)) - in_flight:
                yield TriggerEvent(self._event("send", records))
                return
            await asyncio.sleep(min(interval, max(0.0, self.deadline - time.time()) + 0.01))
            interval = min(interval * 1.5, self.max_poll_interval)

    def _event(self, status: str, records: dict[str, Any], message: str = "") -> dict[str, Any]:
        return {"status": status, "records": records, "message": message, "checks": self.checks,
                "deadline": self.deadline}
