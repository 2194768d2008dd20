"""Reading failback progress from DescribeRecoveryInstances: pure functions the sensor (poke
mode) and the trigger (deferred) share.

DRS facts: a recovery instance's ``failback.state`` goes FAILBACK_NOT_STARTED ->
FAILBACK_IN_PROGRESS (replicating back) -> FAILBACK_READY_FOR_LAUNCH -> (StartFailbackLaunch, its
job ends) FAILBACK_COMPLETED; FAILBACK_ERROR is a failed replication. StopFailback sends it back to
FAILBACK_NOT_STARTED.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

NOT_STARTED, IN_PROGRESS = "FAILBACK_NOT_STARTED", "FAILBACK_IN_PROGRESS"
READY, COMPLETED, ERROR = "FAILBACK_READY_FOR_LAUNCH", "FAILBACK_COMPLETED", "FAILBACK_ERROR"
# What each wait waits for; a state later in the cycle also counts (a retried wait after the launch).
TARGETS = {"ready": (READY, COMPLETED), "completed": (COMPLETED,)}
REPLICATING = (IN_PROGRESS, READY, COMPLETED)  # reverse replication already started: do not start it twice


def failback_state(instance: Mapping[str, Any]) -> str:
    return (instance.get("failback") or {}).get("state") or NOT_STARTED


@dataclass
class FailbackProgress:
    """Where a set of recovery instances stand against a target (``ready`` or ``completed``)."""

    states: dict[str, str] = field(default_factory=dict)
    waiting: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # recovery instance id -> why

    @property
    def done(self) -> bool:
        return bool(self.states) and not self.waiting and not self.failed

    def summary(self) -> str:
        return ", ".join(f"{rid}={state}" for rid, state in sorted(self.states.items()))


def is_on_premises(instance: Mapping[str, Any]) -> bool:
    return instance.get("originEnvironment") != "AWS"


def read_progress(instances: Iterable[Mapping[str, Any]], wanted: Sequence[str], target: str) -> FailbackProgress:
    """The instances' failback states against ``target``. An instance DRS no longer lists (it was
    terminated) or in FAILBACK_ERROR fails the wait. FAILBACK_NOT_STARTED fails it too, except for
    an on-premises source before its launch: its replication starts when a person boots the DRS
    Failback Client on the origin machine, which the wait waits for."""
    if target not in TARGETS:
        raise ValueError(f"target must be one of {sorted(TARGETS)}, not {target!r}")
    found = {i["recoveryInstanceID"]: i for i in instances}
    progress = FailbackProgress()
    for rid in wanted:
        instance = found.get(rid)
        if instance is None:
            progress.failed[rid] = "DRS no longer lists this recovery instance (terminated?)"
            continue
        state = progress.states[rid] = failback_state(instance)
        if state in TARGETS[target]:
            continue
        if state == ERROR:
            progress.failed[rid] = "FAILBACK_ERROR: the failback replication failed (see the DRS console)"
        elif state == NOT_STARTED and not (target == "ready" and is_on_premises(instance)):
            progress.failed[rid] = "FAILBACK_NOT_STARTED: its failback replication is not running (stopped?)"
        else:
            progress.waiting.append(rid)
    return progress
