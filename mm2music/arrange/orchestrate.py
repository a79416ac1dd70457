"""Notes as the arranger handles them, and the decoder's sketch separated into voices by register.

The decoder writes in the texture it learned (four-part chorale writing, folk melodies): the top line
(skyline) is its melody, the lowest line its bass, everything between its harmony. The realiser
(:mod:`mm2music.arrange.realise`) keeps the melody and rewrites the rest as a film-music texture.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

@dataclass(frozen=True)
class NoteEvent:
    """A note in ticks from the start of its cue."""

    start: int
    end: int
    pitch: int
    velocity: int

    def __post_init__(self) -> None:
        if not (0 <= self.pitch <= 127 and 1 <= self.velocity <= 127 and self.end > self.start >= 0):
            raise ValueError(f"invalid note {self}")


def split_voices(notes: Sequence[NoteEvent]) -> tuple[list[NoteEvent], list[NoteEvent], list[NoteEvent]]:
    """(melody, harmony, bass): melody = the highest note sounding at each onset, bass = the lowest
    (when it is not also the melody), harmony = the rest."""
    by_onset: dict[int, list[NoteEvent]] = {}
    for n in notes:
        by_onset.setdefault(n.start, []).append(n)
    melody, harmony, bass = [], [], []
    for onset in sorted(by_onset):
        group = sorted(by_onset[onset], key=lambda n: n.pitch)
        top = group[-1]
        sounding_above = any(m.start < onset < m.end and m.pitch > top.pitch for m in melody[-4:])
        if sounding_above:
            harmony.extend(group)
            continue
        melody.append(top)
        rest = group[:-1]
        if rest:
            bass.append(rest[0])
            harmony.extend(rest[1:])
    return melody, harmony, bass
