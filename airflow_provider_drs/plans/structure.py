"""Structural validation: pydantic, piece by piece, with its errors rewritten for plan authors.

A plan is validated in pieces (settings, each wave, each protection group) rather than in one go,
so a typo in one wave still lets the whole-plan rules (references, cycles, duplicates) run on every
other piece: the author sees all problems in one CI run instead of one layer per run.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from airflow_provider_drs.plans import model as m
from airflow_provider_drs.plans.errors import ErrorCollector, did_you_mean
from airflow_provider_drs.plans.launch import PATTERN_TEXT as _LAUNCH_PATTERN_TEXT, launch_problems

# Messages for well-known pattern mismatches (pydantic only says "should match pattern ...").
_PATTERN_TEXT = {
    m.SERVER_ID_PATTERN: ("malformed source server id {input!r}",
                          "DRS source server ids are 's-' and 17 letters or digits, e.g. s-3578f52ef3bdd58b4"),
    m.NAME_PATTERN: ("bad name {input!r}", "use letters, digits, '-' and '_' (max 100), starting with a letter or digit"),
    m.REGION_PATTERN: ("{input!r} is not an AWS region", "e.g. us-east-1"),
    **_LAUNCH_PATTERN_TEXT,
}
_MISSING_HINTS = {
    "version": "add 'version: 1' at the top of the file",
    "plan": "add 'plan: <name>'; the name gives the DAG ids",
    "region": "add 'region: us-east-1' (the region servers are recovered in)",
    "rto_minutes": "add 'rto_minutes: 60', the recovery time objective in minutes",
    "protection_groups": "list the protection groups this wave recovers, e.g. protection_groups: [database]",
    "name": "give it a name unique in the plan",
    "waves": "add 'waves:' with at least one wave, or 'native_plan: NAME' to run a DRS native recovery plan",
    "kind": "add 'kind: protection_groups'",
}
_MINUTES_EXAMPLES = {"rto_minutes": 60, "rpo_minutes": 15, "timeout_minutes": 15, "delay_minutes": 10}
# Keys that are wrong in a specific, explainable way.
_SPECIAL_KEYS = {
    ("recovery", "schedule"): ("a recovery can't be scheduled; only drills run on a schedule",
                               "move it to drill.schedule; a recovery is started by a person"),
    ("recovery", "cleanup"): ("recovery instances are never cleaned up automatically", "cleanup belongs under drill"),
}
_TYPE_WORDS = {
    "string_type": "a string", "int_type": "a whole number", "int_parsing": "a whole number",
    "int_from_float": "a whole number", "list_type": "a list", "dict_type": "a mapping",
    "model_type": "a mapping", "model_attributes_type": "a mapping", "bool_type": "true or false",
    "bool_parsing": "true or false",
}


def yaml_type(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    return {bool: "true/false", int: "a number", float: "a number", str: "a string",
            list: "a list", dict: "a mapping"}.get(type(value), type(value).__name__)


def validate(model: type[BaseModel], data: Any, prefix: tuple, col: ErrorCollector) -> BaseModel | None:
    """`model` validated from `data`, or None after adding every error (paths under `prefix`)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            loc = _clean_loc(err["loc"], data)
            message, hint = _describe(err, model, loc)
            col.add(prefix + loc, message, hint)
        return None


def _clean_loc(loc: tuple, data: Any) -> tuple:
    """Keep the parts of a pydantic loc that exist in the YAML (drops union/validator tags)."""
    out, cur = [], data
    for i, part in enumerate(loc):
        if isinstance(cur, dict) and part in cur:
            out.append(part)
            cur = cur[part]
        elif isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
            out.append(part)
            cur = cur[part]
        elif i == len(loc) - 1 and isinstance(cur, dict) and isinstance(part, str):
            out.append(part)  # a missing key
    return tuple(out)


