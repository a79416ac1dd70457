"""Zero-shot emotion scoring: embeddings -> a distribution over the concepts -> an :class:`Emotion`.

A concept's embedding is the normalised mean of its prompts' embeddings (prompt ensembling, Radford et al.
2021). An item's scores are cosine similarities to the concept embeddings divided by a temperature and passed
through a softmax:

* CLIP image<->text uses the model's own learned ``logit_scale`` (temperature 1 / logit_scale);
* text<->text (MiniLM, or CLIP's text tower) has no learned scale, so the temperature is calibrated on the
  prompts themselves: the value that minimises the leave-one-prompt-out cross-entropy of assigning each prompt
  to its own concept (no benchmark data is used).

Valence and arousal are the expectation of the concepts' circumplex coordinates under the distribution;
confidence is its peakedness, 1 - H(p) / log K.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import numpy as np

from mm2music.emotion.concepts import CONCEPTS, COORDS, NAMES
from mm2music.encoders.base import TextEncoder, l2_normalize
from mm2music.types import Emotion

log = logging.getLogger(__name__)

TEMPERATURE_GRID = np.geomspace(0.005, 0.5, 60)


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def calibrate_temperature(prompt_embeddings: Sequence[np.ndarray]) -> float:
    """Temperature minimising the leave-one-prompt-out cross-entropy of prompts against concept centroids.

    ``prompt_embeddings[k]`` is (P_k, D), unit rows, the prompts of concept k.
    """
    sums = np.stack([e.sum(0) for e in prompt_embeddings])  # (K, D)
    counts = np.array([len(e) for e in prompt_embeddings], np.float64)
    sims, labels = [], []
    for k, emb in enumerate(prompt_embeddings):
        for e in emb:
            centroids = sums.copy()
            centroids[k] -= e
            centroids /= np.maximum((counts - (np.arange(len(counts)) == k))[:, None], 1)
            sims.append(l2_normalize(centroids) @ e)
            labels.append(k)
    sims = np.stack(sims)  # (N, K)
    labels = np.array(labels)
    best, best_nll = float(TEMPERATURE_GRID[0]), np.inf
    for t in TEMPERATURE_GRID:
        p = softmax(sims / t)
        nll = -np.mean(np.log(p[np.arange(len(labels)), labels] + 1e-12))
        if nll < best_nll:
            best, best_nll = float(t), nll
    return best


class ConceptScorer:
    """Scores embeddings of one encoder against the concept prompts of one kind ("text" or "image")."""

    def __init__(self, encoder: TextEncoder, kind: str = "text", temperature: float | None = None):
        if kind not in ("text", "image"):
            raise ValueError(f"prompt kind {kind!r} is not 'text' or 'image'")
        prompts = [c.text_prompts if kind == "text" else c.image_prompts for c in CONCEPTS]
        flat = encoder.encode_text([p for group in prompts for p in group])
        per_concept, i = [], 0
        for group in prompts:
            per_concept.append(flat[i : i + len(group)])
            i += len(group)
        self.centroids = l2_normalize(np.stack([e.mean(0) for e in per_concept]))  # (K, D)
        if temperature is None:
            scale = getattr(encoder, "logit_scale", None)
            temperature = 1.0 / scale if kind == "image" and scale else calibrate_temperature(per_concept)
        self.temperature = float(temperature)
        self.encoder_name = encoder.name
        self.kind = kind
        log.debug("concept scorer %s/%s: temperature %.4f", encoder.name, kind, self.temperature)

    def distribution(self, embeddings: np.ndarray) -> np.ndarray:
        """(N, D) or (D,) unit embeddings -> (N, K) or (K,) probabilities over ``NAMES``."""
        return softmax((np.asarray(embeddings, np.float64) @ self.centroids.T.astype(np.float64)) / self.temperature)


_SCORERS: dict[tuple, ConceptScorer] = {}


def concept_scorer(encoder: TextEncoder, kind: str = "text", temperature: float | None = None) -> ConceptScorer:
    """A cached :class:`ConceptScorer` (one per encoder, prompt kind and temperature)."""
    key = (id(encoder), encoder.name, kind, temperature)
    if key not in _SCORERS:
        _SCORERS[key] = ConceptScorer(encoder, kind, temperature)
    return _SCORERS[key]


def peakedness(p: np.ndarray) -> float:
    """1 - H(p) / log K in [0, 1]: 0 for a uniform distribution, 1 for a single concept."""
    p = np.asarray(p, np.float64)
    h = -np.sum(p * np.log(np.clip(p, 1e-12, 1.0)))
    return float(np.clip(1.0 - h / np.log(len(p)), 0.0, 1.0))


def expected_va(p: np.ndarray) -> tuple[float, float]:
    """The expectation of the concepts' (valence, arousal) under ``p``."""
    v, a = np.asarray(p, np.float64) @ COORDS
    return float(np.clip(v, -1, 1)), float(np.clip(a, -1, 1))


def make_emotion(p: np.ndarray, sources: tuple[str, ...], va: tuple[float, float] | None = None,
                 confidence: float | None = None) -> Emotion:
    """An :class:`Emotion` from a distribution; valence/arousal default to its expectation."""
    p = np.clip(np.asarray(p, np.float64), 0.0, None)
    p = p / p.sum()
    v, a = va if va is not None else expected_va(p)
    conf = peakedness(p) if confidence is None else confidence
    return Emotion(valence=float(np.clip(v, -1, 1)), arousal=float(np.clip(a, -1, 1)),
                   concepts={name: float(w) for name, w in zip(NAMES, p)},
                   confidence=float(np.clip(conf, 0.0, 1.0)), sources=tuple(sources))


def neutral_emotion() -> Emotion:
    """No evidence: uniform distribution, the origin of the circumplex, confidence 0."""
    return make_emotion(np.full(len(NAMES), 1.0 / len(NAMES)), (), va=(0.0, 0.0), confidence=0.0)


def split_text(text: str, max_words: int = 60) -> list[str]:
    """Sentence-aligned chunks of at most ~``max_words`` words (MiniLM was trained on 128 word pieces)."""
    sentences = [s.strip() for s in re.split(r"(?<=[.!?;])\s+|\n\s*\n", text) if s.strip()]
    chunks, current, count = [], [], 0
    for sentence in sentences:
        words = sentence.split()
        if current and count + len(words) > max_words:
            chunks.append(" ".join(current))
            current, count = [], 0
        current.extend(words)
        count += len(words)
    if current:
        chunks.append(" ".join(current))
    return chunks or [text.strip()]


def text_distributions(texts: Sequence[str], encoders: Sequence[TextEncoder], temperature: float | None = None) -> np.ndarray:
    """(N, K) concept distributions of ``texts``, averaged over ``encoders`` (text prompts, text<->text).

    A long text is split into sentence-aligned chunks whose embeddings are averaged into one.
    """
    chunked = [split_text(t) for t in texts]
    flat = [c for chunks in chunked for c in chunks]
    total = np.zeros((len(texts), len(NAMES)))
    for encoder in encoders:
        emb = encoder.encode_text(flat)
        doc, i = [], 0
        for chunks in chunked:
            doc.append(emb[i : i + len(chunks)].mean(0))
            i += len(chunks)
        total += concept_scorer(encoder, "text", temperature).distribution(l2_normalize(np.stack(doc)))
    return total / max(len(encoders), 1)
