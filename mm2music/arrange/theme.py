"""Themes first: the decoder writes a tune, the plan's form makes it a period, each cue states or transforms it.

A film composer writes the theme before its harmony and its arrangement; so does mm2music. For each theme
letter of the plan (A, B, ...), at its first cue, the decoder, conditioned to write a monophonic tune (what it
learned from the corpus's folk tunes and chorale sopranos) in the cue's key, meter, tempo band, density and
register, writes:

1. an **antecedent** of four bars (a one- or two-bar motif and its continuation), best of several candidates
   judged by measurable phrase qualities (:func:`phrase_quality`: a motif that comes back, a singable range, a
   high point, in the key, ending open on a stable degree);
2. a **consequent**: the antecedent's first two bars restated, then two bars the decoder writes to close the
   period, the candidate that ends on the tonic kept (and its last note put on the tonic if none does);
3. a **contrast** of four bars, the decoder continuing from the period, for cues longer than it.

The theme is kept as scale steps from the tonic (:class:`ThemeNote`), so a later cue restates it in its own key
and mode (a major theme comes back in the minor with its thirds and sixths lowered) and transformed by its
emotion (:func:`transform_for`): augmented when the music slows and calms, diminished when it runs,
fragmented (its motif driven up in sequence) under tension. Its intervals in scale steps stay those of the
first statement, so it is recognisably the same tune.

:func:`cue_melody` lays a theme over a cue's bars: period, contrast, period again, with a breath at the end of
each phrase, and the cue's ending written as its plan asks (the tonic for a cue that ends the score, the
dominant for a half cadence).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from mm2music.arrange.orchestrate import NoteEvent
from mm2music.arrange.timing import TICKS_PER_QUARTER as TPQ
from mm2music.graph.beats import beat_quarters, beats_per_bar
from mm2music.key import Key
from mm2music.types import Cue, meter_quarters

SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
STABLE_STEPS = (0, 2, 4)  # tonic, third, fifth (scale steps modulo 7)
OPEN_STEPS = (4, 1)  # where an antecedent likes to stop: the dominant, the supertonic
REGISTER_CENTRE = {"low": 57, "middle": 67, "high": 74, "very_high": 79}
TRANSFORMS = ("state", "restate", "answer", "third", "augment", "diminish", "fragment")
VARIANTS = ("restate", "answer", "third")  # what a seed may choose where the emotion asks only for a restatement


@dataclass(frozen=True)
class ThemeNote:
    """One note of a theme: ``start`` and ``dur`` in quarter notes from the theme's start; ``step`` the diatonic
    step from the tonic at the theme's reference octave (7 = an octave up), ``alter`` a chromatic inflection."""

    start: float
    dur: float
    step: int
    alter: int = 0

    def __post_init__(self) -> None:
        if not (self.start >= 0 and self.dur > 0):
            raise ValueError(f"theme note at {self.start} quarters lasting {self.dur} is not a note")
        if abs(self.alter) > 1:
            raise ValueError(f"theme note alteration {self.alter} is not -1, 0 or +1")


@dataclass(frozen=True)
class Theme:
    """A theme in scale steps: its 8-bar period (antecedent + consequent) and a 4-bar contrast, in ``meter``."""

    label: str
    meter: str
    period: tuple[ThemeNote, ...]
    contrast: tuple[ThemeNote, ...] = ()
    origin: int = 0  # index of the cue that states it first
    mode: str = "major"  # the mode it was written in
    centre: int = 67  # the register (MIDI pitch) of its first statement's line

    @property
    def bar_quarters(self) -> float:
        return meter_quarters(self.meter)

    def to_json(self) -> dict:
        def notes(xs):
            return [[n.start, n.dur, n.step, n.alter] for n in xs]
        return {"label": self.label, "meter": self.meter, "period": notes(self.period), "contrast": notes(self.contrast),
                "origin": self.origin, "mode": self.mode, "centre": self.centre}

    @classmethod
    def from_json(cls, data: dict) -> Theme:
        def notes(xs):
            return tuple(ThemeNote(float(a), float(b), int(c), int(d)) for a, b, c, d in xs)
        return cls(str(data["label"]), str(data["meter"]), notes(data["period"]), notes(data.get("contrast", ())),
                   int(data.get("origin", 0)), str(data.get("mode", "major")), int(data.get("centre", 67)))


