"""Melody, ending, theme and harmony measurements of ``bench/melody.py``: pure functions of note arrays.

A :class:`Line` is a monophonic melody: onsets, ends and pitches (MIDI numbers) of its notes, times in quarter
notes ("beats") and seconds, with the bar lines it sits in. Ours comes from the written MIDI's melody tracks
(their highest note per onset); real ones from the top part of a score in music21's corpus.

Definitions (one code path measures our scores and the real lines):

- **note value** (beats): the time to the next onset, unless a rest of at least :data:`REST_MIN_Q` beats
  follows the note, then the note's own length. Articulation (a staccato eighth sounding for a sixteenth)
  does not change the value; a written rest does.
- **pattern repetition**: the first ``n_notes`` notes give ``n_notes - 1`` semitone intervals and
  ``n_notes - n`` patterns of ``n`` consecutive intervals; the share of those pattern *occurrences* whose
  pattern occurs at least twice. A sequence of one motif repeated throughout scores 1, a line without any
  recurring three-interval cell 0.
- **scale steps**: a pitch's diatonic step number in a key (7 per octave); a chromatic note counts as the
  scale degree below it (the raised leading tone of harmonic minor is still degree 7).
- **final sonority**: the pitched notes sounding in the last quarter beat before the score's last note ends.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from bench import film_features as ff

REST_MIN_Q = 0.5  # beats: a gap this long after a note's end is a rest, shorter is articulation
SIXTEENTH_Q = 0.25 + 1e-3  # beats: note values up to this are sixteenths (or shorter)
MELODY_TRACKS = r"^melody\b"  # the realiser's melody track names: "Melody - Violin"
HARMONY_TRACKS = r"^(pad|bass|figure|harmony|chords?)\b"  # tracks that carry the harmony
FINAL_WINDOW_Q = 0.25  # beats before the last note's end that count as the final sonority

SCALES = {  # mode -> semitones of its degrees above the tonic
    "major": (0, 2, 4, 5, 7, 9, 11), "ionian": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10), "aeolian": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10), "phrygian": (0, 1, 3, 5, 7, 8, 10), "lydian": (0, 2, 4, 6, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10), "locrian": (0, 1, 3, 5, 6, 8, 10),
    "harmonic minor": (0, 2, 3, 5, 7, 8, 11), "melodic minor": (0, 2, 3, 5, 7, 9, 11),
}
_LETTERS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def tonic_pc(key: str) -> int:
    """Pitch class (0 = C) of a tonic written 'F#', 'Bb', 'E-flat', 'B-' or 'c#'."""
    m = re.fullmatch(r"\s*([A-Ga-g])\s*(#|♯|-?\s*sharp|b|♭|-?\s*flat|-)?\s*", key or "")
    if m is None:
        raise ValueError(f"tonic {key!r} is not a letter A-G with an optional sharp or flat")
    acc = m.group(2) or ""
    shift = 1 if ("#" in acc or "♯" in acc or "sharp" in acc) else (-1 if acc else 0)
    return (_LETTERS[m.group(1).upper()] + shift) % 12


def scale_of(mode: str) -> tuple[int, ...]:
    """Semitones of the degrees of ``mode`` (a major or minor key, or a church mode) above the tonic."""
    if mode.lower() not in SCALES:
        raise ValueError(f"mode {mode!r} is not one of {sorted(SCALES)}")
    return SCALES[mode.lower()]


# --- the line ---------------------------------------------------------------------------------------


@dataclass
class Line:
    """A monophonic melody. Arrays are parallel, one entry per note, sorted by onset."""

    start_q: np.ndarray  # (N,) beats
    end_q: np.ndarray  # (N,) beats
    pitch: np.ndarray  # (N,) MIDI pitch
    downbeats_q: np.ndarray  # bar starts, beats (the last is the end of the last bar)
    start_s: np.ndarray | None = None  # (N,) seconds, where a tempo map is known
    program: np.ndarray | None = None  # (N,) General MIDI program of the track each note came from

    def __len__(self) -> int:
        return len(self.pitch)

    def take(self, mask: np.ndarray) -> Line:
        start_s = None if self.start_s is None else self.start_s[mask]
        program = None if self.program is None else self.program[mask]
        return Line(self.start_q[mask], self.end_q[mask], self.pitch[mask], self.downbeats_q, start_s, program)


def skyline(start_q, end_q, pitch, tol: float = ff.ONSET_TOL) -> np.ndarray:
    """Indices of the highest note at each onset (notes sorted by onset or not): a monophonic line."""
    start_q, pitch = np.asarray(start_q, np.float64), np.asarray(pitch)
    order = np.lexsort((-pitch, start_q))  # by onset, highest first
    keep, last = [], -math.inf
    for i in order:
        if start_q[i] > last + tol:
            keep.append(i)
            last = start_q[i]
    return np.array(keep, np.int64)


GRID = 24  # positions per quarter note a written melody is read on (16th-note triplets and 32nds)


def melody_line(m: ff.Music, pattern: str = MELODY_TRACKS) -> Line:
    """The melody of a written score: the tracks whose name matches ``pattern`` (else the melody track by
    :func:`ff.track_roles`), reduced to its highest note per onset."""
    keep = np.array([bool(re.search(pattern, t.name, re.I)) and not t.is_drum for t in m.tracks], bool)
    mask = keep[m.track] if len(m.tracks) else np.zeros(0, bool)
    if not mask.any():
        k = ff.track_roles(m)["melody"]
        mask = m.track == k if k is not None else np.zeros(len(m.pitch), bool)
    idx = np.flatnonzero(mask)
    # the written notes, not the performance: the timing feel (a few ms off the grid) and legato overlaps go
    start_q = written_onsets(m.start_q[idx], m.end_q[idx], m.start_s[idx], m.end_s[idx])
    end_q = np.round(m.end_q[idx] * GRID) / GRID
    top = skyline(start_q, end_q, m.pitch[idx])
    programs = np.array([t.program for t in m.tracks], np.int64)
    return Line(start_q[top], end_q[top], m.pitch[idx][top], m.downbeats_q, m.start_s[idx][top], programs[m.track[idx][top]])


FEEL_S = 0.020  # seconds: an onset this far behind a grid position was played late on it (the performance's feel)


def written_onsets(start_q, end_q, start_s, end_s, late_s: float = FEEL_S) -> np.ndarray:
    """Onsets in beats as written: on the :data:`GRID` position at or before each onset where the note sounds at
    most ``late_s`` seconds after it (a note played behind the beat is read on the beat, as a transcriber would;
    at 160 BPM a 14 ms lag is 0.04 beats, more than half a grid step), else on the nearest position."""
    start_q, end_q = np.asarray(start_q, np.float64), np.asarray(end_q, np.float64)
    q_per_s = (end_q - start_q) / np.maximum(np.asarray(end_s) - np.asarray(start_s), 1e-9)  # the tempo at the note
    before = np.floor(start_q * GRID + 1e-6) / GRID
    late = (start_q - before) <= late_s * q_per_s + 1e-9
    return np.where(late, before, np.round(start_q * GRID) / GRID)


def line_from_rows(rows, downbeats_q) -> Line:
    """A :class:`Line` from ``(start_q, end_q, pitch)`` rows (the skyline of them, so chords keep their top note)."""
    a = np.array([tuple(r[:3]) for r in rows], np.float64).reshape(-1, 3)
    top = skyline(a[:, 0], a[:, 1], a[:, 2])
    return Line(a[top, 0], a[top, 1], a[top, 2].astype(np.int64), np.asarray(downbeats_q, np.float64))


def note_values(line: Line) -> np.ndarray:
    """Each note's value in beats (see the module docstring): the onset-to-onset time, or its own length
    where a rest follows."""
    if len(line) == 0:
        return np.zeros(0)
    ioi = np.append(np.diff(line.start_q), np.inf)
    own = line.end_q - line.start_q
    gap = ioi - own
    return np.where(gap >= REST_MIN_Q - 1e-6, own, ioi)


# --- 1. repetition --------------------------------------------------------------------------------------


def repetition_share(pitches, n_notes: int = 60, n: int = 3) -> float:
    """Share of the ``n``-interval patterns in the first ``n_notes`` pitches whose pattern occurs at least
    twice there (module docstring). NaN when there are fewer than ``n + 2`` notes (no pattern could recur)."""
    p = np.asarray(pitches, np.int64)[:n_notes]
    iv = np.diff(p)
    pats = [tuple(iv[i : i + n]) for i in range(len(iv) - n + 1)]
    if len(pats) < 2:
        return float("nan")
    counts = Counter(pats)
    return float(np.mean([counts[x] >= 2 for x in pats]))


# --- 2. segment features ----------------------------------------------------------------------------------

INTERVAL_BINS = ((0, 0), (1, 2), (3, 4), (5, 7), (8, 12), (13, 127))  # |semitones|, inclusive
VALUE_BINS = ((0.0, SIXTEENTH_Q), (SIXTEENTH_Q, 0.5 + 1e-3), (0.5 + 1e-3, 1.0 + 1e-3), (1.0 + 1e-3, 2.0 + 1e-3), (2.0 + 1e-3, math.inf))


def segments(line: Line, n_bars: int = 8) -> list[Line]:
    """Non-overlapping ``n_bars``-bar windows from bar 0 holding at least 4 notes, times shifted to the
    window's start (ends clipped to it); the last, partial window is dropped."""
    db = np.asarray(line.downbeats_q, np.float64)
    out = []
    for first in range(0, len(db) - n_bars, n_bars):
        lo, hi = float(db[first]), float(db[first + n_bars])
        keep = (line.start_q >= lo - ff.ONSET_TOL) & (line.start_q < hi - ff.ONSET_TOL)
        if keep.sum() >= 4:
            w = line.take(keep)
            w.start_q, w.end_q = w.start_q - lo, np.minimum(w.end_q, hi) - lo
            w.downbeats_q = db[first : first + n_bars + 1] - lo
            out.append(w)
    return out


