"""Frame consumers that ride on the single decode pass."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from mm2music.types import FrameChunk


class FrameConsumer(Protocol):
    """Anything that wants the decoded frames: sees every chunk once, in order."""

    def update(self, chunk: FrameChunk) -> None: ...


class FrameSampler:
    """Keeps the frames nearest to a regular time grid (``fps`` per second) and hands them to ``sink``.

    Encoders want a few frames per second, not all of them; the cut detector wants every frame. Both ride
    on the same decode pass: this consumer picks, per chunk, the frames whose presentation time first
    reaches each grid point ``k / fps``. ``sink(frames, times)`` receives (M, H, W, 3) uint8 and (M,) seconds.
    """

    def __init__(self, fps: float, sink: Callable[[np.ndarray, np.ndarray], None] | None = None):
        if fps <= 0:
            raise ValueError(f"sample fps {fps} must be positive")
        self.period = 1.0 / fps
        self.sink = sink
        self.next_time = 0.0
        self.times: list[float] = []

    def update(self, chunk: FrameChunk) -> None:
        keep = []
        for i, t in enumerate(chunk.times):
            if t + 1e-6 >= self.next_time:
                keep.append(i)
                # skip grid points the video jumped over (a gap in variable-frame-rate footage)
                self.next_time = (np.floor(t / self.period + 1e-6) + 1) * self.period
        if keep:
            times = chunk.times[keep]
            self.times.extend(float(t) for t in times)
            if self.sink is not None:
                self.sink(chunk.frames[keep], times)
