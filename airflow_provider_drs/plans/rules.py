"""Whole-plan rules: names, references between waves and groups, servers, cycles, references.

They run on the pieces that passed structural validation (see structure.py) and skip the rest, so
one broken wave does not hide the problems of the others. Servers in tag-selected groups are only
known at run time: the per-job limit, "server in two waves" and `optional` checks see the servers
listed by id and leave tag-selected ones to the runtime.
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow_provider_drs.plans import model as m
from airflow_provider_drs.plans.errors import ErrorCollector, did_you_mean
from airflow_provider_drs.plans.graph import find_cycles
from airflow_provider_drs.plans.references import iter_strings, scan_references
from airflow_provider_drs.plans.structure import PlanParts


@dataclass(frozen=True)
class SharedGroup:
    """A protection group from a `kind: protection_groups` file; `group` is None if invalid."""

    name: str
    group: m.ProtectionGroup | None
    file: str
    line: int


@dataclass
class SharedGroups:
    groups: dict[str, SharedGroup]
    unreadable_files: list[str]  # files we could not even parse: their groups are unknown
    server_owner: dict[str, SharedGroup]  # server id -> the shared group that lists it


def check_plan(parts: PlanParts, shared: SharedGroups, col: ErrorCollector) -> dict[str, m.ProtectionGroup]:
    """Add every whole-plan problem to `col`; return the groups the plan uses (inline + shared)."""
    waves = [(i, w) for i, w, _ in parts.waves if w is not None]
    first_index = _wave_names(parts, col)
    _inline_vs_shared(parts, shared, col)
    used = _wave_groups(parts, waves, first_index, shared, col)
    deps = {w.name: [d for d in w.depends_on if d in first_index] for i, w in waves if first_index.get(w.name) == i}
    for cycle in find_cycles(list(deps), deps):
        i = first_index[cycle[0]]
        col.add(("waves", i, "depends_on"), f"dependency cycle: {' -> '.join(cycle)}",
                "'->' reads 'depends on'; remove one of these depends_on entries")
    wave_of_server = _servers(parts, waves, used, shared, col)
    _references(parts, first_index, deps, wave_of_server, col)
    return used


def _wave_names(parts: PlanParts, col: ErrorCollector) -> dict[str, int]:
    first: dict[str, int] = {}
    for i, _, name in parts.waves:
        if name is None:
            continue
        if name in first:
            col.add(("waves", i, "name"), f"duplicate wave name '{name}'",
                    f"wave names are unique in a plan; the first '{name}' is on line {col.line(('waves', first[name]))}")
        else:
            first[name] = i
    return first


def _inline_vs_shared(parts: PlanParts, shared: SharedGroups, col: ErrorCollector) -> None:
    for name in parts.groups:
        other = shared.groups.get(name)
        if other is not None:
            col.add(("protection_groups", name), f"protection group '{name}' is also defined in {other.file}:{other.line}",
                    "a wave could mean either; rename the inline group or use the shared one")


def _wave_groups(parts, waves, first_index, shared, col) -> dict[str, m.ProtectionGroup]:
    used: dict[str, m.ProtectionGroup] = {}
    taken: dict[str, tuple[str, int]] = {}  # group -> (wave, line) that recovers it
    known = list(parts.groups) + list(shared.groups)
    for i, wave in waves:
        for j, dep in enumerate(wave.depends_on):
            if dep not in first_index:
                col.add(("waves", i, "depends_on", j), f"unknown wave '{dep}'",
                        did_you_mean(dep, [n for n in first_index if n != wave.name], "known waves"))
            elif wave.depends_on.index(dep) != j:
                col.add(("waves", i, "depends_on", j), f"wave '{dep}' is listed twice", "remove one")
        if not wave.protection_groups:
            col.add(("waves", i, "protection_groups"), f"wave '{wave.name}' is empty: it recovers no protection group",
                    "add a protection group to it, or remove the wave")
        for j, name in enumerate(wave.protection_groups):
            loc = ("waves", i, "protection_groups", j)
            if wave.protection_groups.index(name) != j:
                col.add(loc, f"protection group '{name}' is listed twice in this wave", "remove one")
                continue
            group = _resolve_group(name, parts, shared, loc, known, col)
            if group is None:
                continue
            if name in taken and first_index.get(wave.name) == i:
                other, line = taken[name]
                col.add(loc, f"protection group '{name}' is already recovered by wave '{other}' (line {line}): "
                        "a server can be recovered by only one wave of a plan",
                        f"remove it from one of the two waves; if '{wave.name}' needs it running, add depends_on: [{other}]")
                continue
            taken[name] = (wave.name, col.line(loc))
            used[name] = group
    # Groups named by structurally invalid waves count as used: one error per mistake is enough.
    named = {g for i, w, _ in parts.waves if w is None for g in _raw_groups(parts.raw, i)}
    for name in parts.groups if parts.waves else ():
        if name not in taken and name not in named and parts.groups[name] is not None:
            col.add(("protection_groups", name), f"protection group '{name}' is not used by any wave",
                    "its servers would never be recovered; add it to a wave or remove it")
    return used


def _raw_groups(raw: dict, index: int) -> list:
    wave = raw["waves"][index]
    groups = wave.get("protection_groups") if isinstance(wave, dict) else None
    return [g for g in groups if isinstance(g, str)] if isinstance(groups, list) else []


def _resolve_group(name, parts, shared, loc, known, col) -> m.ProtectionGroup | None:
    if name in parts.groups:
        return parts.groups[name]  # None if invalid: its own errors are reported already
    if name in shared.groups:
        entry = shared.groups[name]
        if entry.group is None:
            col.add(loc, f"shared protection group '{name}' is invalid", f"fix it first in {entry.file}:{entry.line}")
        return entry.group
    hint = did_you_mean(name, known, "known groups")
    if shared.unreadable_files:
        hint += f"; note: {', '.join(shared.unreadable_files)} could not be read, it may define it"
    col.add(loc, f"unknown protection group '{name}'", hint)
    return None


def _servers(parts, waves, used, shared, col) -> dict[str, str]:
    """Server rules; returns server id -> wave name for the servers listed by id."""
    owner: dict[str, tuple[str, int]] = {}  # server -> (inline group, line)
    for name, group in parts.groups.items():
        if group is None:
            continue
        for k, server in enumerate(group.servers):
            loc = ("protection_groups", name, "servers", k)
            if server in shared.server_owner and shared.server_owner[server].name != name:
                other = shared.server_owner[server]
                col.add(loc, f"server {server} is already in shared protection group '{other.name}' ({other.file}:{other.line})",
                        f"a server belongs to one protection group; use '{other.name}' in the wave instead")
            elif server in owner:
                other_group, line = owner[server]
                where = "this group" if other_group == name else f"protection group '{other_group}'"
                col.add(loc, f"server {server} is already in {where} (line {line})",
                        "a server belongs to one protection group; remove one of the two entries")
            else:
                owner[server] = (name, col.line(loc))
    wave_of_server: dict[str, str] = {}
    wave_servers: dict[int, list[str]] = {}
    for i, wave in waves:
        servers = [s for g in wave.protection_groups if g in used for s in used[g].servers]
        wave_servers[i] = servers
        for s in servers:
            wave_of_server.setdefault(s, wave.name)
        unique = set(servers)
        if len(unique) > m.MAX_SERVERS_PER_JOB:
            col.add(("waves", i, "name"), f"wave '{wave.name}' has {len(unique)} servers, over the DRS limit of "
                    f"{m.MAX_SERVERS_PER_JOB} per recovery job", "split it into waves of at most 100 servers; "
                    "waves with no depends_on between them run in parallel")
    for i, wave in waves:
        tagged = [g for g in wave.protection_groups if g in used and used[g].is_tag_selected]
        for k, server in enumerate(wave.optional):
            loc = ("waves", i, "optional", k)
            if wave.optional.index(server) != k:
                col.add(loc, f"server {server} is listed twice", "remove one")
            elif server in wave_servers[i]:
                continue
            elif server in wave_of_server:
                col.add(loc, f"optional server {server} is recovered by wave '{wave_of_server[server]}', not '{wave.name}'",
                        f"move it to the 'optional' list of wave '{wave_of_server[server]}'")
            elif not tagged:
                col.add(loc, f"optional server {server} is not in wave '{wave.name}'",
                        f"list it in one of the wave's protection groups ({', '.join(wave.protection_groups) or 'none'})")
            # else: it may be selected by tags; the runtime checks it against the resolved servers
    return wave_of_server


def _references(parts, first_index, deps, wave_of_server, col) -> None:
    """Reference syntax everywhere; `{{ instance: }}` only where that instance exists already."""
    for loc, text in iter_strings(parts.raw):
        if "{{" not in text:
            continue
        refs, problems = scan_references(text)
        for problem in problems:
            col.add(loc, problem.message, problem.hint)
        # ready_when probes run after the wave's launch, like its post actions
        in_action = len(loc) > 3 and loc[0] == "waves" and loc[2] in ("pre", "post", "ready_when")
        if not in_action and loc[:2] != ("notifications", "sns_topic_arn"):
            if refs:
                col.add(loc, "references are only resolved in wave actions (pre, post), ready_when probes and notifications",
                        "write the value itself here")
            continue
        for ref in refs:
            if ref.kind != "instance":
                continue
            if not in_action:
                col.add(loc, f"{ref} can't be used here: notifications are not tied to a wave", "use it in a post action")
                continue
            wave = parts.raw["waves"][loc[1]].get("name")
            _instance_reference(ref, loc, wave, first_index, deps, wave_of_server, col)


def _instance_reference(ref, loc, wave, first_index, deps, wave_of_server, col) -> None:
    server, phase = ref.value, loc[2]
    owner = wave_of_server.get(server)
    if owner is None:
        col.add(loc, f"{ref}: server {server} is not recovered by this plan",
                "list it under 'servers' of a protection group in the plan (tag-selected servers are unknown until run time)")
        return
    if owner == wave:
        if phase == "pre":
            col.add(loc, f"{ref}: pre actions run before wave '{wave}' recovers {server}",
                    "move the action to 'post', or reference a server of an earlier wave")
        return
    if wave not in deps or owner not in _upstream(wave, deps):
        col.add(loc, f"{ref}: server {server} is recovered by wave '{owner}', which does not run before '{wave}'",
                f"add '{owner}' to depends_on of '{wave}' (directly or through another wave)")


def _upstream(wave: str, deps: dict[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    todo = list(deps.get(wave, ()))
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(deps.get(node, ()))
    return seen
