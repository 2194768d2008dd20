"""`make stack` leaves nothing running, however it ends: SIGTERM, or SIGKILL where no handler runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.waiting import wait_until

pytestmark = pytest.mark.timeout(300)
REPO = Path(__file__).resolve().parents[2]


def descendants(pid: int) -> set[int]:
    """Every process started, directly or not, by ``pid`` (its services are in their own sessions,
    so this follows parent links rather than process groups)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pids: set[int]) -> set[int]:
    living = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            living.add(pid)
    return living


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_make_stack_stops_every_process_it_started(tmp_path, how):
    owner = subprocess.Popen([sys.executable, "-m", "airflow_provider_drs.stack", "--root", str(tmp_path)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    try:
        for line in owner.stdout:
            if "Ctrl-C stops every process" in line:
                break
        else:
            pytest.fail(f"the stack did not come up (exit {owner.wait()})")
        started = descendants(owner.pid)
        assert len(started) >= 9  # postgres, redis, drs-sim, api-server, scheduler, dag-processor, worker, 2 triggerers
        os.kill(owner.pid, how)
        owner.wait(timeout=120)
        try:
            wait_until(lambda: not alive(started), timeout=90, interval=0.5)
        except AssertionError:
            raise AssertionError(f"still running after the owner got {how.name}: {sorted(alive(started))}") from None
    finally:
        if owner.poll() is None:
            owner.kill()
