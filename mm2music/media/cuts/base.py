"""The detector interface shared by every kind of detector, and the config check they all make."""

from __future__ import annotations

from typing import Protocol

from mm2music.config import CutConfig
from mm2music.errors import ConfigError
from mm2music.types import FrameChunk, Transition


class TransitionDetector(Protocol):
    """What every detector offers: see each frame once, in order, then report."""

    def update(self, chunk: FrameChunk) -> None: ...

    def finish(self) -> list[Transition]: ...


def check_config(config: CutConfig) -> CutConfig:
    if not 0 < config.threshold <= 1:
        raise ConfigError(f"cuts.threshold {config.threshold} is outside (0, 1]; use a score such as 0.3")
    if config.min_scene_s < 0:
        raise ConfigError(f"cuts.min_scene_s {config.min_scene_s} is negative; use 0 or more seconds")
    return config
