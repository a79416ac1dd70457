"""Features of written music for ``bench/film.py``: pure functions of note arrays (no pipeline, no model).

A :class:`Music` holds every note of a MIDI file (or of a real corpus excerpt) with its onset and end in
seconds *and* in quarter notes (the tempo map converts one into the other), its pitch, velocity and track.
Units: "beat" always means a quarter note; times in quarter notes are counted from the start of the file
(or excerpt); velocities are MIDI velocities (1-127); pitches MIDI note numbers.

Definitions (the same code measures generated music and the real corpus):

- **onset clash**: at an onset time, two pitched notes sound together (``start <= t < end``), at least one of
  them starting at ``t``, a semitone, major seventh or minor ninth apart (any interval ``= 1 or 11 mod 12``).
  The clash rate is the share of onset times (all tracks merged) that have one.
- **notes per onset**: notes starting at the same instant (within :data:`ONSET_TOL` quarter notes).
- **rests**: share of whole beats with no onset (``rest_onset``) and with no sound at all (``rest_silent``).
- **layers**: per bar, the number of tracks with a note sounding in it (bars where anything sounds).
- **sustained**: share of notes lasting at least one beat.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

ONSET_TOL = 1e-3  # quarter notes: onsets this close are simultaneous
CLASH_INTERVALS = (1, 11)  # semitone / major seventh / minor ninth (mod 12)

# General MIDI program -> playable (lowest, highest) MIDI pitch, from standard orchestration ranges
# (Adler; Piston), generous for ensembles and synths. Programs not listed use their group's range.
GM_GROUP_RANGES = {  # first program of a group of 8 -> range
    0: (21, 108), 8: (48, 108), 16: (24, 96), 24: (40, 88), 32: (28, 67), 40: (28, 103), 48: (28, 103),
    56: (34, 86), 64: (49, 89), 72: (50, 98), 80: (24, 108), 88: (24, 108), 96: (24, 108), 104: (36, 96),
    112: (36, 96), 120: (24, 108),
}
GM_RANGES = {
    8: (60, 108), 9: (79, 108), 10: (60, 96), 11: (53, 89), 12: (45, 96), 13: (65, 108), 14: (60, 77),
    40: (55, 103), 41: (48, 88), 42: (36, 76), 43: (28, 67), 44: (28, 103), 45: (28, 96), 46: (23, 103),
    47: (40, 57), 52: (40, 81), 53: (40, 81), 54: (40, 81), 56: (54, 86), 57: (40, 77), 58: (28, 58),
    59: (54, 86), 60: (34, 77), 61: (34, 86), 64: (49, 81), 65: (49, 81), 66: (44, 76), 67: (36, 69),
    68: (58, 91), 69: (52, 84), 70: (34, 75), 71: (50, 94), 72: (74, 108), 73: (60, 96), 74: (60, 96), 75: (60, 96),
}

ROLE_PATTERNS = {  # track name keywords -> role (checked in this order)
    "percussion": r"drum|percussion|perc\b|kit|timpani",
    "bass": r"\bbass\b|bass\s*-|contrabass|tuba|bassoon|low\s*(line|strings)|cello|pedal",
    "melody": r"melody|lead|solo|theme|tune|top\s*line",
}


def gm_range(program: int) -> tuple[int, int]:
    """Playable pitch range of a General MIDI program (0-based)."""
    return GM_RANGES.get(program, GM_GROUP_RANGES[(program // 8) * 8])


@dataclass
class Track:
    name: str
    program: int
    is_drum: bool


@dataclass
class Music:
    """Every note of a piece. Arrays are parallel, one entry per note, sorted by onset."""

    start_s: np.ndarray  # (N,) seconds
    end_s: np.ndarray  # (N,) seconds
    start_q: np.ndarray  # (N,) quarter notes
    end_q: np.ndarray  # (N,) quarter notes
    pitch: np.ndarray  # (N,) MIDI pitch
    velocity: np.ndarray  # (N,) MIDI velocity
    track: np.ndarray  # (N,) index into ``tracks``
    tracks: list[Track]
    downbeats_q: np.ndarray  # bar starts, quarter notes (the last one is the end of the last bar)
    tempo_times_s: np.ndarray = field(default_factory=lambda: np.zeros(1))  # tempo change times
    tempo_bpm: np.ndarray = field(default_factory=lambda: np.array([120.0]))
    duration_s: float = 0.0

    @property
    def pitched(self) -> np.ndarray:
        """Mask of notes on non-drum tracks."""
        drums = np.array([t.is_drum for t in self.tracks], bool)
        return ~drums[self.track] if len(self.tracks) else np.zeros(len(self.pitch), bool)

    def subset(self, mask: np.ndarray) -> Music:
        return Music(self.start_s[mask], self.end_s[mask], self.start_q[mask], self.end_q[mask], self.pitch[mask],
                     self.velocity[mask], self.track[mask], self.tracks, self.downbeats_q, self.tempo_times_s,
                     self.tempo_bpm, self.duration_s)

    def tracks_matching(self, pattern: str) -> Music:
        """Notes of the tracks whose name matches the regular expression ``pattern`` (case-insensitive)."""
        keep = np.array([bool(re.search(pattern, t.name, re.I)) for t in self.tracks], bool)
        return self.subset(keep[self.track] if len(self.tracks) else np.zeros(0, bool))

    @property
    def length_q(self) -> float:
        """Quarter notes from 0 to the last bar line (or the last note end)."""
        ends = [float(self.downbeats_q[-1]) if len(self.downbeats_q) else 0.0]
        if len(self.end_q):
            ends.append(float(self.end_q.max()))
        return max(ends)


# --- building Music ---------------------------------------------------------------------------------


def quarters_at(times_s: np.ndarray, tempo_times_s: np.ndarray, tempo_bpm: np.ndarray) -> np.ndarray:
    """Seconds -> quarter notes through a step tempo map (tempo ``tempo_bpm[i]`` from ``tempo_times_s[i]``)."""
    tt = np.asarray(tempo_times_s, np.float64)
    bpm = np.asarray(tempo_bpm, np.float64)
    seg_q = np.concatenate([[0.0], np.cumsum(np.diff(tt) * bpm[:-1] / 60.0)])
    t = np.asarray(times_s, np.float64)
    i = np.clip(np.searchsorted(tt, t, side="right") - 1, 0, len(tt) - 1)
    return seg_q[i] + (t - tt[i]) * bpm[i] / 60.0


def music_from_pretty_midi(pm) -> Music:
    """A :class:`Music` from a ``pretty_midi.PrettyMIDI`` (tempo map, downbeats and every note)."""
    tempo_times, tempi = pm.get_tempo_changes()
    if len(tempo_times) == 0:
        tempo_times, tempi = np.zeros(1), np.array([120.0])
    rows, tracks = [], []
    for k, inst in enumerate(pm.instruments):
        tracks.append(Track(inst.name, int(inst.program), bool(inst.is_drum)))
        rows.extend((n.start, n.end, n.pitch, n.velocity, k) for n in inst.notes)
    a = np.array(sorted(rows), np.float64).reshape(-1, 5)
    end = pm.get_end_time()
    downbeats = np.asarray(pm.get_downbeats(), np.float64)
    db_q = quarters_at(np.append(downbeats, end), tempo_times, tempi) if len(downbeats) else np.zeros(1)
    db_q = np.unique(np.round(db_q, 6))
    return Music(a[:, 0], a[:, 1], quarters_at(a[:, 0], tempo_times, tempi), quarters_at(a[:, 1], tempo_times, tempi),
                 a[:, 2].astype(np.int64), a[:, 3].astype(np.int64), a[:, 4].astype(np.int64), tracks, db_q,
                 np.asarray(tempo_times, np.float64), np.asarray(tempi, np.float64), float(end))


def music_from_notes(notes, tracks=None, bar_q: float = 4.0, bpm: float = 120.0) -> Music:
    """A :class:`Music` from ``(start_q, end_q, pitch[, velocity[, track]])`` tuples at a constant tempo
    (for real corpus excerpts and tests). ``tracks``: list of :class:`Track` (default: one piano track per index)."""
    a = np.array([tuple(n) + (80, 0)[len(n) - 3:] for n in notes], np.float64).reshape(-1, 5)
    a = a[np.argsort(a[:, 0], kind="stable")]
    n_tracks = int(a[:, 4].max()) + 1 if len(a) else 1
    tracks = tracks or [Track(f"Track {i}", 0, False) for i in range(n_tracks)]
    end_q = float(a[:, 1].max()) if len(a) else bar_q
    n_bars = max(1, int(math.ceil(end_q / bar_q - 1e-9)))
    sec = 60.0 / bpm
    return Music(a[:, 0] * sec, a[:, 1] * sec, a[:, 0], a[:, 1], a[:, 2].astype(np.int64), a[:, 3].astype(np.int64),
                 a[:, 4].astype(np.int64), tracks, np.arange(n_bars + 1) * bar_q, np.zeros(1), np.array([bpm]),
                 n_bars * bar_q * sec)


def window(m: Music, first_bar: int, n_bars: int) -> Music | None:
    """Bars ``first_bar .. first_bar + n_bars - 1`` of ``m``, times shifted to start at 0 (notes clipped at the
    window's end); None when the piece has fewer bars."""
    db = m.downbeats_q
    if first_bar + n_bars >= len(db):
        return None
    lo, hi = float(db[first_bar]), float(db[first_bar + n_bars])
    keep = (m.start_q >= lo - ONSET_TOL) & (m.start_q < hi - ONSET_TOL)
    w = m.subset(keep)
    w.start_q, w.end_q = w.start_q - lo, np.minimum(w.end_q, hi) - lo
    w.downbeats_q = db[first_bar : first_bar + n_bars + 1] - lo
    return w


# --- features ---------------------------------------------------------------------------------------


def onset_groups(start: np.ndarray) -> list[np.ndarray]:
    """Indices of notes grouped by simultaneous onset (``start`` sorted ascending)."""
    if len(start) == 0:
        return []
    breaks = np.flatnonzero(np.diff(start) > ONSET_TOL) + 1
    return np.split(np.arange(len(start)), breaks)


def clash_rate(m: Music) -> float:
    """Share of onset times (pitched notes, all tracks) where a new note clashes (1 or 11 semitones mod 12)
    with another sounding note. NaN without pitched notes."""
    p = m.subset(m.pitched)
    groups = onset_groups(p.start_q)
    if not groups:
        return float("nan")
    clashes = 0
    for g in groups:
        t = p.start_q[g[0]]
        sounding = np.flatnonzero((p.start_q <= t + ONSET_TOL) & (p.end_q > t + ONSET_TOL))
        new = set(g.tolist())
        pitches = p.pitch[sounding]
        is_new = np.array([i in new for i in sounding])
        diff = np.abs(pitches[:, None] - pitches[None, :]) % 12
        pair = np.isin(diff, CLASH_INTERVALS) & (is_new[:, None] | is_new[None, :])
        clashes += bool(pair.any())
    return clashes / len(groups)


def max_notes_per_onset(m: Music) -> int:
    """Most pitched notes starting together (all tracks merged)."""
    groups = onset_groups(m.subset(m.pitched).start_q)
    return max((len(g) for g in groups), default=0)


def max_notes_per_onset_by_track(m: Music) -> dict[str, int]:
    """Per track name: the most notes that track starts together."""
    return {t.name: max((len(g) for g in onset_groups(m.start_q[m.track == k])), default=0)
            for k, t in enumerate(m.tracks) if np.any(m.track == k)}


def mean_notes_per_onset(m: Music) -> float:
    groups = onset_groups(m.subset(m.pitched).start_q)
    return float(np.mean([len(g) for g in groups])) if groups else float("nan")


def _beats(m: Music) -> np.ndarray:
    return np.arange(max(1, int(math.ceil(m.length_q - 1e-9))), dtype=np.float64)


def rest_onset_share(m: Music) -> float:
    """Share of whole beats without any note onset (all tracks)."""
    beats = _beats(m)
    hit = np.zeros(len(beats), bool)
    idx = np.floor(m.start_q + ONSET_TOL).astype(np.int64)
    hit[idx[(idx >= 0) & (idx < len(beats))]] = True
    return float(np.mean(~hit))


def rest_silent_share(m: Music) -> float:
    """Share of whole beats during which no note sounds at all (all tracks)."""
    beats = _beats(m)
    if len(m.start_q) == 0:
        return 1.0
    sounding = (m.start_q[None, :] < beats[:, None] + 1.0) & (m.end_q[None, :] > beats[:, None])
    return float(np.mean(~sounding.any(axis=1)))


def sustained_share(m: Music, min_q: float = 1.0) -> float:
    """Share of pitched notes lasting at least ``min_q`` quarter notes."""
    d = (m.end_q - m.start_q)[m.pitched]
    return float(np.mean(d >= min_q - ONSET_TOL)) if len(d) else float("nan")


def layers_per_bar(m: Music) -> float:
    """Mean number of tracks sounding in a bar, over the bars where anything sounds."""
    db = m.downbeats_q
    counts = []
    for lo, hi in zip(db[:-1], db[1:]):
        inside = (m.start_q < hi - ONSET_TOL) & (m.end_q > lo + ONSET_TOL)
        if inside.any():
            counts.append(len(np.unique(m.track[inside])))
    return float(np.mean(counts)) if counts else 0.0


def polyphony(m: Music) -> float:
    """Mean number of pitched notes sounding together while any sounds (16th-note grid)."""
    p = m.subset(m.pitched)
    if len(p.start_q) == 0:
        return float("nan")
    grid = np.arange(0.0, p.length_q, 0.25) + 0.125
    n = ((p.start_q[None, :] <= grid[:, None]) & (p.end_q[None, :] > grid[:, None])).sum(axis=1)
    return float(n[n > 0].mean()) if (n > 0).any() else float("nan")


def top_line(m: Music) -> np.ndarray:
    """Pitches of the highest pitched note at each onset (a skyline melody)."""
    p = m.subset(m.pitched)
    return np.array([p.pitch[g].max() for g in onset_groups(p.start_q)], np.int64)


def velocity_stats(m: Music) -> tuple[float, float]:
    """(mean, standard deviation) of the velocities of all notes."""
    v = m.velocity.astype(np.float64)
    return (float(v.mean()), float(v.std())) if len(v) else (float("nan"), float("nan"))


def out_of_range_by_track(m: Music) -> dict[str, int]:
    """Per pitched track name: notes outside its General MIDI program's playable range (:func:`gm_range`)."""
    out = {}
    for k, t in enumerate(m.tracks):
        if not t.is_drum:
            lo, hi = gm_range(t.program)
            p = m.pitch[m.track == k]
            out[t.name] = int(np.sum((p < lo) | (p > hi)))
    return out


def out_of_range(m: Music) -> int:
    """Pitched notes outside their General MIDI program's playable range, all tracks."""
    return sum(out_of_range_by_track(m).values())


def onset_offbeat_share(m: Music) -> float:
    """Share of onsets (pitched) that fall off the quarter-note grid."""
    s = m.start_q[m.pitched]
    if len(s) == 0:
        return float("nan")
    return float(np.mean(np.abs(s - np.round(s)) > 0.01))


def pitch_class_entropy(m: Music) -> float:
    """Entropy (bits) of the duration-weighted pitch-class histogram of the pitched notes."""
    p = m.pitched
    h = np.bincount(m.pitch[p] % 12, weights=(m.end_q - m.start_q)[p], minlength=12)
    if h.sum() <= 0:
        return float("nan")
    q = h[h > 0] / h.sum()
    return float(-(q * np.log2(q)).sum())


def groove_consistency(m: Music, grid: int = 4) -> float:
    """1 - mean Hamming distance between neighbouring bars' onset patterns on a 16th grid (Wu & Yang 2020)."""
    db = m.downbeats_q
    if len(db) < 3:
        return float("nan")
    pats = []
    for lo, hi in zip(db[:-1], db[1:]):
        slots = max(1, int(round((hi - lo) * grid)))
        pat = np.zeros(slots, bool)
        s = m.start_q[(m.start_q >= lo - ONSET_TOL) & (m.start_q < hi - ONSET_TOL)]
        pat[np.clip(np.round((s - lo) * grid).astype(np.int64), 0, slots - 1)] = True
        pats.append(pat)
    d = [np.mean(a != b) if len(a) == len(b) else 1.0 for a, b in zip(pats[:-1], pats[1:])]
    return float(1.0 - np.mean(d))


def texture_features(m: Music) -> dict[str, float]:
    """Tempo-, key- and instrument-free features of texture, rhythm and pitch (quarter-note units): what the
    emotion classifier and the real-vs-generated test see."""
    p = m.subset(m.pitched)
    top = top_line(m)
    intervals = np.abs(np.diff(top)) if len(top) > 1 else np.zeros(1)
    dur = p.end_q - p.start_q
    return {
        "notes_per_beat": len(p.start_q) / max(p.length_q, 1e-9),
        "onsets_per_beat": len(onset_groups(p.start_q)) / max(p.length_q, 1e-9),
        "mean_notes_per_onset": mean_notes_per_onset(m),
        "max_notes_per_onset": float(max_notes_per_onset(m)),
        "polyphony": polyphony(m),
        "clash_rate": clash_rate(m),
        "pitch_mean": float(p.pitch.mean()) if len(p.pitch) else float("nan"),
        "pitch_std": float(p.pitch.std()) if len(p.pitch) else float("nan"),
        "pitch_range": float(np.ptp(p.pitch)) if len(p.pitch) else float("nan"),
        "top_line_interval": float(intervals.mean()),
        "top_line_leaps": float(np.mean(intervals > 7)),
        "pc_entropy": pitch_class_entropy(m),
        "duration_mean_q": float(dur.mean()) if len(dur) else float("nan"),
        "duration_std_q": float(dur.std()) if len(dur) else float("nan"),
        "sustained_share": sustained_share(m),
        "offbeat_share": onset_offbeat_share(m),
        "rest_onset_share": rest_onset_share(p),
        "rest_silent_share": rest_silent_share(p),
        "groove": groove_consistency(p),
    }


# --- roles ------------------------------------------------------------------------------------------


def track_roles(m: Music) -> dict[str, int | None]:
    """Which track plays the melody and which the bass: by track-name keywords (:data:`ROLE_PATTERNS`), else the
    pitched track with the highest (melody) / lowest (bass) mean pitch. None when no pitched track has notes."""
    sounding = [k for k, t in enumerate(m.tracks) if not t.is_drum and np.any(m.track == k)]
    out: dict[str, int | None] = {"melody": None, "bass": None}
    for role in ("bass", "melody"):  # a track named by its role ("Bass - Cello") first: "Melody - Cello" is no bass
        out[role] = next((k for k in sounding if m.tracks[k].name.lower().startswith(f"{role} -")), None)
    for k in sounding:
        name = m.tracks[k].name
        for role in ("bass", "melody"):
            if out[role] is None and k not in out.values() and re.search(ROLE_PATTERNS[role], name, re.I) \
                    and not re.search(ROLE_PATTERNS["percussion"], name, re.I):
                out[role] = k
                break
    means = {k: float(m.pitch[m.track == k].mean()) for k in sounding}
    if out["melody"] is None and means:
        out["melody"] = max((k for k in means if k != out["bass"]), key=means.get, default=None)
    if out["bass"] is None and means:
        out["bass"] = min((k for k in means if k != out["melody"]), key=means.get, default=None)
    return out


def track_mean_pitch(m: Music, k: int | None) -> float:
    if k is None or not np.any(m.track == k):
        return float("nan")
    return float(m.pitch[m.track == k].mean())


# --- tempo and cuts -----------------------------------------------------------------------------------


def mean_tempo(m: Music) -> float:
    """Time-weighted mean tempo (BPM) over the piece."""
    tt = np.append(m.tempo_times_s, max(m.duration_s, float(m.tempo_times_s[-1]) + 1e-6))
    w = np.clip(np.diff(tt), 0.0, None)
    return float(np.sum(w * m.tempo_bpm) / w.sum()) if w.sum() > 0 else float(m.tempo_bpm[0])


def tempo_at(m: Music, t: float) -> float:
    i = int(np.clip(np.searchsorted(m.tempo_times_s, t, side="right") - 1, 0, len(m.tempo_bpm) - 1))
    return float(m.tempo_bpm[i])


def tempo_spread(m: Music, start: float, end: float) -> float:
    """Max - min tempo (BPM) of the tempo map between ``start`` and ``end`` seconds. A tempo change within 1 ms of
    either end belongs to the neighbour: MIDI stores tempi as whole microseconds per quarter, so a cue's bars can
    end a few microseconds off its planned time."""
    tol = 1e-3
    inside = (m.tempo_times_s > start + tol) & (m.tempo_times_s < end - tol)
    values = [tempo_at(m, start + tol)] + m.tempo_bpm[inside].tolist()
    return float(max(values) - min(values))


def cuts_caught(m: Music, cuts: list[float], tol_s: float = 0.040) -> float:
    """Share of cut times with a note onset (any track) within ``tol_s`` seconds. NaN without cuts."""
    if not cuts:
        return float("nan")
    s = np.sort(m.start_s)
    if len(s) == 0:
        return 0.0
    hits = 0
    for c in cuts:
        i = np.searchsorted(s, c)
        near = [abs(s[j] - c) for j in (i - 1, i) if 0 <= j < len(s)]
        hits += min(near) <= tol_s
    return hits / len(cuts)
