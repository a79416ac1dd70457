"""The concept graph's ``similar`` edges: the nearest neighbours' pairs, never every pair."""

import itertools
import random

from mm2music.graph.build import SIMILAR_NEIGHBOURS, build_graph, emotion_similarity, similar_candidates
from mm2music.pipeline import CONCEPT_COORDS
from mm2music.types import Emotion, Scene


def emotions(n, seed=0):
    rng = random.Random(seed)
    names = list(CONCEPT_COORDS)
    return [Emotion(rng.uniform(-1, 1), rng.uniform(-1, 1), {rng.choice(names): 1.0}) for _ in range(n)]


def test_small_graphs_keep_every_similar_pair():
    es = emotions(SIMILAR_NEIGHBOURS + 3)
    scenes = [Scene(i, i, i + 1.0) for i in range(len(es))]
    g = build_graph(scenes, es, CONCEPT_COORDS, 0.6)
    got = {(int(a[4:]), int(b[4:])) for a, b, d in g.edges(data=True) if d["kind"] == "similar"}
    want = {(i, j) for i, j in itertools.combinations(range(len(es)), 2) if j - i >= 2 and emotion_similarity(es[i], es[j]) >= 0.6}
    assert got == want and want


def test_candidates_grow_linearly_and_hold_the_most_similar():
    es = emotions(3000, seed=1)
    pairs = similar_candidates(es)
    assert len(pairs) <= 3000 * (SIMILAR_NEIGHBOURS + 2)  # all pairs would be 4.5 million
    # the closest segment in valence-arousal (not a time neighbour) of every segment is among its candidates
    found = set(pairs)
    for i in range(0, 3000, 97):
        others = [j for j in range(3000) if abs(j - i) >= 2]
        j = min(others, key=lambda j: (es[i].valence - es[j].valence) ** 2 + (es[i].arousal - es[j].arousal) ** 2)
        assert (min(i, j), max(i, j)) in found
