"""Orchestration: the decoder's notes -> melody, harmony and bass on the plan's General MIDI instruments.

The decoder writes music in the texture it learned (four-part chorale writing, folk melodies); the plan asks
for instrument families. Voices are separated by register: the top line (skyline) is the melody, the lowest
line the bass, everything between the harmony; each role goes to the plan's family that suits it. Velocities
follow the planned dynamics (which follow arousal), keeping the decoder's own accents around that level.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# plan family -> (melody, harmony, bass) General MIDI programs (0-based)
PROGRAMS: dict[str, tuple[int, int, int]] = {
    "piano": (0, 0, 0),
    "strings": (40, 48, 42),  # violin, string ensemble, cello
    "woodwinds": (73, 71, 70),  # flute, clarinet, bassoon
    "brass": (56, 60, 58),  # trumpet, French horn, tuba
    "choir": (52, 52, 52),  # choir aahs
    "organ": (19, 19, 19),  # church organ
    "guitar": (24, 24, 32),  # nylon guitar, acoustic bass
    "harp": (46, 46, 46),
    "mallets": (11, 12, 12),  # vibraphone, marimba
    "synth": (81, 89, 38),  # saw lead, warm pad, synth bass
}
ROLE_NAMES = {0: "Melody", 1: "Harmony", 2: "Bass"}
DYNAMICS_VELOCITY = {"pp": 36, "p": 48, "mp": 62, "mf": 76, "f": 92, "ff": 108}
BASS_CAPABLE = ("strings", "piano", "guitar", "synth", "brass", "woodwinds", "organ", "choir", "harp", "mallets")


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


def role_programs(families: Sequence[str]) -> tuple[int, int, int]:
    """Melody on the first family, harmony on the second (or the first), bass on the first of the rest that
    has a bass instrument."""
    pitched = [f for f in families if f in PROGRAMS] or ["piano"]
    melody = PROGRAMS[pitched[0]][0]
    harmony = PROGRAMS[pitched[1] if len(pitched) > 1 else pitched[0]][1]
    bass_family = next((f for f in pitched[1:] + pitched[:1] if f in BASS_CAPABLE), "piano")
    return melody, harmony, PROGRAMS[bass_family][2]


def shape_velocities(notes: Sequence[NoteEvent], dynamics: str, accent_ticks: Sequence[int] = ()) -> list[NoteEvent]:
    """Centre velocities on the planned dynamic, keep half of the decoder's own contour; accents +14."""
    if not notes:
        return []
    target = DYNAMICS_VELOCITY.get(dynamics, 76)
    mean = sum(n.velocity for n in notes) / len(notes)
    accents = set(accent_ticks)
    out = []
    for n in notes:
        v = target + 0.5 * (n.velocity - mean) + (14 if n.start in accents else 0)
        out.append(NoteEvent(n.start, n.end, n.pitch, int(max(1, min(127, round(v))))))
    return out
