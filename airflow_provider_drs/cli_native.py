"""`drs-plan export-native` and `drs-plan import-native`: a plan as a DRS native recovery plan, and back.

export-native PLAN (--conn ID | --endpoint URL) [--name NATIVE_NAME] [--adopt] [--dry-run]
    Creates or updates the native plan (default name: the plan's name), writing only what differs;
    prints each write, or "up to date". What the native plan cannot express goes to stderr as
    WARNING lines. Exit 0: synced, up to date, or (--dry-run) the writes listed; 1: refused - the
    plan does not fit a native plan (FILE:LINE errors: over 20 steps, over 100 servers in a wave,
    a delay over 120 minutes, a server DRS does not know), or the native plan of that name was
    not made by drs-plan for this plan (see --adopt); 2: error (invalid plan file, AWS unreachable
    or refusing, a botocore without the recovery-plan API).
import-native NAME (--conn ID | --endpoint URL) [--region R]
    Prints plan YAML for the native plan NAME on stdout (warnings on stderr); exit 0, 1 when no
    native plan has that name, 2 on error.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
from typing import Any

from airflow_provider_drs.plans.model import REGION_PATTERN
from airflow_provider_drs.plans.native import NATIVE_NAME, native_description, native_to_plan_yaml, plan_to_native


def export_args(parser: argparse.ArgumentParser) -> None:
    from airflow_provider_drs.cli import _aws_args

    _aws_args(parser)
    parser.add_argument("--name", metavar="NATIVE_NAME", help="the native plan's name (default: the plan's name)")
    parser.add_argument("--adopt", action="store_true",
                        help="take over a native plan of that name that drs-plan did not make (its steps are replaced)")
    parser.add_argument("--dry-run", action="store_true", help="print the writes an export would make; make none")


def export_native(args: argparse.Namespace) -> int:
    from airflow_provider_drs.cli import _load_plan, _quiet_aws_logs

    plan = _load_plan(args)
    if plan is None:
        return 2
    if plan.is_native:
        print(f"drs-plan: error: plan {plan.name} ({plan.source_file}) has no waves to export: it runs the DRS native "
              f"recovery plan {plan.native_plan!r}, which is kept in DRS. Export a plan with waves.", file=sys.stderr)
        return 2
    name = args.name or plan.name
    if not NATIVE_NAME.match(name):
        print(f"drs-plan: error: {name!r} is not a native plan name (letters, digits, spaces, '_' and '-', "
              "starting with a letter or digit; at most 256)", file=sys.stderr)
        return 2
    _quiet_aws_logs()
    out: list[str] = []
    # stdout is the writes (or the FILE:LINE errors) alone: what Airflow or botocore log goes to stderr.
    with contextlib.redirect_stdout(sys.stderr):
        code = _export(args, plan, name, out)
    for line in out:
        print(line)
    return code


def _export(args: argparse.Namespace, plan: Any, name: str, out: list[str]) -> int:
    from airflow_provider_drs.cli import _aws_conn
    from airflow_provider_drs.cli_aws import aws_error, interactive
    from airflow_provider_drs.drs_api_support import DrsNativePlansUnsupported
    from airflow_provider_drs.exceptions import DrsForeignNativePlan
    from airflow_provider_drs.hooks.drs_recovery_plans import DrsRecoveryPlanHook

    try:
        hook = DrsRecoveryPlanHook(aws_conn_id=_aws_conn(args, plan), region_name=plan.region, config=interactive())
        servers = hook.source_servers()
        tag_servers = {group: [sid for sid, s in servers.items()
                               if all(s["tags"].get(k) == v for k, v in spec.tags.items())]
                       for group, spec in plan.protection_groups.items() if spec.is_tag_selected}
        export = plan_to_native(plan, {sid: s["arn"] for sid, s in servers.items()}, tag_servers)
        for warning in export.warnings:
            print(f"WARNING {warning}", file=sys.stderr)
        if export.errors:
            out.extend(str(error) for error in export.errors)
            print(f"drs-plan: plan {plan.name} does not fit a DRS native recovery plan ({len(export.errors)} "
                  "error(s)); nothing written", file=sys.stderr)
            return 1
        sync = hook.sync_plan(name, export.steps, plan_name=plan.name, plan_file=plan.source_file,
                              description=native_description(plan), adopt=args.adopt, dry_run=args.dry_run)
    except DrsForeignNativePlan as exc:
        print(f"drs-plan: refused: {exc}", file=sys.stderr)
        return 1
    except DrsNativePlansUnsupported as exc:
        print(f"drs-plan: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # botocore, connection and credential errors alike: say it, exit 2
        print(f"drs-plan: error: exporting plan {plan.name} to the native plan {name!r} failed: {aws_error(exc)}",
              file=sys.stderr)
        return 2
    prefix = "would " if args.dry_run else ""
    out.extend(f"{prefix}{write}" for write in sync.writes)
    if not sync.writes:
        out.append(f"native plan {name} is up to date with plan {plan.name} ({len(export.steps)} steps)")
    elif not args.dry_run:
        out.append(f"native plan {name} ({sync.plan_arn}): {len(sync.writes)} write(s), {len(export.steps)} steps")
    return 0


def import_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="the native recovery plan's name")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--conn", metavar="ID", default=None,
                       help="the Airflow AWS connection (default: aws_default)")
    where.add_argument("--endpoint", metavar="URL", help="an AWS endpoint, e.g. drs-sim's")
    parser.add_argument("--region", metavar="R", help="the region of the native plan (default: the connection's)")


def import_native(args: argparse.Namespace) -> int:
    from airflow_provider_drs.cli import _quiet_aws_logs
    from airflow_provider_drs.cli_aws import aws_error

    if args.region and not re.match(REGION_PATTERN, args.region):
        print(f"drs-plan: error: {args.region!r} is not an AWS region", file=sys.stderr)
        return 2
    _quiet_aws_logs()
    if args.endpoint:
        os.environ["AWS_ENDPOINT_URL"] = args.endpoint
    try:
        # stdout is the YAML alone: whatever Airflow or botocore log meanwhile goes to stderr.
        with contextlib.redirect_stdout(sys.stderr):
            text, warnings = _import(args)
    except Exception as exc:  # botocore, connection and credential errors, a too-old botocore alike
        print(f"drs-plan: error: importing the native plan {args.name!r} failed: {aws_error(exc)}", file=sys.stderr)
        return 2
    if text is None:
        return 1
    for warning in warnings:
        print(f"WARNING {warning}", file=sys.stderr)
    print(text, end="")
    return 0


def _import(args: argparse.Namespace) -> tuple[str | None, list[str]]:
    from airflow_provider_drs.cli_aws import interactive, require_connection
    from airflow_provider_drs.hooks.drs_recovery_plans import DrsRecoveryPlanHook

    hook = DrsRecoveryPlanHook(aws_conn_id=None if args.endpoint else require_connection(args.conn or "aws_default"),
                               region_name=args.region, config=interactive())
    summary = hook.find_plan(args.name)
    if summary is None:
        print(f"drs-plan: no native recovery plan named {args.name!r} in {_region(hook, args)}", file=sys.stderr)
        return None, []
    native = hook.get_plan(summary["recoveryPlanArn"])
    steps = hook.plan_steps(summary["recoveryPlanArn"])
    hostnames = {sid: s["hostname"] for sid, s in hook.source_servers().items() if s["hostname"]}
    return native_to_plan_yaml(native, steps, _region(hook, args), hostnames)


def _region(hook: Any, args: argparse.Namespace) -> str:
    return args.region or hook.conn.meta.region_name
