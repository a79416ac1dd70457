"""Where each instrument sits on the stage: its stereo position (MIDI CC 10) and its distance (reverb send, CC 91).

An orchestra as a film mixer hears it from the conductor's place (the American seating most scoring stages
use): first violins to the left, violas centre-right, cellos and basses to the right; the harp and celesta to
the left behind the violins; woodwinds in the middle (flutes and clarinets left of centre, oboes and bassoons
right); horns left-back, trumpets, trombones and tuba right-back; percussion, timpani, choir and organ centre-back.
The further back a seat, the more of the hall it gets (a larger reverb send). Keyed by General MIDI program, so any
instrument the orchestrator picks gets a seat (unknown programs sit in the centre).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Seat:
    pan: float  # -1 (left) .. +1 (right), as heard from the conductor's place
    depth: float  # 0 (front of the stage) .. 1 (back wall)

    @property
    def pan_cc(self) -> int:
        """MIDI CC 10 value: 0 hard left, 64 centre, 127 hard right."""
        return max(0, min(127, round(64 + 63.5 * self.pan)))

    @property
    def reverb_cc(self) -> int:
        """MIDI CC 91 (reverb send) value: 40 (GM's default) at the front of the stage to 90 at the back."""
        return round(40 + 50 * self.depth)


CENTRE = Seat(0.0, 0.5)
PERCUSSION = Seat(0.0, 0.85)  # the drum kit: centre-back
# General MIDI program (0-based) -> seat
SEATS: dict[int, Seat] = {
    **{p: Seat(-0.3, 0.3) for p in range(0, 8)},  # pianos: front left, by the violins
    8: Seat(-0.45, 0.55),  # celesta, with the harp
    **{p: Seat(0.35, 0.75) for p in (9, 11, 12, 13, 14)},  # glockenspiel, vibraphone, marimba, xylophone, bells: percussion, right-back
    **{p: Seat(0.0, 0.8) for p in range(16, 24)},  # organs: the back wall
    **{p: Seat(-0.25, 0.3) for p in range(24, 32)},  # guitars: front left
    **{p: Seat(0.55, 0.45) for p in range(32, 40)},  # basses
    40: Seat(-0.6, 0.15),  # violins
    41: Seat(0.25, 0.2),  # violas
    42: Seat(0.5, 0.25),  # cellos
    43: Seat(0.7, 0.4),  # contrabasses
    44: Seat(-0.35, 0.2),  # tremolo strings: the section, violins leading
    45: Seat(-0.3, 0.2),  # pizzicato strings
    46: Seat(-0.5, 0.5),  # harp
    47: Seat(0.15, 0.9),  # timpani
    **{p: Seat(-0.2, 0.2) for p in (48, 49, 50, 51)},  # string sections (pads)
    **{p: Seat(0.0, 0.8) for p in (52, 53, 54)},  # choir: behind the orchestra
    55: Seat(0.0, 0.8),  # orchestra hit
    56: Seat(0.2, 0.7),  # trumpet
    57: Seat(0.4, 0.7),  # trombone
    58: Seat(0.55, 0.75),  # tuba
    59: Seat(0.2, 0.7),  # muted trumpet
    60: Seat(-0.35, 0.7),  # horns
    **{p: Seat(0.25, 0.7) for p in (61, 62, 63)},  # brass sections
    **{p: Seat(0.1, 0.5) for p in range(64, 68)},  # saxophones
    68: Seat(0.1, 0.45),  # oboe
    69: Seat(0.15, 0.45),  # English horn
    70: Seat(0.2, 0.55),  # bassoon
    71: Seat(-0.1, 0.55),  # clarinet
    72: Seat(-0.25, 0.45),  # piccolo
    73: Seat(-0.15, 0.45),  # flute
    **{p: Seat(-0.1, 0.45) for p in range(74, 80)},  # recorder, pan flute and other pipes
}


def seat(program: int, is_drum: bool = False) -> Seat:
    """The seat of a General MIDI ``program`` (the percussion kit when ``is_drum``)."""
    return PERCUSSION if is_drum else SEATS.get(program, CENTRE)


def part_controls(part) -> dict[str, int]:
    """The channel controllers a part plays with (keyword arguments of ``Synthesizer.add``): its dynamic
    (CC 11), its seat (CC 10) and its distance (CC 91)."""
    s = seat(part.program, part.is_drum)
    return {"expression": part.expression, "pan": s.pan_cc, "reverb": s.reverb_cc}
