"""Registers as an orchestrator keeps them: the bass lowest, the melody in its own band on top, and no close
intervals low down.

These work on the layers' notes whatever wrote them (the decoder's top line or a composed theme):

* the bass is the lowest sounding part: a note of another layer that would sound under it moves up by octaves
  (within its instrument's range), or is left out;
* the melody has its band on top: accompaniment notes that would sound above (or on) a melody note move down by
  octaves, or are left out. When the plan puts the melody low on purpose (``low_melody``), the accompaniment may
  sit above it, but nothing that strikes with a melody note sits within an octave above it;
* low-interval limits (the lowest pitch at which an interval still sounds clear, as orchestration and arranging
  texts teach them, e.g. a minor second not under E3, a major third not under Bb2): an accompaniment note that
  makes a closer interval than its limit allows with a lower sounding note moves up an octave, or is left out.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence

from mm2music.arrange.instruments import Instrument
from mm2music.arrange.orchestrate import NoteEvent

# interval in semitones -> the lowest MIDI pitch its lower note may have (E3, Eb3, C3, Bb2, A2, B2, Bb1, G2, F2...);
# a minor ninth (13) no lower than C3. Octaves and wider intervals have no limit here.
LOW_INTERVAL_LIMIT = {1: 52, 2: 51, 3: 48, 4: 46, 5: 45, 6: 47, 7: 34, 8: 43, 9: 41, 10: 41, 11: 41, 13: 48}


class Sounding:
    """Notes indexed for "what sounds during [start, end)" queries (notes sorted by start)."""

    def __init__(self, notes: Sequence[NoteEvent]):
        self.notes = sorted(notes, key=lambda n: n.start)
        self.starts = [n.start for n in self.notes]
        self.longest = max((n.end - n.start for n in self.notes), default=0)

    def during(self, start: int, end: int) -> list[NoteEvent]:
        hi = bisect.bisect_left(self.starts, end)
        lo = bisect.bisect_left(self.starts, start - self.longest)
        return [n for n in self.notes[lo:hi] if n.end > start]


def _moved(n: NoteEvent, inst: Instrument, ok) -> NoteEvent | None:
    """``n`` moved by the fewest octaves (within ``inst``'s range) to a pitch where ``ok(pitch)``; None if none."""
    for shift in (0, -12, 12, -24, 24, -36, 36):
        p = n.pitch + shift
        if inst.low <= p <= inst.high and ok(p):
            return NoteEvent(n.start, n.end, p, n.velocity)
    return None


def bass_under_melody(bass: Sequence[NoteEvent], melody: Sequence[NoteEvent], inst: Instrument) -> list[NoteEvent]:
    """Bass notes that would sound above a melody note move down by octaves where the instrument reaches."""
    tune = Sounding(melody)
    out = []
    for n in bass:
        floor = min((m.pitch for m in tune.during(n.start, n.end)), default=None)
        moved = n if floor is None else _moved(n, inst, lambda p: p <= floor)
        out.append(moved or n)
    return out


class Band:
    """The pitches an accompaniment note may take: at or above the bass sounding with it and under the melody
    sounding with it; with ``low_melody``, the ceiling is replaced by: not within an octave above a melody note
    it starts with."""

    def __init__(self, melody: Sequence[NoteEvent], bass: Sequence[NoteEvent], low_melody: bool = False):
        self.tune, self.low, self.low_melody = Sounding(melody), Sounding(bass), low_melody

    def allows(self, n: NoteEvent, pitch: int) -> bool:
        if pitch < max((b.pitch for b in self.low.during(n.start, n.end)), default=0):
            return False
        above = self.tune.during(n.start, n.end)
        if self.low_melody:
            return all(not (m.pitch < pitch <= m.pitch + 12) for m in above if m.start == n.start)
        return pitch < min((m.pitch for m in above), default=128)


def in_band(notes: Sequence[NoteEvent], inst: Instrument, melody: Sequence[NoteEvent], bass: Sequence[NoteEvent],
            low_melody: bool = False) -> list[NoteEvent]:
    """An accompaniment layer's notes kept in their :class:`Band`, moved by octaves where needed, else left out."""
    band = Band(melody, bass, low_melody)
    out = []
    for n in notes:
        moved = _moved(n, inst, lambda p, n=n: band.allows(n, p))
        if moved is not None:
            out.append(moved)
    return out


def low_interval_limits(layers: Mapping[str, Sequence[NoteEvent]], instruments: Mapping[str, Instrument],
                        fixed: Sequence[str] = ("bass", "melody"), band: Band | None = None) -> dict[str, list[NoteEvent]]:
    """Every layer not in ``fixed`` kept out of intervals closer than :data:`LOW_INTERVAL_LIMIT` allows with any
    lower note sounding with it (in any layer): such a note moves up an octave (if its instrument reaches, that
    clears it and the ``band`` allows it), else it is left out. Notes from C4 up are never touched (no limit
    reaches that high)."""
    settled: list[NoteEvent] = [n for name in fixed for n in layers.get(name, ())]
    out = {name: list(layers[name]) for name in layers}
    for name, notes in layers.items():
        if name in fixed:
            continue
        index = Sounding(settled)
        kept = []
        for n in sorted(notes, key=lambda x: (x.start, x.pitch)):
            if n.pitch >= 60:
                kept.append(n)
                continue
            others = index.during(n.start, n.end) + [k for k in kept if k.start < n.end and k.end > n.start]

            def ok(p: int, others=others) -> bool:
                return all(_clear(p, o.pitch) for o in others)

            if ok(n.pitch):
                kept.append(n)
            elif n.pitch + 12 <= instruments[name].high and ok(n.pitch + 12) and (band is None or band.allows(n, n.pitch + 12)):
                kept.append(NoteEvent(n.start, n.end, n.pitch + 12, n.velocity))
        out[name] = kept
        settled += kept
    return out


def _clear(a: int, b: int) -> bool:
    """Whether two pitches sounding together respect the low-interval limit."""
    limit = LOW_INTERVAL_LIMIT.get(abs(a - b))
    return limit is None or min(a, b) >= limit