def to_step(pitch: int, tonic_pc: int, mode: str) -> tuple[int, int]:
    """(scale step, alteration) of ``pitch`` in the key, the step counted from the tonic at or below C4."""
    rel = pitch - (60 + tonic_pc - 12 * (tonic_pc > 6))
    octave, pc = divmod(rel, 12)
    scale = SCALES[mode]
    degree = max(d for d in range(7) if scale[d] <= pc)
    return 7 * octave + degree, pc - scale[degree]


def to_pitch(step: int, alter: int, tonic_pc: int, mode: str, octave_shift: int = 0) -> int:
    """The MIDI pitch of a scale step in the key (inverse of :func:`to_step`)."""
    octave, degree = divmod(step, 7)
    return 60 + tonic_pc - 12 * (tonic_pc > 6) + 12 * (octave + octave_shift) + SCALES[mode][degree] + alter


def monophonic(notes: Sequence[NoteEvent]) -> list[NoteEvent]:
    """The top line: the highest note per onset, each cut where the next begins."""
    by_onset: dict[int, NoteEvent] = {}
    for n in notes:
        if n.start not in by_onset or n.pitch > by_onset[n.start].pitch:
            by_onset[n.start] = n
    line = [by_onset[t] for t in sorted(by_onset)]
    return [NoteEvent(n.start, min(n.end, line[k + 1].start) if k + 1 < len(line) else n.end, n.pitch, n.velocity)
            for k, n in enumerate(line)]


def steps_of(notes: Sequence[NoteEvent], tonic_pc: int, mode: str, offset_ticks: int = 0) -> list[ThemeNote]:
    """Theme notes of a monophonic line (ticks at :data:`TPQ`), ``offset_ticks`` moved to time 0."""
    out = []
    for n in monophonic(notes):
        step, alter = to_step(n.pitch, tonic_pc, mode)
        start = (n.start - offset_ticks) / TPQ
        if start >= 0:
            out.append(ThemeNote(start, max(1, n.end - n.start) / TPQ, step, alter))
    return out


def pattern_repetition(intervals: Sequence[int], size: int = 3) -> float:
    """Share of ``size``-interval patterns that occur more than once (0 when there are none)."""
    grams = [tuple(intervals[i:i + size]) for i in range(len(intervals) - size + 1)]
    if not grams:
        return 0.0
    counts: dict[tuple, int] = {}
    for g in grams:
        counts[g] = counts.get(g, 0) + 1
    return sum(counts[g] > 1 for g in grams) / len(grams)


