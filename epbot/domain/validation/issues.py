"""What validation reports, and the helpers every check shares.

Each :class:`Issue` carries the *path* of the offending value inside the raw data
(``("stages", 1, "steps", 3, "role")``); the file adapter maps that path to
``file:line:column``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from epbot.domain.matrix import Matrix

DataPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Issue:
    """One problem: where it is (a path into the raw data) and what is wrong."""

    path: DataPath
    message: str
    at_key: bool = False  # point at the mapping key itself (e.g. an unknown field)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def role_issue(path: DataPath, role: str, matrix: Matrix | None, what: str) -> list[Issue]:
    if matrix is None or any(r.id == role for r in matrix.roles):
        return []
    hint = did_you_mean(role, (r.id for r in matrix.roles))
    return [Issue(path, f"{what} unknown role {role!r}{hint}")]


def cycles(graph: dict[str, list[str]]) -> list[tuple[str, int, list[str]]]:
    """Each cycle once: (node whose edge closes it, index of that edge, the cycle's nodes)."""
    found: list[tuple[str, int, list[str]]] = []
    seen_cycles: set[frozenset[str]] = set()
    done: set[str] = set()
    order = list(graph)

    def visit(node: str, stack: list[str]) -> None:
        stack.append(node)
        for nxt in graph.get(node, []):
            if nxt == node or nxt not in graph:
                continue  # self-loops and unknown targets are reported elsewhere
            if nxt in stack:
                members = stack[stack.index(nxt) :]
                key = frozenset(members)
                if key not in seen_cycles:
                    seen_cycles.add(key)
                    # Start at the member that comes first in the file, and point there.
                    first = min(members, key=order.index)
                    at = members.index(first)
                    cycle = members[at:] + members[:at] + [first]
                    found.append((first, graph[first].index(cycle[1]), cycle))
            elif nxt not in done:
                visit(nxt, stack)
        stack.pop()
        done.add(node)

    for start in graph:
        if start not in done:
            visit(start, [])
    return found
