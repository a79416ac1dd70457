"""The 24 major and minor keys as a graph of close relations.

Edges join a key to its dominant and subdominant (a fifth apart, same mode), its relative (C major <->
A minor) and its parallel (C major <-> C minor). The keys one step away are the classic "closely related"
keys of a modulation (Piston, *Harmony*, ch. on modulation); the planner moves between them along shortest
paths, so a change of key at a cut goes through related keys, never a random jump.
"""

from __future__ import annotations

import functools

import networkx as nx

from mm2music.key import Key


def key_name(pc: int, mode: str) -> str:
    """(9, 'minor') -> 'A minor' (the spelling with the fewest accidentals, as the tokenizer writes it)."""
    return str(Key(pc % 12, mode))


def relative(pc: int, mode: str) -> tuple[int, str]:
    return tuple(Key(pc % 12, mode).relative())


@functools.lru_cache(maxsize=1)
def key_graph() -> nx.Graph:
    """Undirected graph of the 24 keys; edge attribute ``relation``."""
    g = nx.Graph()
    for mode in ("major", "minor"):
        for pc in range(12):
            g.add_node(key_name(pc, mode), pc=pc, mode=mode)
    for mode in ("major", "minor"):
        for pc in range(12):
            g.add_edge(key_name(pc, mode), key_name((pc + 7) % 12, mode), relation="fifth")
    for pc in range(12):
        g.add_edge(key_name(pc, "major"), key_name(*relative(pc, "major")), relation="relative")
        g.add_edge(key_name(pc, "major"), key_name(pc, "minor"), relation="parallel")
    return g


def key_distance(a: str, b: str) -> int:
    return nx.shortest_path_length(key_graph(), a, b)


def key_path(a: str, b: str) -> list[str]:
    """Shortest path of related keys from ``a`` to ``b`` (deterministic among ties)."""
    paths = sorted(nx.all_shortest_paths(key_graph(), a, b))
    return list(paths[0])