def phrase_quality(notes: Sequence[ThemeNote], bar_q: float, bars: int, ending: Sequence[int]) -> float:
    """How much a phrase sounds like a tune (higher is better): enough notes, a singable range (a sixth to a
    tenth), one high point, mostly steps and few wide leaps, runs rather than a zigzag, mostly diatonic, a motif
    that recurs (repeated interval patterns and bar rhythms, without one bar's rhythm throughout), and its
    close (its last bar's longest note) on one of the scale steps in ``ending`` (modulo 7), long enough to be heard."""
    if len(notes) < max(3, bars):
        return -10.0
    steps = [n.step for n in notes]
    pitches = [to_pitch(n.step, n.alter, 0, "major") for n in notes]
    span = max(pitches) - min(pitches)
    intervals = [b - a for a, b in zip(pitches, pitches[1:])]
    score = 0.0
    score -= 0.15 * max(0, 9 - span) + 0.15 * max(0, span - 16)
    score -= 0.4 * sum(abs(i) > 9 for i in intervals) / max(1, len(intervals)) * 10
    score -= 3.0 * max(0.0, 0.55 - sum(1 <= abs(i) <= 2 for i in intervals) / max(1, len(intervals)))  # a line that mostly steps
    score -= 2.0 * sum(n.alter != 0 for n in notes) / len(notes)
    score += 1.5 * pattern_repetition(intervals)
    rhythms = [tuple(round(n.start - b * bar_q, 3) for n in notes if b * bar_q <= n.start < (b + 1) * bar_q) for b in range(bars)]
    recurring = sum(r != () and rhythms.count(r) > 1 for r in rhythms) / bars
    score += 2.0 * min(recurring, 0.75) - 0.5 * (len(set(rhythms)) == 1)  # a rhythm that comes back, not one bar's over and over
    moves = [i for i in intervals if i != 0]
    turns = sum((a > 0) != (b > 0) for a, b in zip(moves, moves[1:])) / max(1, len(moves) - 1)
    score -= 3.0 * max(0.0, turns - 0.45)  # runs and arches, not a zigzag
    top = max(steps)
    score += 0.5 * (steps.count(top) <= 2)  # one climax, not a ceiling the line keeps hitting
    # the phrase's close: its last bar's longest note (a half cadence may run on into a lead-in)
    last = max((n for n in notes if n.start >= (bars - 1) * bar_q - 1e-9), key=lambda n: n.dur, default=notes[-1])
    score += 1.5 * (last.step % 7 in ending and last.alter == 0) + 0.5 * (last.dur >= min(1.0, bar_q / 2))
    density = len(notes) / (bars * bar_q)
    score -= 0.8 * max(0.0, density - 2.5) + 3.0 * max(0.0, 0.75 - density)  # a tune: not a stream of 32nds, nor a few long notes
    sounding = sum(min(n.dur, (notes[k + 1].start if k + 1 < len(notes) else bars * bar_q) - n.start) for k, n in enumerate(notes))
    score -= 4.0 * max(0.0, 1.0 - sounding / (bars * bar_q) - 0.15)  # a line that sings, not one full of holes
    durations = [min(n.dur, (notes[k + 1].start if k + 1 < len(notes) else n.start + n.dur) - n.start) for k, n in enumerate(notes)]
    score -= 1.0 * (len({round(d, 3) for d in durations}) == 1)  # a rhythm, not a row of equal notes
    score -= 3.0 * max(0.0, sum(abs(d - 0.75) < 1e-3 for d in durations) / len(durations) - 0.15)  # not dotted throughout (a jig, a reel, a song, not a hornpipe's every beat)
    score -= 4.0 * max(0.0, sum(i == 0 for i in intervals) / max(1, len(intervals)) - 0.15)  # a line that moves
    return score


def strong_beats(meter: str) -> tuple[float, ...]:
    """Where a bar of ``meter`` is strong, in quarter notes from its bar line: the downbeat, and the middle of a
    bar of four beats or of two dotted beats (6/8, 6/4, 12/8)."""
    num, den = (int(x) for x in meter.split("/"))
    halves = num % 2 == 0 and (num >= 4 or (den == 8 and num % 3 == 0) or den == 2)
    return (0.0, meter_quarters(meter) / 2) if halves else (0.0,)


def _hold_bar(notes: Sequence[ThemeNote], lo: float, hi: float, meter: str, first_if_weak: bool = False,
              lead_in: bool = False) -> list[ThemeNote]:
    """``notes`` with the bar [``lo``, ``hi``) quarters (in ``meter``) ending on a held note: the note on its last
    strong beat (:func:`strong_beats`) held to the bar line, the bar's notes after it left out; with ``lead_in``,
    held to the bar's last beat instead where notes start in that beat, which stay as the lead-in to the next
    phrase (as a tune's half cadence runs on into its consequent). A bar with no note on a strong beat is kept as
    it is, or (``first_if_weak``) its first note is held."""
    inside = [k for k, n in enumerate(notes) if lo - 1e-9 <= n.start < hi - 1e-9]
    strong = [k for k in inside if any(abs(notes[k].start - lo - s) < 1e-6 for s in strong_beats(meter))]
    if not strong and not (first_if_weak and inside):
        return list(notes)
    k = strong[-1] if strong else inside[0]
    held = notes[k]
    last_beat = hi - beat_quarters(meter)
    runs_on = lead_in and held.start < last_beat - 1e-9 and any(last_beat - 1e-9 <= n.start < hi - 1e-9 for n in notes[k + 1:])
    end = last_beat if runs_on else hi
    return list(notes[:k]) + [ThemeNote(held.start, end - held.start, held.step, held.alter)] + [n for n in notes[k + 1:] if n.start >= end - 1e-9]


