"""Shot-transition detection: hard cuts, fades through black and dissolves, in one streaming pass.

One detector per kind behind one interface (:class:`~mm2music.media.cuts.base.TransitionDetector`: ``update``
every decoded :class:`FrameChunk` in order, then ``finish``), like PySceneDetect's ``detectors/``:

* ``classic`` (:mod:`.classic`): our hand-made detector of cuts, fades and dissolves;
* :mod:`.hsv`: hard cuts from the HSV change with an adaptive threshold;
* ``transnetv2`` (:mod:`.transnet`): the learned TransNetV2 over every frame;
* ``pyscenedetect`` (:mod:`.content`): PySceneDetect's ``ContentDetector``, a baseline;
* ``mm2music``, the default (:mod:`.manager`): classic and HSV propose, TransNetV2 settles where they
  disagree, and the manager merges what is left.
"""

from __future__ import annotations

from collections.abc import Iterable

from mm2music.config import CutConfig
from mm2music.errors import ConfigError
from mm2music.media.cuts.base import TransitionDetector, check_config
from mm2music.media.cuts.classic import CutDetector
from mm2music.media.cuts.content import PySceneDetectBackend
from mm2music.types import FrameChunk, Transition
from mm2music.vocab import DETECTORS  # the names users choose from, defined once

__all__ = ["DETECTORS", "CutDetector", "PySceneDetectBackend", "TransitionDetector", "detect_cuts", "make_detector"]



def make_detector(config: CutConfig | None = None) -> TransitionDetector:
    """The detector ``config.detector`` names (one of :data:`DETECTORS`)."""
    config = check_config(config or CutConfig())
    if config.detector == "mm2music":
        from mm2music.media.cuts.manager import CutManager

        return CutManager(config)
    if config.detector == "classic":
        return CutDetector(config)
    if config.detector == "pyscenedetect":
        return PySceneDetectBackend(config)
    if config.detector == "transnetv2":
        from mm2music.media.cuts.transnet import TransNetV2Detector

        return TransNetV2Detector(config)
    raise ConfigError(f"unknown cut detector {config.detector!r}; use one of {', '.join(DETECTORS)}")


def detect_cuts(chunks: Iterable[FrameChunk], config: CutConfig | None = None) -> list[Transition]:
    """Run the configured detector over ``chunks`` and return its transitions in time order."""
    detector = make_detector(config)
    for chunk in chunks:
        detector.update(chunk)
    return detector.finish()
