"""Build the musical concept graph of one input.

Nodes (attribute ``kind``):
  ``segment``   ``seg:<i>`` — a scene or text segment (start, end, valence, arousal, confidence)
  ``emotion``   ``emo:<name>`` — an emotion concept with its circumplex coordinates
  ``attribute`` ``attr:<category>=<value>`` — a musical attribute (mode, tempo band, meter, density,
                register, dynamics, articulation, instrument family, texture, cadence)
  ``key``       ``key:<tonic> <mode>`` — the 24 keys
  ``theme``     ``theme:<id>`` — added by the planner
Edges (attribute ``kind``, ``weight``):
  segment -> emotion ``expresses`` (the encoder's concept weight), emotion -> attribute ``suggests``
  (cue weights, :mod:`mm2music.graph.cues`), segment -> segment ``next`` (time order) and ``similar``
  (emotional similarity, earlier -> later, among each segment's nearest neighbours in valence-arousal: linear in
  the number of segments, not all pairs), key <-> key ``related`` (fifth / relative / parallel), key -> attribute
  ``mode``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import networkx as nx

from mm2music.graph.cues import CATEGORIES, concept_cues
from mm2music.graph.keys import key_graph
from mm2music.types import Emotion, Scene

MIN_EDGE_WEIGHT = 0.01  # segment -> emotion edges lighter than this are left out
SIMILAR_NEIGHBOURS = 12  # a segment's nearest segments in valence-arousal considered for ``similar`` edges


def seg_id(i: int) -> str:
    return f"seg:{i}"


def emo_id(name: str) -> str:
    return f"emo:{name}"


def attr_id(category: str, value: str) -> str:
    return f"attr:{category}={value}"


def key_id(name: str) -> str:
    return f"key:{name}"


def emotion_similarity(a: Emotion, b: Emotion) -> float:
    """In [0, 1]: 1 for the same reading. Mixes circumplex distance and concept-distribution overlap."""
    va = 1 - math.dist((a.valence, a.arousal), (b.valence, b.arousal)) / math.sqrt(8)
    keys = set(a.concepts) | set(b.concepts)
    if keys:
        dot = sum(a.concepts.get(k, 0) * b.concepts.get(k, 0) for k in keys)
        na = math.sqrt(sum(v * v for v in a.concepts.values())) or 1
        nb = math.sqrt(sum(v * v for v in b.concepts.values())) or 1
        cos = dot / (na * nb)
    else:
        cos = va
    return 0.5 * va + 0.5 * cos


def build_graph(scenes: Sequence[Scene], emotions: Sequence[Emotion], coords: Mapping[str, tuple[float, float]],
                similar_threshold: float = 0.8) -> nx.DiGraph:
    """The concept graph for ``scenes`` (one :class:`Emotion` each) over the vocabulary ``coords``.

    ``coords`` maps every emotion concept to its (valence, arousal) in [-1, 1].
    """
    if len(scenes) != len(emotions):
        raise ValueError(f"{len(scenes)} scenes but {len(emotions)} emotions")
    g = nx.DiGraph(name="mm2music concept graph")
    for category, values in CATEGORIES.items():
        for value in values:
            g.add_node(attr_id(category, value), kind="attribute", category=category, value=value)
    for name, (v, a) in coords.items():
        g.add_node(emo_id(name), kind="emotion", name=name, valence=float(v), arousal=float(a))
        for (category, value), w in concept_cues(name, v, a).items():
            g.add_edge(emo_id(name), attr_id(category, value), kind="suggests", weight=w)
    keys = key_graph()
    for name, data in keys.nodes(data=True):
        g.add_node(key_id(name), kind="key", name=name, pc=data["pc"], mode=data["mode"])
        g.add_edge(key_id(name), attr_id("mode", data["mode"]), kind="mode", weight=1.0)
    for a, b, data in keys.edges(data=True):
        g.add_edge(key_id(a), key_id(b), kind="related", relation=data["relation"], weight=1.0)
        g.add_edge(key_id(b), key_id(a), kind="related", relation=data["relation"], weight=1.0)
    for scene, emotion in zip(scenes, emotions):
        s = seg_id(scene.index)
        g.add_node(s, kind="segment", index=scene.index, start=scene.start, end=scene.end,
                   valence=emotion.valence, arousal=emotion.arousal, confidence=emotion.confidence)
        for name, w in emotion.concepts.items():
            if w >= MIN_EDGE_WEIGHT and emo_id(name) in g:
                g.add_edge(s, emo_id(name), kind="expresses", weight=float(w))
    for (sa, ea), (sb, eb) in zip(zip(scenes, emotions), list(zip(scenes, emotions))[1:]):
        g.add_edge(seg_id(sa.index), seg_id(sb.index), kind="next", weight=emotion_similarity(ea, eb))
    for i, j in similar_candidates(emotions):
        sim = emotion_similarity(emotions[i], emotions[j])
        if sim >= similar_threshold:
            g.add_edge(seg_id(scenes[i].index), seg_id(scenes[j].index), kind="similar", weight=sim)
    return g


def similar_candidates(emotions: Sequence[Emotion], k: int = SIMILAR_NEIGHBOURS) -> list[tuple[int, int]]:
    """Pairs ``(i, j)``, ``i + 2 <= j``, of segments among each other's ``k`` nearest in valence-arousal (a k-d
    tree: n log n, where comparing every pair of a feature's 2,000 shots would be 2 million comparisons)."""
    import numpy as np
    from scipy.spatial import cKDTree

    n = len(emotions)
    if n < 3:
        return []
    points = np.array([(e.valence, e.arousal) for e in emotions], dtype=np.float64)
    _, near = cKDTree(points).query(points, k=min(n, k + 3))  # + itself and its two time neighbours
    pairs = {(min(i, int(j)), max(i, int(j))) for i, row in enumerate(near) for j in row[1:]}
    return sorted((i, j) for i, j in pairs if j - i >= 2)


def attribute_scores(g: nx.DiGraph, segment: str) -> dict[str, dict[str, float]]:
    """Sum of weights along segment -> emotion -> attribute paths, per category and value.

    Normalised by the segment's total emotion weight, so scores are comparable between segments.
    """
    scores: dict[str, dict[str, float]] = {c: {v: 0.0 for v in vals} for c, vals in CATEGORIES.items()}
    total = 0.0
    for _, emo, e1 in g.out_edges(segment, data=True):
        if e1.get("kind") != "expresses":
            continue
        total += e1["weight"]
        for _, attr, e2 in g.out_edges(emo, data=True):
            if e2.get("kind") == "suggests":
                node = g.nodes[attr]
                scores[node["category"]][node["value"]] += e1["weight"] * e2["weight"]
    if total > 0:
        for cat in scores.values():
            for k in cat:
                cat[k] /= total
    return scores