def _describe(err: dict, model: type[BaseModel], loc: tuple) -> tuple[str, str | None]:
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    key = loc[-1] if loc else None
    if kind == "plan_rule":
        return ctx["message"], ctx.get("hint") or None
    if kind == "extra_forbidden":
        if tuple(loc[-2:]) in _SPECIAL_KEYS:
            return _SPECIAL_KEYS[tuple(loc[-2:])]
        return f"unknown key '{key}'", did_you_mean(key, keys_at(model, loc[:-1]), "known keys")
    if kind == "missing":
        return f"missing required key '{key}'", _MISSING_HINTS.get(key)
    if kind == "literal_error":
        expected = re.findall(r"'([^']*)'|(\d+)", ctx.get("expected", ""))
        choices = [a or b for a, b in expected]
        if loc[-2:] == ("recovery", "approval"):
            return (f"must be 'required', not {value!r}: a recovery can never run unapproved",
                    "remove the key or set 'approval: required'; drills need no approval")
        if key == "version":
            return f"unsupported version {value!r}", "this release reads 'version: 1'"
        close = difflib.get_close_matches(str(value), choices, n=1)
        return f"must be one of {', '.join(choices)}; got {value!r}", (f"did you mean '{close[0]}'?" if close else None)
    if kind == "string_pattern_mismatch":
        text = _PATTERN_TEXT.get(ctx.get("pattern"))
        if text:
            return text[0].format(input=value), text[1]
        return f"{value!r} does not match {ctx.get('pattern')}", None
    if kind == "greater_than" and key in _MINUTES_EXAMPLES:
        return f"{key} must be a positive number of minutes, got {value!r}", f"e.g. {key}: {_MINUTES_EXAMPLES[key]}"
    if kind in ("too_short",) and isinstance(value, (list, dict)):
        return f"'{key}' must not be empty", None
    if kind == "string_too_short":
        return f"'{key}' must not be empty", None
    if kind in _TYPE_WORDS:
        return f"expected {_TYPE_WORDS[kind]}, got {yaml_type(value)}", _type_hint(key)
    return err["msg"], None


def _type_hint(key: Any) -> str | None:
    if key in ("depends_on", "protection_groups", "optional", "servers", "pre", "post", "waves"):
        return f"'{key}' is a list, e.g. {key}: [a, b]"
    return None


def keys_at(model: type[BaseModel], loc: tuple) -> list[str]:
    """The keys the plan language allows at `loc` below `model` (for 'did you mean')."""
    t: Any = model
    for part in loc:
        t = _unwrap(t)
        if isinstance(t, type) and issubclass(t, BaseModel):
            field = next((f for n, f in t.model_fields.items() if (f.alias or n) == part), None)
            if field is None:
                return []
            t = field.annotation
        elif typing.get_origin(t) in (list, dict):
            t = typing.get_args(t)[-1]
        else:
            return []
    t = _unwrap(t)
    if isinstance(t, type) and issubclass(t, BaseModel):
        return [f.alias or n for n, f in t.model_fields.items() if not f.exclude]
    return []


def _unwrap(t: Any) -> Any:
    """Strip Optional/Annotated so the walk reaches the model or container type."""
    while True:
        origin = typing.get_origin(t)
        if origin is typing.Annotated:
            t = typing.get_args(t)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(t) if a is not type(None)]
            t = args[0]
        else:
            return t


class PlanParts:
    """A plan file split into separately validated pieces; a piece is None when it is invalid."""

    def __init__(self, raw: dict):
        self.raw = raw
        self.settings: m.PlanSettings | None = None
        self.waves: list[tuple[int, m.Wave | None, str | None]] = []  # (index, wave, raw name)
        self.groups: dict[str, m.ProtectionGroup | None] = {}


