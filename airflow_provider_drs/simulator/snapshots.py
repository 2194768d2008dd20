"""Point-in-time recovery snapshots: DescribeRecoverySnapshots and the snapshot StartRecovery uses.

DRS keeps point-in-time (PIT) snapshots of every replicating server by its default PIT policy:
one every 10 minutes for the last hour, one every hour for the last day, one every day for the
last 7 days. Here each server's history is derived from the wall clock, so it needs no state and
a snapshot keeps its id for as long as the policy keeps it:

- schedule slots are aligned on the clock (xx:00, xx:10, ...); a snapshot's ``expectedTimestamp``
  is its slot and its ``timestamp`` a few seconds later (taking it takes time);
- a server has snapshots only after its first replicated byte (``addedToServiceDateTime`` + 1 min;
  ``replication_started`` in the control API moves it), none while still INITIATING/INITIAL_SYNC,
  and none after its agent was last seen (a STALLED server's lag);
- ids are ``pit-`` + 17 alphanumerics, from a hash of the seed, server and slot.
"""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING

from . import errors, jobs
from .ids import iso, parse_iso

if TYPE_CHECKING:
    from .state import DrsState, RegionState, SourceServer

# DRS's default PIT policy: (interval, retention) in seconds.
PIT_POLICY = ((600, 3600), (3600, 86400), (86400, 7 * 86400))
FIRST_BYTE_SECONDS = 60  # as lifeCycle.firstByteDateTime: replication starts a minute after being added


def _digest(*parts: object) -> str:
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()


def snapshot_history(seed: int, server: SourceServer, now: float) -> list[dict]:
    """The server's snapshots that the PIT policy keeps at ``now``, oldest first (API form)."""
    from .state import duration_seconds

    spec = server.spec
    if spec.replication_state in jobs.NO_SNAPSHOT_YET:
        return []
    first = server.added + FIRST_BYTE_SECONDS
    last = now - duration_seconds(spec.lag)  # nothing replicated since the agent was last seen
    slots: set[int] = set()
    for interval, retention in PIT_POLICY:
        slot = int(now // interval) * interval
        while slot > now - retention:
            slots.add(slot)
            slot -= interval
    items = []
    for slot in sorted(slots):
        digest = _digest(seed, spec.id, slot)
        taken = slot + 2 + int(digest[:2], 16) % 20  # 2-21 s after the scheduled time
        if taken < first or taken > last:
            continue
        items.append({"snapshotID": "pit-" + digest[2:19], "sourceServerID": spec.id,
                      "expectedTimestamp": iso(slot), "timestamp": iso(taken),
                      "ebsSnapshots": ["snap-" + _digest("ebs", seed, spec.id, slot)[:17]]})
    return items


class SnapshotOperations:
    """The recovery snapshot operations of ``DrsState`` (a mixin sharing its lock and regions)."""

    def describe_recovery_snapshots(self: DrsState, region: str, body: dict) -> dict:
        from .state import paginate

        filters = body.get("filters") or {}
        try:
            since = parse_iso(filters["fromDateTime"]) if filters.get("fromDateTime") else None
            until = parse_iso(filters["toDateTime"]) if filters.get("toDateTime") else None
        except ValueError:
            raise errors.validation("fromDateTime/toDateTime must be ISO-8601 datetimes", "filters") from None
        with self.lock:
            state, now = self.region(region), time.time()
            server = state.servers.get(body["sourceServerID"])
            if server is None:  # the model lists no ResourceNotFoundException for this operation
                raise errors.validation(f"Source server {body['sourceServerID']} not found in {region}",
                                        "sourceServerID")
            items = [s for s in snapshot_history(self.seed, server, now)
                     if (since is None or parse_iso(s["timestamp"]) >= since)
                     and (until is None or parse_iso(s["timestamp"]) <= until)]
        if body.get("order") == "DESC":
            items.reverse()
        return paginate(items, body, "DescribeRecoverySnapshots")

    def requested_snapshots(self: DrsState, state: RegionState, requested: list[dict], now: float) -> dict[str, float]:
        """Server -> the time of the snapshot StartRecovery was asked to launch from. A snapshot that
        does not exist (any more), or is another server's, refuses the whole call, as DRS does."""
        chosen = {}
        for item in requested:
            snapshot_id = item.get("recoverySnapshotID")
            if not snapshot_id:
                continue
            server_id = item["sourceServerID"]
            history = {s["snapshotID"]: s for s in snapshot_history(self.seed, state.servers[server_id], now)}
            if snapshot_id not in history:
                raise errors.validation(
                    f"Recovery snapshot {snapshot_id} not found for source server {server_id}; list its "
                    "snapshots with DescribeRecoverySnapshots", "sourceServers")
            chosen[server_id] = parse_iso(history[snapshot_id]["timestamp"])
        return chosen

    def set_replication_start(self: DrsState, region: str, server_id: str, started: float) -> None:
        """The server was added to DRS at ``started``: it has no snapshot before its first byte."""
        with self.lock:
            server = self.region(region).servers.get(server_id)
            if server is None:
                raise ValueError(f"no source server {server_id} in {region}")
            server.added = started
