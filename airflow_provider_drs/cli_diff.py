"""`drs-plan diff PLAN (--endpoint URL | --conn ID) [--mode drill|recovery]`: the launch settings
that differ from the plan, per server, and whether each is drift. Changes nothing.

Exit codes (like diff(1)): 0 nothing differs, 1 something does, 2 error (invalid plan, AWS
unreachable or refusing, a listed server missing).
"""

from __future__ import annotations

import argparse
import sys

from airflow_provider_drs.plans.launch import desired_for, launch_spec


def diff_args(parser: argparse.ArgumentParser) -> None:
    from airflow_provider_drs.cli import _aws_args

    _aws_args(parser)
    parser.add_argument("--mode", choices=("drill", "recovery"), default="recovery",
                        help="compare with the recovery settings (default) or the drill's (with drill: overrides)")


def diff(args: argparse.Namespace) -> int:
    from airflow_provider_drs.cli import _aws_conn, _load_plan, _quiet_aws_logs
    from airflow_provider_drs.cli_aws import aws_error, interactive

    plan = _load_plan(args)
    if plan is None:
        return 2
    _quiet_aws_logs()
    from airflow_provider_drs.hooks.drs import DrsHook
    from airflow_provider_drs.hooks.drs_launch_settings import LaunchSettingsHook

    conn = _aws_conn(args, plan)
    spec = launch_spec(plan.protection_groups, args.mode)
    if not spec["servers"] and not spec["tag_groups"]:
        print(f"plan {plan.name} manages no launch settings")
        return 0
    try:
        inventory = {s["sourceServerID"]: s for s in
                     DrsHook(aws_conn_id=conn, region_name=plan.region, config=interactive()).describe_source_servers()}
        hook = LaunchSettingsHook(aws_conn_id=conn, region_name=plan.region, config=interactive())
        tagged = [sid for sid, s in inventory.items() if any(
            all((s.get("tags") or {}).get(k) == v for k, v in g["tags"].items()) for g in spec["tag_groups"])]
        differing = 0
        for server in dict.fromkeys([*spec["servers"], *tagged]):
            if server not in inventory:
                print(f"drs-plan: error: source server {server} of plan {plan.name} is not in DRS in {plan.region}",
                      file=sys.stderr)
                return 2
            desired = desired_for(spec, server, dict(inventory[server].get("tags") or {}))
            result = hook.read(server).compare(desired)
            for key, (current, wanted) in result["changed"].items():
                differing += 1
                drift = key in result["drift"]
                note = (f"  DRIFT: the plan applied {result['drift'][key][0]}, changed outside the plan since"
                        if drift else "")
                print(f"{server} {key}: {_show(current)} -> {_show(wanted)}{note}")
    except Exception as exc:  # botocore, connection and credential errors alike: say it, exit 2
        print(f"drs-plan: error: reading launch settings failed: {aws_error(exc)}", file=sys.stderr)
        return 2
    if differing:
        print(f"\n{differing} launch setting(s) differ from plan {plan.name} ({args.mode}); its next "
              f"{args.mode}'s preflight would apply them")
        return 1
    print(f"launch settings match plan {plan.name} ({args.mode})")
    return 0


def _show(value) -> str:
    if value is None:
        return "(unset)"
    return ",".join(value) if isinstance(value, list) else str(value).lower() if isinstance(value, bool) else str(value)
