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

A feature film's soundtrack is never held in memory: it is read a block at a time from a source (the project's
stored music on disk, :class:`NpySource`; an array, :class:`ArraySource`), measured as it is written
(:class:`MixMeter`), its true peaks and the limiter's curve computed a window of blocks at a time and the curve
kept only where it takes gain off (:class:`GainCurve`), and the delivered WAV written a block at a time
(:func:`write_delivered`).
"""

from __future__ import annotations

import bisect
import dataclasses
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mm2music.errors import ConfigError
from mm2music.render.synth import LoudnessMeter, loudness

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
_CURVE_BLOCKS = 32  # blocks of :data:`_PEAK_BLOCK` samples whose limiter curve is computed at once
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


class ArraySource:
    """Audio in memory as a block source: ``n`` samples, ``read(a, b)`` -> float32 ``(b - a, channels)``."""

    def __init__(self, audio: np.ndarray):
        self.audio = audio
        self.n = len(audio)

    def read(self, a: int, b: int) -> np.ndarray:
        return np.asarray(self.audio[max(0, a):min(self.n, b)], np.float32)


class NpySource:
    """A float32 stereo ``.npy`` file (the project's stored music) as a block source, read with plain file reads:
    a memory map would count every page read towards the process's resident memory."""

    def __init__(self, path: Path):
        self.path = Path(path)
        with open(self.path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read_header(f)
            self._offset = f.tell()
        if len(shape) != 2 or shape[1] != 2 or dtype != np.float32 or fortran:
            raise ValueError(f"{self.path} is not float32 stereo audio ({dtype} {shape})")
        self.n = shape[0]

    def read(self, a: int, b: int) -> np.ndarray:
        a, b = max(0, a), min(self.n, b)
        with open(self.path, "rb") as f:
            f.seek(self._offset + a * 8)
            return np.frombuffer(f.read(max(0, b - a) * 8), np.float32).reshape(-1, 2).copy()


class MixMeter:
    """BS.1770 loudness of a soundtrack fed a block at a time (``add(first sample, audio)``): of the whole and of
    each :class:`Level`'s stretch, and its loudest sample. The K-weighting filters run once over the whole, so a
    stretch's figure differs from :func:`~mm2music.render.synth.loudness` of the stretch alone only by the
    filters' first milliseconds (well under 0.01 LU on music)."""

    def __init__(self, sample_rate: int, levels: Sequence[Level] = ()):
        self.sr = sample_rate
        self.whole = LoudnessMeter(sample_rate)
        self.spans = [(max(0, round(lv.start * sample_rate)), round(lv.end * sample_rate)) for lv in levels]
        self.meters = [LoudnessMeter(sample_rate) for _ in self.spans]
        self.max_abs = 0.0

    def add(self, at: int, audio: np.ndarray) -> None:
        if not len(audio):
            return
        sq = self.whole.weighted(audio)  # the K-weighting filters run once; each stretch counts its squares
        self.whole.add_squares(sq)
        self.max_abs = max(self.max_abs, float(np.abs(audio).max(initial=0.0)))
        for (a, b), meter in zip(self.spans, self.meters):
            lo, hi = max(a, at), min(b, at + len(audio))
            if lo < hi:
                meter.add_squares(sq[lo - at:hi - at])

    def result(self) -> Measured:
        # a stretch shorter than one BS.1770 gating block (400 ms) has no loudness
        levels = [m.integrated() if m.samples >= 0.4 * self.sr else None for m in self.meters]
        return Measured(self.whole.integrated(), levels, self.max_abs)


@dataclass(frozen=True)
class Measured:
    """What :class:`MixMeter` found: LUFS of the whole and of each level's stretch (None: too short), the
    loudest sample (linear)."""

    lufs: float
    level_lufs: list
    max_abs: float


def measure(source, sample_rate: int, levels: Sequence[Level] = (), block: int = 1 << 20) -> Measured:
    """:class:`MixMeter` over a block source (:class:`ArraySource`, :class:`NpySource`)."""
    meter = MixMeter(sample_rate, levels)
    for a in range(0, source.n, block):
        meter.add(a, source.read(a, a + block))
    return meter.result()


def fit_gain_db(measured: Measured, levels: Sequence[Level], target: float, sample_rate: int) -> float:
    """The gain (dB, before the true-peak cap) that puts each level's stretch where its dynamic belongs: the
    duration-weighted mean of ``target + DYNAMIC_LEVEL_DB[d] - loudness(stretch)``. Without levels (or where
    every stretch is silent), the whole goes to ``target``."""
    errors, weights = [], []
    for lv, lufs in zip(levels, measured.level_lufs):
        if lufs is not None and math.isfinite(lufs):
            errors.append(target + DYNAMIC_LEVEL_DB.get(lv.dynamics, 0.0) - lufs)
            weights.append(round(lv.end * sample_rate) - max(0, round(lv.start * sample_rate)))
    if errors:
        return float(np.average(errors, weights=weights))
    return target - measured.lufs if math.isfinite(measured.lufs) else 0.0


class GainCurve:
    """The delivery's gain per sample of an ``n``-sample soundtrack: one linear ``gain``, and the limiter's
    curve only over the stretches where it acts (``segments``: first sample, float32 gain per sample). Read a
    block at a time (:meth:`block`), at another rate for the 48 kHz stems (:meth:`resampled`)."""

    def __init__(self, gain: float, n: int, segments: Sequence[tuple[int, np.ndarray]] = ()):
        self.gain, self.n = float(gain), n
        self.segments = sorted(segments, key=lambda sc: sc[0])  # disjoint
        self._starts = [s for s, _ in self.segments]

    def scaled(self, factor: float) -> GainCurve:
        return GainCurve(self.gain * factor, self.n, [(s, (c * np.float32(factor)).astype(np.float32)) for s, c in self.segments])

    def min(self) -> float:
        return min([self.gain, *(float(c.min()) for _, c in self.segments)])

    def block(self, a: int, b: int) -> float | np.ndarray:
        """The gain of samples ``a`` to ``b``: a number where the limiter does not act there, else ``(b - a,)``."""
        out = None
        first = max(0, bisect.bisect_right(self._starts, a) - 1)
        for s, c in self.segments[first:bisect.bisect_left(self._starts, b)]:
            lo, hi = max(a, s), min(b, s + len(c))
            if lo < hi:
                if out is None:
                    out = np.full(b - a, self.gain, np.float32)
                out[lo - a:hi - a] = c[lo - s:hi - s]
        return self.gain if out is None else out

    def resampled(self, a: int, b: int, rate: int, mix_rate: int) -> float | np.ndarray:
        """The gain of samples ``a`` to ``b`` of a file at ``rate`` (the curve is at ``mix_rate``), interpolated."""
        if rate == mix_rate:
            return self.block(a, b)
        lo, hi = int(a * mix_rate / rate), int(math.ceil(b * mix_rate / rate)) + 2
        g = self.block(lo, hi)
        if np.isscalar(g):
            return g
        return np.interp(np.arange(a, b) * (mix_rate / rate), np.arange(lo, hi), g).astype(np.float32)

    def full(self) -> np.ndarray:
        """(n,) the whole curve (short audio only: tests, previews)."""
        g = self.block(0, self.n)
        return np.full(self.n, g, np.float32) if np.isscalar(g) else g


@dataclass(frozen=True, eq=False)
class Delivery:
    """What :func:`deliver` did: the gain (dB; before any peak limiting), the integrated loudness and true
    peak after it, the target, and the limiter's curve where it acted (``None``: one gain)."""

    gain_db: float
    lufs: float
    true_peak_dbtp: float
    target_lufs: float
    peak_limited: bool  # the true-peak ceiling held the soundtrack under its planned gain
    limiter: GainCurve | None = None

    @property
    def gain(self) -> float | GainCurve:
        """The linear gain the audio got: a number, or the :class:`GainCurve` (for the stems)."""
        return 10 ** (self.gain_db / 20) if self.limiter is None else self.limiter

    @property
    def curve(self) -> np.ndarray | None:
        """(N,) linear gain per sample where the limiter acted (the whole length: for short audio)."""
        return None if self.limiter is None else self.limiter.full()

    @property
    def limiter_db(self) -> float:
        """The largest gain reduction of the peak limiter, dB (0: it did not act)."""
        return 0.0 if self.limiter is None else float(self.gain_db - 20 * math.log10(self.limiter.min()))

    def summary(self) -> dict:
        def r(x: float):
            return round(x, 2) if math.isfinite(x) else None
        return {"loudness_lufs": r(self.lufs), "loudness_target_lufs": self.target_lufs, "true_peak_dbtp": r(self.true_peak_dbtp),
                "loudness_gain_db": r(self.gain_db), "peak_limited": self.peak_limited, "limiter_db": r(self.limiter_db)}


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


def plan_delivery(source, sample_rate: int, target: float, levels: Sequence[Level] = (), peak_dbtp: float = TRUE_PEAK_DBTP,
                  measured: Measured | None = None) -> Delivery:
    """The delivery of a soundtrack read a block at a time from ``source`` (:class:`ArraySource`,
    :class:`NpySource`): one gain that puts the cues at their planned levels around ``target`` LUFS
    (:func:`fit_gain_db`), with the true peak at or under ``peak_dbtp``. Where the gain would push peaks over the
    ceiling, a look-ahead limiter (:func:`limiter_curve`) takes up to :data:`MAX_LIMIT_DB` off the peaks alone;
    beyond that the whole gain comes down. ``measured``: the source's :class:`Measured` if known (a
    :class:`MixMeter` fed while it was written). The curve is computed, and kept, only around the blocks whose
    peaks the gain would push over the ceiling; where the limiter acts the loudness after it is left NaN for
    :func:`write_delivered` to measure."""
    n = source.n
    measured = measured or measure(source, sample_rate, levels)
    gain_db = fit_gain_db(measured, levels, target, sample_rate)
    ceiling = peak_dbtp - PEAK_MARGIN_DB
    # the exact peaks matter where they could come near the ceiling (the limiter) or near the loudest sample
    level = min(measured.max_abs, 10 ** ((peak_dbtp - gain_db) / 20))
    over = 10 ** ((ceiling - gain_db) / 20)  # a peak over this needs limiting at the planned gain
    bmax = np.zeros(-(-n // _PEAK_BLOCK))  # each block's true peak (its loudest sample where it cannot matter)
    for lo in range(0, n, _RUN):
        hi = min(n, lo + _RUN)
        a = max(0, lo - _PEAK_MARGIN)
        peaks = sample_peaks(source.read(a, hi + _PEAK_MARGIN), level)[lo - a:hi - a]
        starts = np.arange(0, hi - lo, _PEAK_BLOCK)
        bmax[lo // _PEAK_BLOCK:lo // _PEAK_BLOCK + len(starts)] = np.maximum.reduceat(peaks, starts)
    top = float(bmax.max(initial=0.0))
    peak = 20 * math.log10(top) if top > 0 else float("-inf")
    hot = np.flatnonzero(bmax > over)  # the blocks where the limiter may act
    if not len(hot):
        # BS.1770 loudness and the true peak scale with a linear gain: no second measurement needed
        return Delivery(gain_db, measured.lufs + gain_db, peak + gain_db, target, False)
    if peak + gain_db > ceiling + MAX_LIMIT_DB:
        log.info("loudness gain %.1f dB lowered to %.1f dB: the peaks would need more than %.0f dB of limiting under "
                 "%.1f dBTP", gain_db, ceiling + MAX_LIMIT_DB - peak, MAX_LIMIT_DB, peak_dbtp)
        gain_db = ceiling + MAX_LIMIT_DB - peak
    g = 10 ** (gain_db / 20)
    # runs of hot blocks and one block either side (longer than the filters' reach), the curve computed a window of
    # blocks at a time with a block of context each side, and kept only where it takes gain off
    breaks = np.flatnonzero(np.diff(hot) > 3)
    runs = [(max(0, int(hot[i]) - 1), min(len(bmax), int(hot[j]) + 2)) for i, j in zip(np.r_[0, breaks + 1], np.r_[breaks, len(hot) - 1])]
    covered = np.zeros(len(bmax), bool)
    for k0, k1 in runs:
        covered[k0:k1] = True
    windows = [(w * _PEAK_BLOCK, min(n, min(k1, w + _CURVE_BLOCKS) * _PEAK_BLOCK)) for k0, k1 in runs for w in range(k0, k1, _CURVE_BLOCKS)]
    segments = []
    for lo, hi in windows:
        a, b = max(0, lo - _PEAK_BLOCK), min(n, hi + _PEAK_BLOCK)
        pa = max(0, a - _PEAK_MARGIN)
        peaks = sample_peaks(source.read(pa, b + _PEAK_MARGIN), level)[a - pa:b - pa]
        c = limiter_curve(peaks, sample_rate, gain_db, ceiling)[lo - a:hi - a]
        acts = np.flatnonzero(c < np.float32(g) * np.float32(1 - 1e-6))
        if len(acts):
            segments.append((lo + int(acts[0]), c[acts[0]:acts[-1] + 1].copy()))
    curve = GainCurve(g, n, segments)
    # the true peak after: measured again where the curve may move (once the whole curve is known: a window's
    # margin reaches into the next one's), scaled elsewhere
    after = float((bmax[~covered] * g).max(initial=0.0))
    for lo, hi in windows:
        a, b = max(0, lo - _PEAK_MARGIN), min(n, hi + _PEAK_MARGIN)
        up = sample_peaks(_scaled(source.read(a, b), curve.block(a, b)))
        after = max(after, float(up[lo - a:hi - a].max(initial=0.0)))
    after_db = 20 * math.log10(after) if after > 0 else float("-inf")
    if after_db > ceiling:  # the gain's own movement can nudge an interpolated peak: trim by what is left
        curve, after_db = curve.scaled(10 ** ((ceiling - after_db) / 20)), ceiling
    return Delivery(gain_db, float("nan"), after_db, target, True, curve)


def gained(source, report: Delivery, a: int, b: int) -> np.ndarray:
    """Samples ``a`` to ``b`` of ``source`` at the delivery's gain, float32 ``(b - a, 2)``."""
    a, b = max(0, a), min(source.n, b)
    return _scaled(source.read(a, b), report.limiter.block(a, b) if report.limiter is not None else report.gain)


def _scaled(audio: np.ndarray, gain: float | np.ndarray) -> np.ndarray:
    """``(m, 2)`` audio times a gain: a number, or one per sample ``(m,)``."""
    return audio * (np.float32(gain) if np.isscalar(gain) else gain[:, None])


def write_delivered(source, report: Delivery, path: Path, sample_rate: int, block: int = 1 << 20, bext: dict | None = None) -> Delivery:
    """``path``: 16-bit PCM WAV of ``source`` at the delivery's gain, written a block at a time (``bext``: its
    Broadcast WAV chunk, see :func:`~mm2music.render.synth.write_wav`); returns the report with the loudness
    measured on the way where the limiter acted."""
    from mm2music.render.synth import write_wav

    meter = LoudnessMeter(sample_rate) if report.limiter is not None else None

    def blocks():
        for a in range(0, source.n, block):
            piece = gained(source, report, a, a + block)
            if meter is not None:
                meter.add(piece)
            yield piece

    write_wav(path, blocks(), sample_rate, bext=bext)
    return report if meter is None else dataclasses.replace(report, lufs=meter.integrated())


def deliver(audio: np.ndarray, sample_rate: int, target: float, levels: Sequence[Level] = (),
            peak_dbtp: float = TRUE_PEAK_DBTP) -> tuple[np.ndarray, Delivery]:
    """``audio`` (in memory: a preview, a test) at the delivery loudness (:func:`plan_delivery`)."""
    source = ArraySource(audio)
    report = plan_delivery(source, sample_rate, target, levels, peak_dbtp)
    out = gained(source, report, 0, len(audio)).astype(np.float32, copy=False)
    if report.limiter is not None:
        report = dataclasses.replace(report, lufs=loudness(out, sample_rate))
    return out, report
