"""Per-scene emotion: the frames' reading, the captions that overlap the scene and the clip's own loudness.

Usage from the pipeline (one decode pass)::

    visual = VisualEmotionConsumer(config)              # loads the encoders once, before decoding
    sampler = FrameSampler(config.media.sample_fps, visual)
    ...                                                # decode: sampler.update(chunk) per chunk
    emotions = scene_emotions(scenes, visual.track(), segments, audio, config)

Fusion, per scene:

* frames: CLIP's concept distribution of the mean frame embedding, its valence/arousal blended with the
  affect model's direct estimate (``emotion.affect_blend``); without CLIP, the affect estimate alone and a
  distribution from a Gaussian kernel around it on the circumplex;
* captions: each overlapping caption block weighted by its overlap in seconds; the captions as a whole weigh
  ``emotion.caption_weight`` times the fraction of the scene they cover;
* audio: the scene's loudness relative to the whole clip moves arousal by up to ``emotion.audio_arousal``
  (louder sound, higher arousal: Hanjalic & Xu 2005's sound-energy term; Juslin & Laukka 2003 for loudness
  and arousal in music and speech).

Confidence is the weighted mean of the cues' confidences times their agreement on the circumplex.
"""

from __future__ import annotations

import bisect

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mm2music.config import Config
from mm2music.emotion.concepts import COORDS, NAMES
from mm2music.emotion.scoring import concept_scorer, make_emotion, neutral_emotion, peakedness, text_distributions
from mm2music.encoders import AffectEncoder, affect_va, clip_encoder, resolve_backend, text_encoder
from mm2music.encoders.affect import FEATURES
from mm2music.encoders.base import l2_normalize
from mm2music.types import AudioEnvelope, Emotion, Scene, TextSegment

log = logging.getLogger(__name__)

KERNEL_SIGMA = 0.4  # circumplex units: width of the concept distribution around an affect-only estimate
AFFECT_RELIABILITY = 0.5  # the colour/motion model is a weak cue: its confidence is at most this
CUT_WINDOW_S = 20.0  # seconds around a scene over which its cutting rate is measured


@dataclass(frozen=True, eq=False)
class VisualTrack:
    """What the frames said: small vectors only, never pixels.

    ``times`` (N,) seconds and ``features`` (N, len(FEATURES)): affect features of every sampled frame.
    ``embeddings`` (M, D): unit CLIP image embeddings of the frames at ``embedding_times`` (M,) seconds (CLIP
    reads ``encoder.clip_fps`` of them a second), or None when the affect model read the frames alone.
    ``encoder`` names the backend.
    """

    times: np.ndarray
    features: np.ndarray
    embeddings: np.ndarray | None = None
    embedding_times: np.ndarray | None = None
    encoder: str = "affect"

    def __len__(self) -> int:
        return len(self.times)

    def indices(self, start: float, end: float, times: np.ndarray | None = None) -> np.ndarray:
        """Indices of ``times`` (default: the sampled frames) in ``[start, end)``; the nearest to the middle if none."""
        times = self.times if times is None else times
        idx = np.flatnonzero((times >= start) & (times < end))
        if len(idx) == 0 and len(times):
            idx = np.array([int(np.argmin(np.abs(times - 0.5 * (start + end))))])
        return idx

    def scene_embedding(self, start: float, end: float) -> np.ndarray | None:
        """Mean CLIP embedding (unit length) of the frames in ``[start, end)``; None without CLIP."""
        if self.embeddings is None or self.embedding_times is None or not len(self.embedding_times):
            return None
        return l2_normalize(self.embeddings[self.indices(start, end, self.embedding_times)].mean(0))


class VisualEmotionConsumer:
    """A :class:`FrameSampler` sink: ``consumer(frames, times)`` per batch of sampled frames, in time order.

    Loads the frame encoder at construction (so a missing-weights error comes before decoding) and keeps,
    per sampled frame, the affect features and (with CLIP) the image embedding.
    """

    def __init__(self, config: Config):
        self.backend = resolve_backend(config.encoder)
        self.clip = clip_encoder(config.encoder) if self.backend == "clip" else None
        self.clip_period = 1.0 / config.encoder.clip_fps if config.encoder.clip_fps > 0 else 0.0
        self.affect = AffectEncoder()
        self._next_clip = 0.0
        self._times: list[np.ndarray] = []
        self._features: list[np.ndarray] = []
        self._embeddings: list[np.ndarray] = []
        self._embedding_times: list[np.ndarray] = []

    def __call__(self, frames: np.ndarray, times: np.ndarray) -> None:
        if len(frames) == 0:
            return
        times = np.asarray(times, np.float64)
        self._times.append(times)
        self._features.append(self.affect.encode_frames(frames))
        if self.clip is not None:
            keep = []
            for i, t in enumerate(times):  # the first frame at or after each point of the clip_fps grid
                if not self.clip_period or t + 1e-6 >= self._next_clip:
                    keep.append(i)
                    self._next_clip = (np.floor(t / self.clip_period + 1e-6) + 1) * self.clip_period if self.clip_period else 0.0
            if keep:
                self._embeddings.append(self.clip.encode_frames(frames[keep]).astype(np.float32))
                self._embedding_times.append(times[keep])

    def track(self) -> VisualTrack:
        times = np.concatenate(self._times) if self._times else np.zeros(0)
        features = np.concatenate(self._features) if self._features else np.zeros((0, len(FEATURES)), np.float32)
        if self.clip is None:
            return VisualTrack(times, features)
        embeddings = np.concatenate(self._embeddings) if self._embeddings else np.zeros((0, self.clip.dim), np.float32)
        embedding_times = np.concatenate(self._embedding_times) if self._embedding_times else np.zeros(0)
        return VisualTrack(times, features, embeddings, embedding_times, self.clip.name)


