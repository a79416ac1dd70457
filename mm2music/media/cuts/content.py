"""PySceneDetect's ``ContentDetector`` fed with our decoded frames: the baseline behind ``--cut-detector pyscenedetect``."""

from __future__ import annotations

import numpy as np

from mm2music.config import CutConfig
from mm2music.errors import ConfigError
from mm2music.types import FrameChunk, Transition


class PySceneDetectBackend:
    """PySceneDetect's ``ContentDetector`` fed with our decoded frames (a baseline to compare against)."""

    def __init__(self, config: CutConfig | None = None, threshold: float = 27.0):
        """``threshold`` is ContentDetector's own (mean HSV change, 0-255), not ``CutConfig.threshold``."""
        try:
            from scenedetect import ContentDetector
        except ImportError:
            raise ConfigError("cut detector 'pyscenedetect' needs the scenedetect package; pip install scenedetect-headless") from None
        self.config = config or CutConfig()
        self._detector_cls = ContentDetector
        self._threshold = threshold
        self._detector = None
        self._fps = 0.0
        self._lookup: dict[int, tuple[float, int]] = {}  # frame number -> (time, index), recent frames
        self._cuts: list[Transition] = []
        self._last = None

    def update(self, chunk: FrameChunk) -> None:
        from scenedetect import FrameTimecode

        if len(chunk) == 0:
            return
        if self._detector is None:
            steps = np.diff(chunk.times)
            steps = steps[steps > 0]
            self._fps = float(1.0 / np.median(steps)) if len(steps) else 25.0
            min_len = max(1, int(round(self.config.min_scene_s * self._fps)))
            self._detector = self._detector_cls(threshold=self._threshold, min_scene_len=min_len)
        for frame, index, time in zip(chunk.frames, chunk.indices, chunk.times):
            index = int(index)
            self._lookup[index] = (float(time), index)
            tc = FrameTimecode(index, self._fps)
            self._collect(self._detector.process_frame(tc, np.ascontiguousarray(frame[..., ::-1])))
            self._last = tc
        horizon = int(chunk.indices[-1]) - 4 * max(16, self._detector.event_buffer_length)
        for key in [k for k in self._lookup if k < horizon]:
            del self._lookup[key]

    def _collect(self, timecodes) -> None:
        for tc in timecodes:
            time, index = self._lookup.get(tc.frame_num, (float(tc.seconds), int(tc.frame_num)))
            if index > 0:
                self._cuts.append(Transition("cut", time, time, time, index, 1.0))

    def finish(self) -> list[Transition]:
        if self._detector is not None and self._last is not None:
            self._collect(self._detector.post_process(self._last))
            self._last = None
        return sorted(self._cuts, key=lambda t: t.time)
