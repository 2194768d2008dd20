"""Faults injected on demand: throttling, 500s, latency, failing servers, failback replications and
automation steps.

Draws come from a seeded RNG so a failing rehearsal can be replayed with the same --seed.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field

PHASES = ("SNAPSHOT", "CONVERSION", "LAUNCH")


@dataclass
class Throttle:
    per_second: float
    retry_after_seconds: int
    served: deque = field(default_factory=deque)  # monotonic times of requests let through


class FaultSet:
    def __init__(self, seed: int = 0):
        self._lock = threading.Lock()
        self._seed = seed
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self.throttles: dict[str, Throttle] = {}
            self.error_rate = 0.0
            self.error_operations: set[str] | None = None
            self.latency_seconds = 0.0
            self.latency_operations: set[str] | None = None
            self.server_failures: dict[str, tuple[str, str | None]] = {}
            self.failback_failures: set[str] = set()
            self.automation_failures: dict[str, str] = {}
            self._rng = random.Random(f"faults/{self._seed}")

    # -- configuration -------------------------------------------------------------------------
    def throttle(self, operation: str, per_second: float, retry_after_seconds: int = 1) -> None:
        """Throttle ``operation`` (``*``: every DRS and SSM Automation operation, each on its own)."""
        if per_second < 0:
            raise ValueError("per_second must be >= 0")
        with self._lock:
            self.throttles[operation] = Throttle(per_second, int(retry_after_seconds))

    def set_error_rate(self, rate: float, operations: list[str] | None = None) -> None:
        if not 0 <= rate <= 1:
            raise ValueError("rate must be between 0 and 1")
        with self._lock:
            self.error_rate = rate
            self.error_operations = set(operations) if operations else None

    def fail_server(self, server_id: str, phase: str, raw_error: str | None = None) -> None:
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {', '.join(PHASES)}, not {phase!r}")
        with self._lock:
            self.server_failures[server_id] = (phase, raw_error)

    def fail_failback(self, server_id: str) -> None:
        with self._lock:
            self.failback_failures.add(server_id)

    def set_latency(self, seconds: float, operations: list[str] | None = None) -> None:
        if seconds < 0:
            raise ValueError("seconds must be >= 0")
        with self._lock:
            self.latency_seconds = seconds
            self.latency_operations = set(operations) if operations else None

    def latency_for(self, operation: str | None) -> float:
        """Seconds to hold a request of ``operation`` before processing it."""
        if not self.latency_seconds:
            return 0.0
        if self.latency_operations is not None and operation not in self.latency_operations:
            return 0.0
        return self.latency_seconds

    def fail_automation(self, document: str, step: str) -> None:
        with self._lock:
            self.automation_failures[document] = step

    # -- evaluation, once per API request --------------------------------------------------------
    def check(self, operation: str) -> tuple[str, int] | None:
        """``("throttle", retry_after)``, ``("error", 0)`` or None when the call goes through."""
        with self._lock:
            throttle = self.throttles.get(operation)
            if throttle is None and "*" in self.throttles:  # every operation, each with its own budget
                every = self.throttles["*"]
                throttle = self.throttles[operation] = Throttle(every.per_second, every.retry_after_seconds)
            if throttle is not None:
                now = time.monotonic()
                while throttle.served and now - throttle.served[0] >= 1.0:
                    throttle.served.popleft()
                if len(throttle.served) >= throttle.per_second:
                    return ("throttle", throttle.retry_after_seconds)
                throttle.served.append(now)
            if self.error_rate and (self.error_operations is None or operation in self.error_operations):
                if self._rng.random() < self.error_rate:
                    return ("error", 0)
        return None

    def describe(self) -> dict:
        with self._lock:
            return {
                "throttles": {op: {"per_second": t.per_second, "retry_after_seconds": t.retry_after_seconds}
                              for op, t in self.throttles.items()},
                "error_rate": self.error_rate,
                "error_operations": sorted(self.error_operations) if self.error_operations else None,
                "latency_seconds": self.latency_seconds,
                "latency_operations": sorted(self.latency_operations) if self.latency_operations else None,
                "server_failures": {s: {"phase": p, "raw_error": r} for s, (p, r) in self.server_failures.items()},
                "failback_failures": sorted(self.failback_failures),
                "automation_failures": dict(self.automation_failures),
            }
