"""The 24 major and minor keys as a graph of close relations.

Edges join a key to its dominant and subdominant (a fifth apart, same mode), its relative (C major <->
A minor) and its parallel (C major <-> C minor). The keys one step away are the classic "closely related"
keys of a modulation (Piston, *Harmony*, ch. on modulation); the planner moves between them along shortest
paths, so a change of key at a cut goes through related keys, never a random jump.
"""

from __future__ import annotations

import functools

import networkx as nx

from mm2music.music.attributes import tonic_name

PITCH_CLASSES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_ALIASES = {"C#": 1, "D#": 3, "Gb": 6, "G#": 8, "A#": 10, "Cb": 11, "Fb": 4, "E#": 5, "B#": 0}


def pitch_class(tonic: str) -> int:
    """'F#' -> 6. Raises ValueError for anything else."""
    name = tonic.strip()
    name = name[:1].upper() + name[1:].replace("♯", "#").replace("♭", "b")
    if name in PITCH_CLASSES:
        return PITCH_CLASSES.index(name)
    if name in _ALIASES:
        return _ALIASES[name]
    raise ValueError(f"unknown tonic {tonic!r}")


def key_name(pc: int, mode: str) -> str:
    """(9, 'minor') -> 'A minor' (the spelling with the fewest accidentals, as the tokenizer writes it)."""
    return f"{tonic_name(pc % 12, mode)} {mode}"


def parse_key(text: str) -> tuple[int, str]:
    """'D minor', 'Dm', 'd', 'F# major', 'Bb' -> (pitch class, mode). Raises ValueError."""
    t = text.strip().replace("-", " ")
    mode = "major"
    low = t.lower()
    for suffix, m in ((" minor", "minor"), (" min", "minor"), (" major", "major"), (" maj", "major")):
        if low.endswith(suffix):
            t, mode = t[: -len(suffix)].strip(), m
            break
    else:
        if len(t) >= 2 and t.endswith("m") and t[:-1] and t[:-1][0].upper() in "ABCDEFG":
            t, mode = t[:-1], "minor"
        elif t and t[0].islower() and t[0] in "abcdefg":
            mode = "minor"  # lower-case tonic: the old convention for minor keys
    return pitch_class(t), mode


def relative(pc: int, mode: str) -> tuple[int, str]:
    return ((pc + 9) % 12, "minor") if mode == "major" else ((pc + 3) % 12, "major")


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
