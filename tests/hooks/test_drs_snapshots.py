"""Point in time: parsing the run parameter and choosing each server's snapshot (pure), then the
same against the DRS simulator over real HTTP."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_drs.exceptions import DrsPointInTimeError
from airflow_provider_drs.hooks.drs import DrsHook
from airflow_provider_drs.hooks.drs_snapshots import (
    PointInTime, choose_snapshot, list_recovery_snapshots, parse_point_in_time, resolve_point_in_time,
    resolve_snapshots)

DB, APP = "s-3578f52ef3bdd58b4", "s-0e5a9c4b2f7d18e36"
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)


def snap(server, stamp, n):
    return {"snapshotID": f"pit-{n:0>17}", "sourceServerID": server, "expectedTimestamp": stamp[:-4] + "00Z",
            "timestamp": stamp}


HISTORY = {DB: [snap(DB, "2026-11-27T02:00:07Z", 1), snap(DB, "2026-11-27T03:00:09Z", 2),
                snap(DB, "2026-11-27T04:00:03Z", 3)],
           APP: [snap(APP, "2026-11-27T03:10:05Z", 4)]}


@pytest.mark.parametrize("value", [None, "", "latest", " Latest "])
def test_latest_is_no_snapshot(value):
    point = parse_point_in_time(value, NOW)
    assert point.is_latest and resolve_snapshots(point, [DB, APP], HISTORY) == {}


@pytest.mark.parametrize("value, at", [
    ("2026-11-27T03:00Z", datetime(2026, 11, 27, 3, 0, tzinfo=timezone.utc)),
    ("2026-11-27T03:00:00+01:00", datetime(2026, 11, 27, 2, 0, tzinfo=timezone.utc)),
    ("2026-11-27T03:00:09.5Z", datetime(2026, 11, 27, 3, 0, 9, 500000, tzinfo=timezone.utc))])
def test_iso_times(value, at):
    assert parse_point_in_time(value, NOW).at == at


@pytest.mark.parametrize("value, says", [
    ("yesterday", "neither 'latest', an ISO time nor a JSON object"),
    ("2026-11-27T03:00", "has no time zone; add Z for UTC (e.g. 2026-11-27T03:00Z)"),
    ("2026-12-01T00:00Z", "is in the future; to recover the latest data write latest"),
    ('{"s-3578f52ef3bdd58b4": "pit-1"}', "these entries are not: 's-3578f52ef3bdd58b4': 'pit-1'"),
    ('{"db": "pit-00000000000000001"}', "these entries are not: 'db'"),
    ('{"s-3578f52ef3bdd58b4": ', "not valid JSON"),
    ("{}", "an empty object"),
    (42, "is a int"),
])
def test_malformed_says_what_to_write(value, says):
    with pytest.raises(DrsPointInTimeError) as caught:
        parse_point_in_time(value, NOW)
    assert says in str(caught.value)


def test_an_iso_time_chooses_the_newest_snapshot_taken_at_or_before_it():
    # 03:00:09 was scheduled at 03:00 but taken after 03:00:05: it holds later data, so not it.
    assert choose_snapshot(HISTORY[DB], datetime(2026, 11, 27, 3, 0, 5, tzinfo=timezone.utc))["snapshotID"] == \
        HISTORY[DB][0]["snapshotID"]
    assert choose_snapshot(HISTORY[DB], datetime(2026, 11, 27, 3, 0, 9, tzinfo=timezone.utc)) == HISTORY[DB][1]
    point = parse_point_in_time("2026-11-27T03:30Z", NOW)
    assert resolve_snapshots(point, [DB, APP], HISTORY) == {
        DB: {"snapshot_id": HISTORY[DB][1]["snapshotID"], "timestamp": "2026-11-27T03:00:09Z"},
        APP: {"snapshot_id": HISTORY[APP][0]["snapshotID"], "timestamp": "2026-11-27T03:10:05Z"}}


def test_an_iso_time_before_a_servers_first_snapshot_fails_naming_it():
    with pytest.raises(DrsPointInTimeError) as caught:
        resolve_snapshots(parse_point_in_time("2026-11-27T03:05Z", NOW), [DB, APP], {**HISTORY, "s-x": []})
    message = str(caught.value)
    assert f"{APP}: no snapshot at or before 2026-11-27T03:05:00Z (its oldest is 2026-11-27T03:10:05Z)" in message
    assert DB + ":" not in message
    with pytest.raises(DrsPointInTimeError, match=f"{DB}: no snapshot .* \\(it has no snapshot yet\\)"):
        resolve_snapshots(parse_point_in_time("2026-11-27T03:05Z", NOW), [DB], {DB: []})


def test_a_mapping_chooses_named_snapshots_and_checks_they_are_the_servers():
    point = parse_point_in_time(json.dumps({DB: HISTORY[DB][0]["snapshotID"]}), NOW)
    assert resolve_snapshots(point, [DB, APP], HISTORY) == {
        DB: {"snapshot_id": HISTORY[DB][0]["snapshotID"], "timestamp": "2026-11-27T02:00:07Z"}}  # APP: latest
    wrong = PointInTime(snapshot_ids={DB: HISTORY[APP][0]["snapshotID"], "s-3c1730a9e0771ea14": "pit-00000000000000009"})
    with pytest.raises(DrsPointInTimeError) as caught:
        resolve_snapshots(wrong, [DB, APP], HISTORY)
    assert f"{DB}: has no snapshot {HISTORY[APP][0]['snapshotID']}" in str(caught.value)
    assert "s-3c1730a9e0771ea14: not a server of this run" in str(caught.value)


# --- against the simulator ---------------------------------------------------------------------

@pytest.fixture
def hook(sim):
    return DrsHook(aws_conn_id="aws_sim", region_name="us-east-1")


def test_resolution_against_drs_and_a_recovery_from_the_chosen_snapshots(sim, hook):
    at = datetime.now(timezone.utc) - timedelta(hours=3, minutes=30)
    everything = list_recovery_snapshots(hook, DB)
    assert len(everything) > 20  # a day of history: hourly, and every 10 minutes in the last hour
    chosen = resolve_point_in_time(hook, PointInTime(at=at), [DB, APP])
    expected = choose_snapshot(everything, at)
    assert chosen[DB] == {"snapshot_id": expected["snapshotID"], "timestamp": expected["timestamp"]}
    assert at - timedelta(hours=1) < datetime.fromisoformat(chosen[APP]["timestamp"].replace("Z", "+00:00")) <= at
    job = hook.start_recovery([DB, APP], is_drill=True, snapshot_ids={s: c["snapshot_id"] for s, c in chosen.items()})
    assert {s["sourceServerID"] for s in job["participatingServers"]} == {DB, APP}


def test_resolution_names_a_server_whose_replication_started_after_the_time(sim, hook):
    at = datetime.now(timezone.utc) - timedelta(hours=2)
    started = (at + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    sim.control.replication_started(APP, started)
    with pytest.raises(DrsPointInTimeError) as caught:
        resolve_point_in_time(hook, PointInTime(at=at), [DB, APP])
    assert f"{APP}: no snapshot at or before" in str(caught.value) and f"{DB}:" not in str(caught.value)