def bar_positions(line: Line) -> np.ndarray:
    """Each onset's position inside its bar, in beats from the bar line."""
    db = np.asarray(line.downbeats_q, np.float64)
    i = np.clip(np.searchsorted(db, line.start_q + ff.ONSET_TOL, side="right") - 1, 0, max(len(db) - 1, 0))
    return line.start_q - db[i] if len(db) else line.start_q


def segment_features(w: Line) -> dict[str, float]:
    """Transposition- and tempo-free features of one melody window (beats, semitones)."""
    iv = np.diff(w.pitch).astype(np.float64)
    a = np.abs(iv)
    vals = note_values(w)
    vals_in = vals[np.isfinite(vals)]
    pos = bar_positions(w)
    frac = pos - np.floor(pos + 1e-3)
    length = float(w.downbeats_q[-1] - w.downbeats_q[0]) if len(w.downbeats_q) > 1 else float(w.end_q.max())
    rests, reach = 0.0, 0.0
    for s, e in zip(w.start_q, w.end_q):
        if s - reach >= REST_MIN_Q - 1e-6:
            rests += s - reach
        reach = max(reach, e)
    if length - reach >= REST_MIN_Q - 1e-6:
        rests += length - reach
    direction = np.sign(iv[iv != 0])
    out = {f"iv_{lo}_{hi}": float(np.mean((a >= lo) & (a <= hi))) if len(a) else 0.0 for lo, hi in INTERVAL_BINS}
    out.update({
        "iv_mean": float(a.mean()) if len(a) else 0.0,
        "iv_std": float(iv.std()) if len(iv) else 0.0,
        "iv_up": float(np.mean(iv > 0)) if len(iv) else 0.0,
        "contour_turns": float(np.mean(direction[1:] != direction[:-1])) if len(direction) > 1 else 0.0,
        "leap_then_step_back": _leap_recovery(iv),
        "range": float(np.ptp(w.pitch)),
        "pitch_std": float(w.pitch.std()),
        "peak_position": float((w.start_q[int(np.argmax(w.pitch))]) / max(length, 1e-9)),
        "notes_per_beat": len(w) / max(length, 1e-9),
        "value_mean": float(vals_in.mean()) if len(vals_in) else 0.0,
        "value_std": float(vals_in.std()) if len(vals_in) else 0.0,
        "value_distinct": float(len(np.unique(np.round(vals_in, 3)))),
        "on_downbeat": float(np.mean(pos < 1e-3)),
        "on_beat": float(np.mean(np.abs(frac) < 1e-3)),
        "on_eighth_off": float(np.mean(np.abs(frac - 0.5) < 1e-3)),
        "off_eighth_grid": float(np.mean(np.abs(frac * 2 - np.round(frac * 2)) > 1e-3)),
        "downbeats_hit": float(np.mean([np.any(np.abs(w.start_q - d) < 1e-3) for d in w.downbeats_q[:-1]])) if len(w.downbeats_q) > 1 else 0.0,
        "rest_share": rests / max(length, 1e-9),
        "repetition": _nan0(repetition_share(w.pitch, n_notes=len(w))),
        "rhythm_repetition": _bar_rhythm_repetition(w),
        "repeated_pitch": float(np.mean(iv == 0)) if len(iv) else 0.0,
    })
    out.update({f"value_{lo:g}_{hi:g}": float(np.mean((vals_in > lo) & (vals_in <= hi))) if len(vals_in) else 0.0
                for lo, hi in VALUE_BINS})
    return out


