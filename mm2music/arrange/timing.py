"""Timing: where every cue's bars fall, as a tempo map in ticks, and how well the written MIDI syncs.

Each cue holds a whole number of bars (the planner chose them so that the bars fill the cue's span exactly),
at one tempo or with its last bar ramping to the next cue's tempo (one tempo event per beat), so every cut
is a bar line. MIDI stores a tempo as whole microseconds per quarter note: the rounding error is under
0.5 us per quarter note, far below a video frame.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from mm2music.types import Cue

TICKS_PER_QUARTER = 480


@dataclass(frozen=True)
class CueTiming:
    """A cue placed on the tick grid."""

    index: int
    start_tick: int
    end_tick: int
    qpm: float  # quarter notes per minute
    beats_per_bar: float
    bars: int


def layout(cues: Sequence[Cue], tpq: int = TICKS_PER_QUARTER) -> list[CueTiming]:
    out, tick = [], 0
    for cue in cues:
        length = round(cue.quarters * tpq)
        out.append(CueTiming(cue.index, tick, tick + length, cue.tempo_bpm, cue.beats_per_bar, cue.bars))
        tick += length
    return out


def seconds_to_tick(seconds: float, cues: Sequence[Cue], timings: Sequence[CueTiming], tpq: int = TICKS_PER_QUARTER) -> int:
    """The tick at ``seconds`` under the cue tempo map (times past the end continue the last tempo)."""
    for cue, t in zip(cues, timings):
        if seconds < cue.end or t is timings[-1]:
            return round(t.start_tick + cue.quarters_at(seconds) * tpq)
    return 0


DROP_FRAME_RATES = {30: 2, 60: 4}  # nominal rate of 29.97 / 59.94 fps -> frame numbers skipped each minute


def is_drop_frame(fps: float) -> bool:
    """29.97 (30000/1001) and 59.94 fps video is timed in drop-frame timecode (SMPTE ST 12-1)."""
    nominal = round(fps)
    return nominal in DROP_FRAME_RATES and abs(fps - nominal * 1000 / 1001) < 0.005


def smpte(seconds: float, fps: float) -> str:
    """SMPTE timecode of the frame at ``seconds``: HH:MM:SS:FF, or HH:MM:SS;FF (drop-frame) at 29.97/59.94 fps."""
    return frames_to_timecode(round(seconds * fps), fps, is_drop_frame(fps))


def frames_to_timecode(frames: int, fps: float, drop_frame: bool = False) -> str:
    """Frame count -> HH:MM:SS:FF, or HH:MM:SS;FF with ``drop_frame``.

    Drop-frame skips frame numbers 00 and 01 (00-03 at 59.94) at the start of every minute except each tenth,
    so the timecode keeps to the wall clock (non-drop at 29.97 fps runs 3.6 s an hour slow).
    """
    fps_int = max(1, round(fps))
    sep = ":"
    if drop_frame:
        drop = DROP_FRAME_RATES[fps_int]
        per_minute = fps_int * 60 - drop  # frames in a minute that drops numbers
        per_ten = fps_int * 600 - drop * 9  # frames in ten minutes
        tens, rest = divmod(frames, per_ten)
        frames += drop * 9 * tens + (drop * ((rest - drop) // per_minute) if rest > drop else 0)
        sep = ";"
    ff = frames % fps_int
    total = frames // fps_int
    return f"{total // 3600 % 24:02d}:{total // 60 % 60:02d}:{total % 60:02d}{sep}{ff:02d}"


def sync_report(midi_path, points: dict[str, Sequence[float]], caught: Sequence[float] = ()) -> dict:
    """Offsets of every cut / hit from the nearest bar line of the written MIDI, and of every caught cut (a
    shot cut inside a cue) from the nearest note onset, in milliseconds.

    Measured on the file itself (pretty_midi's downbeats: its tempo map and time signatures), so it checks
    what a DAW will see, not what we meant to write.
    """
    import numpy as np
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(str(midi_path))
    downbeats = pm.get_downbeats()
    onsets = np.unique([n.start for inst in pm.instruments for n in inst.notes])
    report: dict = {"points": []}
    offsets = []
    for kind, times in points.items():
        for t in times:
            nearest = min(downbeats, key=lambda d: abs(d - t)) if len(downbeats) else math.inf
            off = float(nearest - t) * 1000
            offsets.append(abs(off))
            report["points"].append({"kind": kind, "time": round(t, 6), "bar_line": round(float(nearest), 6), "offset_ms": round(off, 3)})
    caught_offsets = []
    for t in caught:
        nearest = float(onsets[np.argmin(np.abs(onsets - t))]) if len(onsets) else math.inf
        off = (nearest - t) * 1000
        caught_offsets.append(abs(off))
        report["points"].append({"kind": "caught cut", "time": round(t, 6), "onset": round(nearest, 6), "offset_ms": round(off, 3)})
    report["max_ms"] = round(max(offsets), 3) if offsets else 0.0
    report["mean_ms"] = round(sum(offsets) / len(offsets), 3) if offsets else 0.0
    report["caught_max_ms"] = round(max(caught_offsets), 3) if caught_offsets else 0.0
    return report


def score_sync(midi_path, cues: Sequence[Cue], cuts: Sequence[float], hits: Sequence[float]) -> dict:
    """:func:`sync_report` of a written score: the scene changes and hits against its bar lines, the shot cuts
    its cues catch against its note onsets."""
    caught = sorted(c for cue in cues for c in cue.catches)
    scene_cuts = [c for c in cuts if all(abs(c - k) > 1e-6 for k in caught)]
    return sync_report(midi_path, {"cut": scene_cuts, "hit": hits}, caught)