def cadence_bars(notes: Sequence[ThemeNote], meter: str, phrase_ends: Sequence[int], lead_in: Sequence[int] = ()) -> list[ThemeNote]:
    """A phrase that ends on a held note, as tunes do: each bar of ``phrase_ends`` (bar indices) held from its last
    strong beat that carries a note (:func:`_hold_bar`; the breath is cut from its end when the cue is laid out),
    those of ``lead_in`` to their last beat, keeping what the tune sampled there as the lead-in to what follows."""
    bar_q = meter_quarters(meter)
    out = list(notes)
    for b in phrase_ends:
        out = _hold_bar(out, b * bar_q, (b + 1) * bar_q, meter, lead_in=b in lead_in)
    return out


def shift_steps(notes: Sequence[ThemeNote], dt: float = 0.0, dstep: int = 0, scale: float = 1.0) -> list[ThemeNote]:
    """Notes moved in time by ``dt`` quarters, in pitch by ``dstep`` scale steps, durations and onsets scaled."""
    return [ThemeNote(n.start * scale + dt, n.dur * scale, n.step + dstep, n.alter) for n in notes]


def _bars_of(notes: Sequence[ThemeNote], bar_q: float, first: int, count: int) -> list[ThemeNote]:
    """The notes starting in bars [first, first + count), moved to start at 0."""
    a, b = first * bar_q, (first + count) * bar_q
    return [ThemeNote(n.start - a, min(n.dur, b - n.start), n.step, n.alter) for n in notes if a <= n.start < b - 1e-9]


def transform_for(cue: Cue, first: Cue | None, variant: int = 0) -> str:
    """How ``cue`` treats its theme: ``state`` it (first statement), ``augment`` it (slower and calmer than where
    it was first heard), ``diminish`` it (much more agitated), ``fragment`` it (tension), or else restate it in
    one of the :data:`VARIANTS` (``variant``, from the seed: as it was, from its answering phrase, or a third
    higher)."""
    if first is None or first.index == cue.index:
        return "state"
    if cue.valence < -0.15 and cue.arousal > 0.3 and first.arousal < cue.arousal:
        return "fragment"
    if cue.arousal < first.arousal - 0.4 and cue.bars >= 4:
        return "augment"
    if cue.arousal > first.arousal + 0.4:
        return "diminish"
    return VARIANTS[variant % len(VARIANTS)]


def material(theme: Theme, transform: str) -> tuple[list[ThemeNote], int]:
    """The theme's period transformed: (notes, bars)."""
    bq = theme.bar_quarters
    period = list(theme.period)
    if transform == "augment":
        return shift_steps(period, scale=2.0), 16
    if transform == "diminish":
        return shift_steps(period, scale=0.5), 4
    if transform == "fragment":
        motif = _bars_of(period, bq, 0, 2)
        out = []
        for k in range(3):  # the motif driven upward a step at a time, then the period's close
            out += shift_steps(motif, dt=2 * k * bq, dstep=k)
        out += shift_steps(_bars_of(period, bq, 6, 2), dt=6 * bq)
        return out, 8
    if transform == "answer":  # the consequent (which opens with the motif) first, then the antecedent
        return shift_steps(_bars_of(period, bq, 4, 4)) + shift_steps(_bars_of(period, bq, 0, 4), dt=4 * bq), 8
    if transform == "third":
        return shift_steps(period, dstep=2), 8
    return period, 8


