"""How economically DrsJobTrigger polls, and how soon it notices a job's completion.

Starts `drs-sim serve` in a subprocess (the triggerer and DRS are separate processes, as in life)
with a generated inventory of 200 servers whose launch takes about 30 s, then runs 1, 20 and 200
concurrent drill jobs, one DrsJobTrigger each, all in one event loop (one triggerer), with the
trigger's default intervals (min 2 s, max 30 s). Prints JSON:
- DescribeJobs and DescribeJobLogItems calls per minute for each concurrency (from /_sim/calls);
- detection latency: from the job's end (JOB_END, right after its last server LAUNCHED) to the
  trigger's event, median and p95 over every job.
Usage: python bench/bench_trigger_polling.py [--phases SNAPSHOT,CONVERSION,LAUNCH] [--counts 1,20,200]
"""

from __future__ import annotations

import os

os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")  # stdout is for the JSON only

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import boto3
import yaml

from airflow_provider_drs.simulator import SimulatorClient
from airflow_provider_drs.triggers.drs import DrsJobTrigger


def server_id(n: int) -> str:
    return f"s-{n:017x}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_simulator(servers: int, phases: list[float], workdir: Path) -> tuple[subprocess.Popen, str]:
    inventory = {
        "version": 1,
        "defaults": {"launch": dict(zip(("snapshot", "conversion", "launch"), phases)), "jitter": 0.1},
        "source_servers": [{"id": server_id(n), "hostname": f"BENCH-{n:04d}"} for n in range(servers)],
    }
    path = workdir / "inventory.yaml"
    path.write_text(yaml.safe_dump(inventory))
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_drs.simulator.cli", "serve", "--port", str(port),
         "--inventory", str(path), "--log-level", "warning"],
        stdout=subprocess.DEVNULL, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            SimulatorClient(url).health()
            return proc, url
        except Exception:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("drs-sim did not start")
            time.sleep(0.1)


def parse(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


async def run_jobs(count: int, url: str) -> dict:
    sim = SimulatorClient(url)
    sim.reset()
    drs = boto3.client("drs", endpoint_url=url, region_name="us-east-1")
    job_ids = [
        drs.start_recovery(sourceServers=[{"sourceServerID": server_id(n)}], isDrill=True)["job"]["jobID"]
        for n in range(count)
    ]
    before = sim.calls()
    started = time.monotonic()

    async def watch(job_id: str) -> tuple[dict, float]:
        async for event in DrsJobTrigger(job_ids=[job_id], aws_conn_id="aws_bench", region_name="us-east-1").run():
            return event.payload, time.time()

    outcomes = await asyncio.gather(*(watch(j) for j in job_ids))
    elapsed = time.monotonic() - started
    after = sim.calls()
    latencies = []
    for payload, received in outcomes:
        assert payload["status"] == "success", payload["message"]
        job = payload["jobs"][payload["job_ids"][0]]
        latencies.append(received - parse(job["end_date_time"]))

    def per_minute(op: str) -> float:
        return round((after.get(op, 0) - before.get(op, 0)) / elapsed * 60, 1)

    def calls(op: str) -> int:
        return after.get(op, 0) - before.get(op, 0)

    return {
        "jobs": count,
        "seconds": round(elapsed, 1),
        "describe_jobs_per_minute": per_minute("DescribeJobs"),
        "describe_jobs_calls": calls("DescribeJobs"),
        # one final log read per job is part of these; the rest spot the launch phase
        "describe_job_log_items_calls": calls("DescribeJobLogItems"),
        "describe_recovery_instances_calls": calls("DescribeRecoveryInstances"),
        "latencies": latencies,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--phases", default="3,20,7", help="snapshot,conversion,launch seconds")
    parser.add_argument("--counts", default="1,20,200")
    args = parser.parse_args()
    phases = [float(p) for p in args.phases.split(",")]
    counts = [int(c) for c in args.counts.split(",")]
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_simulator(max(counts), phases, Path(tmp))
        os.environ["AIRFLOW_CONN_AWS_BENCH"] = json.dumps(
            {"conn_type": "aws", "login": "testing", "password": "testing",
             "extra": {"endpoint_url": url, "region_name": "us-east-1"}})
        try:
            runs = [asyncio.run(run_jobs(count, url)) for count in counts]
        finally:
            os.killpg(proc.pid, 15)
            proc.wait(10)
    latencies = sorted(l for run in runs for l in run.pop("latencies"))
    print(json.dumps({
        "benchmark": "drs_job_trigger_polling",
        "job_phases_seconds": dict(zip(("snapshot", "conversion", "launch"), phases)),
        "trigger_intervals": {"min": 2.0, "max": 30.0},
        "runs": runs,
        "detection_latency_seconds": {
            "median": round(statistics.median(latencies), 2),
            "p95": round(latencies[int(0.95 * (len(latencies) - 1))], 2),
            "max": round(latencies[-1], 2),
            "samples": len(latencies),
        },
    }, indent=2))


if __name__ == "__main__":
    main()
