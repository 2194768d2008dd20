"""The simulated world of one simulator: inventory, DRS state, automation executions, faults and
call counters, and the in-process control API over them (``sim.control`` in tests)."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

from . import moto_bridge
from .faults import FaultSet
from .instance_health import InstanceHealth
from .inventory import Inventory, coerce_inventory
from .launch_events import LaunchEventPublisher
from .ssm_automation import AutomationService
from .state import DrsState

FATES = ("served", "refused", "dropped")


class Simulation:
    def __init__(self, inventory: Inventory | str | Path | dict | None = None, time_scale: float = 1.0,
                 seed: int = 0):
        if time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        self.inventory = coerce_inventory(inventory)
        self.time_scale, self.seed = time_scale, seed
        self.faults = FaultSet(seed)
        self.drs = DrsState(self.inventory, time_scale, seed, self.faults)
        self.launch_events = LaunchEventPublisher(self.drs, seed)
        self.drs.on_job_started = self.launch_events.job_started
        self.automation = AutomationService(self.inventory.ssm_automation.duration, time_scale, seed, self.faults)
        self.health = InstanceHealth(self.drs, time_scale)  # status checks, SSM agents, Run Command
        # Requests by fate: served (processed), refused (by an injected fault), dropped (the client
        # went away before the request was whole, so it was never processed).
        self.counts: dict[str, Counter[str]] = {fate: Counter() for fate in FATES}
        self.in_flight: Counter[str] = Counter()  # requests received whole, not answered yet
        self.calls_lock = threading.Lock()
        self._reset_moto()

    def _reset_moto(self) -> None:
        moto_bridge.reset_moto()
        environment = self.inventory.environment
        for region in self.inventory.seeded_regions():
            moto_bridge.seed_environment(region, environment.sns_topics, environment.ssm_parameters)
        self.drs.network = {region: moto_bridge.seed_network(region) for region in self.inventory.seeded_regions()}

    @property
    def calls(self) -> Counter[str]:
        return self.counts["served"]

    def count(self, operation: str, fate: str = "served") -> None:
        with self.calls_lock:
            self.counts[fate][operation] += 1

    def flight(self, operation: str, delta: int) -> None:
        with self.calls_lock:
            self.in_flight[operation] += delta

    def reset(self) -> None:
        """Back to the inventory: no jobs, instances, executions, faults, counts; moto emptied."""
        with self.drs.lock:
            self.drs.reset()
            self.launch_events.reset()
            self.automation.reset()
            self.health.reset()
            self.faults.clear()
            self._reset_moto()
            with self.calls_lock:
                for counter in self.counts.values():
                    counter.clear()


class Control:
    """Fault injection and inspection. The same methods exist over HTTP under /_sim/ and in
    ``SimulatorClient`` for a simulator running in another process."""

    def __init__(self, simulation: Simulation):
        self._sim = simulation

    def throttle(self, operation: str, per_second: float, retry_after_seconds: int = 1) -> None:
        """Answer ThrottlingException once ``operation`` exceeds ``per_second`` calls in 1 s."""
        self._sim.faults.throttle(operation, per_second, retry_after_seconds)

    def error_rate(self, rate: float, operations: list[str] | None = None) -> None:
        """Answer InternalServerException to this share (0-1) of calls, optionally only for some ops."""
        self._sim.faults.set_error_rate(rate, operations)

    def fail_server(self, server_id: str, phase: str, raw_error: str | None = None) -> None:
        """Make every later launch of ``server_id`` fail at SNAPSHOT, CONVERSION or LAUNCH."""
        self._sim.faults.fail_server(server_id, phase, raw_error)

    def set_replication(self, server_id: str, replication_state: str, lag: str = "PT0S",
                        region: str = "us-east-1") -> None:
        """Set a server's replication state (e.g. STALLED) and lag (ISO 8601, e.g. PT2H) until reset."""
        self._sim.drs.set_replication(region, server_id, replication_state, lag)

    def replication_started(self, server_id: str, started_at: str, region: str = "us-east-1") -> None:
        """The server was added to DRS at ``started_at`` (ISO 8601): it has no point-in-time snapshot
        before its first replicated byte a minute later (until reset)."""
        from .ids import parse_iso

        try:
            started = parse_iso(started_at)
        except ValueError:
            raise ValueError(f"started_at {started_at!r} is not an ISO 8601 time") from None
        self._sim.drs.set_replication_start(region, server_id, started)

    def boot_failback_client(self, recovery_instance_id: str, region: str = "us-east-1") -> str:
        """The DRS Failback Client was booted on the on-premises origin of this (non-drill) recovery
        instance: its failback replication starts, as ReverseReplication starts it for an AWS
        origin. Returns the client's id (the instance's failbackClientID)."""
        return self._sim.drs.boot_failback_client(region, recovery_instance_id)

    def fail_failback(self, server_id: str) -> None:
        """Make every later failback replication of ``server_id`` end in FAILBACK_ERROR instead of
        FAILBACK_READY_FOR_LAUNCH."""
        self._sim.faults.fail_failback(server_id)

    def latency(self, seconds: float, operations: list[str] | None = None) -> None:
        """Hold every AWS request (not /_sim/), or only those of ``operations``, ``seconds`` before
        processing it. The request is read first: one whose client gives up meanwhile is still
        processed, as AWS would (a StartRecovery "in the air" when its caller dies)."""
        self._sim.faults.set_latency(seconds, operations)

    def fail_automation(self, document: str, step: str) -> None:
        """Make executions of ``document`` fail at ``step`` (the last step if no step has that name)."""
        self._sim.faults.fail_automation(document, step)

    def launch_events(self, delay: float | None = None, loss_rate: float | None = None) -> None:
        """Hold each launch-result event back ``delay`` seconds and lose this share (0-1) of them."""
        self._sim.launch_events.configure(delay, loss_rate)

    def launch_event_stats(self) -> dict:
        """Launch-result events: settings, published, lost, pending, and recent deliveries."""
        return self._sim.launch_events.describe()

    def instance_health(self, target: str, status_delay: float | None = None, impaired: bool | None = None,
                        ssm_delay: float | None = None, ssm_never: bool | None = None) -> None:
        """For the recovery instances of ``target`` (source server or EC2 id), launched before or
        after: EC2 status checks ``initializing`` for ``status_delay`` wall seconds after launch,
        then ``ok`` (``impaired`` if set); the SSM agent Online ``ssm_delay`` seconds after launch,
        or never. Until reset."""
        self._sim.health.set_rule(target, status_delay, impaired, ssm_delay, ssm_never)

    def probe_rule(self, target: str | None = None, contains: str | None = None, fail_for: float | None = None,
                   output: str = "") -> None:
        """Run Command scripts holding ``contains`` (any if None), on ``target``'s instances (any
        if None), fail (exit 1, ``output`` on stderr) for ``fail_for`` seconds from now (None: for
        ever), then succeed. The latest matching rule decides (``fail_for=0`` lifts earlier ones). Until
        reset."""
        self._sim.health.add_probe_rule(target, contains, fail_for, output)

    def clear_faults(self) -> None:
        self._sim.faults.clear()

    def set_time_scale(self, time_scale: float) -> None:
        """Stretch (> 1) or shrink (< 1) the durations of jobs and automations started from now on."""
        if time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        self._sim.time_scale = self._sim.drs.time_scale = self._sim.automation.time_scale = time_scale
        self._sim.health.time_scale = time_scale

    def faults(self) -> dict:
        return self._sim.faults.describe()

    def calls(self) -> dict[str, int]:
        """Requests processed, by operation (refused and dropped ones are not counted here)."""
        with self._sim.calls_lock:
            return dict(self._sim.calls)

    def attempts(self) -> dict[str, int]:
        """Requests that arrived whole, by operation: processed plus refused by a fault (what a
        client's retries add up to)."""
        with self._sim.calls_lock:
            return dict(self._sim.counts["served"] + self._sim.counts["refused"])

    def call_counts(self) -> dict[str, dict[str, int]]:
        """``{"served": {...}, "refused": {...}, "dropped": {...}, "in_flight": {...}}``, by operation;
        in_flight: received whole and not answered yet (held by the latency fault, say)."""
        with self._sim.calls_lock:
            counts = {fate: dict(counter) for fate, counter in self._sim.counts.items()}
            counts["in_flight"] = {op: n for op, n in self._sim.in_flight.items() if n}
            return counts

    def reset(self) -> None:
        self._sim.reset()
