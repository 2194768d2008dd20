"""Loading plan files and shared protection-group files as one catalogue.

Scope of "a server in two protection groups": shared groups are checked against each other
across the whole catalogue, and each plan's inline groups against themselves and the shared
ones. Inline groups of two different plans may list the same server (two plans for the same
servers are normal: a full-site plan and a single-app plan).

A broken shared group invalidates only the plans whose waves use that group; every other plan of
the catalogue still loads. If a shared file can't be parsed at all, plans that name a group we
can't find get an "unknown group" error that mentions the unreadable file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Iterable

from airflow_provider_drs.plans import model as m
from airflow_provider_drs.plans.errors import ErrorCollector, PlanError, PlanValidationError, did_you_mean, format_path
from airflow_provider_drs.plans.rules import SharedGroup, SharedGroups, check_plan
from airflow_provider_drs.plans.structure import check_group_file, split_plan, yaml_type
from airflow_provider_drs.plans.yaml_lines import YamlDocument, load_yaml, too_large

KINDS = ("plan", "protection_groups")
EXTENSIONS = (".yaml", ".yml")


@dataclass
class Catalogue:
    """Every valid plan of a set of files, and every error found in them."""

    plans: dict[str, m.Plan] = field(default_factory=dict)
    errors: list[PlanError] = field(default_factory=list)
    protection_groups: dict[str, m.ProtectionGroup] = field(default_factory=dict)  # valid shared groups
    files: list[str] = field(default_factory=list)

    def errors_by_file(self) -> dict[str, list[PlanError]]:
        out: dict[str, list[PlanError]] = {}
        for error in self.errors:
            out.setdefault(error.file, []).append(error)
        return out

    @property
    def invalid_files(self) -> list[str]:
        return sorted({e.file for e in self.errors})

    @property
    def ok(self) -> bool:
        return not self.errors


def find_files(paths: Iterable[str | os.PathLike]) -> list[str]:
    """YAML files named directly, plus every *.yaml/*.yml under folders (hidden ones skipped)."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    found: list[str] = []
    for path in map(os.fspath, paths):
        if os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found += [os.path.join(root, f) for f in sorted(files)
                          if f.endswith(EXTENSIONS) and not f.startswith(".")]
        elif os.path.isfile(path):
            found.append(path)
        else:
            raise FileNotFoundError(f"no such plan file or folder: {path}")
    return list(dict.fromkeys(found))


def _read(path: str) -> YamlDocument:
    try:
        size_error = too_large(os.stat(path).st_size, path)  # before reading: the file may be huge
        if size_error:
            return YamlDocument(path, None, None, [size_error])
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        return YamlDocument(path, None, None, [PlanError(path, 1, "", f"can't read file: {exc}")])
    doc = load_yaml(text, path)
    if not doc.errors and not isinstance(doc.data, dict):
        what = "empty" if doc.data is None else f"{yaml_type(doc.data)}, not a mapping"
        doc.errors.append(PlanError(path, 1, "", f"a plan file is a YAML mapping; this one is {what}",
                                    "start with 'version: 1' and 'plan: <name>'"))
    return doc


def _kind(doc: YamlDocument) -> str | None:
    """'plan' or 'protection_groups', or None after adding a version/kind error to the document."""
    col = ErrorCollector(doc.file, doc.lines)
    data = doc.data
    if "version" not in data:
        col.add(("version",), "missing required key 'version'", "add 'version: 1' at the top of the file")
    elif data["version"] != 1 or isinstance(data["version"], bool):
        col.add(("version",), f"unsupported version {data['version']!r}", "this release reads 'version: 1'")
    kind = data.get("kind", "plan")
    if kind not in KINDS:
        col.add(("kind",), f"unknown kind {kind!r}", did_you_mean(kind, KINDS, "kinds"))
    doc.errors += col.errors
    return None if col.errors else kind


def load_catalogue(paths: Iterable[str | os.PathLike] | str | os.PathLike) -> Catalogue:
    """Load plan and protection-group files (or folders of them); never raises for bad content."""
    files = find_files(paths)
    catalogue = Catalogue(files=files)
    docs = [_read(f) for f in files]
    kinds = {d.file: (_kind(d) if isinstance(d.data, dict) else None) for d in docs}
    for doc in docs:
        catalogue.errors += doc.errors
    shared, errors = _shared_groups([d for d in docs if kinds[d.file] == "protection_groups"],
                                    [d.file for d in docs if not isinstance(d.data, dict)])
    catalogue.errors += errors
    catalogue.protection_groups = {n: s.group for n, s in shared.groups.items() if s.group is not None}
    claimed: dict[str, tuple[str, str, int]] = {}  # dag id part -> (plan name, file, line)
    for doc in docs:
        if kinds[doc.file] != "plan":
            continue
        plan, errors = _check_plan_doc(doc, shared)
        errors += _claim_name(doc, claimed)
        catalogue.errors += errors
        if plan is not None and not errors and not doc.errors:
            catalogue.plans[plan.name] = plan
    catalogue.errors.sort(key=lambda e: (files.index(e.file) if e.file in files else -1, e.line))
    return catalogue


def _claim_name(doc: YamlDocument, claimed: dict) -> list[PlanError]:
    """Plan names (and the DAG ids made from them) are unique across the catalogue; first file wins."""
    name = doc.data.get("plan")
    if not isinstance(name, str):
        return []
    key = name.replace("-", "_")
    if key not in claimed:
        claimed[key] = (name, doc.file, doc.lines.line(("plan",)))
        return []
    other, file, line = claimed[key]
    message = (f"duplicate plan name '{name}', first in {file}:{line}" if other == name else
               f"plan '{name}' has the same DAG ids as plan '{other}' in {file}:{line}")
    return [PlanError(doc.file, doc.lines.line(("plan",)), "plan", message,
                      "plan names are unique across all plan files; rename one of them")]


def _shared_groups(docs: list[YamlDocument], unreadable: list[str]) -> tuple[SharedGroups, list[PlanError]]:
    shared = SharedGroups({}, unreadable, {})
    errors: list[PlanError] = []
    for doc in docs:
        col = ErrorCollector(doc.file, doc.lines)
        groups = check_group_file(doc.data, col)
        for name, group in groups.items():
            line = col.line(("protection_groups", name))
            prefix = format_path(("protection_groups", name))
            if any(e.path == prefix or e.path.startswith(prefix + ".") for e in doc.errors):
                group = None  # e.g. a duplicate YAML key inside it: we can't trust what we kept
            if name in shared.groups:
                first = shared.groups[name]
                col.add(("protection_groups", name), f"duplicate shared protection group '{name}', first in {first.file}:{first.line}",
                        "group names are unique across shared files; rename or remove one")
                continue
            for k, server in enumerate(group.servers if group else ()):
                other = shared.server_owner.get(server)
                if other is not None:
                    col.add(("protection_groups", name, "servers", k),
                            f"server {server} is already in shared protection group '{other.name}' ({other.file}:{other.line})",
                            "a server belongs to one protection group; remove it from one of them")
                    group = None  # ambiguous ownership: plans using this group must not load
            entry = SharedGroup(name, group, doc.file, line)
            shared.groups[name] = entry
            for server in group.servers if group else ():
                shared.server_owner[server] = entry
        errors += col.errors
    return shared, errors


def _check_plan_doc(doc: YamlDocument, shared: SharedGroups) -> tuple[m.Plan | None, list[PlanError]]:
    col = ErrorCollector(doc.file, doc.lines)
    parts = split_plan(doc.data, col)
    used = check_plan(parts, shared, col)
    if col.errors:
        return None, col.errors
    settings = parts.settings.model_dump(by_alias=True)
    plan = m.Plan.model_validate({**settings, "protection_groups": {**used, **{
        n: g for n, g in parts.groups.items() if g is not None}}, "waves": [w for _, w, _ in parts.waves],
        "source_file": doc.file, "source_text": doc.text})
    return plan, []


def load_plan(path: str | os.PathLike, catalogue_paths: Iterable[str | os.PathLike] | None = None) -> m.Plan:
    """One plan file, with shared groups from `catalogue_paths`; raises PlanValidationError.

    Other plan files found under `catalogue_paths` are ignored (only their groups files count).
    """
    path = os.fspath(path)
    others = [f for f in find_files(catalogue_paths or []) if os.path.abspath(f) != os.path.abspath(path)]
    docs = [_read(f) for f in others]
    group_docs = [d for d in docs if isinstance(d.data, dict) and _kind(d) == "protection_groups"]
    shared, shared_errors = _shared_groups(group_docs, [d.file for d in docs if not isinstance(d.data, dict)])
    shared_errors += [e for d in group_docs for e in d.errors]
    doc = _read(path)
    kind = _kind(doc) if isinstance(doc.data, dict) else None
    if kind == "protection_groups":
        raise PlanValidationError([PlanError(path, 1, "kind", "this is a protection groups file, not a plan",
                                             "pass a plan file; groups files go in catalogue_paths")], path)
    if kind is None:
        raise PlanValidationError(doc.errors, path)
    plan, errors = _check_plan_doc(doc, shared)
    if errors or doc.errors:
        raise PlanValidationError(sorted(doc.errors + errors, key=lambda e: e.line) + shared_errors, path)
    return plan
