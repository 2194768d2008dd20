"""Request validation against the botocore model, as the real service does before acting.

The models are loaded once at import; each request costs one walk over its (small) input.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import botocore.session

_session = botocore.session.get_session()
MODELS = {name: _session.get_service_model(name) for name in ("drs", "ssm")}


@lru_cache(maxsize=None)
def _pattern(pattern: str) -> re.Pattern:
    return re.compile(pattern)


def input_shape(service: str, operation: str):
    return MODELS[service].operation_model(operation).input_shape


def problems(shape, value: Any, path: str = "") -> list[tuple[str, str]]:
    """(field path, message) for every way ``value`` breaks ``shape``; empty when valid."""
    out: list[tuple[str, str]] = []
    kind, meta = shape.type_name, shape.metadata
    where = path or shape.name
    if kind == "structure":
        if not isinstance(value, dict):
            return [(where, "must be an object")]
        for name in shape.required_members:
            if name not in value:
                out.append((f"{path}.{name}".lstrip("."), "is required"))
        for name, member_value in value.items():
            member = shape.members.get(name)
            if member is None:
                out.append((f"{path}.{name}".lstrip("."), "is not a member of " + shape.name))
            elif member.serialization.get("location") is None and member_value is not None:
                out += problems(member, member_value, f"{path}.{name}".lstrip("."))
    elif kind == "list":
        if not isinstance(value, list):
            return [(where, "must be a list")]
        if len(value) < meta.get("min", 0) or len(value) > meta.get("max", 1 << 31):
            out.append((where, f"must have between {meta.get('min', 0)} and {meta.get('max', 'any')} items"))
        for index, item in enumerate(value):
            out += problems(shape.member, item, f"{where}[{index}]")
    elif kind == "map":
        if not isinstance(value, dict):
            return [(where, "must be a map")]
        for key, item in value.items():
            out += problems(shape.key, key, f"{where}.{key}(key)")
            out += problems(shape.value, item, f"{where}.{key}")
    elif kind == "string":
        if not isinstance(value, str):
            return [(where, "must be a string")]
        if len(value) < meta.get("min", 0) or len(value) > meta.get("max", 1 << 31):
            out.append((where, f"length must be between {meta.get('min', 0)} and {meta.get('max', 'any')}"))
        if shape.enum and value not in shape.enum:
            out.append((where, f"must be one of {', '.join(shape.enum)}"))
        if "pattern" in meta and not _pattern(meta["pattern"]).fullmatch(value):
            out.append((where, f"must match pattern {meta['pattern']}"))
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            return [(where, "must be an integer")]
        if value < meta.get("min", -(1 << 63)) or value > meta.get("max", 1 << 63):
            out.append((where, f"must be between {meta.get('min')} and {meta.get('max', 'any')}"))
    elif kind == "boolean" and not isinstance(value, bool):
        out.append((where, "must be a boolean"))
    return out
