"""Point in time: which DRS recovery snapshot each server of a run is recovered from.

A run's ``point_in_time`` is ``latest`` (the default), an ISO time, or a mapping of source server
id -> recovery snapshot id. The pure functions below parse it and resolve it against the servers'
snapshot lists; ``resolve_point_in_time`` reads those lists through a DrsHook. The DRS facts behind the rules:

- StartRecovery without ``recoverySnapshotID`` takes a fresh (on-demand) snapshot and launches from
  the latest data, so ``latest`` resolves to no snapshot at all: the launch is exactly what it was
  before point in time existed;
- DescribeRecoverySnapshots lists one server's point-in-time snapshots (paginated; ``timestamp`` is
  when it was taken, ``expectedTimestamp`` when it was scheduled, which may be absent or differ);
  DRS keeps them by its PIT policy, by default every 10 min for an hour, hourly for a day and daily
  for 7 days, and none exist before replication first completed;
- "the state at time T" is the newest snapshot *taken* at or before T: a later one holds data
  written after T (the point of going back is usually to avoid it);
- a snapshot id belongs to one server: StartRecovery refuses another server's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from airflow_provider_drs.exceptions import DrsPointInTimeError
from airflow_provider_drs.hooks.drs import DrsHook, to_drs_datetime

LATEST = "latest"
SNAPSHOT_ID_PATTERN = r"^pit-[0-9a-zA-Z]{17}$"
FORMS = 'latest, an ISO time like 2026-11-27T03:00Z, or a JSON object {"s-...": "pit-..."}'


@dataclass(frozen=True)
class PointInTime:
    """A parsed ``point_in_time``: ``at`` (an aware UTC time) or ``snapshot_ids``, or neither (latest)."""

    at: datetime | None = None
    snapshot_ids: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_latest(self) -> bool:
        return self.at is None and not self.snapshot_ids

    def describe(self) -> str:
        if self.at is not None:
            return f"last snapshot at or before {_show(self.at)}"
        if self.snapshot_ids:
            return "snapshots " + ", ".join(f"{s}={p}" for s, p in sorted(self.snapshot_ids.items()))
        return LATEST


def parse_point_in_time(value: Any, now: datetime | None = None) -> PointInTime:
    """Parse a run's ``point_in_time`` (a string, or a mapping when a run's conf gives an object).

    :raises DrsPointInTimeError: saying what was wrong and what to write instead.
    """
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", LATEST)):
        return PointInTime()
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            value = json.loads(value)
        except ValueError as error:
            raise DrsPointInTimeError(f"point_in_time is not valid JSON ({error}); write {FORMS}") from None
    if isinstance(value, Mapping):
        if not value:
            raise DrsPointInTimeError(f"point_in_time is an empty object; write {FORMS}")
        bad = [f"{k!r}: {v!r}" for k, v in value.items()
               if not (isinstance(k, str) and re.match(r"^s-[0-9a-zA-Z]{17}$", k))
               or not (isinstance(v, str) and re.match(SNAPSHOT_ID_PATTERN, v))]
        if bad:
            raise DrsPointInTimeError(
                f"point_in_time maps source server ids (s- + 17 letters or digits) to recovery snapshot ids "
                f"(pit- + 17 letters or digits); these entries are not: {', '.join(bad)}. Snapshot ids are "
                "listed by: aws drs describe-recovery-snapshots --source-server-id s-...")
        return PointInTime(snapshot_ids=dict(value))
    if not isinstance(value, str):
        raise DrsPointInTimeError(f"point_in_time {value!r} is a {type(value).__name__}; write {FORMS}")
    text = value.strip()
    try:
        at = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        raise DrsPointInTimeError(f"point_in_time {value!r} is neither 'latest', an ISO time nor a JSON "
                                  f"object; write {FORMS}") from None
    if at.tzinfo is None:
        raise DrsPointInTimeError(f"point_in_time {value!r} has no time zone; add Z for UTC "
                                  f"(e.g. {text}Z) or an offset like +01:00")
    at = at.astimezone(timezone.utc)
    if at > (now or datetime.now(timezone.utc)):
        raise DrsPointInTimeError(f"point_in_time {value!r} is in the future; to recover the latest data "
                                  "write latest")
    return PointInTime(at=at)


def _show(at: datetime) -> str:
    """A UTC time as people write it: 2026-11-27T03:00:00Z (fractions only when there are some)."""
    return at.strftime("%Y-%m-%dT%H:%M:%S" + (".%f" if at.microsecond else "") + "Z")


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def choose_snapshot(snapshots: Iterable[Mapping[str, Any]], at: datetime) -> Mapping[str, Any] | None:
    """The newest snapshot taken at or before ``at`` (by ``timestamp``), or None."""
    taken = [s for s in snapshots if s.get("timestamp") and _time(s["timestamp"]) <= at]
    return max(taken, key=lambda s: _time(s["timestamp"]), default=None)


def resolve_snapshots(point: PointInTime, server_ids: Sequence[str],
                      snapshots: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, dict[str, str]]:
    """server id -> ``{"snapshot_id", "timestamp"}`` for the servers recovered from a chosen snapshot.

    ``latest`` chooses none (DRS takes a fresh snapshot). An ISO time chooses each server's newest
    snapshot at or before it. A mapping chooses the named snapshots; servers it does not name
    recover from the latest data.

    :param snapshots: server id -> its DescribeRecoverySnapshots items (all, or those up to ``at``).
    :raises DrsPointInTimeError: naming every server with no usable snapshot, and why.
    """
    chosen: dict[str, dict[str, str]] = {}
    problems: list[str] = []
    if point.at is not None:
        for server_id in server_ids:
            snapshot = choose_snapshot(snapshots.get(server_id, ()), point.at)
            if snapshot is None:
                first = min((s["timestamp"] for s in snapshots.get(server_id, ()) if s.get("timestamp")), default=None)
                problems.append(f"{server_id}: no snapshot at or before {_show(point.at)}"
                                + (f" (its oldest is {first})" if first else " (it has no snapshot yet)"))
            else:
                chosen[server_id] = {"snapshot_id": snapshot["snapshotID"], "timestamp": snapshot["timestamp"]}
    for server_id, snapshot_id in point.snapshot_ids.items():
        if server_id not in server_ids:
            problems.append(f"{server_id}: not a server of this run (its waves recover {', '.join(server_ids)})")
            continue
        found = next((s for s in snapshots.get(server_id, ()) if s["snapshotID"] == snapshot_id), None)
        if found is None:
            problems.append(f"{server_id}: has no snapshot {snapshot_id} (DRS keeps point-in-time snapshots "
                            "7 days by default)")
        else:
            chosen[server_id] = {"snapshot_id": snapshot_id, "timestamp": found.get("timestamp")
                                 or found.get("expectedTimestamp")}
    if problems:
        raise DrsPointInTimeError(
            f"No usable recovery snapshot for point_in_time = {point.describe()}:\n  - " + "\n  - ".join(problems)
            + "\nChoose a later time (or latest), or list a server's snapshots with "
              "aws drs describe-recovery-snapshots --source-server-id s-...")
    return {s: chosen[s] for s in server_ids if s in chosen}


def list_recovery_snapshots(hook: DrsHook, source_server_id: str,
                            until: datetime | None = None) -> list[dict[str, Any]]:
    """A server's recovery snapshots (every page), those taken up to ``until`` when given."""
    kwargs: dict[str, Any] = {"sourceServerID": source_server_id}
    if until is not None:
        kwargs["filters"] = {"toDateTime": to_drs_datetime(until)}
    return [item for page in hook.conn.get_paginator("describe_recovery_snapshots").paginate(**kwargs)
            for item in page.get("items", [])]


def resolve_point_in_time(hook: DrsHook, point: PointInTime, server_ids: Sequence[str]) -> dict[str, dict[str, str]]:
    """Resolve ``point`` for these servers, reading the snapshots of only the servers it needs
    (none for ``latest``); see ``resolve_snapshots``."""
    if point.is_latest:
        return {}
    needed = list(server_ids) if point.at is not None else [s for s in point.snapshot_ids if s in server_ids]
    snapshots = {s: list_recovery_snapshots(hook, s, point.at) for s in needed}
    for server_id in [s for s in needed if not snapshots[s]]:  # for the error: its oldest snapshot
        snapshots[server_id] = list_recovery_snapshots(hook, server_id)
    chosen = resolve_snapshots(point, list(server_ids), snapshots)
    for server_id, snapshot in chosen.items():
        hook.log.info("drs.point_in_time server=%s snapshot=%s taken=%s", server_id, snapshot["snapshot_id"],
                      snapshot["timestamp"])
    return chosen