def _nan0(x: float) -> float:
    return 0.0 if not np.isfinite(x) else x


def _leap_recovery(iv: np.ndarray) -> float:
    """Share of leaps (> 4 semitones) followed by a step (<= 2) in the opposite direction."""
    leaps = np.flatnonzero(np.abs(iv[:-1]) > 4)
    if len(leaps) == 0:
        return 0.0
    nxt = iv[leaps + 1]
    return float(np.mean((np.abs(nxt) <= 2) & (np.sign(nxt) == -np.sign(iv[leaps]))))


def _bar_rhythm_repetition(w: Line) -> float:
    """Share of bars whose onset pattern (positions in beats) occurs in another bar of the window."""
    db = np.asarray(w.downbeats_q, np.float64)
    pats = []
    for lo, hi in zip(db[:-1], db[1:]):
        inside = (w.start_q >= lo - 1e-3) & (w.start_q < hi - 1e-3)
        pats.append(tuple(np.round(w.start_q[inside] - lo, 2)))
    pats = [p for p in pats if p]
    if len(pats) < 2:
        return 0.0
    c = Counter(pats)
    return float(np.mean([c[p] >= 2 for p in pats]))


def sixteenth_share(line: Line) -> float:
    """Share of notes whose value (:func:`note_values`) is a sixteenth or shorter."""
    v = note_values(line)
    v = v[np.isfinite(v)]
    return float(np.mean(v <= SIXTEENTH_Q)) if len(v) else float("nan")


