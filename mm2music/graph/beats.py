"""Whole beats on every cue: a steady tempo inside a cue, cuts on downbeats, shot cuts near the grid.

A film composer fits a scene with whole beats at one tempo and, where the bars do not come out even, one bar
of another meter (a 2/4 or 3/4 bar after the 4/4 ones, or a 5/4 last bar) rather than a tempo change inside
the cue. The tempo is also chosen so that the shot cuts *inside* the scene (which the music catches with an
accent or a new chord) fall close to the 16th-note grid. This module makes those choices for all cues
together: each cue's tempo stays near its target and near its neighbour's unless the plan marks a contrast,
minimised exactly by dynamic programming (as :func:`mm2music.graph.plan.fit_tempi` does for whole bars).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class BeatFit:
    """One cue's fit: ``beats`` beats (of ``beat_quarters`` quarter notes) at ``qpm`` fill its span exactly."""

    beats: int
    qpm: float  # quarter notes per minute
    bars: int  # including the odd bar
    odd_bar: str  # "" or the meter of the last bar
    catch_offsets: tuple[float, ...] = ()  # seconds from each caught cut to the nearest 16th note


def beat_quarters(meter: str) -> float:
    """Quarter notes per counted beat: a quarter in x/4 and x/2 (as quarters), a dotted quarter in compound x/8."""
    num, den = (int(x) for x in meter.split("/"))
    if den == 8 and num % 3 == 0:
        return 1.5
    return 4 / den if den != 2 else 1.0


def beats_per_bar(meter: str) -> int:
    num, den = (int(x) for x in meter.split("/"))
    return round(num * 4 / den / beat_quarters(meter))


def split_bars(beats: int, meter: str) -> tuple[int, str]:
    """(bars, odd last bar's meter or "") for ``beats`` beats of ``meter``: full bars and one odd bar.

    A remainder of one beat lengthens the last bar (4/4 -> 5/4, 3/4 -> 4/4, 2/4 -> 3/4); a larger remainder is
    a short bar of its own (2/4, 3/4). In 6/8 a lone dotted-quarter beat is a 3/8 bar."""
    per = beats_per_bar(meter)
    if beats < 1:
        raise ValueError(f"{beats} beats cannot make a bar")
    full, rest = divmod(beats, per)
    num, den = (int(x) for x in meter.split("/"))
    unit = num // per  # notated units per beat (1 in 4/4, 3 in 6/8)
    if rest == 0:
        return full, ""
    if full == 0:
        return 1, f"{rest * unit}/{den}"
    if rest == 1 and unit == 1 and per >= 2:
        return full, f"{per + 1}/{den}"
    return full + 1, f"{rest * unit}/{den}"


def catch_offsets(duration: float, beats: int, bq: float, catches: Sequence[float]) -> list[float]:
    """Seconds from each caught cut (seconds from the cue start) to the nearest 16th note."""
    sixteenth = duration / (beats * bq * 4)
    return [abs(c / sixteenth - round(c / sixteenth)) * sixteenth for c in catches]


def cheapest_path(options: Sequence[Sequence[tuple]], free: Sequence[bool], jump_weight: float) -> list[int]:
    """Per cue, the index of the chosen option: ``options[i]`` are (count, qpm, own cost) candidates of cue ``i``;
    the path minimises the own costs plus ``jump_weight`` x |log(qpm ratio)| between neighbours (nothing where
    ``free[i]``), exactly, by dynamic programming."""
    back = [[(own, -1) for *_, own in options[0]]]  # per cue and option: (cost so far, best previous option)
    for i in range(1, len(options)):
        weight = 0.0 if (i < len(free) and free[i]) else jump_weight
        row = []
        for _, qpm, own in options[i]:
            via = [cost + weight * abs(math.log(qpm / options[i - 1][j][1])) for j, (cost, _) in enumerate(back[-1])]
            k = min(range(len(via)), key=via.__getitem__)
            row.append((via[k] + own, k))
        back.append(row)
    k = min(range(len(back[-1])), key=lambda j: back[-1][j][0])
    path = []
    for i in range(len(options) - 1, -1, -1):
        path.append(k)
        k = back[i][k][1]
    return path[::-1]


def fit_beats(durations: Sequence[float], targets: Sequence[float], meter: str, catches: Sequence[Sequence[float]] = (),
              band: tuple[float, float] = (40.0, 200.0), free: Sequence[bool] = (), jump_weight: float = 2.0,
              catch_weight: float = 1.0, spread: float = 0.4) -> list[BeatFit]:
    """Whole beats and a tempo for every cue (``durations`` in seconds, ``targets`` in qpm), chosen together.

    Cost per cue: |log(qpm / target)| (+10 outside ``band``), ``catch_weight`` x the seconds between each of its
    caught cuts (seconds from its start) and the 16th-note grid, a little for an odd bar; between neighbours
    ``jump_weight`` x |log(qpm / previous qpm)| unless ``free[i]``. Candidates: every beat count within
    ``spread`` of the ideal one."""
    bq = beat_quarters(meter)
    options: list[list[tuple[int, float, float]]] = []
    for i, (duration, target) in enumerate(zip(durations, targets)):
        ideal = duration * target / 60 / bq
        lo, hi = max(1, math.floor(ideal * (1 - spread))), max(2, math.ceil(ideal * (1 + spread)))
        cands = []
        for n in range(lo, hi + 1):
            qpm = n * bq * 60 / duration
            cost = abs(math.log(qpm / target)) + (0 if band[0] <= qpm <= band[1] else 10)
            cuts = catches[i] if i < len(catches) else ()
            cost += catch_weight * sum(catch_offsets(duration, n, bq, cuts))
            cost += 0.02 * bool(split_bars(n, meter)[1])
            cands.append((n, qpm, cost))
        options.append(cands)
    out = []
    for i, k in enumerate(cheapest_path(options, free, jump_weight)):
        n, qpm, _ = options[i][k]
        bars, odd = split_bars(n, meter)
        cuts = catches[i] if i < len(catches) else ()
        out.append(BeatFit(n, qpm, bars, odd, tuple(catch_offsets(durations[i], n, bq, cuts))))
    return out
