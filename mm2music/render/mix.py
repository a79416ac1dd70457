"""Mix the music under the source's own audio, ducking it where the original has speech or loud sound."""

from __future__ import annotations

import numpy as np

from mm2music.types import AudioEnvelope


def duck_gain(envelope: AudioEnvelope, n_samples: int, sample_rate: int, depth_db: float = -12.0,
              threshold_db: float | None = None, attack_s: float = 0.08, release_s: float = 0.5) -> np.ndarray:
    """Per-sample gain (N,) for the music: ``depth_db`` where the source's speech band is active.

    Active = speech-band level above ``threshold_db`` (default: 10 dB under the loudest 10% of the track,
    and never below -45 dBFS). The gain moves with the given attack / release times so ducking breathes
    instead of pumping.
    """
    speech = envelope.speech_db.astype(np.float64)
    if len(speech) == 0:
        return np.ones(n_samples, np.float32)
    if threshold_db is None:
        threshold_db = max(-45.0, float(np.percentile(speech, 90)) - 10.0)
    target = np.where(speech > threshold_db, 10 ** (depth_db / 20), 1.0)
    hop = envelope.hop_s
    smoothed = np.empty_like(target)
    level = 1.0
    a_att = 1 - np.exp(-hop / attack_s)
    a_rel = 1 - np.exp(-hop / release_s)
    for i, t in enumerate(target):
        level += (t - level) * (a_att if t < level else a_rel)
        smoothed[i] = level
    times = (np.arange(len(smoothed)) + 0.5) * hop
    gain = np.empty(n_samples, np.float32)
    block = 1 << 20  # a block at a time: a whole film's float64 sample times would cost more than the music
    for a in range(0, n_samples, block):
        gain[a:a + block] = np.interp(np.arange(a, min(a + block, n_samples)) / sample_rate, times, smoothed)
    return gain


def ducked_fraction(gain: np.ndarray, depth_db: float = -12.0) -> float:
    """Share of the time the music is ducked by at least half the depth."""
    return float(np.mean(gain < 10 ** (depth_db / 40)))
