"""The encoder interface: frames or texts in, one L2-normalised vector per item out.

Two protocols of one method each. A backend implements the ones it can (CLIP does both, MiniLM only text,
the affect model only frames); the emotion stage never needs to know which backend it holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class FrameEncoder(Protocol):
    """Embeds RGB frames. ``name`` identifies the backend (e.g. ``"clip:ViT-B-32"``), ``dim`` its width."""

    name: str
    dim: int

    def encode_frames(self, frames: np.ndarray) -> np.ndarray:
        """(M, H, W, 3) uint8 RGB -> (M, dim) float32."""
        ...


@runtime_checkable
class TextEncoder(Protocol):
    """Embeds texts into L2-normalised vectors, so that a dot product is a cosine similarity."""

    name: str
    dim: int

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """N texts -> (N, dim) float32, each row of unit length."""
        ...


def l2_normalize(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Rows of unit length (zero rows stay zero)."""
    norm = np.linalg.norm(x, axis=axis, keepdims=True)
    return (x / np.maximum(norm, 1e-12)).astype(np.float32)
