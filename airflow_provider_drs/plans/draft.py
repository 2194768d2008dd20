"""A first plan drafted from a DRS inventory: DescribeSourceServers items in, plan YAML text out.

Pure (no Airflow, no boto3): `drs-plan discover` (cli_discover.py) reads DRS through DrsHook and
the plans folder through the catalogue, then hands plain data to `draft_plan`. The text is written
by hand, not dumped, because the draft's value is in its comments (replication state, lag, other
plans); every name and scalar is checked to round-trip through YAML so the draft validates as is.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping, Sequence

import yaml

from airflow_provider_drs.plans.model import MAX_SERVERS_PER_JOB, NAME_PATTERN

READY_STATE = "CONTINUOUS"  # the only state `drs-plan check` (hooks/readiness.py) lets a drill start from
# Why a server is not ready, per DRS dataReplicationState (botocore's DataReplicationState enum).
NOT_READY_REASONS = {
    "STOPPED": "not replicating",
    "PAUSED": "replication paused",
    "STALLED": "replication stalled",
    "DISCONNECTED": "agent disconnected",
    "INITIATING": "replication starting: no recovery point yet",
    "INITIAL_SYNC": "initial sync not finished: no recovery point yet",
    "BACKLOG": "catching up on a backlog",
    "CREATING_SNAPSHOT": "creating a snapshot",
    "RESCAN": "rescanning disks",
}
UNTAGGED_GROUP = "untagged"
UNASSIGNED_WAVE = "unassigned"
ALL_WAVE = "all"
_NAME_MAX = 90  # NAME_PATTERN allows 100: room for a "-NN" suffix that makes a name unique


@dataclass(frozen=True)
class Server:
    """What a draft needs of one DescribeSourceServers item."""

    id: str
    hostname: str | None
    state: str | None
    lag: str | None
    last_launch: str | None
    tags: Mapping[str, str]
    direction: str | None = None  # FAILBACK: the reversed source of a cross-region failover

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> "Server":
        replication = item.get("dataReplicationInfo") or {}
        hints = (item.get("sourceProperties") or {}).get("identificationHints") or {}
        return cls(item["sourceServerID"], hints.get("hostname") or hints.get("fqdn"),
                   replication.get("dataReplicationState"), replication.get("lagDuration"),
                   item.get("lastLaunchResult"), dict(item.get("tags") or {}), item.get("replicationDirection"))

    @property
    def ready(self) -> bool:
        return self.state == READY_STATE

    def status(self) -> str:
        """Replication state, lag and last launch, as the comment beside the server id; a server
        that is not ready says so first, where an eye scanning the draft meets it."""
        details = f"lag {self.lag or '-'}, last launch {self.last_launch or '-'}"
        if self.direction == "FAILBACK":
            details += ", replicating in the FAILBACK direction (a failed-over server's way back)"
        host = self.hostname or "no hostname"
        if self.ready:
            return f"{host} | {self.state}, {details}"
        reason = NOT_READY_REASONS.get(self.state or "", "replication state unknown")
        return f"NOT READY: {self.state or 'no replication info'} ({reason}) | {host} | {details}"


@dataclass
class Group:
    name: str
    servers: list[Server]
    note: str = ""


@dataclass
class Wave:
    name: str
    groups: list[Group]
    depends_on: list[str] = field(default_factory=list)
    note: str = ""


def sanitise(text: str, fallback: str) -> str:
    """A name the plan language accepts (NAME_PATTERN), lower case, short enough for a suffix."""
    name = re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-_")[:_NAME_MAX].strip("-_")
    return name if re.match(NAME_PATTERN, name) else fallback


def unique(name: str, taken: set[str]) -> str:
    """`name`, or `name-2`, `name-3`, ... whichever is free; the result is added to `taken`."""
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}-{n}"
    taken.add(candidate)
    return candidate


def order_values(values: Sequence[str]) -> list[str]:
    """Tag values in wave order: numerically when every value is a number, else lexically."""
    try:
        return sorted(values, key=lambda v: (Decimal(v.strip()), v))
    except InvalidOperation:
        return sorted(values)


@dataclass
class Draft:
    """Inputs of a draft besides the servers."""

    name: str
    region: str
    aws_conn_id: str = "aws_default"
    group_by_tag: str | None = None
    wave_tag: str | None = None
    elsewhere: Mapping[str, Sequence[str]] = field(default_factory=dict)  # server -> ["plan X (x.yaml)", ...]
    left_out: Mapping[str, str] = field(default_factory=dict)  # server -> why it is not in the draft
    reserved_groups: Sequence[str] = ()  # names of shared groups: an inline group may not reuse them
    plans_dir: str | None = None


def build_waves(servers: Sequence[Server], draft: Draft) -> list[Wave]:
    """Waves of groups, every wave within the per-job limit, each after the previous tag value's."""
    by_wave: dict[str | None, list[Server]] = {}
    for server in servers:
        key = server.tags.get(draft.wave_tag) if draft.wave_tag else ALL_WAVE
        by_wave.setdefault(key, []).append(server)
    keys = order_values([k for k in by_wave if k is not None]) + ([None] if None in by_wave else [])
    wave_names: set[str] = set()
    group_names: set[str] = set(draft.reserved_groups)
    group_values_in = _group_values_per_wave(by_wave, draft)
    waves: list[Wave] = []
    previous: list[str] = []
    for key in keys:
        if draft.wave_tag:
            base = (f"wave-{sanitise(key, 'value')}" if key is not None else UNASSIGNED_WAVE)
            note = (f"tag {draft.wave_tag}={key}" if key is not None
                    else f"servers without a {draft.wave_tag} tag: last, review where they belong")
        else:
            base, note = ALL_WAVE, ""
        groups = _groups(by_wave[key], base, draft, group_values_in, group_names)
        parts = _split(groups)
        names = [unique(base if len(parts) == 1 else f"{base}-part-{i}", wave_names) for i in range(1, len(parts) + 1)]
        count = sum(len(g.servers) for g in groups)
        for name, part in zip(names, parts):
            part_note = note
            if len(parts) > 1:
                part_note = (f"{note}; " if note else "") + (
                    f"{count} servers, over DRS's {MAX_SERVERS_PER_JOB} per recovery job: split into "
                    f"{len(parts)} waves that run in parallel")
            waves.append(Wave(name, part, list(previous), part_note))
        previous = names
    return waves


