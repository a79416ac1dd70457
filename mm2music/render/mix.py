"""Mix the music under the source's own audio, ducking it where people speak (and only there).

Where the speech is comes from the analysis (:attr:`~mm2music.types.AudioEnvelope.speech`, a voice-activity
detector's spans): a line of dialogue pulls the music down by ``depth_db``, an explosion or a door slam does not.
"""

from __future__ import annotations

import numpy as np

from mm2music.types import AudioEnvelope


class Ducking:
    """The music's gain under the source's speech at the control rate (``hop_s``), read per sample a block at a
    time (:meth:`block`): ``depth_db`` under each line, 1 elsewhere.

    The gain starts down ``attack_s`` before each line (the first syllable is clear) and moves with the given
    attack / release times, so the ducking breathes instead of pumping.
    """

    def __init__(self, envelope: AudioEnvelope, sample_rate: int, duration_s: float, depth_db: float = -12.0,
                 attack_s: float = 0.08, release_s: float = 0.5, hop_s: float = 0.01):
        self.sample_rate, self.depth_db = sample_rate, depth_db
        self.active = bool(envelope.speech)
        n_hops = int(np.ceil(duration_s / hop_s)) + 1
        self.times = np.arange(n_hops) * hop_s
        speaking = np.zeros(n_hops, bool)
        for start, end in envelope.speech:
            speaking |= (self.times >= start - attack_s) & (self.times < end)
        target = np.where(speaking, 10 ** (depth_db / 20), 1.0)
        self.smoothed = np.empty_like(target)
        level = 1.0
        a_att = 1 - np.exp(-hop_s / attack_s)
        a_rel = 1 - np.exp(-hop_s / release_s)
        for i, t in enumerate(target):
            level += (t - level) * (a_att if t < level else a_rel)
            self.smoothed[i] = level

    def block(self, a: int, b: int) -> np.ndarray:
        """(b - a,) float32: the gain of samples ``a`` to ``b``."""
        if not self.active:
            return np.ones(b - a, np.float32)
        return np.interp(np.arange(a, b) / self.sample_rate, self.times, self.smoothed).astype(np.float32)


def duck_gain(envelope: AudioEnvelope, n_samples: int, sample_rate: int, depth_db: float = -12.0,
              attack_s: float = 0.08, release_s: float = 0.5, hop_s: float = 0.01) -> np.ndarray:
    """Per-sample gain (N,) for the music: ``depth_db`` under the source's speech, 1 elsewhere (:class:`Ducking`
    over the whole length: for short audio; a film's mux reads it a block at a time)."""
    if not envelope.speech or n_samples == 0:
        return np.ones(n_samples, np.float32)
    return Ducking(envelope, sample_rate, n_samples / sample_rate, depth_db, attack_s, release_s, hop_s).block(0, n_samples)


def ducked_fraction(gain: np.ndarray, depth_db: float = -12.0) -> float:
    """Share of the time the music is ducked by at least half the depth."""
    return float(np.mean(gain < 10 ** (depth_db / 40)))
