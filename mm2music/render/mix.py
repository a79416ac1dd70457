"""Mix the music under the source's own audio, ducking it where people speak (and only there).

Where the speech is comes from the analysis (:attr:`~mm2music.types.AudioEnvelope.speech`, a voice-activity
detector's spans): a line of dialogue pulls the music down by ``depth_db``, an explosion or a door slam does not.
"""

from __future__ import annotations

import numpy as np

from mm2music.types import AudioEnvelope


def duck_gain(envelope: AudioEnvelope, n_samples: int, sample_rate: int, depth_db: float = -12.0,
              attack_s: float = 0.08, release_s: float = 0.5, hop_s: float = 0.01) -> np.ndarray:
    """Per-sample gain (N,) for the music: ``depth_db`` under the source's speech, 1 elsewhere.

    The gain starts down ``attack_s`` before each line (the first syllable is clear) and moves with the given
    attack / release times, so the ducking breathes instead of pumping; ``hop_s``: the control rate.
    """
    if not envelope.speech or n_samples == 0:
        return np.ones(n_samples, np.float32)
    n_hops = int(np.ceil(n_samples / sample_rate / hop_s)) + 1
    times = np.arange(n_hops) * hop_s
    speaking = np.zeros(n_hops, bool)
    for start, end in envelope.speech:
        speaking |= (times >= start - attack_s) & (times < end)
    target = np.where(speaking, 10 ** (depth_db / 20), 1.0)
    smoothed = np.empty_like(target)
    level = 1.0
    a_att = 1 - np.exp(-hop_s / attack_s)
    a_rel = 1 - np.exp(-hop_s / release_s)
    for i, t in enumerate(target):
        level += (t - level) * (a_att if t < level else a_rel)
        smoothed[i] = level
    gain = np.empty(n_samples, np.float32)
    block = 1 << 20  # a block at a time: a whole film's float64 sample times would cost more than the music
    for a in range(0, n_samples, block):
        gain[a:a + block] = np.interp(np.arange(a, min(a + block, n_samples)) / sample_rate, times, smoothed)
    return gain


def ducked_fraction(gain: np.ndarray, depth_db: float = -12.0) -> float:
    """Share of the time the music is ducked by at least half the depth."""
    return float(np.mean(gain < 10 ** (depth_db / 40)))
