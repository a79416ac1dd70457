"""Delivery loudness: one gain for the whole soundtrack that meets a delivery target and keeps the cues' dynamics.

Normalising each file to its own loudness makes a pianissimo funeral as loud as a fortissimo battle. Instead the
gain places every cue where its *planned* dynamic belongs relative to the delivery target
(:data:`DYNAMIC_LEVEL_DB`: the target is the level of a cue between mf and f; a p cue sits 8 dB under it, an ff
cue 3 dB over): one gain for the whole soundtrack, the duration-weighted least-squares fit of the cues' measured
loudness (ITU-R BS.1770-4) to those levels. A soundtrack of mf-f cues therefore lands on the target; a single p cue
lands 11 dB under a single ff cue; within one score the rendered steps between cues are kept as they are. The true
peak (4x oversampled, ITU-R BS.1770-4 Annex 2) stays at or under ``peak_dbtp``: where the gain would push peaks
over it, a look-ahead limiter takes up to 3 dB off those peaks alone (an orchestral tutti peaks ~12-14 dB over its
loudness, so -14 LUFS needs it), and beyond that the whole gain comes down. Stems take the same gain (the same
per-sample curve where the limiter acted), so they still add up to the mix.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mm2music.errors import ConfigError
from mm2music.render.synth import loudness

log = logging.getLogger(__name__)

# --loudness names -> integrated loudness (LUFS) of the delivered soundtrack
LOUDNESS_TARGETS = {
    "ebu": -23.0,  # EBU R128 broadcast
    "stream": -16.0,  # streaming / online video (AES TD1004 for online audio)
    "stream14": -14.0,  # music streaming platforms
}
LOUDNESS_HELP = ", ".join(f"{name} ({lufs:g} LUFS)" for name, lufs in LOUDNESS_TARGETS.items())
TRUE_PEAK_DBTP = -1.0  # EBU R128 / streaming delivery ceiling
# where a cue of each planned dynamic sits, in dB from the delivery target: ~3 dB a step, as a film mixer rides
# the music; p -> ff is 11 dB, so a p cue stays 8 dB or more under an ff one even where the true-peak ceiling
# holds the ff cue back (an orchestral ff peaks ~12 dB over its loudness: at -14 LUFS it cannot reach -11)
DYNAMIC_LEVEL_DB = {"pp": -11.0, "p": -8.0, "mp": -5.0, "mf": -2.0, "f": 1.0, "ff": 3.0}
OVERSAMPLE = 4
# 4x oversampling still samples the waveform, and meters differ by their interpolation filters (ffmpeg's
# ebur128 reads up to ~0.05 dB over ours): aim this far under the ceiling
PEAK_MARGIN_DB = 0.1
# the peak limiter: at most this much gain reduction (dB; more would be heard: the whole gain comes down
# instead), looking this far ahead (s) and holding the reduction this long after a peak (s)
MAX_LIMIT_DB = 3.0
LIMITER_LOOKAHEAD_S = 0.01
LIMITER_HOLD_S = 0.05
_PEAK_BLOCK = 8192  # samples per block judged loud enough to oversample or not
_RUN = 1 << 18  # samples oversampled at once (bounded memory for a feature film)
_PEAK_MARGIN = 64  # samples of context each side of a block: longer than the interpolation filter's half length
# an inter-sample peak rises a few dB over the samples around it (3 dB for a sine at a quarter of the rate): blocks
# whose samples all stay this far under the level that matters cannot reach it and are not oversampled
_OVERSHOOT_DB = 6.0


def target_lufs(value: str | float, what: str = "--loudness") -> float:
    """The integrated loudness (LUFS) a ``--loudness`` value asks for: a name of :data:`LOUDNESS_TARGETS` or a
    number of LUFS from -70 to 0."""
    name = str(value).strip().lower()
    if name in LOUDNESS_TARGETS:
        return LOUDNESS_TARGETS[name]
    try:
        lufs = float(name)
    except ValueError:
        raise ConfigError(f"{what} {value!r} is not a delivery target; choose {LOUDNESS_HELP} or a number of LUFS, e.g. -20") from None
    if not (math.isfinite(lufs) and -70.0 <= lufs <= 0.0):
        raise ConfigError(f"{what} {value!r} is out of range; give a loudness between -70 and 0 LUFS, e.g. -23 (or {', '.join(LOUDNESS_TARGETS)})")
    return lufs


def true_peak(audio: np.ndarray) -> float:
    """True peak (dBTP) of ``(N, channels)`` audio: the largest magnitude after 4x oversampling (polyphase
    interpolation), which catches the inter-sample peaks a DAC or a lossy encoder reconstructs. -inf for
    silence. Works in blocks, so a feature-length soundtrack needs little memory."""
    peak = float(sample_peaks(audio).max()) if len(audio) else 0.0
    return 20 * math.log10(peak) if peak > 0 else float("-inf")


@dataclass(frozen=True)
class Level:
    """A stretch of the soundtrack (seconds) with the dynamic its cue was planned at ("pp" .. "ff")."""

    start: float
    end: float
    dynamics: str


def cue_levels(cues: Sequence, start: float = 0.0, end: float = math.inf) -> list[Level]:
    """The :class:`Level` of each cue (anything with ``start``, ``end``, ``dynamics``) inside the window
    ``[start, end)`` seconds, in the window's time (a preview rendered from ``start``)."""
    out = []
    for c in cues:
        a, b = max(c.start, start), min(c.end, end)
        if b > a:
            out.append(Level(a - start, b - start, c.dynamics))
    return out


