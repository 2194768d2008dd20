"""`drs-plan iam-policy PLAN [--mode drill|recovery|all] [--account ID] [--region R]`: the
least-privilege IAM policy the plan's Airflow AWS connection needs, as JSON (plans/iam_policy.py).

Provider settings that add statements (S3 reports, CloudWatch metrics, the DRS events queue) come
from the options, else from Airflow's [drs] configuration when Airflow is importable.
IAM caps a managed policy at 6144 characters: --split prints a list of policies that each fit.
Exit codes: 0 printed, 1 invalid plan, 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import re

import sys

from airflow_provider_drs.plans.iam_policy import (
    MANAGED_POLICY_MAX_CHARS,
    POLICY_MODES,
    PolicyContext,
    build_policy,
    policy_size,
    split_policy,
)

ACCOUNT = re.compile(r"^\d{12}$")
UNSET = "-"  # an option given as '-' turns the configured setting off


def iam_policy_args(parser: argparse.ArgumentParser) -> None:
    from airflow_provider_drs.cli import _plan_args

    _plan_args(parser)
    parser.add_argument("--mode", choices=POLICY_MODES, default="all",
                        help="drill (drill and cleanup DAGs), recovery (recovery and failback DAGs), all (default)")
    parser.add_argument("--account", metavar="ID", help="12-digit account id for resource ARNs (default: *)")
    parser.add_argument("--region", metavar="R", help="region for resource ARNs (default: the plan's)")
    parser.add_argument("--reports", metavar="s3://BUCKET/PREFIX",
                        help="where run reports go (default: [drs] reports_location; '-' for none)")
    parser.add_argument("--metrics-namespace", metavar="NS",
                        help="CloudWatch namespace of run metrics (default: [drs] metrics_namespace; '-' for none)")
    parser.add_argument("--split", action="store_true",
                        help=f"print a JSON list of policies, each within IAM's {MANAGED_POLICY_MAX_CHARS}-character "
                             "managed-policy quota (attach them all)")
    parser.add_argument("--events-queue", metavar="URL",
                        help="SQS queue of DRS events (default: the plan's events_queue, else [drs] events_queue_url)")


def _setting(given: str | None, key: str, fallback: str | None) -> str | None:
    if given is not None:
        return None if given == UNSET else given
    try:
        from airflow.configuration import conf
    except Exception:  # Airflow not installed: the CLI also runs in a plain CI image
        return fallback
    return conf.get("drs", key, fallback=fallback) or None


def iam_policy(args: argparse.Namespace) -> int:
    from airflow_provider_drs.cli import UsageError, _load_plan

    if args.account and not ACCOUNT.match(args.account):
        raise UsageError(f"--account {args.account!r} is not a 12-digit AWS account id")
    plan = _load_plan(args)
    if plan is None:
        return 1
    from airflow_provider_drs.reports.metrics import DEFAULT_NAMESPACE

    context = PolicyContext(
        region=args.region or plan.region, account=args.account or "*",
        reports_location=_setting(args.reports, "reports_location", None),
        metrics_namespace=_setting(args.metrics_namespace, "metrics_namespace", DEFAULT_NAMESPACE),
        events_queue_url=_setting(args.events_queue, "events_queue_url", None))
    policy = build_policy(plan, args.mode, context)
    if args.split:
        print(json.dumps(split_policy(policy), indent=2))
        return 0
    print(json.dumps(policy, indent=2))
    size = policy_size(policy)
    if size > MANAGED_POLICY_MAX_CHARS:  # on stderr: stdout stays the policy, for redirection
        print(f"drs-plan iam-policy: note: {size} characters, over IAM's {MANAGED_POLICY_MAX_CHARS} for one managed "
              "policy (an inline role policy may hold 10240); --split prints it as several", file=sys.stderr)
    return 0