# --- 3. endings ---------------------------------------------------------------------------------------------


def final_sonority(m: ff.Music, window_q: float = FINAL_WINDOW_Q) -> np.ndarray:
    """Pitches of the pitched notes sounding in the last ``window_q`` beats before the last note ends."""
    p = m.subset(m.pitched)
    if len(p.pitch) == 0:
        return np.zeros(0, np.int64)
    end = float(p.end_q.max())
    sounding = (p.end_q > end - window_q + 1e-6) & (p.start_q < end - 1e-6)
    return np.sort(p.pitch[sounding])


def ending(pitches, tonic: int, mode: str) -> dict[str, bool]:
    """Does a final sonority (MIDI pitches) land on the tonic? ``bass_on_tonic``: its lowest note is the tonic;
    ``tonic_triad``: its pitch classes are the tonic, the mode's third (or, in minor, a Picardy major third)
    and optionally the fifth, nothing else; ``root_position``: both."""
    p = np.asarray(pitches, np.int64)
    if len(p) == 0:
        return {"bass_on_tonic": False, "tonic_triad": False, "root_position": False}
    rel = {int(x) for x in (p - tonic) % 12}
    third = scale_of(mode)[2]
    thirds = {third} | ({4} if third == 3 else set())
    triad = 0 in rel and len(rel & thirds) == 1 and rel <= {0, 7} | thirds
    bass = int(p.min() - tonic) % 12 == 0
    return {"bass_on_tonic": bass, "tonic_triad": bool(triad), "root_position": bool(bass and triad)}