def _layout(theme: Theme, transform: str, bars: int, body: tuple[Sequence[ThemeNote], int] | None = None) -> list[ThemeNote]:
    """Theme notes covering ``bars`` bars: the (transformed) period, the contrast, the period again, ...; a
    section cut short keeps its own closing bar (its cadence) as the cue's last bar. ``body``: (notes, bars) to lay
    out in place of :func:`material`'s (a restatement written by the decoder)."""
    bq = theme.bar_quarters
    body, body_bars = (list(body[0]), body[1]) if body is not None else material(theme, transform)
    sections = [(body, body_bars)]
    if theme.contrast:
        sections.append((list(theme.contrast), 4))
    out: list[ThemeNote] = []
    at, k = 0, 0
    while at < bars:
        notes, length = sections[k % len(sections)] if k else (body, body_bars)
        left = bars - at
        if length <= left:
            out += shift_steps(notes, dt=at * bq)
            at += length
        elif left == 1:
            out += shift_steps(_bars_of(notes, bq, length - 1, 1), dt=at * bq)
            at += 1
        else:
            out += shift_steps(_bars_of(notes, bq, 0, left - 1), dt=at * bq)
            out += shift_steps(_bars_of(notes, bq, length - 1, 1), dt=(at + left - 1) * bq)
            at += left
        k += 1
    return out


ENDING_STEPS = {"final": 0, "authentic": 0, "plagal": 0, "half": 4, "deceptive": 5}


def _nearest_step(step: int, target: int) -> int:
    """The step nearest to ``step`` whose degree is ``target`` (0-6)."""
    base = step - step % 7 + target
    return min((base - 7, base, base + 7), key=lambda s: (abs(s - step), s))


def closing_step(notes: Sequence[ThemeNote], target: int) -> int:
    """The step the last of ``notes`` becomes to end on degree ``target``: itself if it is one, else the
    ``target`` nearest the note before it (a close approached by step or a small leap, not a leap of an
    octave from wherever the sampled note lay)."""
    last = notes[-1]
    if last.step % 7 == target and last.alter == 0:
        return last.step
    return _nearest_step(notes[-2].step if len(notes) > 1 else last.step, target)


def reprise_centre(cue: Cue, first: Cue | None) -> int:
    """The register (MIDI pitch) of a cue's tune: the planned one; a reprise planned in its first statement's
    register moves an octave (down from a high register, up from a low one), as a reprise changes its colour."""
    centre = REGISTER_CENTRE.get(cue.register, 67)
    if first is not None and first.index != cue.index and first.register == cue.register:
        centre += -12 if centre >= 67 else 12
    return centre