# --- cues ---------------------------------------------------------------------------------------------


def cut_rates(scenes: Sequence[Scene], window_s: float = CUT_WINDOW_S) -> np.ndarray:
    """Per scene, scene boundaries per minute in a window of ``window_s`` (or the scene, if longer) around it."""
    if not scenes:
        return np.zeros(0)
    total = max(s.end for s in scenes)
    boundaries = np.sort([s.start for s in scenes if s.start > 0])
    rates = np.empty(len(scenes))
    for i, scene in enumerate(scenes):
        span = min(max(window_s, scene.duration), total)
        lo = float(np.clip(0.5 * (scene.start + scene.end) - span / 2, 0.0, total - span))
        count = np.searchsorted(boundaries, lo + span, "right") - np.searchsorted(boundaries, lo, "left")
        rates[i] = 60.0 * count / max(span, 1e-6)
    return rates


def kernel_distribution(valence: float, arousal: float, sigma: float = KERNEL_SIGMA) -> np.ndarray:
    """Concept weights from a Gaussian kernel around a circumplex point."""
    d2 = np.sum((COORDS - np.array([valence, arousal])) ** 2, axis=1)
    w = np.exp(-d2 / (2 * sigma**2))
    return w / w.sum()


def visual_emotion(scene: Scene, visual: VisualTrack, config: Config, cuts_per_min: float | None = None) -> Emotion:
    """The frames' reading of one scene (CLIP + affect, or affect alone); ``cuts_per_min`` is its local pace."""
    feats = visual.features[visual.indices(scene.start, scene.end)]
    va_affect = np.array(affect_va(feats, cuts_per_min))
    # agreement of the scene's frames with each other (the affect model's own consistency)
    per_frame = np.array([affect_va(f, cuts_per_min) for f in feats])
    spread = float(np.mean(np.linalg.norm(per_frame - va_affect, axis=1))) if len(per_frame) > 1 else 0.0
    affect_conf = AFFECT_RELIABILITY * max(0.0, 1.0 - spread / np.sqrt(2))
    emb = visual.scene_embedding(scene.start, scene.end)
    if emb is None:
        p = kernel_distribution(*va_affect)
        return make_emotion(p, ("affect",), va=tuple(va_affect), confidence=affect_conf)
    scorer = concept_scorer(clip_encoder(config.encoder), "image")
    p = scorer.distribution(emb)
    b = float(np.clip(config.emotion.affect_blend, 0.0, 1.0))
    va = (1 - b) * (p @ COORDS) + b * va_affect
    conf = (1 - b) * peakedness(p) + b * affect_conf
    return make_emotion(p, ("clip", "affect"), va=(float(va[0]), float(va[1])), confidence=conf)


def text_encoders(config: Config) -> list:
    """MiniLM, plus CLIP's text tower when CLIP is the frame backend."""
    encoders = [text_encoder()]
    if resolve_backend(config.encoder) == "clip":
        encoders.append(clip_encoder(config.encoder))
    return encoders


def segment_emotions(segments: Sequence[TextSegment], config: Config | None = None) -> list[Emotion]:
    """One :class:`Emotion` per text segment (caption block, paragraph), scored text<->text."""
    config = config or Config()
    if not segments:
        return []
    encoders = text_encoders(config)
    sources = tuple(e.name for e in encoders)
    dists = text_distributions([s.text for s in segments], encoders, config.emotion.text_temperature)
    return [make_emotion(p, sources) for p in dists]


def text_emotion(text: str, config: Config | None = None) -> Emotion:
    """The :class:`Emotion` of a plain text."""
    return segment_emotions([TextSegment(text)], config)[0]


def scene_loudness_db(audio: AudioEnvelope, start: float, end: float) -> float | None:
    """Power-mean RMS level (dBFS) of the envelope hops in ``[start, end)``; None if none."""
    if audio is None or not len(audio.rms_db):
        return None
    i0 = int(np.floor(start / audio.hop_s))
    i1 = max(i0 + 1, int(np.ceil(end / audio.hop_s)))
    seg = np.asarray(audio.rms_db[i0:i1], np.float64)
    if not len(seg):
        return None
    return float(10 * np.log10(np.mean(10 ** (seg / 10)) + 1e-12))


