"""Hard cuts from the HSV change between frames, with a fixed and an adaptive threshold.

The score is PySceneDetect's ``ContentDetector`` score (mean absolute change of hue, saturation and value,
0-255) on frames shrunk to ``WIDTH`` px. A frame starts a new shot when its score passes ``CONTENT``, or when
it passes ``FLOOR`` and is ``RATIO`` times the mean score of the ``WINDOW`` frames either side (the rule of
PySceneDetect's ``AdaptiveDetector``: fast motion raises the frames around it too, a cut stands alone).
Repeated frames are skipped in that baseline: footage drawn on twos or encoded with every frame doubled
changes only every other frame, and its motion would otherwise stand 3x above the repeats around it.
Cheap and high in recall; the manager checks the ones the classic detector does not confirm.
"""

from __future__ import annotations

import numpy as np

from mm2music.media.cuts.base import area_resize


WIDTH = 96  # px: the score barely changes below PySceneDetect's own downscaling
CONTENT = 27.0  # ContentDetector's default threshold
FLOOR = 15.0  # AdaptiveDetector's min_content_val
RATIO = 3.0  # AdaptiveDetector's adaptive_threshold
DARK_VALUE = 40  # pixels darker than this (0-255) count only with their value: a dark MPEG's keyframe shifts
# their hue and saturation wholesale while the picture stays the same
WINDOW = 2  # frames either side for the adaptive baseline ...
REPEAT = 1.0  # ... not counting repeated frames (a score below this: animation on twos, a frame-doubled encode) ...
REACH = 3 * WINDOW  # ... looked for this far away


def hsv_scores(frames: np.ndarray, previous: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(N, H, W, 3) uint8 RGB -> per-frame HSV change (N,) and the last frame's HSV for the next chunk."""
    import cv2

    n, h, w = frames.shape[:3]
    size = (WIDTH, max(2, int(round(h * WIDTH / w)))) if w > WIDTH else (w, h)
    small = np.ascontiguousarray(area_resize(frames, size)).reshape(n * size[1], size[0], 3)  # one image: one call
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV).reshape(n, size[1], size[0], 3).astype(np.int16)
    before = np.concatenate([hsv[:1] if previous is None else previous[None], hsv[:-1]])
    delta = np.abs(hsv - before)
    dark = np.minimum(hsv[..., 2], before[..., 2]) < DARK_VALUE  # hue and saturation of a near-black pixel are noise
    delta[..., :2][dark] = 0
    scores = delta.mean(axis=(1, 2, 3)).astype(np.float32)  # mean over H, S and V alike
    if previous is None:
        scores[0] = 0.0
    return scores, hsv[-1]


class HsvCutDetector:
    """Streaming: ``update`` chunks; ``candidates`` lists (frame position, score, adaptive ratio)."""

    def __init__(self) -> None:
        self._scores = np.zeros(0, np.float32)  # positions [_base, _base + len)
        self._base = 0
        self._last: np.ndarray | None = None
        self._decided = 0  # positions < _decided are decided
        self.candidates: list[tuple[int, float, float]] = []

    def update(self, frames: np.ndarray) -> None:
        scores, self._last = hsv_scores(frames, self._last)
        self._scores = np.concatenate([self._scores, scores])
        self._decide(self._base + len(self._scores) - REACH)

    def finish(self) -> None:
        self._decide(self._base + len(self._scores))

    def _decide(self, stop: int) -> None:
        s = self._scores
        for pos in range(max(self._decided, 1), stop):
            k = pos - self._base
            v = float(s[k])
            if v < FLOOR:
                continue
            around = _baseline(s[max(0, k - REACH) : k][::-1], s[k + 1 : k + 1 + REACH])
            ratio = v / max(float(around.mean()) if len(around) else 0.0, 1e-3)
            if v >= CONTENT or ratio >= RATIO:
                self.candidates.append((pos, v, ratio))
        self._decided = max(self._decided, stop)
        keep = max(0, self._decided - self._base - REACH)
        self._scores, self._base = self._scores[keep:], self._base + keep


def _baseline(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """The scores a frame is compared with: the ``WINDOW`` nearest on each side (``before`` nearest first)
    that are no repeats; the nearest ``WINDOW`` as they are where a side has only repeats (a still shot)."""
    sides = []
    for side in (before, after):
        moving = side[side >= REPEAT][:WINDOW]
        sides.append(moving if len(moving) else side[:WINDOW])
    return np.concatenate(sides)
