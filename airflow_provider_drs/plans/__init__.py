"""The plan language: YAML recovery plans -> validated, frozen pydantic models. Pure Python.

No Airflow, boto3 or botocore here (a grep check enforces it): the DAG factory and the runtime
build on this API, and it is testable in milliseconds. The language itself is documented in
docs/plan-language.md. Stable public API:

Loading
    load_catalogue(paths) -> Catalogue
        `paths`: a file or folder, or a list of them (folders are walked for *.yaml / *.yml).
        Never raises for bad content (FileNotFoundError for a missing path).
        Catalogue.plans: dict[str, Plan]        only the valid plans, by plan name
        Catalogue.errors: list[PlanError]       every problem in every file, by file then line
        Catalogue.errors_by_file() -> dict[str, list[PlanError]]
        Catalogue.invalid_files: list[str]      files with at least one error
        Catalogue.protection_groups             valid shared groups (`kind: protection_groups`)
        Catalogue.files                         every file read
    load_plan(path, catalogue_paths=None) -> Plan
        raises PlanValidationError (.errors: list[PlanError]); shared groups come from
        `catalogue_paths` (other plan files there are ignored).

Errors
    PlanError(file, line, path, message, hint)   str() -> "FILE:LINE: path: message (hint: ...)"
    PlanValidationError(DrsProviderError)        .errors

Model (frozen pydantic v2)
    Plan: name (YAML key `plan`), description, region, aws_conn_id, rto_minutes, drill (schedule,
        cleanup), recovery (approval), notifications (sns_topic_arn), protection_groups (inline and
        shared groups used by the plan, merged), waves, source_file; dag_id("drill"|"recovery"),
        wave(name), static_servers(), tag_group_count().
    ProtectionGroup: servers, tags, is_tag_selected.
    Wave: name, depends_on, protection_groups, pre, post, optional, delay_minutes; static_servers(plan),
        tag_selectors(plan) -> {group: tags}, groups(plan).
    Action: .kind ("ssm_automation"|"ssm_command"|"approval") and .spec (SsmAutomation,
        SsmCommand or ApprovalAction).
    MAX_SERVERS_PER_JOB = 100

Graph
    WaveGraph(plan): .order, .parallel_sets, .critical_path (longest by number of waves, ties by
        static servers), .upstream(wave), .downstream(wave), .roots(); find_cycles(order, deps).

References
    parse_references(text) -> list[Reference(kind, value, span)] (raises ReferenceSyntaxError)
    Resolver (Protocol: resolve(reference) -> str), StaticResolver(mapping),
    render(text, resolver), render_value(obj, resolver), UnresolvedReference.

Native recovery plans (plans/native.py)
    plan_to_native(plan, source_arns, tag_servers) -> NativeExport(steps, warnings, errors)
    native_to_plan_yaml(native_plan, steps, region, hostnames) -> (yaml text, warnings)

Schema and diagrams
    plan_json_schema() -> dict;  mermaid(plan), text_tree(plan) -> str
"""

from airflow_provider_drs.plans.catalogue import Catalogue, find_files, load_catalogue, load_plan
from airflow_provider_drs.plans.diagram import mermaid, text_tree
from airflow_provider_drs.plans.errors import PlanError, PlanValidationError
from airflow_provider_drs.plans.graph import WaveGraph, find_cycles
from airflow_provider_drs.plans.model import (
    MAX_SERVERS_PER_JOB,
    Action,
    ApprovalAction,
    Drill,
    Failback,
    Notifications,
    Plan,
    ProtectionGroup,
    Recovery,
    SsmAutomation,
    SsmCommand,
    SsmTarget,
    Wave,
)
from airflow_provider_drs.plans.references import (
    Reference,
    ReferenceSyntaxError,
    Resolver,
    StaticResolver,
    UnresolvedReference,
    parse_references,
    render,
    render_value,
)
from airflow_provider_drs.plans.schema import plan_json_schema

__all__ = [
    "MAX_SERVERS_PER_JOB", "Action", "ApprovalAction", "Catalogue", "Drill", "Failback", "Notifications", "Plan",
    "PlanError", "PlanValidationError", "ProtectionGroup", "Recovery", "Reference", "ReferenceSyntaxError",
    "Resolver", "SsmAutomation", "SsmCommand", "SsmTarget", "StaticResolver", "UnresolvedReference", "Wave",
    "WaveGraph", "find_cycles", "find_files", "load_catalogue", "load_plan", "mermaid", "parse_references",
    "plan_json_schema", "render", "render_value", "text_tree",
]
