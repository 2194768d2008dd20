"""``drs-sim``: serve the simulator or check an inventory file."""

from __future__ import annotations

import argparse
import os
import sys

from .inventory import InventoryError, load_inventory


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="drs-sim", description="Local AWS Elastic Disaster Recovery endpoint "
                                     "(DRS + SSM Automation, everything else via an embedded moto).")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the simulator over HTTP")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=4566, help="port to bind (default 4566)")
    serve.add_argument("--inventory", default=os.environ.get("DRS_SIM_INVENTORY") or None,
                       help="inventory YAML (default: env DRS_SIM_INVENTORY, else the built-in reference environment)")
    serve.add_argument("--time-scale", type=float, default=float(os.environ.get("DRS_SIM_TIME_SCALE") or 1.0),
                       metavar="X", help="multiply every simulated duration by X; X < 1 is faster (0.1 = ten times "
                       "faster; default: env DRS_SIM_TIME_SCALE, else 1)")
    serve.add_argument("--seed", type=int, default=0, help="seed for ids, jitter and injected faults")
    serve.add_argument("--event-delay", type=float, default=0.0, metavar="SECONDS",
                       help="deliver each DRS launch-result event to EventBridge this late (default 0)")
    serve.add_argument("--event-loss", type=float, default=0.0, metavar="RATE",
                       help="lose this share (0-1) of the launch-result events (default 0)")
    serve.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    serve.add_argument("--access-log", action="store_true",
                       help="log every AWS request: operation, region, status (refused, dropped) and duration")
    check = commands.add_parser("validate", help="check an inventory file and list its servers")
    check.add_argument("inventory")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        inventory = load_inventory(args.inventory)
    except InventoryError as exc:
        print(f"drs-sim: {exc}", file=sys.stderr)
        return 2
    if args.command == "validate":
        for server in inventory.source_servers:
            print(f"{server.id}  {server.hostname}  {server.replication_state}  {server.region or '(all regions)'}")
        return 0
    if args.time_scale <= 0:
        print("drs-sim: --time-scale must be > 0", file=sys.stderr)
        return 2
    from .server import serve
    from .simulation import Simulation

    print(f"drs-sim: {len(inventory.source_servers)} source servers, time scale {args.time_scale}, "
          f"seed {args.seed}, listening on http://{args.host}:{args.port}", flush=True)
    if args.event_delay < 0 or not 0 <= args.event_loss <= 1:
        print("drs-sim: --event-delay must be >= 0 and --event-loss within 0..1", file=sys.stderr)
        return 2
    simulation = Simulation(inventory, args.time_scale, args.seed)
    simulation.launch_events.configure(args.event_delay, args.event_loss)
    serve(simulation, args.host, args.port, args.log_level, args.access_log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
