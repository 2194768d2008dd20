"""Strict check of a raw JSON response body against a botocore output shape: types, required
members, unknown members, enums, lengths, ranges and every string pattern (whole-string match)."""

from __future__ import annotations

import re

# Members the real DRS sends that older botocore models lack: the oldest supported Airflow's
# aiobotocore holds botocore 1.40, whose DRS model predates them. Tolerated only where the model at
# hand lacks them; with a model that has them they are checked like any other member.
NEWER_THAN_OLDEST_BOTOCORE = {("SourceProperties", "architecture")}


def violations(shape, value, path="$") -> list[str]:
    kind, meta, out = shape.type_name, shape.metadata, []
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path}: expected object for {shape.name}, got {type(value).__name__}"]
        body_members = {n: m for n, m in shape.members.items() if not m.serialization.get("location")}
        for name in shape.required_members:
            if name in body_members and name not in value:
                out.append(f"{path}.{name}: required member missing")
        for name, item in value.items():
            if name not in body_members:
                if (shape.name, name) in NEWER_THAN_OLDEST_BOTOCORE:
                    continue
                out.append(f"{path}.{name}: not a member of {shape.name}")
            else:
                out += violations(body_members[name], item, f"{path}.{name}")
        if meta.get("union") and len(value) != 1:
            out.append(f"{path}: union {shape.name} must set exactly one member")
    elif kind == "list":
        if not isinstance(value, list):
            return [f"{path}: expected list, got {type(value).__name__}"]
        if not meta.get("min", 0) <= len(value) <= meta.get("max", 10**9):
            out.append(f"{path}: {len(value)} items outside [{meta.get('min', 0)}, {meta.get('max')}]")
        for i, item in enumerate(value):
            out += violations(shape.member, item, f"{path}[{i}]")
    elif kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: expected map, got {type(value).__name__}"]
        if not meta.get("min", 0) <= len(value) <= meta.get("max", 10**9):
            out.append(f"{path}: {len(value)} entries outside [{meta.get('min', 0)}, {meta.get('max')}]")
        for key, item in value.items():
            out += violations(shape.key, key, f"{path}<{key}>")
            out += violations(shape.value, item, f"{path}.{key}")
    elif kind == "string":
        if not isinstance(value, str):
            return [f"{path}: expected string, got {type(value).__name__}"]
        if not meta.get("min", 0) <= len(value) <= meta.get("max", 10**9):
            out.append(f"{path}: length {len(value)} outside [{meta.get('min', 0)}, {meta.get('max')}]")
        if shape.enum and value not in shape.enum:
            out.append(f"{path}: {value!r} not in enum {shape.name}")
        if "pattern" in meta and not re.fullmatch(meta["pattern"], value):
            out.append(f"{path}: {value!r} does not match {shape.name} pattern {meta['pattern']}")
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            return [f"{path}: expected integer, got {type(value).__name__}"]
        if not meta.get("min", -(2**63)) <= value <= meta.get("max", 2**63):
            out.append(f"{path}: {value} outside [{meta.get('min')}, {meta.get('max')}]")
    elif kind == "boolean":
        if not isinstance(value, bool):
            out.append(f"{path}: expected boolean, got {type(value).__name__}")
    elif kind == "timestamp":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            out.append(f"{path}: expected epoch-seconds number, got {value!r}")
    return out
