"""`make airflow`: Airflow standalone on this machine, with the DRS simulator as `aws_default`.

Click through the sample plans in the Grid view, trigger `drs_three_tier_recovery`, approve it under
Required Actions, and watch the waves. Ctrl-C stops Airflow and the simulator (each runs in its own
process group and is stopped as a group).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def wait_for(url: str, timeout: float, proc: subprocess.Popen) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return True
        except OSError:
            time.sleep(0.5)
    return False


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m airflow_provider_drs.standalone", description=__doc__.splitlines()[0])
    parser.add_argument("--home", default=str(REPO / ".demo" / "standalone"))
    parser.add_argument("--sim-port", type=int, default=4566)
    parser.add_argument("--time-scale", type=float, default=3.0, help="simulator durations x this")
    parser.add_argument("--exit-when-healthy", action="store_true", help="start, check health, stop (a smoke test)")
    args = parser.parse_args(argv)

    # Stop the children on Ctrl-C and on SIGTERM alike (SIGINT may arrive ignored when started in
    # the background): SystemExit unwinds into the finally below.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    bin_dir = Path(sys.executable).parent
    endpoint = f"http://127.0.0.1:{args.sim_port}"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",  # standalone runs `airflow` by name
        "AIRFLOW_HOME": args.home,
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps({
            "conn_type": "aws", "login": "testing", "password": "testing",
            "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"},
        }),
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
    }
    Path(args.home).mkdir(parents=True, exist_ok=True)
    sim = subprocess.Popen([str(bin_dir / "drs-sim"), "serve", "--port", str(args.sim_port), "--time-scale",
                            str(args.time_scale), "--log-level", "warning"], env=env, start_new_session=True)
    airflow = None
    try:
        if not wait_for(endpoint + "/_sim/health", 30, sim):
            print(f"drs-sim did not start on {endpoint}", file=sys.stderr)
            return 1
        print(f"drs-sim on {endpoint}; starting airflow standalone (AIRFLOW_HOME={args.home}) ...", flush=True)
        airflow = subprocess.Popen([str(bin_dir / "airflow"), "standalone"], env=env, start_new_session=True,
                                   stdout=subprocess.DEVNULL if args.exit_when_healthy else None)
        healthy = wait_for("http://localhost:8080/api/v2/monitor/health", 180, airflow)
        passwords = Path(args.home) / "simple_auth_manager_passwords.json.generated"
        print(f"Airflow {'is up' if healthy else 'did not become healthy'}: http://localhost:8080 "
              f"(users and passwords: {passwords})", flush=True)
        if args.exit_when_healthy:
            return 0 if healthy else 1
        airflow.wait()
        return airflow.returncode or 0
    except KeyboardInterrupt:
        return 0
    finally:
        if airflow is not None:
            stop(airflow)
        stop(sim)


if __name__ == "__main__":
    sys.exit(main())
