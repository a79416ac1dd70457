"""Breath and performance: phrase-end rests, drop-outs, and the playing of the notes.

Like :mod:`mm2music.arrange.registers`, these take the layers' notes and the cue's bars whatever wrote them.

* **breath**: the melody rests before every phrase end unless it already does near there: a beat every 8 bars
  and at the cue's end, half a beat at the 4-bar phrase ends between (none in bars of two beats);
* **drop-outs**: every 8 bars (once in a shorter cue) the texture thins for at least :data:`THIN_S` seconds
  before a phrase end: only half of the cue's layers (the tune and the bass first) go on sounding;
* **performance**: a velocity arc over each phrase, CC 11 swells that breathe out at the phrase end, CC 1
  (vibrato) growing through long melody notes, the sustain pedal (CC 64) for piano, lifted at every chord
  change and rest, legato overlaps in a legato line, and a small late timing feel, never on the ticks that must
  stay exact (the cue's start, caught cuts, hit points).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from mm2music.arrange.orchestrate import NoteEvent
from mm2music.arrange.timing import TICKS_PER_QUARTER as TPQ

PHRASE_BARS = 4
THIN_EVERY_BARS = 8
THIN_S = 0.6  # seconds of thinner texture (the bench asks for 0.5 s)
# layers that keep sounding through a drop-out, in this order (the first half of the cue's layers): the tune (its
# phrase ends on a held note or breathes there) over the bass; a timpani roll may lead through it into the next
# phrase, else the pad holds the harmony
THIN_KEEP = ("melody", "bass", "timpani", "pad", "colour", "counter", "figure", "double", "hits", "percussion")
LEGATO_OVERLAP_S = 0.03
FEEL_MS = {"melody": 14, "double": 14, "pad": 8, "counter": 10, "colour": 10, "figure": 6, "bass": 4, "hits": 2,
           "timpani": 3, "percussion": 3}  # the most a layer's notes lag the grid, milliseconds


def phrase_ends(bars: Sequence, every: int = PHRASE_BARS) -> list[int]:
    """Ticks where phrases end: every ``every`` bars and at the end of the cue."""
    return sorted({bars[k].start for k in range(every, len(bars), every)} | {bars[-1].end})


def _phrase_of(tick: int, ends: Sequence[int]) -> tuple[int, int]:
    start = 0
    for end in ends:
        if tick < end:
            return start, end
        start = end
    return start, ends[-1]


def clear(notes: Sequence[NoteEvent], lo: int, hi: int) -> list[NoteEvent]:
    """``notes`` silent in [lo, hi): notes starting there left out, notes sounding into it cut at ``lo``."""
    out = []
    for n in notes:
        if lo <= n.start < hi:
            continue
        if n.start < lo < n.end:
            n = NoteEvent(n.start, lo, n.pitch, n.velocity)
        out.append(n)
    return out


def _longest_rest(notes: Sequence[NoteEvent], lo: int, hi: int) -> int:
    edge, best = lo, 0
    for n in sorted(notes, key=lambda x: x.start):
        if n.end <= lo or n.start >= hi:
            continue
        best = max(best, n.start - edge)
        edge = max(edge, n.end)
    return max(best, hi - edge)


def breathe(melody: Sequence[NoteEvent], bars: Sequence, ring: bool = False) -> list[NoteEvent]:
    """The melody with a rest before every phrase end (where the last two bars of the phrase have none already):
    a beat at the end of every second phrase (8 bars) and of the cue, half a beat between (a tune breathes
    between its antecedent and consequent) unless bars are of two beats; ``ring``: the last note rings to the
    cue's end (the end of the piece), and the phrase before it breathes a beat."""
    out = list(melody)
    ends = phrase_ends(bars)
    periods = set(phrase_ends(bars, 2 * PHRASE_BARS)) | ({ends[-2]} if ring and len(ends) > 1 else set())
    for end in ends[:-1] if ring else ends:
        k = next(i for i, b in enumerate(bars) if b.end >= end)
        short = bars[k].end - bars[k].start <= 2 * bars[k].beat  # four bars of two beats: half a phrase
        rest = bars[k].beat if end in periods else 0 if short else bars[k].beat // 2
        lo = max(0, bars[max(0, k - 1)].start)
        if rest and _longest_rest(out, lo, end) < rest:
            out = clear(out, end - rest, end)
    return out


def thin_windows(bars: Sequence, seconds_at, ring: bool = False) -> list[tuple[int, int]]:
    """Where the texture thins: the last beats (at least :data:`THIN_S` s) before every 8th bar line inside the
    cue, or, in a shorter cue, before its first phrase end (bar 4) or its end (``ring``: the end of the piece,
    where the final chord rings: before its last bar). ``seconds_at(quarters)``: the cue's clock."""
    ends = [bars[k].start for k in range(THIN_EVERY_BARS, len(bars), THIN_EVERY_BARS)]
    if not ends and len(bars) > PHRASE_BARS:
        ends = [bars[PHRASE_BARS].start]
    elif not ends:
        ends = [bars[-1].start if ring and len(bars) > 1 else bars[-1].end]
    out = []
    for end in ends:
        k = next(i for i, b in enumerate(bars) if b.end >= end)
        beat = bars[k].beat
        beat_s = seconds_at(end / TPQ) - seconds_at((end - beat) / TPQ)
        n = max(1, math.ceil(THIN_S / max(beat_s, 1e-6) - 1e-9))
        out.append((max(bars[0].start, end - n * beat), end))
    return out


