"""Point-in-time snapshots: DescribeRecoverySnapshots and StartRecovery from a named snapshot,
every response checked against botocore's model of DRS."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest
from botocore.exceptions import ClientError

from .conftest import APP, DB, wait_job_completed, wait_until
from .test_conformance import assert_conforms, raw  # noqa: F401  (fixture)


def _ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _pages(drs, **kwargs):
    items, token = [], None
    while True:
        page = drs.describe_recovery_snapshots(**kwargs, **({"nextToken": token} if token else {}))
        items += page["items"]
        token = page.get("nextToken")
        if not token:
            return items


def test_history_follows_the_default_pit_policy_and_conforms(drs, raw):  # noqa: F811
    now = time.time()
    items = _pages(drs, sourceServerID=DB, maxResults=7)
    assert len([n for n, *_ in raw if n == "DescribeRecoverySnapshots"]) >= 3  # it paginated
    assert_conforms(raw, "DescribeRecoverySnapshots")
    stamps = [_ts(s["timestamp"]) for s in items]
    assert stamps == sorted(stamps) and all(t <= now for t in stamps)
    assert {s["sourceServerID"] for s in items} == {DB}
    assert all(s["snapshotID"].startswith("pit-") and len(s["snapshotID"]) == 21 for s in items)
    assert all(0 < _ts(s["timestamp"]) - _ts(s["expectedTimestamp"]) < 30 for s in items)
    # Every 10 minutes in the last hour, then hourly (the default inventory replicates for a day).
    recent = [t for t in stamps if t > now - 3600]
    assert 5 <= len(recent) <= 7
    older = [t for t in stamps if t <= now - 3600]
    assert 20 <= len(older) <= 24 and all(_ts(s["expectedTimestamp"]) % 3600 == 0 for s in items
                                          if _ts(s["timestamp"]) <= now - 3600)
    # Stable ids: the same history on a second look; another server's ids differ.
    assert [s["snapshotID"] for s in _pages(drs, sourceServerID=DB)] == [s["snapshotID"] for s in items]
    assert not {s["snapshotID"] for s in items} & {s["snapshotID"] for s in _pages(drs, sourceServerID=APP)}


def test_filters_and_order(drs):
    items = _pages(drs, sourceServerID=DB)
    middle = items[len(items) // 2]
    until = drs.describe_recovery_snapshots(sourceServerID=DB, filters={"toDateTime": middle["timestamp"]},
                                            order="DESC")["items"]
    assert until[0] == middle and len(until) == len(items) // 2 + 1
    since = drs.describe_recovery_snapshots(sourceServerID=DB, filters={"fromDateTime": middle["timestamp"]})["items"]
    assert since[0] == middle and since[-1] == items[-1]


def test_replication_started_recently_has_no_older_snapshot(sim, drs):
    started = datetime.fromtimestamp(time.time() - 1800, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    sim.control.replication_started(APP, started)
    items = _pages(drs, sourceServerID=APP)
    assert 1 <= len(items) <= 3 and all(_ts(s["timestamp"]) >= _ts(started) + 60 for s in items)
    sim.control.set_replication(DB, "INITIAL_SYNC")
    assert drs.describe_recovery_snapshots(sourceServerID=DB)["items"] == []


def test_start_recovery_from_a_snapshot(drs, raw):  # noqa: F811
    snapshot = _pages(drs, sourceServerID=DB)[-3]
    job = drs.start_recovery(sourceServers=[{"sourceServerID": DB, "recoverySnapshotID": snapshot["snapshotID"]},
                                            {"sourceServerID": APP}], isDrill=True)["job"]
    wait_job_completed(drs, job["jobID"])
    logs = drs.describe_job_log_items(jobID=job["jobID"])["items"]
    events = {(i["eventData"].get("sourceServerID"), i["event"]) for i in logs}
    assert (DB, "USING_PREVIOUS_SNAPSHOT") in events and (DB, "SNAPSHOT_START") not in events
    assert (APP, "SNAPSHOT_START") in events and (APP, "USING_PREVIOUS_SNAPSHOT") not in events
    instances = wait_until(lambda: {i["sourceServerID"]: i for i in drs.describe_recovery_instances()["items"]}
                           if len(drs.describe_recovery_instances()["items"]) == 2 else None)
    assert _ts(instances[DB]["pointInTimeSnapshotDateTime"]) == pytest.approx(_ts(snapshot["timestamp"]), abs=1e-3)
    assert _ts(instances[APP]["pointInTimeSnapshotDateTime"]) > _ts(snapshot["timestamp"])
    assert_conforms(raw, "StartRecovery")
    assert_conforms(raw, "DescribeRecoveryInstances")


def test_start_recovery_refuses_an_unknown_or_another_servers_snapshot(drs):
    theirs = _pages(drs, sourceServerID=APP)[-1]["snapshotID"]
    for snapshot_id in ("pit-00000000000000000", theirs):
        with pytest.raises(ClientError) as caught:
            drs.start_recovery(sourceServers=[{"sourceServerID": DB, "recoverySnapshotID": snapshot_id}], isDrill=True)
        assert caught.value.response["Error"]["Code"] == "ValidationException"
        assert snapshot_id in str(caught.value) and DB in str(caught.value)
    assert drs.describe_jobs()["items"] == []  # nothing started
