"""Simulator benchmark; prints JSON.

(a) wall time of a launch job of the three reference servers at time-scale 1 with the default
    durations, from StartRecovery to all LAUNCHED, polled with boto3 every 0.25 s;
(b) DescribeJobs requests per second served to one boto3 client (a few seconds, bounded).

Run: python bench/bench_simulator.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import time

from botocore.config import Config

from airflow_provider_drs.simulator import simulator

SERVERS = ["s-3578f52ef3bdd58b4", "s-0e5a9c4b2f7d18e36", "s-3c1730a9e0771ea14"]


def launch_wall_time(sim) -> dict:
    drs = sim.client("drs")
    started = time.monotonic()
    job = drs.start_recovery(sourceServers=[{"sourceServerID": s} for s in SERVERS], isDrill=True)["job"]
    polls = 0
    while time.monotonic() - started < 120:
        polls += 1
        current = drs.describe_jobs(filters={"jobIDs": [job["jobID"]]})["items"][0]
        if all(s["launchStatus"] == "LAUNCHED" for s in current["participatingServers"]):
            return {"seconds": round(time.monotonic() - started, 3), "polls": polls, "job_id": job["jobID"]}
        time.sleep(0.25)
    raise SystemExit("launch did not finish within 120 s")


def describe_jobs_rate(sim, seconds: float) -> dict:
    drs = sim.client("drs", config=Config(retries={"total_max_attempts": 1}))
    drs.describe_jobs()  # warm the connection pool
    count, started = 0, time.monotonic()
    while time.monotonic() - started < seconds:
        drs.describe_jobs()
        count += 1
    elapsed = time.monotonic() - started
    return {"requests": count, "seconds": round(elapsed, 3), "per_second": round(count / elapsed, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of the DescribeJobs run (max 30)")
    args = parser.parse_args()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "testing")
    with simulator(time_scale=1.0, seed=0) as sim:
        launch = launch_wall_time(sim)
        rate = describe_jobs_rate(sim, min(args.seconds, 30.0))
    print(json.dumps({"launch_three_servers_time_scale_1": launch, "describe_jobs_throughput": rate,
                      "cpu_count": os.cpu_count()}, indent=2))


if __name__ == "__main__":
    main()
