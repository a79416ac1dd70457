"""Harmony: one chord per harmonic slot, fitted to the tune (:func:`harmonise`) or read from a sketch
(:func:`chord_slots`), voiced with smooth voice leading.

:func:`harmonise` writes the harmony for a melody the way a harmonisation exercise does: every slot's chord
should hold the melody notes that are heard (on a beat, or long), the chords should move by function (tonic,
predominant, dominant, tonic: a Viterbi path over the slots scores the progression as a whole) and change often
enough for the tempo and the emotion, and the cadence the plan asks for closes the cue (V-I with I in the last
slot for the end of the score). The chords come from a vocabulary per emotion (:func:`palette_for`): plain
diatonic for pastoral and calm music, modal mixture (iv, bVI, bVII) for heroic and nostalgic cues, chromatic
mediants for wonder, diminished and augmented chords for dread.

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
QUALITY = {"maj": (0, 4, 7), "min": (0, 3, 7), "dim": (0, 3, 6), "aug": (0, 4, 8)}


@dataclass(frozen=True)
class Chord:
    root: int  # pitch class
    quality: str  # "maj" | "min" | "dim" | "aug"

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


# -- harmonising a tune ----------------------------------------------------------------------------------

ROMAN = ("I", "ii", "iii", "IV", "V", "vi", "vii")
FUNCTION = {0: "T", 9: "T", 4: "T", 3: "T", 8: "S", 5: "S", 2: "S", 1: "S", 10: "S", 7: "D", 11: "D", 6: "D"}
FUNCTION_MOVES = {("T", "S"): 0.3, ("T", "D"): 0.2, ("S", "D"): 0.35, ("D", "T"): 0.4, ("S", "T"): 0.1,
                  ("D", "S"): -0.25, ("T", "T"): 0.05, ("S", "S"): 0.1, ("D", "D"): 0.0}
PALETTE_CHORDS = {  # extra chords per palette: (name, root above the tonic, quality, cost)
    "diatonic": (),
    "mixture": (("iv", 5, "min", 0.2), ("bVI", 8, "maj", 0.2), ("bVII", 10, "maj", 0.2)),
    "mediant": (("III", 4, "maj", 0.2), ("bIII", 3, "maj", 0.2), ("VI", 9, "maj", 0.2), ("bVI", 8, "maj", 0.2)),
    "dread": (("#iv°", 6, "dim", 0.1), ("I+", 0, "aug", 0.15), ("bII", 1, "maj", 0.15), ("vii°", 11, "dim", 0.05)),
}
HEROIC = ("triumph", "joy", "excitement")
NOSTALGIC = ("nostalgia", "melancholy", "hope", "tenderness", "love")
WONDER = ("wonder", "mystery")
DREAD = ("fear", "dread", "tension", "suspense", "anger")


def palette_for(emotions: dict[str, float], valence: float, arousal: float) -> str:
    """The chord vocabulary an emotion asks for: ``diatonic``, ``mixture``, ``mediant`` or ``dread``."""
    top = max(emotions, key=emotions.get) if emotions else ""
    if top in DREAD or (valence < -0.3 and arousal > 0.3):
        return "dread"
    if top in WONDER:
        return "mediant"
    if top in HEROIC + NOSTALGIC:
        return "mixture"
    return "diatonic"


def vocabulary(tonic: int, mode: str, palette: str = "diatonic") -> list[tuple[str, Chord, float]]:
    """(name, chord, cost) of every chord a harmonisation may use: the key's triads (vii° and iii a little
    costly), then the palette's extra chords."""
    out = []
    for degree, chord in diatonic_chords(tonic, mode).items():
        name = ROMAN[degree - 1] if mode == "major" else ("i", "ii°", "III", "iv", "V", "VI", "VII")[degree - 1]
        out.append((name, chord, 0.2 * (chord.quality == "dim") + 0.05 * (degree == 3)))
    have = {c for _, c, _ in out}
    for name, offset, quality, cost in PALETTE_CHORDS.get(palette, ()):
        chord = Chord((tonic + offset) % 12, quality)
        if chord not in have:
            out.append((name, chord, cost))
            have.add(chord)
    return out


def _fit(melody: Sequence[NoteEvent], a: int, b: int, chord: Chord, beat: int) -> float:
    """How well ``chord`` holds the melody heard in [a, b): weighted share of chord tones (the note sounding as
    the chord arrives weighs most, then notes on a beat; a passing note between beats little; long notes more)
    in [-0.8, 1]; 0 with no melody there."""
    total = inside = 0.0
    for n in melody:
        overlap = min(b, n.end) - max(a, n.start)
        if overlap <= 0:
            continue
        w = overlap / beat * (2.0 if n.start <= a else 1.0 if n.start % beat == 0 else 0.5)
        total += w
        inside += w if n.pitch % 12 in chord.pcs else -0.8 * w
    return inside / total if total else 0.0


def harmonise(melody: Sequence[NoteEvent], bounds: Sequence[int], tonic: int, mode: str, cadence: str = "",
              final: bool = False, palette: str = "diatonic", arousal: float = 0.0, beat: int = 480) -> list[Slot]:
    """Chords for ``melody`` (ticks) over the slots between consecutive ``bounds``: the best-scoring
    progression (melody fit, functional motion, root motion by fifths, a chord that changes, the cadence) found
    by Viterbi. ``final``: the cue ends the score, so its cadence is forced (V-I, or IV-I for plagal)."""
    vocab = vocabulary(tonic, mode, palette)
    spans = list(zip(bounds[:-1], bounds[1:]))
    n = len(spans)
    if n == 0:
        return []
    want = CADENCE_DEGREES.get(cadence or ("authentic" if final else ""), (None, None))
    chords = diatonic_chords(tonic, mode)
    required = {}
    for j, degree in ((n - 2, want[0]), (n - 1, want[1])):
        if j >= 0 and degree is not None:
            required[j] = chords[degree]
    hold = 0.25 + 0.25 * max(0.0, arousal)

    def local(k: int, chord: Chord, cost: float) -> float:
        s = 1.5 * _fit(melody, *spans[k], chord, beat) - cost
        if k == 0:
            s += 0.5 * (chord == chords[1])
        if k in required:
            s += (50.0 if final else 0.6) * (chord == required[k])
        return s

    def move(p: Chord, q: Chord) -> float:
        if p == q:
            return -hold
        fp, fq = FUNCTION[(p.root - tonic) % 12], FUNCTION[(q.root - tonic) % 12]
        s = FUNCTION_MOVES.get((fp, fq), 0.0)
        s += 0.15 * ((p.root - q.root) % 12 == 7) + 0.05 * ((q.root - p.root) % 12 in (2, 10))
        return s

    score = [local(0, c, cost) for _, c, cost in vocab]
    back: list[list[int]] = []
    for k in range(1, n):
        row, ptr = [], []
        for _, c, cost in vocab:
            j = max(range(len(vocab)), key=lambda i: score[i] + move(vocab[i][1], c))
            row.append(score[j] + move(vocab[j][1], c) + local(k, c, cost))
            ptr.append(j)
        score, back = row, back + [ptr]
    path = [max(range(len(vocab)), key=lambda i: score[i])]
    for ptr in reversed(back):
        path.append(ptr[path[-1]])
    path.reverse()
    return [Slot(a, b, vocab[i][1]) for (a, b), i in zip(spans, path)]