def split_plan(raw: dict, col: ErrorCollector) -> PlanParts:
    parts = PlanParts(raw)
    header = {k: v for k, v in raw.items() if k not in ("waves", "protection_groups")}
    parts.settings = validate(m.PlanSettings, header, (), col)
    groups_file = "plan" not in raw and "waves" not in raw and "protection_groups" in raw
    if groups_file:
        # A groups file without 'kind': say so instead of listing every missing plan key.
        col.errors = [e for e in col.errors if not e.message.startswith("missing required key")]
        col.add(("plan",), "missing required key 'plan'",
                "if this file only holds shared protection groups, add 'kind: protection_groups'")
    if "native_plan" in raw:
        _native_plan_only(raw, col)
        return parts
    parts.groups = split_groups(raw, col, required=False)
    waves = raw.get("waves")
    if "waves" not in raw:
        if not groups_file:
            col.add(("waves",), "missing required key 'waves'", _MISSING_HINTS["waves"])
    elif not isinstance(waves, list):
        col.add(("waves",), f"expected a list of waves, got {yaml_type(waves)}", "write each wave as '- name: ...'")
    elif not waves:
        col.add(("waves",), "a plan needs at least one wave", "add a wave with 'name' and 'protection_groups'")
    else:
        for i, item in enumerate(waves):
            name = item.get("name") if isinstance(item, dict) else None
            wave = validate(m.Wave, item, ("waves", i), col)
            parts.waves.append((i, wave, name if isinstance(name, str) else None))
    return parts


# Keys a native plan refuses: DRS's plan holds the servers and their order.
_NATIVE_REFUSED = {
    "waves": ("a plan has either waves or native_plan, not both",
              "remove native_plan to run these waves, or remove waves: the native plan's steps are the waves"),
    "protection_groups": ("protection_groups are not used with native_plan: the native plan's steps name its "
                          "servers", "remove protection_groups (edit the servers in the native plan's steps)"),
    "failback": ("a native plan has no failback DAG (its servers are only known at run time)",
                 "remove failback; fail back from the DRS console, or write the plan as waves"),
}
_NATIVE_REFUSED_DRILL = {
    "cleanup": ("a native plan's drill always cleans up", "remove drill.cleanup: DRS never terminates what a native "
                "plan launched, so the drill's instances are always terminated"),
}


def _native_plan_only(raw: dict, col: ErrorCollector) -> None:
    """A native plan's file: the wave-only keys are refused, each where it is written."""
    for key, (message, hint) in _NATIVE_REFUSED.items():
        if key in raw:
            col.add((key,), message, hint)
    drill = raw.get("drill")
    for key, (message, hint) in _NATIVE_REFUSED_DRILL.items():
        if isinstance(drill, dict) and key in drill and drill[key] != "always":
            col.add(("drill", key), message, hint)


def split_groups(raw: dict, col: ErrorCollector, required: bool) -> dict[str, m.ProtectionGroup | None]:
    groups: dict[str, m.ProtectionGroup | None] = {}
    value = raw.get("protection_groups")
    if value is None:
        if required:
            col.add(("protection_groups",), "missing required key 'protection_groups'", "add at least one group")
        return groups
    if not isinstance(value, dict):
        col.add(("protection_groups",), f"expected a mapping of group name to group, got {yaml_type(value)}",
                "write 'protection_groups: {database: {servers: [s-...]}}'")
        return groups
    if required and not value:
        col.add(("protection_groups",), "'protection_groups' must not be empty", "add at least one group")
    for name, body in value.items():
        if not isinstance(name, str) or not re.match(m.NAME_PATTERN, name):
            col.add(("protection_groups", name), *(_PATTERN_TEXT[m.NAME_PATTERN][0].format(input=name),
                                                   _PATTERN_TEXT[m.NAME_PATTERN][1]))
            continue
        groups[name] = group = validate(m.ProtectionGroup, body, ("protection_groups", name), col)
        if group is not None and group.launch is not None:
            reported = set()
            for path, message, hint in launch_problems(group.launch, group.servers, group.is_tag_selected):
                if path not in reported:  # a conflict shows once, not once per server and mode
                    reported.add(path)
                    col.add(("protection_groups", name, "launch") + path, message, hint)
    return groups


def check_group_file(raw: dict, col: ErrorCollector) -> dict[str, m.ProtectionGroup | None]:
    header = {k: v for k, v in raw.items() if k != "protection_groups"}
    validate(_GroupsHeader, header, (), col)
    return split_groups(raw, col, required=True)


class _GroupsHeader(m.ProtectionGroupsDocument):
    """The header of a groups file; its groups are validated one by one in split_groups."""

    protection_groups: dict = {}
