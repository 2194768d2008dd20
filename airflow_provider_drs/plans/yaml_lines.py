"""YAML with line numbers: safe_load-level safety, but every value keeps the line it came from.

We compose the document with the (C, when available) SafeLoader and build plain Python values by
walking the node tree ourselves. That gives us the marks that `yaml.safe_load` throws away, and
lets us refuse duplicate mapping keys, which PyYAML silently resolves to the last value.
"""

from __future__ import annotations

from typing import Any, Sequence

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from airflow_provider_drs.plans.errors import ErrorCollector, PlanError

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # same safety, ~10x faster composing
_PLAIN_TAGS = ("tag:yaml.org,2002:seq", "tag:yaml.org,2002:map")
_MAX_DEPTH = 64  # plans are shallow; this stops recursive aliases (&a [*a]) from looping


class Lines:
    """Field path (tuple of keys and list indexes) -> 1-based line of the key or list item."""

    def __init__(self) -> None:
        self._lines: dict[tuple, int] = {}

    def set(self, loc: tuple, line: int, override: bool = True) -> None:
        if override or loc not in self._lines:
            self._lines[loc] = line

    def line(self, loc: Sequence[object]) -> int:
        """Line of `loc`, or of its closest known parent (a missing key points at its mapping)."""
        loc = tuple(loc)
        while loc:
            found = self._lines.get(loc)
            if found is not None:
                return found
            loc = loc[:-1]
        return self._lines.get((), 1)


class YamlDocument:
    """Parsed file: plain `data` plus `lines`; `errors` holds syntax and duplicate-key problems."""

    def __init__(self, file: str, data: Any, lines: Lines, errors: list[PlanError]):
        self.file, self.data, self.lines, self.errors = file, data, lines, errors


def load_yaml(text: str, file: str) -> YamlDocument:
    lines = Lines()
    col = ErrorCollector(file, lines)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = None if node is None else _build(node, (), lines, col, loader, 0)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "not valid YAML"
        col.add((), f"YAML syntax error: {problem}", "check the indentation and quoting on this line and the one above",
                line=(mark.line + 1) if mark else 1)
        data = None
    except yaml.YAMLError as exc:
        col.add((), f"YAML error: {exc}", "make the file a single YAML document", line=1)
        data = None
    finally:
        loader.dispose()
    return YamlDocument(file, data, lines, col.errors)


def _build(node, loc: tuple, lines: Lines, col: ErrorCollector, loader, depth: int) -> Any:
    lines.set(loc, node.start_mark.line + 1, override=False)  # a key's own line wins over its value's
    if depth > _MAX_DEPTH:
        col.add(loc, "nesting too deep (recursive YAML alias?)", "remove the alias that refers to itself")
        return None
    if isinstance(node, ScalarNode):
        return loader.construct_object(node)  # SafeConstructor: plain types only, no python/* tags
    if not isinstance(node, ScalarNode) and node.tag not in _PLAIN_TAGS:
        col.add(loc, f"unsupported YAML tag {node.tag}", "plans hold plain mappings, lists and values only")
        return None
    if isinstance(node, SequenceNode):
        out_list = []
        for i, item in enumerate(node.value):
            lines.set(loc + (i,), item.start_mark.line + 1)
            out_list.append(_build(item, loc + (i,), lines, col, loader, depth + 1))
        return out_list
    if isinstance(node, MappingNode):
        loader.flatten_mapping(node)  # honour YAML merge keys (<<: *defaults)
        out: dict = {}
        first_line: dict = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if not isinstance(key_node, ScalarNode):
                col.add(loc, "a mapping key must be a plain value, not a list or mapping", line=key_line)
                continue
            key = loader.construct_object(key_node)
            try:
                hash(key)
            except TypeError:
                col.add(loc, f"unusable mapping key {key!r}", line=key_line)
                continue
            if key in first_line:
                col.add(loc + (key,), f"duplicate key '{key}' (first at line {first_line[key]})",
                        "YAML keeps only one of them; remove or rename the other", line=key_line)
                continue
            first_line[key] = key_line
            lines.set(loc + (key,), key_line)
            out[key] = _build(value_node, loc + (key,), lines, col, loader, depth + 1)
        return out
    col.add(loc, f"unsupported YAML node {type(node).__name__}")
    return None