def combine(parts: Sequence[tuple[float, Emotion]]) -> Emotion:
    """Weighted fusion of emotions: distributions, valence and arousal averaged; confidence x agreement."""
    parts = [(w, e) for w, e in parts if w > 0]
    if not parts:
        return neutral_emotion()
    w = np.array([p[0] for p in parts], np.float64)
    w = w / w.sum()
    p = sum(wi * np.array([e.concepts[n] for n in NAMES]) for wi, (_, e) in zip(w, parts))
    va = np.array([[e.valence, e.arousal] for _, e in parts])
    mean_va = w @ va
    spread = float(w @ np.linalg.norm(va - mean_va, axis=1))
    agreement = 1.0 - spread / np.sqrt(2)
    conf = float(w @ np.array([e.confidence for _, e in parts])) * agreement
    sources = tuple(dict.fromkeys(s for _, e in parts for s in e.sources))
    return make_emotion(p, sources, va=(float(mean_va[0]), float(mean_va[1])), confidence=conf)


def _overlap(scene: Scene, segment: TextSegment) -> float:
    if segment.start is None or segment.end is None:
        return scene.duration  # an untimed text covers everything
    if segment.end <= segment.start:  # a zero-length caption counts if it falls inside the scene
        return 1e-3 if scene.start <= segment.start < scene.end else 0.0
    return max(0.0, min(scene.end, segment.end) - max(scene.start, segment.start))


def _segment_index(segments: Sequence[TextSegment]) -> tuple[list[float], list[int], list[int], float]:
    """Timed segments sorted by start (starts, their indices), the untimed ones, and the longest timed one (s):
    what :func:`_near` needs to find a scene's captions without looking at every caption of the film."""
    timed = sorted((s.start, k) for k, s in enumerate(segments) if s.start is not None and s.end is not None)
    untimed = [k for k, s in enumerate(segments) if s.start is None or s.end is None]
    longest = max((segments[k].end - segments[k].start for _, k in timed), default=0.0)
    return [t for t, _ in timed], [k for _, k in timed], untimed, max(0.0, longest)


def _near(scene: Scene, index: tuple[list[float], list[int], list[int], float]) -> list[int]:
    """Indices (in order) of the segments that may overlap ``scene``."""
    starts, keys, untimed, longest = index
    lo, hi = bisect.bisect_left(starts, scene.start - longest), bisect.bisect_right(starts, scene.end)
    return sorted(untimed + keys[lo:hi])


def scene_emotions(scenes: Sequence[Scene], visual: VisualTrack | None = None, segments: Sequence[TextSegment] = (),
                   audio: AudioEnvelope | None = None, config: Config | None = None,
                   segment_readings: Sequence[Emotion] | None = None) -> list[Emotion]:
    """One fused :class:`Emotion` per scene from whatever cues are given.

    ``segment_readings`` may pass precomputed :func:`segment_emotions` (else they are computed here).
    A scene with no cue at all gets :func:`neutral_emotion`.
    """
    config = config or Config()
    scenes = list(scenes)
    segments = list(segments)
    readings = list(segment_readings) if segment_readings is not None else segment_emotions(segments, config)
    rates = cut_rates(scenes) if len(scenes) > 1 else [None] * len(scenes)
    index = _segment_index(segments)
    levels = None
    if audio is not None and config.emotion.audio_arousal > 0 and scenes:
        levels = [scene_loudness_db(audio, s.start, s.end) for s in scenes]
        whole = scene_loudness_db(audio, 0.0, max(s.end for s in scenes))
    out = []
    for i, scene in enumerate(scenes):
        parts: list[tuple[float, Emotion]] = []
        if visual is not None and len(visual):
            parts.append((config.emotion.visual_weight, visual_emotion(scene, visual, config, rates[i])))
        near = _near(scene, index)
        overlaps = np.array([_overlap(scene, segments[k]) for k in near]) if near else np.zeros(0)
        if overlaps.sum() > 0:
            caption = combine([(o, readings[k]) for o, k in zip(overlaps, near) if o > 0])
            coverage = min(1.0, float(overlaps.sum()) / scene.duration)
            parts.append((config.emotion.caption_weight * coverage, caption))
        emotion = combine(parts)
        if levels is not None and levels[i] is not None and whole is not None:
            shift = config.emotion.audio_arousal * float(np.tanh((levels[i] - whole) / 10.0))
            emotion = make_emotion(np.array([emotion.concepts[n] for n in NAMES]), emotion.sources + ("audio",),
                                   va=(emotion.valence, emotion.arousal + shift), confidence=emotion.confidence)
        out.append(emotion)
    return out
