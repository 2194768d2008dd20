"""What to write to make a native recovery plan's steps the wanted ones: a pure diff over
ListRecoveryPlanSteps' answer, so a dry run shows exactly what an export would do.

Steps are matched by name (drs-plan names a server step after its wave, a wait step after the
wave it delays). Order of the writes: deletes first (a plan holds at most 20 steps, and a create
beside a step it replaces could pass that), then updates, then creates; a reorder, when the
resulting order is not the wanted one, comes last (it needs the created steps' ARNs).
A source server may be in one step of a plan at a time (the simulator enforces it; it is the
safe reading of DRS): an update that takes a server from another step waits until that step has
let it go, and updates that trade servers in a cycle become a delete and a create.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_drs.plans.native import NativeStep


@dataclass(frozen=True)
class Write:
    """One write call: its operation, what it changes, and a line for people."""

    operation: str
    target: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.operation} {self.target}" + (f": {self.detail}" if self.detail else "")


@dataclass
class StepDiff:
    delete: list[Mapping[str, Any]] = field(default_factory=list)  # existing RecoveryPlanSteps
    update: list[tuple[Mapping[str, Any], NativeStep]] = field(default_factory=list)
    create: list[NativeStep] = field(default_factory=list)
    kept_order: list[str] = field(default_factory=list)  # step names in the order they stand after the writes

    def reorder_needed(self, wanted: Sequence[NativeStep]) -> bool:
        return self.kept_order != [s.name for s in wanted]


def describe(step: NativeStep) -> str:
    if step.is_wait:
        return f"wait {step.wait_minutes} min"
    optional = sum(1 for _, level in step.servers if level == "OPTIONAL")
    return f"{len(step.servers)} server(s)" + (f", {optional} optional" if optional else "")


def diff_steps(existing: Sequence[Mapping[str, Any]], wanted: Sequence[NativeStep]) -> StepDiff:
    """``existing``: RecoveryPlanSteps in stepOrder; ``wanted``: the steps in their order."""
    diff = StepDiff()
    by_name: dict[str, list[Mapping[str, Any]]] = {}
    for step in existing:
        by_name.setdefault(step["stepName"], []).append(step)
    matched: dict[str, Mapping[str, Any]] = {}
    for step in wanted:
        candidates = by_name.get(step.name) or []
        if candidates:
            current = matched[step.name] = candidates.pop(0)
            have = NativeStep.from_api(current)
            if have.is_wait != step.is_wait:  # DRS: a step's type is immutable
                del matched[step.name]
                diff.create.append(step)
            elif not have.same_configuration(step):
                diff.update.append((current, step))
        else:
            diff.create.append(step)
    kept = {id(s) for s in matched.values()}
    diff.delete = [s for s in existing if id(s) not in kept]
    _order_updates(diff, existing, kept)
    kept = {id(current) for current in matched.values()} - {id(s) for s in diff.delete}
    position = {s.name: i for i, s in enumerate(wanted)}
    diff.create.sort(key=lambda s: position[s.name])
    # Created steps land after the kept ones (CreateRecoveryPlanStep without stepOrder appends).
    diff.kept_order = [s["stepName"] for s in existing if id(s) in kept] + [s.name for s in diff.create]
    return diff


def _arns(step: NativeStep) -> set[str]:
    return {arn for arn, _ in step.servers}


def _order_updates(diff: StepDiff, existing: Sequence[Mapping[str, Any]], kept: set[int]) -> None:
    """Order ``diff.update`` so no update adds a server another step still holds; an update that
    cannot go (servers traded in a cycle) becomes a delete now and a create after the updates."""
    holder = {arn: step["stepName"] for step in existing if id(step) in kept
              for arn in _arns(NativeStep.from_api(step))}
    pending, ordered = list(diff.update), []
    while pending:
        for i, (current, step) in enumerate(pending):
            have = _arns(NativeStep.from_api(current))
            if all(holder.get(arn) in (None, step.name) for arn in _arns(step) - have):
                break
        else:
            current, step = pending.pop(0)
            diff.delete.append(current)
            diff.create.append(step)
            for arn in _arns(NativeStep.from_api(current)):
                holder.pop(arn, None)
            continue
        pending.pop(i)
        ordered.append((current, step))
        for arn in have:
            holder.pop(arn, None)
        holder.update(dict.fromkeys(_arns(step), step.name))
    diff.update = ordered


def client_token(*parts: Any) -> str:
    """A deterministic idempotency token (64 hex characters, the model's maximum): the same write
    from the same state, retried after a lost answer, is the same request to DRS."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
