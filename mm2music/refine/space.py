"""The settings a slider moves, for one cue: a point of the unit cube <-> the cue's plan.

Four continuous axes, each in [0, 1] (0.5 = the cue as planned for valence and tempo):

* ``valence``: an offset in [-1, 1] added to the cue's valence; where the sum changes sign, the cue changes mode
  to its relative key (same key signature: the smoothest change of mode, as the planner does);
* ``intensity``: dynamics (pp .. ff) and note density (very sparse .. very dense) together;
* ``tempo``: a factor in [0.75, 1.33] (log scale) on the planned tempo; the cue keeps filling its span with
  whole bars (:func:`mm2music.revise.fit_tempo`);
* ``register``: low .. very high.

The decoder is conditioned on bins (density, register, tempo band, mode), so neighbouring points can sound
the same; the line search only needs the person's pick.
"""

from __future__ import annotations

import math

import numpy as np

from mm2music.graph.cues import DYNAMICS
from mm2music.graph.keys import key_name, relative
from mm2music.key import Key
from mm2music.music.attributes import DENSITY_BINS, REGISTER_BINS
from mm2music.revise import CueSettings
from mm2music.types import Cue

AXES = ("valence", "intensity", "tempo", "register")
TEMPO_FACTORS = (0.75, 4 / 3)


def _bin(x: float, bins) -> str:
    return bins[min(len(bins) - 1, int(x * len(bins)))]


def _centre(value: str, bins) -> float:
    return (bins.index(value) + 0.5) / len(bins)


def point_of(cue: Cue) -> np.ndarray:
    """The point of the cube where ``cue`` (as planned) sits."""
    intensity = cue.intensity  # the cue's place on the intensity curve
    return np.array([0.5, intensity, 0.5, _centre(cue.register, REGISTER_BINS)])


def settings_at(cue: Cue, x) -> CueSettings:
    """The settings of ``cue`` at point ``x`` (relative to the cue as planned)."""
    valence, intensity, tempo, register = (float(v) for v in np.clip(np.asarray(x, dtype=float), 0.0, 1.0))
    key = None
    if (cue.valence >= 0) != (cue.valence + (2 * valence - 1) >= 0):
        pc, mode = Key.of(cue.key, cue.mode)
        key = key_name(*relative(pc, mode))
    lo, hi = (math.log(f) for f in TEMPO_FACTORS)
    factor = math.exp(lo + (hi - lo) * tempo)
    return CueSettings(key=key, tempo=round(cue.tempo_bpm * factor, 2) if abs(factor - 1) > 0.02 else None,
                       intensity=round(intensity, 3), register=_bin(register, REGISTER_BINS))


def describe(settings: CueSettings) -> str:
    """A short line for people: 'key A minor, tempo 96.0, intensity 0.62, register high'."""
    return ", ".join(f"{k} {', '.join(v) if isinstance(v, list) else v}" for k, v in settings.pinned().items())
