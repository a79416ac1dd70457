"""A scene's captions are found through a sorted index, not by looking at every caption of the film."""

import random

from mm2music.emotion.fusion import _near, _overlap, _segment_index
from mm2music.types import Scene, TextSegment


def test_every_overlapping_caption_is_found():
    rng = random.Random(3)
    segments = []
    for _ in range(400):
        start = rng.uniform(0, 600)
        segments.append(TextSegment("a line", start, start + rng.choice([0.0, rng.uniform(0.5, 12.0)])))
    segments.append(TextSegment("untimed"))
    rng.shuffle(segments)
    index = _segment_index(segments)
    bounds = sorted({0.0, 610.0, *(rng.uniform(0, 610) for _ in range(120))})
    for i, (a, b) in enumerate(zip(bounds, bounds[1:])):
        scene = Scene(i, a, b)
        near = _near(scene, index)
        assert near == sorted(near)
        assert {k for k, s in enumerate(segments) if _overlap(scene, s) > 0} <= set(near)
        assert len(near) < len(segments) // 4  # a window, not the film
