"""YAML with line numbers: safe_load-level safety, but every value keeps the line it came from.

We compose the document with the (C, when available) SafeLoader and build plain Python values by
walking the node tree ourselves. That gives us the marks that `yaml.safe_load` throws away, and
lets us refuse duplicate mapping keys, which PyYAML silently resolves to the last value.

A plan file is untrusted input read by the dag-processor on every parse. Composing keeps an alias
as a reference to its anchor's node, but building values copies the anchor at every reference, so
nested aliases ("billion laughs") grow exponentially. Three limits keep a hostile or mistaken file
to milliseconds and a few MB, each refused as a FILE:LINE error while other plans still load:
the file's size, the values built through aliases, and the values built in all. Merge keys
(``<<: *defaults``) are expanded here too, under the same limits (PyYAML's own merge is unbounded).
"""

from __future__ import annotations

from typing import Any, Sequence

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from airflow_provider_drs.plans.errors import ErrorCollector, PlanError

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # same safety, ~10x faster composing
_PLAIN_TAGS = ("tag:yaml.org,2002:seq", "tag:yaml.org,2002:map")
_MERGE_TAG = "tag:yaml.org,2002:merge"
_MAX_DEPTH = 64  # plans are shallow; this stops recursive aliases (&a [*a]) from looping
# A plan of 20 waves of 100 servers is about 60 KB and 3,000 values; these leave ample room.
MAX_FILE_BYTES = 1024 * 1024
MAX_NODES = 50_000
MAX_ALIAS_NODES = 10_000


class _LimitExceeded(Exception):
    """A limit was crossed while building; carries the location, message and hint."""

    def __init__(self, loc: tuple, message: str, hint: str):
        super().__init__(message)
        self.loc, self.message, self.hint = loc, message, hint


class _Budget:
    """Counts the values built, and those built through an alias (an anchor copied again)."""

    def __init__(self) -> None:
        self.nodes = 0
        self.alias_nodes = 0
        self.built: set[int] = set()  # ids of nodes built once: a second build is an alias copy

    def spend(self, loc: tuple, alias_site: tuple | None) -> None:
        """Count one value at ``loc``; ``alias_site`` is where the alias it was copied through is
        used (its container: composing keeps no line for an alias, only for its anchor)."""
        self.nodes += 1
        if alias_site is not None:
            self.alias_nodes += 1
            if self.alias_nodes > MAX_ALIAS_NODES:
                raise _LimitExceeded(alias_site, f"YAML aliases expand to more than {MAX_ALIAS_NODES:,} values "
                                          "(nested aliases, a 'billion laughs'?)",
                                     "write the values out, or use fewer levels of aliases")
        if self.nodes > MAX_NODES:
            raise _LimitExceeded(loc, f"more than {MAX_NODES:,} values in one plan file",
                                 "split the plan, or share protection groups in a kind: protection_groups file")


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
    """Parsed file: plain `data` plus `lines`; `errors` holds syntax and duplicate-key problems;
    `text` is the file as read (a run report keeps the plan exactly as it ran)."""

    def __init__(self, file: str, data: Any, lines: Lines, errors: list[PlanError], text: str | None = None):
        self.file, self.data, self.lines, self.errors, self.text = file, data, lines, errors, text


def too_large(size: int, file: str) -> PlanError | None:
    """The error for a plan file over MAX_FILE_BYTES (checked before it is read), or None."""
    if size <= MAX_FILE_BYTES:
        return None
    return PlanError(file, 1, "", f"file is {size:,} bytes, over the limit of {MAX_FILE_BYTES:,} bytes for a plan file",
                     "a plan is a few KB; split it, or move protection groups to a kind: protection_groups file")


def load_yaml(text: str, file: str) -> YamlDocument:
    lines = Lines()
    col = ErrorCollector(file, lines)
    size_error = too_large(len(text.encode("utf-8", "replace")), file)
    if size_error:
        return YamlDocument(file, None, lines, [size_error])
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = None if node is None else _build(node, (), lines, col, loader, 0, _Budget(), None)
    except _LimitExceeded as exc:
        col.add(exc.loc, exc.message, exc.hint)
        data = None
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
    return YamlDocument(file, data, lines, col.errors, text)


def _build(node, loc: tuple, lines: Lines, col: ErrorCollector, loader, depth: int, budget: _Budget,
           alias_site: tuple | None) -> Any:
    lines.set(loc, node.start_mark.line + 1, override=False)  # a key's own line wins over its value's
    if alias_site is None and id(node) in budget.built:
        alias_site = loc[:-1]  # this node was built before: we are copying it through an alias
    budget.built.add(id(node))
    budget.spend(loc, alias_site)
    if depth > _MAX_DEPTH:
        col.add(loc, "nesting too deep (recursive YAML alias?)", "remove the alias that refers to itself")
        return None
    if isinstance(node, ScalarNode):
        return loader.construct_object(node)  # SafeConstructor: plain types only, no python/* tags
    if node.tag not in _PLAIN_TAGS:
        col.add(loc, f"unsupported YAML tag {node.tag}", "plans hold plain mappings, lists and values only")
        return None
    if isinstance(node, SequenceNode):
        out_list = []
        for i, item in enumerate(node.value):
            lines.set(loc + (i,), item.start_mark.line + 1)
            out_list.append(_build(item, loc + (i,), lines, col, loader, depth + 1, budget, alias_site))
        return out_list
    if isinstance(node, MappingNode):
        return _build_mapping(node, loc, lines, col, loader, depth, budget, alias_site)
    col.add(loc, f"unsupported YAML node {type(node).__name__}")
    return None


def _build_mapping(node, loc, lines, col, loader, depth, budget, alias_site) -> dict:
    out: dict = {}
    merged: dict = {}  # from merge keys: explicit keys of this mapping win over them
    first_line: dict = {}
    for key_node, value_node in node.value:
        key_line = key_node.start_mark.line + 1
        if not isinstance(key_node, ScalarNode):
            col.add(loc, "a mapping key must be a plain value, not a list or mapping", line=key_line)
            continue
        if key_node.tag == _MERGE_TAG:
            for source in (value_node.value if isinstance(value_node, SequenceNode) else [value_node]):
                if not isinstance(source, MappingNode):
                    col.add(loc, "a merge key (<<) takes a mapping or a list of mappings", line=key_line)
                    continue
                site = alias_site if alias_site is not None else loc
                for key, value in _build_mapping(source, loc, lines, col, loader, depth + 1, budget, site).items():
                    merged.setdefault(key, value)  # the first mapping listed wins, as in YAML
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
        out[key] = _build(value_node, loc + (key,), lines, col, loader, depth + 1, budget, alias_site)
    return {**merged, **out}