def thin_out(layers: Mapping[str, Sequence[NoteEvent]], windows: Sequence[tuple[int, int]]) -> dict[str, list[NoteEvent]]:
    """Only half of the layers that play (in :data:`THIN_KEEP` order) sound in each window."""
    playing = [name for name, notes in layers.items() if notes]
    keep = sorted(playing, key=lambda name: THIN_KEEP.index(_kind(name)) if _kind(name) in THIN_KEEP else len(THIN_KEEP))
    keep = set(keep[: len(playing) // 2])
    out = {}
    for name, notes in layers.items():
        notes = list(notes)
        if name not in keep:
            for lo, hi in windows:
                notes = clear(notes, lo, hi)
        out[name] = notes
    return out


def _kind(layer: str) -> str:
    return layer.split(":")[0]


def phrase_arc(tick: int, ends: Sequence[int]) -> float:
    """-0.4..1: where ``tick`` sits in its phrase's arc: rising to 1 at 60% of the phrase, falling to -0.4 at its
    end (the breath)."""
    start, end = _phrase_of(tick, ends)
    x = (tick - start) / max(1, end - start)
    return x / 0.6 if x <= 0.6 else 1 - 1.4 * (x - 0.6) / 0.4


def expression_curve(notes: Sequence[NoteEvent], ends: Sequence[int], level: int, depth: float, beat: int) -> list[tuple[int, int, int]]:
    """CC 11 ``(tick, 11, value)`` every beat while ``notes`` play: ``level`` at each phrase's peak, ``depth``
    (share of ``level``) lower at its start and lower still at its end."""
    if not notes:
        return []
    first, last = min(n.start for n in notes), max(n.end for n in notes)
    out, previous = [], None
    for t in range(first, last, beat):
        shape = phrase_arc(t, ends)
        value = max(1, min(127, round(level * (1 - depth * (1 - shape)))))
        if value != previous:
            out.append((t, 11, value))
            previous = value
    return out


def tail_off(curve: Sequence[tuple[int, int, int]], silences: Sequence[tuple[int, int]], level: int, span: int) -> list[tuple[int, int, int]]:
    """A CC 11 ``curve`` that fades over the ``span`` ticks before each silence ``(lo, hi)`` (to half of ``level``)
    and is back at ``level`` when the music returns."""
    out = [c for c in curve if not any(lo - span <= c[0] < hi for lo, hi in silences)]
    for lo, hi in silences:
        start = max(0, lo - span)
        out += [(start + k * (lo - start) // 4, 11, round(level * (1 - k / 8))) for k in range(5)] + [(hi, 11, level)]
    return sorted(set(out))


def vibrato(notes: Sequence[NoteEvent], beat: int, peak: int = 48) -> list[tuple[int, int, int]]:
    """CC 1 ``(tick, 1, value)``: no vibrato at a note's start, growing through notes of a beat or longer."""
    out = []
    for n in notes:
        if n.end - n.start >= beat:
            out += [(n.start, 1, 0), (n.start + (n.end - n.start) // 3, 1, peak // 2), (n.start + 2 * (n.end - n.start) // 3, 1, peak)]
    return sorted(set(out))


def pedal(notes: Sequence[NoteEvent], changes: Sequence[int], rests: Sequence[int] = ()) -> list[tuple[int, int, int]]:
    """CC 64 ``(tick, 64, value)`` for piano: lifted at every chord change (pressed again a 64th later: legato
    pedalling) and at every rest, lifted at the end."""
    if not notes:
        return []
    first, last = min(n.start for n in notes), max(n.end for n in notes)
    out = [(first, 64, 127)]
    for t in sorted(set(changes)):
        if first < t < last:
            out += [(t, 64, 0), (t + TPQ // 16, 64, 127)]
    for t in rests:
        if first < t < last:
            out.append((t, 64, 0))
    out.append((last, 64, 0))
    return sorted(set(out))


def legato(melody: Sequence[NoteEvent], overlap: int) -> list[NoteEvent]:
    """A legato line: each note held ``overlap`` ticks into the next one when they join (a gap under a 32nd)."""
    notes = sorted(melody, key=lambda n: n.start)
    out = []
    for n, nxt in zip(notes, notes[1:] + [None]):
        if nxt is not None and nxt.pitch != n.pitch and 0 <= nxt.start - n.end <= TPQ // 8 and nxt.start > n.start:
            n = NoteEvent(n.start, max(n.end, nxt.start + overlap), n.pitch, n.velocity)
        out.append(n)
    return out


def feel(notes: Sequence[NoteEvent], layer: str, exact: set[int], ticks_per_ms: float, seed: int) -> list[NoteEvent]:
    """Notes a little behind the grid (up to :data:`FEEL_MS` for the layer; the notes struck together move
    together), except on the ``exact`` ticks. Ends stay where they are."""
    most = FEEL_MS.get(_kind(layer), 6) * ticks_per_ms
    out = []
    for n in notes:
        if n.start in exact or most < 1:
            out.append(n)
            continue
        lag = int(((seed ^ (n.start * 2654435761)) % 1000) / 1000 * most)
        start = n.start + lag
        out.append(NoteEvent(start, n.end, n.pitch, n.velocity) if start < n.end - 1 else n)
    return out