def _group_values_per_wave(by_wave: Mapping[str | None, list[Server]], draft: Draft) -> dict[str, int]:
    """How many waves each group-tag value appears in (a value in two waves needs two groups)."""
    counts: dict[str, int] = {}
    if draft.group_by_tag:
        for servers in by_wave.values():
            for value in {s.tags.get(draft.group_by_tag, "") for s in servers}:
                counts[value] = counts.get(value, 0) + 1
    return counts


def _groups(servers: list[Server], wave: str, draft: Draft, values_in: Mapping[str, int],
            taken: set[str]) -> list[Group]:
    if not draft.group_by_tag:  # one group per server, named after its hostname
        return [Group(unique(sanitise(s.hostname or s.id, s.id), taken), [s], s.hostname or "no hostname")
                for s in servers]
    by_value: dict[str, list[Server]] = {}
    for server in servers:
        by_value.setdefault(server.tags.get(draft.group_by_tag, ""), []).append(server)
    groups = []
    for value in sorted(by_value, key=lambda v: (v == "", v)):
        base = sanitise(value, "group") if value else UNTAGGED_GROUP
        note = (f"tag {draft.group_by_tag}={value}" if value
                else f"servers without a {draft.group_by_tag} tag (one group to review, not one per server)")
        if values_in.get(value, 0) > 1:
            base = f"{base}-{wave}"  # the same value in two waves: one group per wave
            note += f", in wave {wave}"
        members = by_value[value]
        chunks = [members[i:i + MAX_SERVERS_PER_JOB] for i in range(0, len(members), MAX_SERVERS_PER_JOB)]
        for i, chunk in enumerate(chunks, 1):
            name = base if len(chunks) == 1 else f"{base}-{i}"
            chunk_note = note if len(chunks) == 1 else (
                f"{note} ({i} of {len(chunks)}: {len(members)} servers, over DRS's {MAX_SERVERS_PER_JOB} per job)")
            groups.append(Group(unique(name, taken), chunk, chunk_note))
    return groups


def _split(groups: list[Group]) -> list[list[Group]]:
    """Groups packed in order into parts of at most MAX_SERVERS_PER_JOB servers (one job each)."""
    parts: list[list[Group]] = [[]]
    size = 0
    for group in groups:
        if parts[-1] and size + len(group.servers) > MAX_SERVERS_PER_JOB:
            parts.append([])
            size = 0
        parts[-1].append(group)
        size += len(group.servers)
    return parts