# --- 4. theme restatement -------------------------------------------------------------------------------------


def scale_steps(pitches, tonic: int, mode: str) -> np.ndarray:
    """Diatonic step numbers of MIDI pitches in a key (7 a octave; a chromatic note takes the degree below)."""
    scale = np.array(scale_of(mode))
    p = np.asarray(pitches, np.int64) - tonic
    octave, rel = np.divmod(p, 12)
    degree = np.searchsorted(scale, rel, side="right") - 1
    return octave * 7 + degree


def matching_intervals(a, b, n: int = 8, modulo: int | None = None) -> int:
    """How many of the first ``n`` intervals (successive differences) of sequences ``a`` and ``b`` are equal,
    position by position (``modulo`` 12: equal up to octaves); a missing interval (a line shorter than
    ``n + 1`` notes) never matches."""
    ia, ib = np.diff(np.asarray(a, np.int64)[: n + 1]), np.diff(np.asarray(b, np.int64)[: n + 1])
    k = min(len(ia), len(ib))
    ia, ib = (ia[:k] % modulo, ib[:k] % modulo) if modulo else (ia[:k], ib[:k])
    return int(np.sum(ia == ib))


def register_differs(a: Line, b: Line, n: int = 9, semitones: float = 5.0) -> bool:
    """The mean pitch of the first ``n`` notes differs by ``semitones`` or more."""
    return bool(abs(float(a.pitch[:n].mean()) - float(b.pitch[:n].mean())) >= semitones - 1e-9)


def rhythm_differs(a: Line, b: Line, n: int = 8, tol_q: float = 0.05) -> bool:
    """The note values (beats) of the first ``n`` notes differ anywhere by more than ``tol_q``, or one line is shorter."""
    va, vb = note_values(a)[:n], note_values(b)[:n]
    va, vb = np.where(np.isfinite(va), va, 0.0), np.where(np.isfinite(vb), vb, 0.0)
    if len(va) != len(vb):
        return True
    return bool(np.any(np.abs(va - vb) > tol_q))


def main_program(line: Line) -> int | None:
    """The General MIDI program that plays most of a line's notes."""
    if line.program is None or len(line.program) == 0:
        return None
    return int(np.bincount(line.program).argmax())


# --- 6. harmonic rhythm ---------------------------------------------------------------------------------------

_QUALITIES = {"maj": (0, 4, 7), "min": (0, 3, 7), "dim": (0, 3, 6), "aug": (0, 4, 8)}
TEMPLATES = [(root, q, np.isin(np.arange(12), [(root + x) % 12 for x in iv]).astype(np.float64))
             for q, iv in _QUALITIES.items() for root in range(12)]


def chroma(start_q, end_q, pitch, lo: float, hi: float, bass_weight: float = 1.0) -> np.ndarray:
    """Duration-weighted pitch-class histogram of the notes between ``lo`` and ``hi`` beats (the lowest
    sounding note weighted ``bass_weight`` more)."""
    start_q, end_q, pitch = (np.asarray(x) for x in (start_q, end_q, pitch))
    overlap = np.clip(np.minimum(end_q, hi) - np.maximum(start_q, lo), 0.0, None)
    h = np.bincount(pitch[overlap > 0] % 12, weights=overlap[overlap > 0], minlength=12).astype(np.float64)
    if (overlap > 0).any() and bass_weight:
        k = np.flatnonzero(overlap > 0)[np.argmin(pitch[overlap > 0])]
        h[pitch[k] % 12] += bass_weight * overlap[k]
    return h


