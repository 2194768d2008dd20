"""The wave graph: execution order, parallel levels, critical path, cycles. Plain data, no Airflow.

Edges point from a wave to the waves it depends on (`depends_on`). Everything that needs an order
is stable in file order, so the same plan always renders the same DAG and the same diagram.
"""

from __future__ import annotations

import heapq
from graphlib import TopologicalSorter
from typing import Mapping, Sequence


def find_cycles(order: Sequence[str], deps: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Each dependency cycle once, as [a, b, ..., a] where each wave depends on the next.

    Tarjan's strongly connected components (iterative), then one walk inside each component, so
    a plan with two independent cycles gets two errors, each naming its whole cycle.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[set[str]] = []
    counter = 0
    for root in order:
        if root in index:
            continue
        work = [(root, iter(deps.get(root, ())))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in deps:
                    continue  # unknown wave: reported elsewhere
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(deps.get(child, ()))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        comp.add(member)
                        if member == node:
                            break
                    if len(comp) > 1 or node in deps.get(node, ()):
                        components.append(comp)
    position = {name: i for i, name in enumerate(order)}
    cycles = []
    for comp in sorted(components, key=lambda c: min(position.get(n, 0) for n in c)):
        start = min(comp, key=lambda n: position.get(n, 0))
        cycles.append(_walk_cycle(start, comp, deps, position))
    return cycles


def _walk_cycle(start: str, comp: set[str], deps: Mapping[str, Sequence[str]], position) -> list[str]:
    """A shortest cycle through `start` inside its component (BFS), in depends-on direction."""
    parents = {start: None}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in deps.get(node, ()):
            if child == start:
                path = [node]
                while parents[path[-1]] is not None:
                    path.append(parents[path[-1]])
                return list(reversed(path)) + [start]
            if child in comp and child not in parents:
                parents[child] = node
                queue.append(child)
    return [start, start]


class WaveGraph:
    """Order and structure of a plan's waves. Accepts a Plan, or names + deps via `from_edges`."""

    def __init__(self, plan=None, *, names: Sequence[str] | None = None,
                 deps: Mapping[str, Sequence[str]] | None = None, weights: Mapping[str, int] | None = None):
        if plan is not None:
            names = [w.name for w in plan.waves]
            deps = {w.name: list(w.depends_on) for w in plan.waves}
            weights = {w.name: len(w.static_servers(plan)) for w in plan.waves}
        self.names = list(names or [])
        self.deps = {n: list(dict.fromkeys((deps or {}).get(n, ()))) for n in self.names}
        self.weights = dict(weights or {})
        self._position = {n: i for i, n in enumerate(self.names)}
        self.dependents: dict[str, list[str]] = {n: [] for n in self.names}
        for name in self.names:
            for dep in self.deps[name]:
                self.dependents[dep].append(name)
        self.order = self._stable_order()
        self.levels = self._levels()

    @classmethod
    def from_edges(cls, names: Sequence[str], deps: Mapping[str, Sequence[str]]) -> "WaveGraph":
        return cls(names=names, deps=deps)

    def _stable_order(self) -> list[str]:
        """Topological order that picks, among ready waves, the one written first in the file."""
        sorter = TopologicalSorter(self.deps)
        sorter.prepare()  # raises graphlib.CycleError; validated plans have no cycles
        ready: list[tuple[int, str]] = []
        order: list[str] = []
        while sorter.is_active():
            for name in sorter.get_ready():
                heapq.heappush(ready, (self._position[name], name))
            _, name = heapq.heappop(ready)
            order.append(name)
            sorter.done(name)
        return order

    def _levels(self) -> dict[str, int]:
        level: dict[str, int] = {}
        for name in self.order:
            level[name] = 1 + max((level[d] for d in self.deps[name]), default=-1)
        return level

    @property
    def parallel_sets(self) -> list[set[str]]:
        """Waves grouped by depth: every wave of a set can run at the same time as the others."""
        sets: list[set[str]] = [set() for _ in range(max(self.levels.values(), default=-1) + 1)]
        for name, lvl in self.levels.items():
            sets[lvl].add(name)
        return sets

    @property
    def critical_path(self) -> list[str]:
        """Longest chain by number of waves; ties go to more static servers, then file order.

        Waves are the unit of elapsed time in a recovery (each one waits for a whole DRS job), so
        chain length is the best parse-time estimate of the RTO-critical path.
        """
        best: dict[str, tuple[int, int, list[str]]] = {}
        for name in self.order:
            length, servers, path = 0, 0, []
            for dep in self.deps[name]:
                cand = best[dep]
                if (cand[0], cand[1]) > (length, servers):
                    length, servers, path = cand
            best[name] = (length + 1, servers + self.weights.get(name, 0), path + [name])
        if not best:
            return []
        return max(best.values(), key=lambda item: (item[0], item[1], -self._position[item[2][-1]]))[2]

    def roots(self) -> list[str]:
        return [n for n in self.order if not self.deps[n]]

    def upstream(self, wave: str) -> list[str]:
        """Every wave that finishes before `wave` starts (transitive), in execution order."""
        return self._closure(wave, self.deps)

    def downstream(self, wave: str) -> list[str]:
        """Every wave that waits for `wave` (transitive), in execution order."""
        return self._closure(wave, self.dependents)

    def _closure(self, wave: str, edges: Mapping[str, Sequence[str]]) -> list[str]:
        if wave not in self._position:
            raise KeyError(f"unknown wave '{wave}'")
        seen: set[str] = set()
        todo = list(edges[wave])
        while todo:
            node = todo.pop()
            if node not in seen:
                seen.add(node)
                todo.extend(edges[node])
        return [n for n in self.order if n in seen]
