"""`drs-plan`: check, draw and describe recovery plans. Made to run in CI on every pull request.

Exit codes: 0 success, 1 invalid plans, 2 usage errors (bad arguments, missing paths).
Each subcommand is a (name, add_arguments, run) entry in COMMANDS; a new one (discover,
iam-policy, report, ...) is added by appending to that list, possibly from its own module.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
from typing import Any, Callable, NamedTuple

from airflow_provider_drs.cli_aws import aws_error, interactive, is_aws_error, require_connection
from airflow_provider_drs.plans import (
    Plan,
    PlanValidationError,
    load_catalogue,
    load_plan,
    mermaid,
    plan_json_schema,
    text_tree,
)
from airflow_provider_drs.reports.history import format_history, load_history, render_history_html
from airflow_provider_drs.reports.html import render_html
from airflow_provider_drs.reports.run_report import format_table
from airflow_provider_drs.reports.storage import LocalReportStore

DEFAULT_PLANS_DIR = os.path.join("dags", "plans")


class Command(NamedTuple):
    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


class UsageError(Exception):
    """Bad invocation (exit 2), as opposed to invalid plans (exit 1)."""


def _summary(plan) -> str:
    servers = len(plan.static_servers())
    tags = plan.tag_group_count()
    tag_text = f" ({tags} tag group{'s' if tags != 1 else ''})" if tags else ""
    return (f"ok {plan.name}: {len(plan.waves)} wave{'s' if len(plan.waves) != 1 else ''}, "
            f"{servers} server{'s' if servers != 1 else ''}{tag_text}, rto {plan.rto_minutes} min"
            f" -> {plan.dag_id('drill')}, {plan.dag_id('recovery')}")


def _validate_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="plan files, protection-group files or folders")
    parser.add_argument("--format", choices=("text", "github", "json"), default="text",
                        help="github: workflow annotations on the pull request; json: machine-readable")


def _validate(args: argparse.Namespace) -> int:
    try:
        catalogue = load_catalogue(args.paths)
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from exc
    if not catalogue.files:
        raise UsageError(f"no *.yaml or *.yml files under {', '.join(args.paths)}")
    if args.format == "json":
        print(json.dumps({
            "ok": catalogue.ok,
            "plans": {name: {"file": p.source_file, "waves": len(p.waves), "dag_ids": [p.dag_id("drill"), p.dag_id("recovery")]}
                      for name, p in catalogue.plans.items()},
            "errors": [e.__dict__ for e in catalogue.errors],
        }, indent=2))
        return 0 if catalogue.ok else 1
    for error in catalogue.errors:
        if args.format == "github":
            text = f"{error.path}: {error.message}" if error.path else error.message
            text += f" (hint: {error.hint})" if error.hint else ""
            print(f"::error file={error.file},line={error.line}::{text}")
        print(error)
    for plan in catalogue.plans.values():
        print(_summary(plan))
    if catalogue.errors:
        files = catalogue.invalid_files
        print(f"{len(catalogue.errors)} error(s) in {len(files)} file(s); plans in those files will not become DAGs",
              file=sys.stderr)
        return 1
    return 0


def _quiet_aws_logs() -> None:
    """A command's output is its table, not the AWS session chatter of the Amazon provider and
    botocore. Airflow reads this when it is first imported: call it before."""
    os.environ.setdefault("AIRFLOW__LOGGING__NAMESPACE_LEVELS", "airflow.providers.amazon=WARNING")
    logging.getLogger("botocore").setLevel(logging.WARNING)


def _plan_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("plan", metavar="PLAN", help="a plan file, or a plan name found under --plans")
    parser.add_argument("--plans", default=DEFAULT_PLANS_DIR, metavar="DIR",
                        help=f"folder with plans and shared protection groups (default: {DEFAULT_PLANS_DIR})")


def _load_plan(args: argparse.Namespace) -> Plan | None:
    """The plan named by PLAN (a file, or a name under --plans); None after printing its errors."""
    if os.path.isfile(args.plan):
        folder = os.path.dirname(args.plan) or "."
        try:
            return load_plan(args.plan, [folder])
        except PlanValidationError as exc:
            for error in exc.errors:
                print(error)
            return None
    if not os.path.isdir(args.plans):
        raise UsageError(f"{args.plan} is not a file, and there is no plans folder {args.plans}")
    catalogue = load_catalogue(args.plans)
    plan = catalogue.plans.get(args.plan)
    if plan is None:
        errors = [e for e in catalogue.errors if os.path.splitext(os.path.basename(e.file))[0] == args.plan]
        for error in errors:
            print(error)
        if errors:
            return None
        known = ", ".join(sorted(catalogue.plans)) or "none"
        raise UsageError(f"no valid plan named {args.plan!r} under {args.plans} (valid plans: {known})")
    return plan


def _graph_args(parser: argparse.ArgumentParser) -> None:
    _plan_args(parser)
    parser.add_argument("--format", choices=("mermaid", "text"), default="mermaid")
    parser.add_argument("--dag", choices=DAG_KINDS,
                        help="instead of the wave graph, the task graph of one of the plan's DAGs (Mermaid)")


DAG_KINDS = ("drill", "recovery", "failback", "cleanup")


def _graph(args: argparse.Namespace) -> int:
    plan = _load_plan(args)
    if plan is None:
        return 1
    if args.dag:
        from airflow_provider_drs.factory import build_dags
        from airflow_provider_drs.factory.task_graph import dag_mermaid

        print(dag_mermaid(dict(zip(DAG_KINDS, build_dags(plan)))[args.dag]), end="")
        return 0
    print(mermaid(plan) if args.format == "mermaid" else text_tree(plan), end="")
    return 0


def _aws_args(parser: argparse.ArgumentParser) -> None:
    """PLAN, and where its AWS calls go: --conn ID or --endpoint URL."""
    _plan_args(parser)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--conn", metavar="ID", help="the Airflow AWS connection (default: the plan's aws_conn_id)")
    where.add_argument("--endpoint", metavar="URL",
                       help="an AWS endpoint, e.g. drs-sim's (credentials from the default AWS chain)")


def _aws_conn(args: argparse.Namespace, plan: Any) -> str | None:
    """The connection id for --conn (or the plan's); None with --endpoint, which every boto client
    then uses through botocore's own AWS_ENDPOINT_URL."""
    if args.endpoint:
        os.environ["AWS_ENDPOINT_URL"] = args.endpoint
        return None
    return require_connection(args.conn or plan.aws_conn_id)


def _check_args(parser: argparse.ArgumentParser) -> None:
    _aws_args(parser)
    parser.add_argument("--mode", choices=("drill", "recovery"), default="drill",
                        help="judge as before a drill (default) or a real recovery (most checks only warn)")


def _check(args: argparse.Namespace) -> int:
    plan = _load_plan(args)
    if plan is None:
        return 1
    # Imported here: it loads Airflow and the Amazon provider, which `validate` in CI does not need.
    _quiet_aws_logs()
    from airflow_provider_drs.hooks.readiness import check_plan, stoppers

    readiness = check_plan(plan, _aws_conn(args, plan), config=interactive())
    problems, warnings = stoppers(readiness, args.mode, plan.drill.readiness_warnings)
    print(f"Readiness of plan {plan.name} in {plan.region} for a {args.mode}:\n")
    print(readiness.table())
    for finding in warnings:
        print(f"WARNING {finding.check}: {finding.message}")
    for finding in problems:
        print(f"PROBLEM {finding.check}: {finding.message}")
    if problems:
        print(f"\nNOT READY: {len(problems)} problem(s); a {args.mode} would stop in preflight.", file=sys.stderr)
        return 1
    print(f"\nready for a {args.mode}" + (f" ({len(warnings)} warning(s))" if warnings else ""))
    return 0


def _schema_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--indent", type=int, default=2)


def _schema(args: argparse.Namespace) -> int:
    print(json.dumps(plan_json_schema(), indent=args.indent, sort_keys=False))
    return 0


def _report_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("report", metavar="FILE.json", help="a run report, as the report task writes it")
    parser.add_argument("--html", metavar="OUT.html", help="also render the report page to this file")


def _report(args: argparse.Namespace) -> int:
    try:
        with open(args.report, encoding="utf-8") as handle:
            report = json.load(handle)
    except OSError as exc:
        raise UsageError(f"can't read {args.report}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise UsageError(f"{args.report} is not JSON ({exc}); pass the .json file the report task wrote") from exc
    missing = [k for k in ("plan", "mode", "outcome", "rto", "waves") if not isinstance(report, dict) or k not in report]
    if missing:
        raise UsageError(f"{args.report} is not a run report: no {', '.join(missing)}; pass the .json file the "
                         "report task wrote")
    print(format_table(report))
    if args.html:
        with open(args.html, "w", encoding="utf-8") as handle:
            handle.write(render_html(report))
        print(f"HTML report: {args.html}")
    return 0


def _history_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("plan", metavar="PLAN", help="the plan's name (its `plan:` key)")
    parser.add_argument("--reports", metavar="DIR|s3://BUCKET/PREFIX", default=None,
                        help="where the reports are (default: [drs] reports_location, else $AIRFLOW_HOME/drs_reports)")
    parser.add_argument("--conn", metavar="ID", default=None,
                        help="the Airflow AWS connection for an S3 location (default: [drs] reports_aws_conn_id)")
    parser.add_argument("--html", metavar="OUT.html", help="also write the history page, with the RTO trend")
    parser.add_argument("--overdue", metavar="DAYS", type=float,
                        help="exit 1 when the plan has had no successful drill in DAYS days (for cron or CI)")


def _history(args: argparse.Namespace) -> int:
    # Imported here: it loads Airflow and the Amazon provider, which `validate` in CI does not need.
    _quiet_aws_logs()
    from airflow_provider_drs.hooks.report_store import open_report_store

    store = open_report_store(args.reports, args.conn)
    folder = store.location
    if isinstance(store, LocalReportStore) and not os.path.isdir(folder):
        raise UsageError(f"no reports folder {folder}; pass --reports DIR or s3://BUCKET/PREFIX (where the report task writes)")
    history = load_history(store, args.plan)
    for line in history.skipped:
        print(f"skipped {line}", file=sys.stderr)
    if history.runs:
        print(format_history(history))
    else:
        known = f"; plans with reports there: {', '.join(history.other_plans)}" if history.other_plans else ""
        print(f"no reports of plan {args.plan} under {folder}{known}")
    if args.html:
        with open(args.html, "w", encoding="utf-8") as handle:
            handle.write(render_history_html(history))
        print(f"HTML history: {args.html}")
    if args.overdue is not None:
        why = history.overdue(args.overdue)
        if why:
            print(f"OVERDUE: {why}", file=sys.stderr)
            return 1
        print(f"not overdue: a successful drill within {args.overdue:g} days")
    return 0


def _events_setup_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--queue-name", default="drs-launch-results", help="SQS queue name (default drs-launch-results)")
    parser.add_argument("--rule-name", default="drs-launch-results", help="EventBridge rule name (default drs-launch-results)")
    parser.add_argument("--apply", action="store_true",
                        help="create (or update) the stack instead of printing the template")
    parser.add_argument("--stack-name", default="drs-launch-results", help="with --apply: the CloudFormation stack name")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--conn", metavar="ID", help="with --apply: the Airflow AWS connection (default aws_default)")
    where.add_argument("--endpoint", metavar="URL",
                       help="with --apply: an AWS endpoint, e.g. drs-sim's (credentials from the default AWS chain)")
    parser.add_argument("--region", help="with --apply: the region of the DRS servers (default: the connection's)")


def _events_setup(args: argparse.Namespace) -> int:
    _quiet_aws_logs()
    from airflow_provider_drs.hooks.drs_events import deploy_events_setup, events_setup_template

    template = events_setup_template(args.queue_name, args.rule_name)
    if not args.apply:
        print(json.dumps(template, indent=2))
        return 0
    conn = require_connection(args.conn or "aws_default")
    if args.endpoint:
        os.environ["AWS_ENDPOINT_URL"] = args.endpoint  # botocore's own setting: every client uses it
        conn = None
    try:
        status, outputs = deploy_events_setup(args.stack_name, template, conn, args.region)
    except Exception as exc:  # botocore's errors and waiter failures: say what failed and stop
        print(f"drs-plan events-setup: stack {args.stack_name} failed: {aws_error(exc)}", file=sys.stderr)
        return 1
    queue_url = outputs.get("QueueUrl", "")
    print(f"stack {args.stack_name}: {status}\nqueue: {queue_url}\n\nTell Airflow (every scheduler, dag-processor "
          f"and triggerer):\n  [drs]\n  events_queue_url = {queue_url}\nor AIRFLOW__DRS__EVENTS_QUEUE_URL={queue_url}, "
          "or a plan's events_queue.")
    return 0


def _lazy(module: str, function: str) -> Callable[[Any], Any]:
    """``function`` of the CLI module ``module``, imported on first call: each subcommand's imports
    (boto3, Airflow's providers) cost only the command that runs."""
    def call(argument: Any) -> Any:
        return getattr(importlib.import_module(f"airflow_provider_drs.{module}"), function)(argument)

    return call


COMMANDS: list[Command] = [
    Command("validate", "check plans; print every error as FILE:LINE: path: message", _validate_args, _validate),
    Command("graph", "print a plan's wave graph (Mermaid, or an indented tree)", _graph_args, _graph),
    Command("schema", "print the JSON Schema of plan files", _schema_args, _schema),
    Command("report", "print a run report's facts; --html renders its page again", _report_args, _report),
    Command("history", "a plan's past runs and RTO trend; --overdue DAYS for an overdue-drill check",
            _history_args, _history),
    Command("check", "is a plan ready to run? servers, replication, RPO, active jobs, documents, topic; exit 1 "
            "listing every problem", _check_args, _check),
    Command("diff", "launch settings in DRS that differ from the plan, and which are drift; changes nothing; "
            "exit 1 when something differs", _lazy("cli_diff", "diff_args"), _lazy("cli_diff", "diff")),
    Command("discover", "draft a plan from the source servers DRS replicates (YAML on stdout); reads only",
            _lazy("cli_discover", "discover_args"), _lazy("cli_discover", "discover")),
    Command("iam-policy", "the least-privilege IAM policy (JSON) the plan's AWS connection needs, per mode",
            _lazy("cli_iam", "iam_policy_args"), _lazy("cli_iam", "iam_policy")),
    Command("events-setup", "the EventBridge rule and SQS queue that let launch waits end on DRS's events "
            "(CloudFormation; --apply creates it)", _events_setup_args, _events_setup),
    Command("export-native", "create or update the DRS native recovery plan of a plan, writing only what differs; "
            "exit 1 when refused", _lazy("cli_native", "export_args"), _lazy("cli_native", "export_native")),
    Command("import-native", "print plan YAML for a DRS native recovery plan",
            _lazy("cli_native", "import_args"), _lazy("cli_native", "import_native")),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="drs-plan", description="Check, draw and describe DRS recovery plans.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        sub = subparsers.add_parser(command.name, help=command.help, description=command.help)
        command.add_arguments(sub)
        sub.set_defaults(run=command.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 on bad arguments
    try:
        return args.run(args)
    except UsageError as exc:
        print(f"drs-plan: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # an AWS call failed: one line and what to do, not a traceback
        if not is_aws_error(exc):
            raise
        print(f"drs-plan {args.command}: error: {aws_error(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