def chord_label(h: np.ndarray, previous: tuple[int, str] | None = None, keep: float = 0.05) -> tuple[int, str] | None:
    """The triad (root pitch class, quality) whose template best matches a chroma (cosine); None when silent.
    The ``previous`` chord stays when it scores within ``keep`` of the best: a bare fifth or a passing note
    does not change the harmony."""
    if h.sum() <= 0:
        return None
    v = h / np.linalg.norm(h)
    scores = {(root, q): float(v @ t) / np.sqrt(3) for root, q, t in TEMPLATES}
    best = max(scores, key=scores.get)
    if previous is not None and scores.get(previous, -1.0) >= scores[best] - keep:
        return previous
    return best


def chord_spans(m: ff.Music, pattern: str = HARMONY_TRACKS, step_q: float = 1.0) -> list[tuple[float, float, tuple | None]]:
    """Chords of the accompaniment (tracks named like ``pattern``, else every pitched track but the melody's):
    one label per ``step_q`` beats (:func:`chord_label`), neighbouring equal labels merged into
    ``(start_q, end_q, label)`` spans in beats; a silent step carries the chord before it."""
    keep = np.array([bool(re.search(pattern, t.name, re.I)) and not t.is_drum for t in m.tracks], bool)
    mask = keep[m.track] if len(m.tracks) else np.zeros(0, bool)
    if not mask.any():
        melody = np.array([bool(re.search(MELODY_TRACKS, t.name, re.I)) for t in m.tracks], bool)
        mask = m.pitched & ~melody[m.track] if len(m.tracks) else mask
    a = m.subset(mask)
    if len(a.pitch) == 0:
        return []
    end_q = float(a.end_q.max())
    spans: list[list] = []
    for lo in np.arange(float(a.start_q.min()), end_q, step_q):
        previous = spans[-1][2] if spans else None
        lab = chord_label(chroma(a.start_q, a.end_q, a.pitch, lo, lo + step_q), previous)
        lab = lab if lab is not None else previous
        if spans and spans[-1][2] == lab:
            spans[-1][1] = min(lo + step_q, end_q)
        else:
            spans.append([float(lo), min(lo + step_q, end_q), lab])
    return [(s, e, lab) for s, e, lab in spans]


def seconds_of(m: ff.Music):
    """A function: beats -> seconds through the score's tempo map."""
    tt, bpm = np.asarray(m.tempo_times_s, np.float64), np.asarray(m.tempo_bpm, np.float64)
    seg_q = np.concatenate([[0.0], np.cumsum(np.diff(tt) * bpm[:-1] / 60.0)])

    def to_s(q: float) -> float:
        i = int(np.clip(np.searchsorted(seg_q, q, side="right") - 1, 0, len(tt) - 1))
        return float(tt[i] + (q - seg_q[i]) * 60.0 / bpm[i])

    return to_s


def harmonic_rhythm(m: ff.Music, spans=None) -> dict[str, float]:
    """Chords per bar (chord spans over the bars they cover), the longest time one chord holds in seconds
    (through the tempo map) and in beats. ``spans``: :func:`chord_spans` of ``m`` (computed when None)."""
    spans = [s for s in (chord_spans(m) if spans is None else spans) if s[2] is not None]
    if not spans:
        return {"chords_per_bar": float("nan"), "longest_chord_s": float("nan"), "longest_chord_q": float("nan"), "chords": 0}
    db = np.asarray(m.downbeats_q, np.float64)
    first, last = spans[0][0], spans[-1][1]
    bars = int(np.sum((db[:-1] < last - 1e-6) & (db[1:] > first + 1e-6))) if len(db) > 1 else 0
    to_s = seconds_of(m)
    return {"chords_per_bar": len(spans) / max(bars, 1),
            "longest_chord_s": max(to_s(e) - to_s(s) for s, e, _ in spans),
            "longest_chord_q": max(e - s for s, e, _ in spans), "chords": len(spans)}