def draft_plan(items: Sequence[Mapping[str, Any]], draft: Draft) -> str:
    """The plan draft (YAML text with comments) for these DescribeSourceServers items.

    Raises ValueError when no server is left to put in it."""
    servers = sorted((Server.from_api(i) for i in items), key=lambda s: ((s.hostname or "~").lower(), s.id))
    kept = [s for s in servers if s.id not in draft.left_out]
    if not kept:
        raise ValueError("no source server is left for a draft: " + (
            "every one is in a shared protection group already" if servers else "DRS has none"))
    waves = build_waves(kept, draft)
    lines = _header(servers, kept, waves, draft)
    lines += ["version: 1", f"plan: {_scalar(draft.name)}",
              f"description: {json.dumps(f'Drafted by drs-plan discover from {len(kept)} source servers in {draft.region}')}",
              f"region: {_scalar(draft.region)}", f"aws_conn_id: {_scalar(draft.aws_conn_id)}",
              "rto_minutes: 60                  # placeholder: set your recovery time objective",
              "protection_groups:"]
    for wave in waves:
        for group in wave.groups:
            lines.append(_commented(f"  {_scalar(group.name)}:", group.note))
            lines.append("    servers:")
            for server in group.servers:
                lines.append(_commented(f"      - {server.id}", _server_comment(server, draft)))
    lines.append("waves:")
    for wave in waves:
        lines.append(_commented(f"  - name: {_scalar(wave.name)}", wave.note))
        if wave.depends_on:
            lines.append(f"    depends_on: [{', '.join(map(_scalar, wave.depends_on))}]")
        lines.append(f"    protection_groups: [{', '.join(_scalar(g.name) for g in wave.groups)}]")
    return "\n".join(lines) + "\n"


def _header(servers: list[Server], kept: list[Server], waves: list[Wave], draft: Draft) -> list[str]:
    out = [f"# Plan draft: {len(servers)} DRS source servers in {draft.region} (DescribeSourceServers),",
           "# written by `drs-plan discover`. Review it, then commit it to the plans folder.",
           "# - rto_minutes is a placeholder: set your recovery time objective.",
           "# - Servers are listed by id; `{tags: {Key: value}}` instead would pick up new servers at run time."]
    if draft.group_by_tag:
        out.append(f"# - Protection groups: one per value of tag {_comment(draft.group_by_tag)}; servers without it "
                   f"are in '{UNTAGGED_GROUP}'.")
    else:
        out.append("# - Protection groups: one per server, named after its hostname (--group-by-tag KEY groups by a tag).")
    if draft.wave_tag:
        out.append(f"# - Waves: one per value of tag {_comment(draft.wave_tag)} (numeric order when every value is a "
                   "number, else alphabetical), each after the previous one; servers without it come last.")
    else:
        out.append("# - Waves: no --wave-tag, so no recovery order is known and none is invented: every group is in "
                   "one wave")
        out.append("#   (one DRS job). Order the recovery by moving groups into waves with depends_on.")
    if any(w.note and "split into" in w.note for w in waves) or any("per job" in g.note for w in waves for g in w.groups):
        out.append(f"# - DRS recovers at most {MAX_SERVERS_PER_JOB} servers per job: larger waves and groups are "
                   "split (see the comments below).")
    not_ready = [s for s in kept if not s.ready]
    if not_ready:
        out.append(f"# - {len(not_ready)} server(s) marked NOT READY below: `drs-plan check` stops a drill until "
                   f"they replicate ({READY_STATE}).")
    elsewhere = [s for s in kept if draft.elsewhere.get(s.id)]
    if elsewhere:
        where = f" under {draft.plans_dir}" if draft.plans_dir else ""
        out.append(f"# - {len(elsewhere)} server(s) are also in other plans{where} (marked 'also in plan' below).")
    left_out = [s for s in servers if s.id in draft.left_out]
    if left_out:
        out.append(f"# - Left out, already in a shared protection group (a server belongs to one group; add that "
                   f"group to a wave instead):")
        out += [f"#     {s.id}  {_comment(s.hostname or '')}: {_comment(draft.left_out[s.id])}" for s in left_out]
    return out + ["#"]


def _server_comment(server: Server, draft: Draft) -> str:
    text = server.status()
    if draft.elsewhere.get(server.id):
        text += f" | also in {', '.join(draft.elsewhere[server.id])}"
    return text


def _commented(text: str, comment: str) -> str:
    return f"{text.ljust(30)} # {_comment(comment)}" if comment else text


def _comment(text: str) -> str:
    """Text from DRS (hostnames, tags) made safe for one comment line."""
    return re.sub(r"[\x00-\x1f\x7f\u2028\u2029\x85]", "?", str(text))


def _scalar(text: str) -> str:
    """A plain YAML scalar when it reads back as this string (`1`, `yes`, `null` would not), else quoted."""
    try:
        if yaml.safe_load(text) == text and not text.startswith(("'", '"')) and "#" not in text:
            return text
    except yaml.YAMLError:
        pass
    return json.dumps(text)
