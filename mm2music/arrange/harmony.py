"""Harmony of the decoder's sketch: one chord per harmonic slot, voiced with smooth voice leading.

The decoder writes melody and harmony together (it learned four-part writing from chorales); the realiser
keeps its melody and reads its harmony as a chord per slot, so every layer (pad, bass, figure, counter-line)
can be written from the same chords in its own register, without the thick chords and clusters a raw
sketch can hold. A slot's chord is the diatonic triad (or the major dominant in minor) that covers most of
the sketch's sounding pitch-class weight there, with a small preference for the sketch's bass note as the
root and for strong root motion; a cue's cadence is written into its last slots.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from mm2music.arrange.orchestrate import NoteEvent

MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)
QUALITY = {"maj": (0, 4, 7), "min": (0, 3, 7), "dim": (0, 3, 6)}


@dataclass(frozen=True)
class Chord:
    root: int  # pitch class
    quality: str  # "maj" | "min" | "dim"

    @property
    def pcs(self) -> tuple[int, int, int]:
        """(root, third, fifth) pitch classes."""
        return tuple((self.root + i) % 12 for i in QUALITY[self.quality])  # type: ignore[return-value]


def diatonic_chords(tonic: int, mode: str) -> dict[int, Chord]:
    """Scale degree (1-7) -> triad; in minor the dominant is major (harmonic minor), as cadences want."""
    scale = MAJOR_SCALE if mode == "major" else MINOR_SCALE
    out = {}
    for degree in range(7):
        root = scale[degree]
        third = (scale[(degree + 2) % 7] - root) % 12
        fifth = (scale[(degree + 4) % 7] - root) % 12
        quality = "maj" if third == 4 else ("dim" if fifth == 6 else "min")
        out[degree + 1] = Chord((tonic + root) % 12, quality)
    if mode == "minor":
        out[5] = Chord((tonic + 7) % 12, "maj")
    return out


@dataclass(frozen=True)
class Slot:
    """A span of the cue with one chord (ticks from the cue start)."""

    start: int
    end: int
    chord: Chord


CADENCE_DEGREES = {"authentic": (5, 1), "plagal": (4, 1), "half": (None, 5), "deceptive": (5, 6)}


def chord_slots(notes: Sequence[NoteEvent], bounds: Sequence[int], tonic: int, mode: str, cadence: str = "",
                final: bool = False) -> list[Slot]:
    """One chord per span between consecutive ``bounds`` (ticks). ``cadence`` (plan's cadence type) is
    written into the last two slots (forced when ``final``, preferred otherwise); the first slot leans to
    the tonic, so each cue states its key."""
    chords = diatonic_chords(tonic, mode)
    options = list(chords.items())
    out: list[Slot] = []
    n = len(bounds) - 1
    for k, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        weights = [0.0] * 12
        sounding = [x for x in notes if x.start < b and x.end > a]
        for x in sounding:
            weights[x.pitch % 12] += min(b, x.end) - max(a, x.start)
        if sounding:
            lowest = min([x for x in sounding if x.start >= a] or sounding, key=lambda x: x.pitch)
            weights[lowest.pitch % 12] += 0.5 * (b - a)
        total = sum(weights) or 1.0
        prefer: dict[int, float] = {}
        if k == 0:
            prefer[1] = 0.25
        want = CADENCE_DEGREES.get(cadence, (None, None))
        for j, degree in ((n - 2, want[0]), (n - 1, want[1])):
            if k == j and degree is not None:
                prefer[degree] = prefer.get(degree, 0.0) + (10.0 if final else 0.35)
        prev = out[-1].chord if out else None

        def score(item: tuple[int, Chord]) -> float:
            degree, chord = item
            inside = sum(weights[p] for p in chord.pcs)
            s = (inside - 0.6 * (total - inside)) / total + prefer.get(degree, 0.0)
            s += 0.1 * (degree in (1, 4, 5)) - 0.15 * (chord.quality == "dim")
            if prev is not None and prev != chord:
                s += 0.08 * ((chord.root - prev.root) % 12 in (5, 7)) + 0.03 * ((chord.root - prev.root) % 12 in (2, 10))
            return s

        if not sounding and prev is None:  # nothing sounds yet: the tonic
            chord = chords[1]
        elif not sounding and k < n - 2:  # a rest: the harmony holds (the cadence's slots always choose)
            chord = prev
        else:
            chord = max(options, key=score)[1]
        out.append(Slot(a, b, chord))
    return out


def spared(chord: Chord, avoid: Sequence[int]) -> list[int]:
    """The chord's pitch classes without those in ``avoid``, when at least two are left; else all three."""
    pcs = [p for p in chord.pcs if p not in avoid]
    return pcs if len(set(pcs)) >= 2 else list(chord.pcs)


def voice(chord: Chord, low: int, high: int, n: int, previous: Sequence[int] = (), avoid: Sequence[int] = (),
          below: int | None = None) -> list[int]:
    """``n`` pitches of ``chord`` in [low, high] (all three tones when n >= 3, avoiding pitch classes in
    ``avoid`` where the chord can spare them), nearest to ``previous`` (smallest total motion: voice leading),
    spaced no wider than an octave between neighbours and kept under ``below`` where possible."""
    pcs = spared(chord, avoid)
    pool = [p for p in range(low, high + 1) if p % 12 in pcs]
    best, best_cost = None, float("inf")
    if below is not None and sum(p < below for p in pool) >= n:
        pool = [p for p in pool if p < below]  # the chord stays under the melody when the range allows
    for combo in itertools.combinations(pool, min(n, len(pool))):
        if n >= 3 and len({p % 12 for p in combo}) < min(3, len(pcs)):
            continue
        if any(b - a > 12 for a, b in zip(combo, combo[1:])) or any(b - a < 3 for a, b in zip(combo, combo[1:])):
            continue
        cost = 0.0
        if previous:
            cost += sum(min(abs(p - q) for q in previous) for p in combo) + abs(len(previous) - len(combo))
        else:
            cost += abs(sum(combo) / len(combo) - (low + high) / 2)
        if below is not None and combo[-1] >= below:
            cost += 6 + (combo[-1] - below)
        cost += 2 * (combo[0] % 12 != chord.root)  # root position unless the line moves better otherwise
        if cost < best_cost:
            best, best_cost = combo, cost
    return list(best) if best else [low + (chord.root - low) % 12]
