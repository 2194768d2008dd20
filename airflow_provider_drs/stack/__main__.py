"""``python -m airflow_provider_drs.stack``: run the production topology here, or print its compose file.

    python -m airflow_provider_drs.stack [run] [--dags DIR] [--time-scale X]   (make stack)
    python -m airflow_provider_drs.stack compose > docker-compose.yaml
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m airflow_provider_drs.stack", description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", default="run", choices=["run", "compose"])
    parser.add_argument("--dags", default=str(REPO / "dags"), help="dags folder (default: the repository's)")
    parser.add_argument("--root", help="directory for data, logs and AIRFLOW_HOME (default: a new temporary one)")
    parser.add_argument("--time-scale", type=float, default=1.0, help="drs-sim's pace (default 1)")
    parser.add_argument("--exit-when-healthy", action="store_true", help="start, report, stop (a smoke test)")
    args = parser.parse_args(argv)
    if args.command == "compose":
        from airflow_provider_drs.stack.compose import render

        sys.stdout.write(render())
        return 0
    from airflow_provider_drs.stack.native import NativeStack, stop_on_signals

    stack = NativeStack(args.dags, root=args.root, sim_time_scale=args.time_scale)
    stop_on_signals(stack)
    with stack:
        if args.exit_when_healthy:
            return 0
        print("Ctrl-C stops every process of the stack.", flush=True)
        while all(proc.poll() is None for proc in stack.processes.values()):
            time.sleep(1)
        dead = [name for name, proc in stack.processes.items() if proc.poll() is not None]
        print(f"stopping: {', '.join(dead)} exited; see {stack.root / 'logs'}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
