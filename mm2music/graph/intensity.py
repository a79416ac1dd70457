"""The intensity curve: how much music plays, bar by bar, over the whole film.

Film music layers vertically (Filmstro's momentum/depth/power, Sonicfire's mood layers): the same cue gains a
bass, a moving figure, a counter-line and percussion as the drama builds, and thins out after a climax. The
curve starts from each scene's musical energy (:func:`mm2music.graph.cues.film_profile`), then:

* builds over the bars before a hit point and before a more intense scene, and decays after a hit;
* gives the scene with the most energy a lift (the climax);
* shapes each 4-bar phrase with a gentle arch.

Values are in [0, 1]. ``PlanConfig.intensity`` pins the whole curve, ``intensity_scale`` scales its swing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

BUILD_BARS = 4  # bars over which a build into a hit or a more intense scene rises
BUILD_GAIN = 0.2  # how far a build rises (and a hit's decay falls)
PHRASE_ARCH = 0.06  # peak of the arch over a 4-bar phrase
RISE = 0.4  # a tension cue's crescendo, from its first bar to its last


def bar_intensities(energies: Sequence[float], bar_times: Sequence[Sequence[float]], hits: Sequence[float] = (),
                    pinned: float | None = None, scale: float = 1.0, rising: Sequence[bool] = ()) -> list[tuple[float, ...]]:
    """Per cue, the intensity of each of its bars. ``energies`` one per cue (0-1); ``bar_times`` per cue the
    start time (s) of each bar and, last, the cue's end; ``hits`` in seconds; ``rising[i]``: cue ``i`` builds
    from below its energy to above it (tension: a crescendo through the cue)."""
    if pinned is not None:
        return [tuple(max(0.0, min(1.0, pinned)) for _ in times[:-1]) for times in bar_times]
    climax = max(range(len(energies)), key=lambda i: energies[i]) if energies else -1
    raw: list[list[float]] = []
    for i, times in enumerate(bar_times):
        base = energies[i] + (0.08 if i == climax and len(energies) > 1 else 0.0)
        n = len(times) - 1
        values = []
        for b in range(n):
            v = base + PHRASE_ARCH * math.sin(math.pi * ((b % 4) + 0.5) / 4)
            if i < len(rising) and rising[i] and n > 1:
                v += RISE * (b / (n - 1) - 0.5)
            to_end = n - b  # bars left in the cue, this one included
            if i + 1 < len(energies) and energies[i + 1] > energies[i] + 0.1 and to_end <= BUILD_BARS:
                v += (energies[i + 1] - energies[i]) * 0.5 * (BUILD_BARS - to_end + 1) / BUILD_BARS
            for h in hits:
                v += _hit_shape(times[b], h, times)
            values.append(v)
        raw.append(values)
    flat = [v for vs in raw for v in vs]
    mean = sum(flat) / len(flat) if flat else 0.5
    return [tuple(max(0.0, min(1.0, mean + scale * (v - mean))) for v in vs) for vs in raw]


def _hit_shape(t: float, hit: float, times: Sequence[float]) -> float:
    """A rise over the bars before a hit and a decay after it (in bars of this cue's length)."""
    bar = (times[-1] - times[0]) / max(1, len(times) - 1)
    if bar <= 0:
        return 0.0
    before = (hit - t) / bar  # bars from this bar's start to the hit
    if 0 < before <= BUILD_BARS:
        return BUILD_GAIN * (BUILD_BARS - before + 1) / BUILD_BARS
    if -2 < before <= 0:
        return BUILD_GAIN * (1 + before / 2) * 0.5  # the hit's own bar stays up, then decays
    return 0.0