@dataclass(frozen=True, eq=False)
class Delivery:
    """What :func:`deliver` did: the gain (dB; before any peak limiting), the integrated loudness and true
    peak after it, the target, and the per-sample gain where the peak limiter acted (``None``: one gain)."""

    gain_db: float
    lufs: float
    true_peak_dbtp: float
    target_lufs: float
    peak_limited: bool  # the true-peak ceiling held the soundtrack under its planned gain
    curve: np.ndarray | None = None  # (N,) linear gain per sample, with the limiter's reductions

    @property
    def gain(self) -> float | np.ndarray:
        """The linear gain the audio got: a number, or the per-sample curve (for the stems)."""
        return 10 ** (self.gain_db / 20) if self.curve is None else self.curve

    @property
    def limiter_db(self) -> float:
        """The largest gain reduction of the peak limiter, dB (0: it did not act)."""
        return 0.0 if self.curve is None else float(self.gain_db - 20 * math.log10(float(self.curve.min())))

    def summary(self) -> dict:
        def r(x: float):
            return round(x, 2) if math.isfinite(x) else None
        return {"loudness_lufs": r(self.lufs), "loudness_target_lufs": self.target_lufs, "true_peak_dbtp": r(self.true_peak_dbtp),
                "loudness_gain_db": r(self.gain_db), "peak_limited": self.peak_limited, "limiter_db": r(self.limiter_db)}


def delivery_gain_db(audio: np.ndarray, sample_rate: int, target: float, levels: Sequence[Level],
                     measured: float | None = None) -> float:
    """The gain (dB, before the true-peak cap) that puts each level's stretch of ``audio`` where its dynamic
    belongs: the duration-weighted mean of ``target + DYNAMIC_LEVEL_DB[d] - loudness(stretch)``. Without
    levels (or where every stretch is silent), the whole file goes to ``target`` (``measured``: its loudness
    if already known)."""
    errors, weights = [], []
    for lv in levels:
        a, b = round(lv.start * sample_rate), round(lv.end * sample_rate)
        piece = audio[max(0, a):min(len(audio), b)]
        if len(piece) < 0.4 * sample_rate:  # shorter than one BS.1770 gating block
            continue
        lufs = loudness(piece, sample_rate)
        if math.isfinite(lufs):
            errors.append(target + DYNAMIC_LEVEL_DB.get(lv.dynamics, 0.0) - lufs)
            weights.append(b - a)
    if errors:
        return float(np.average(errors, weights=weights))
    whole = loudness(audio, sample_rate) if measured is None else measured
    return target - whole if math.isfinite(whole) else 0.0


def sample_peaks(audio: np.ndarray, level: float | None = None) -> np.ndarray:
    """(N,) the largest magnitude of any channel between each sample and the next, 4x oversampled, where it
    can reach ``level`` (linear; default: the loudest sample): blocks whose samples all stay
    :data:`_OVERSHOOT_DB` under it keep their samples' own magnitudes (the true peak is the maximum)."""
    from scipy.signal import resample_poly

    n = len(audio)
    out = np.abs(np.asarray(audio[:, 0], np.float64))
    for c in range(1, audio.shape[1]):  # the loudest channel (faster than a max along the short axis)
        np.maximum(out, np.abs(audio[:, c]), out=out)
    if not n:
        return out
    floor = (out.max() if level is None else level) * 10 ** (-_OVERSHOOT_DB / 20)
    starts = np.arange(0, n, _PEAK_BLOCK)
    loud = np.r_[False, np.maximum.reduceat(out, starts) >= floor, False]
    edges = np.flatnonzero(np.diff(loud.astype(np.int8)))  # runs of loud blocks, oversampled a run at a time
    for first, last in zip(edges[::2], edges[1::2]):
        for lo in range(first * _PEAK_BLOCK, min(n, last * _PEAK_BLOCK), _RUN):
            hi = min(n, last * _PEAK_BLOCK, lo + _RUN)
            a, b = max(0, lo - _PEAK_MARGIN), min(n, hi + _PEAK_MARGIN)
            up = resample_poly(np.asarray(audio[a:b], np.float32), OVERSAMPLE, 1, axis=0)
            mag = np.abs(up[:, 0])
            for c in range(1, up.shape[1]):
                np.maximum(mag, np.abs(up[:, c]), out=mag)
            out[lo:hi] = mag[(lo - a) * OVERSAMPLE:(hi - a) * OVERSAMPLE].reshape(-1, OVERSAMPLE).max(axis=1)
    return out


