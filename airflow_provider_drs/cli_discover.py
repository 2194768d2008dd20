"""`drs-plan discover (--conn ID | --endpoint URL) [--region R] [--group-by-tag KEY] [--wave-tag KEY]
[--plans-dir DIR] [--name NAME]`: a first plan drafted from what DRS replicates, on stdout.

Reads only: DescribeSourceServers (every page, through DrsHook) and the plans folder (through the
plans package's catalogue, to mark servers other plans already recover). The drafting itself is
pure (plans/draft.py). Exit codes: 0 draft written, 2 error (AWS unreachable or refusing, no
servers, bad arguments), each as one line on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import sys
from pathlib import Path

from airflow_provider_drs.plans import load_catalogue
from airflow_provider_drs.plans.draft import Draft, draft_plan
from airflow_provider_drs.plans.model import NAME_PATTERN

DEFAULT_NAME = "discovered"


def discover_args(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--conn", metavar="ID", help="the Airflow AWS connection to read DRS with")
    where.add_argument("--endpoint", metavar="URL",
                       help="an AWS endpoint, e.g. drs-sim's (credentials from the default AWS chain)")
    parser.add_argument("--region", help="the DRS region (default: the connection's, else AWS_DEFAULT_REGION)")
    parser.add_argument("--group-by-tag", metavar="KEY",
                        help="one protection group per value of this source server tag (default: one per server)")
    parser.add_argument("--wave-tag", metavar="KEY",
                        help="one wave per value of this tag, in numeric or alphabetical order, each after the "
                             "previous (default: one wave)")
    parser.add_argument("--plans-dir", metavar="DIR",
                        help="plans to mark servers already recovered by (default: the folder the DAG factory "
                             "reads, else dags/plans)")
    parser.add_argument("--name", help=f"the plan name (default: {DEFAULT_NAME}, made unique in the plans folder)")


def discover(args: argparse.Namespace) -> int:
    from airflow_provider_drs.cli import UsageError, _quiet_aws_logs

    if args.name is not None and not re.match(NAME_PATTERN, args.name):
        raise UsageError(f"--name {args.name!r} is not a plan name: use letters, digits, '-' and '_' (max 100), "
                         "starting with a letter or digit")
    _quiet_aws_logs()
    plans_dir = _plans_dir(args.plans_dir)
    catalogue = load_catalogue(plans_dir) if plans_dir else None
    if catalogue is not None and catalogue.invalid_files:
        print(f"drs-plan discover: note: {len(catalogue.invalid_files)} invalid plan file(s) under {plans_dir} "
              "(`drs-plan validate` lists why): their servers are not marked", file=sys.stderr)
    existing = catalogue.plans.get(args.name) if catalogue is not None and args.name else None
    if existing is not None:
        print(f"drs-plan discover: note: plan {args.name} is already in {existing.source_file}: the draft would "
              "replace it (its servers are marked as in that plan)", file=sys.stderr)
    conn = None
    if args.endpoint:
        os.environ["AWS_ENDPOINT_URL"] = args.endpoint  # botocore's own setting: every client uses it
    else:
        conn = args.conn
    items, region = _read_servers(conn, args.region)
    if not items:
        raise UsageError(f"DRS has no source servers in {region}: nothing to draft a plan from "
                         "(check --region, and that replication agents are installed)")
    draft = Draft(name=args.name or _free_name(catalogue), region=region, aws_conn_id=args.conn or "aws_default",
                  group_by_tag=args.group_by_tag, wave_tag=args.wave_tag, plans_dir=plans_dir,
                  **(_marks(catalogue, items, plans_dir) if catalogue else {}))
    try:
        text = draft_plan(items, draft)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    sys.stdout.write(text)
    return 0


def _read_servers(conn: str | None, region: str | None) -> tuple[list[dict], str]:
    """Every source server (all pages) and the region read; UsageError (exit 2) on any AWS failure."""
    from airflow_provider_drs.cli import UsageError
    from airflow_provider_drs.cli_aws import aws_error

    try:
        # stdout is the draft (`discover > plan.yaml`): whatever the AWS stack logs goes to stderr
        # (Airflow 3.1's provider logs its connection fallback to stdout).
        with contextlib.redirect_stdout(sys.stderr):
            return _read(conn, region)
    except Exception as exc:  # botocore, connection, credential and region errors alike: one line, exit 2
        raise UsageError(f"reading DRS source servers failed: {aws_error(exc)}") from exc


def _read(conn: str | None, region: str | None) -> tuple[list[dict], str]:
    from airflow_provider_drs.cli_aws import interactive, require_connection
    from airflow_provider_drs.hooks.drs import DrsHook

    for name in ("airflow.providers.amazon", "airflow.providers_manager"):  # chatter, not news, at a terminal
        logging.getLogger(name).setLevel(logging.WARNING)
    hook = DrsHook(aws_conn_id=require_connection(conn), region_name=region, config=interactive())
    return hook.describe_source_servers(), hook.conn.meta.region_name


def _plans_dir(given: str | None) -> str | None:
    """--plans-dir (must exist), else the DAG factory's folder, else dags/plans; None if neither exists."""
    from airflow_provider_drs.cli import DEFAULT_PLANS_DIR, UsageError

    if given is not None:
        if not os.path.isdir(given):
            raise UsageError(f"no plans folder {given}")
        return given
    from airflow.providers.common.compat.sdk import conf

    from airflow_provider_drs.factory.loader import plans_folder

    dags_folder = conf.get("core", "dags_folder", fallback=None)
    # The factory's default is plans/ beside the dags file, i.e. in the dags folder.
    folder = plans_folder(os.path.join(dags_folder, "recovery_plans.py") if dags_folder else None)
    for candidate in (folder, Path(DEFAULT_PLANS_DIR)):
        if candidate.is_dir():
            return str(candidate)
    print(f"drs-plan discover: note: no plans folder ({folder} or {DEFAULT_PLANS_DIR}); servers in other plans "
          "are not marked (pass --plans-dir)", file=sys.stderr)
    return None


def _free_name(catalogue) -> str:
    """DEFAULT_NAME, or DEFAULT_NAME-2, ... so the draft does not clash with a plan of the folder."""
    taken = {n.replace("-", "_") for n in (catalogue.plans if catalogue else ())}
    name, n = DEFAULT_NAME, 1
    while name.replace("-", "_") in taken:
        n += 1
        name = f"{DEFAULT_NAME}-{n}"
    return name


def _marks(catalogue, items: list[dict], plans_dir: str) -> dict:
    """Per server, the valid plans that recover it (listed by id or selected by tags), and the servers
    a shared protection group owns (the draft leaves them out: a server belongs to one group)."""
    elsewhere: dict[str, list[str]] = {}
    for plan in catalogue.plans.values():
        where = f"plan {plan.name} ({os.path.relpath(plan.source_file, plans_dir)})"
        listed = set(plan.static_servers())
        selectors = [tags for wave in plan.waves for tags in wave.tag_selectors(plan).values()]
        for item in items:
            tags = item.get("tags") or {}
            if item["sourceServerID"] in listed or any(
                    all(tags.get(k) == v for k, v in selector.items()) for selector in selectors):
                elsewhere.setdefault(item["sourceServerID"], []).append(where)
    left_out = {server: f"shared protection group '{name}'" for name, group in catalogue.protection_groups.items()
                for server in group.servers}
    return {"elsewhere": elsewhere, "left_out": left_out, "reserved_groups": list(catalogue.protection_groups)}