def cue_melody(theme: Theme, cue: Cue, transform: str, final: bool, first: Cue | None = None,
               body: tuple[Sequence[ThemeNote], int] | None = None) -> list[NoteEvent]:
    """The melody of ``cue`` from ``theme`` (ticks from the cue start, pitches in the cue's key and mode around its
    register, :func:`reprise_centre` with ``first`` the cue that stated the theme): laid over the cue's bars,
    breathing at phrase ends, ending as the plan asks. ``body``: (notes, bars) laid out in place of the rules'
    transformed period (:func:`material`)."""
    bq = theme.bar_quarters
    bars = list(cue.bar_quarters())
    notes = _layout(theme, transform, len(bars), body)
    if theme.meter != cue.meter and body is None:  # another meter: every bar's notes keep their place in the bar, in proportion
        ratio = cue.beats_per_bar / bq
        notes = [ThemeNote(round(n.start * ratio * 2) / 2, max(0.5, round(n.dur * ratio * 2) / 2), n.step, n.alter) for n in notes]
    starts = [sum(bars[:i]) for i in range(len(bars))] + [sum(bars)]
    nominal = [i * cue.beats_per_bar for i in range(len(bars) + 1)]
    placed = []
    for n in notes:  # bar-relative placement, so an odd last bar cuts its bar short instead of shifting anything
        b = min(int(n.start // cue.beats_per_bar + 1e-9), len(bars) - 1)
        start = starts[b] + (n.start - nominal[b])
        if start < starts[b + 1] - 1e-9:
            placed.append(ThemeNote(start, min(n.dur, starts[-1] - start), n.step, n.alter))
    if not placed:
        return []
    ending = "final" if final else cue.cadence
    if ending in ENDING_STEPS:  # the cue's last bar ends on a held note, on the degree its ending asks for
        placed = held_close(placed, starts[-2], starts[-1], cue.odd_bar or cue.meter)
        last = placed[-1]
        placed[-1] = ThemeNote(last.start, starts[-1] - last.start, closing_step(placed, ENDING_STEPS[ending]), 0)
    placed = _breathe(placed, starts, short_bars=beats_per_bar(cue.meter) <= 2)
    tonic, mode = Key.of(cue.key, cue.mode)
    centre = reprise_centre(cue, first)
    pitches = [to_pitch(n.step, n.alter + _leading_tone(placed, k, mode), tonic, mode) for k, n in enumerate(placed)]
    shift = 12 * round((centre - sum(pitches) / len(pitches)) / 12)
    return [NoteEvent(round(n.start * TPQ), round((n.start + n.dur) * TPQ), p + shift, 80) for n, p in zip(placed, pitches)]


def held_close(notes: Sequence[ThemeNote], bar_start: float, bar_end: float, meter: str) -> list[ThemeNote]:
    """``notes`` whose last bar ([``bar_start``, ``bar_end``) quarters, in ``meter``) ends on a held note: the note
    on its last strong beat, else its first note, held to the bar line (:func:`_hold_bar`; a cue cut to an odd last
    bar would otherwise end on whatever 16th the cut left)."""
    return _hold_bar(notes, bar_start, bar_end, meter, first_if_weak=True)


def _leading_tone(notes: Sequence[ThemeNote], k: int, mode: str) -> int:
    """+1 for a minor key's seventh step that rises to the tonic (the leading tone cadences want)."""
    n = notes[k]
    if mode != "minor" or n.step % 7 != 6 or n.alter != 0 or k + 1 >= len(notes):
        return 0
    return int(notes[k + 1].step == n.step + 1)


def _breathe(notes: list[ThemeNote], bar_starts: Sequence[float], phrase_bars: int = 4, short_bars: bool = False) -> list[ThemeNote]:
    """A breath before every phrase (4 bars) that follows one whose line does not rest there: a beat before a
    period (every 8 bars) and before the cue's last phrase (its ending may ring), half a beat between a period's
    antecedent and consequent unless the bars are short (two beats: four of them are half a phrase)."""
    out = list(notes)
    n_bars = len(bar_starts) - 1
    for b in range(phrase_bars, n_bars, phrase_bars):
        edge = bar_starts[b]
        need = 1.0 if b % (2 * phrase_bars) == 0 or b + phrase_bars >= n_bars else 0.0 if short_bars else 0.5
        before = [k for k, n in enumerate(out) if n.start < edge]
        if not before:
            continue
        k = before[-1]
        n = out[k]
        gap = edge - (n.start + n.dur)
        if gap < need - 1e-9:
            room = edge - need - n.start
            if room >= 0.5:
                out[k] = ThemeNote(n.start, room, n.step, n.alter)
            elif k > 0 and out[k - 1].start + out[k - 1].dur <= n.start + 1e-9:
                out[k - 1] = ThemeNote(out[k - 1].start, out[k - 1].dur + n.dur, out[k - 1].step, out[k - 1].alter)
                del out[k]
                if edge - (out[k - 1].start + out[k - 1].dur) < need:
                    p = out[k - 1]
                    out[k - 1] = ThemeNote(p.start, max(0.5, edge - need - p.start), p.step, p.alter)
    return out


def scale_intervals(notes: Sequence[ThemeNote]) -> list[int]:
    """Intervals between consecutive notes in scale steps (transposition-, mode- and rhythm-free)."""
    return [b.step - a.step for a, b in zip(notes, notes[1:])]


def ticks_length(bar_q: float, bars: int) -> int:
    return int(math.floor(bar_q * bars * TPQ + 0.5))