def limiter_curve(peaks: np.ndarray, sample_rate: int, gain_db: float, ceiling_db: float) -> np.ndarray:
    """(N,) linear gain: ``gain_db``, brought down around each peak (``peaks``: :func:`sample_peaks` of the
    audio) that would cross ``ceiling_db`` just enough to hold it there. A look-ahead limiter without a side chain's guesswork: the gain each sample
    needs, its minimum over the :data:`LIMITER_LOOKAHEAD_S` before and the :data:`LIMITER_HOLD_S` after, then
    a moving average over the look-ahead (never above what any peak in reach needs, so no peak escapes)."""
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    g, ceiling = 10 ** (gain_db / 20), 10 ** (ceiling_db / 20)
    need = np.minimum(1.0, ceiling / np.maximum(peaks * g, 1e-12))
    ahead, hold = max(1, round(LIMITER_LOOKAHEAD_S * sample_rate)), round(LIMITER_HOLD_S * sample_rate)
    # zero-phase window placed so each sample takes the least need from `ahead` samples before it to `hold` after
    held = minimum_filter1d(need, size=ahead + hold + 1, origin=(hold - ahead) // 2)
    return (g * uniform_filter1d(held, size=ahead + 1)).astype(np.float32)


def deliver(audio: np.ndarray, sample_rate: int, target: float, levels: Sequence[Level] = (),
            peak_dbtp: float = TRUE_PEAK_DBTP, measured: float | None = None) -> tuple[np.ndarray, Delivery]:
    """``audio`` at the delivery loudness: one gain that puts the cues at their planned levels around ``target``
    LUFS (:func:`delivery_gain_db`), with the true peak at or under ``peak_dbtp``. Where the gain would push
    peaks over the ceiling, a look-ahead limiter (:func:`limiter_curve`) takes up to :data:`MAX_LIMIT_DB` off
    the peaks alone; beyond that the whole gain comes down. ``measured``: the whole file's loudness if known
    (a :class:`~mm2music.render.synth.LoudnessMeter` fed while rendering)."""
    gain_db = delivery_gain_db(audio, sample_rate, target, levels, measured)
    # the exact peaks matter where they could come near the ceiling (the limiter) or near the loudest sample
    peaks = sample_peaks(audio, min(float(np.abs(audio).max(initial=0.0)), 10 ** ((peak_dbtp - gain_db) / 20)))
    peak = 20 * math.log10(peaks.max()) if len(peaks) and peaks.max() > 0 else float("-inf")
    ceiling = peak_dbtp - PEAK_MARGIN_DB
    whole = loudness(audio, sample_rate) if measured is None else measured
    if not math.isfinite(peak) or peak + gain_db <= ceiling:
        # BS.1770 loudness and the true peak scale with a linear gain: no second measurement needed
        report = Delivery(gain_db, whole + gain_db, peak + gain_db, target, False)
        return (audio * np.float32(report.gain)).astype(np.float32, copy=False), report
    if peak + gain_db > ceiling + MAX_LIMIT_DB:
        log.info("loudness gain %.1f dB lowered to %.1f dB: the peaks would need more than %.0f dB of limiting under "
                 "%.1f dBTP", gain_db, ceiling + MAX_LIMIT_DB - peak, MAX_LIMIT_DB, peak_dbtp)
        gain_db = ceiling + MAX_LIMIT_DB - peak
    curve = limiter_curve(peaks, sample_rate, gain_db, ceiling)
    out = audio * curve[:, None]
    after = true_peak(out)
    if after > ceiling:  # the gain's own movement can nudge an interpolated peak: trim by what is left
        trim = np.float32(10 ** ((ceiling - after) / 20))
        curve, out, after = curve * trim, out * trim, ceiling
    report = Delivery(gain_db, loudness(out, sample_rate), after, target, True, curve)
    return out.astype(np.float32, copy=False), report
