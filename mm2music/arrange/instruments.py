"""Instruments for each role of the texture: General MIDI programs and the ranges they play well in.

The plan names instrument families (melody first); the realiser needs a concrete instrument per role
(melody, pad, bass, figure, counter-line). Ranges are the comfortable orchestral ranges (MIDI pitches; e.g.
Adler, *The Study of Orchestration*), a little inside the extremes, so nothing is written that the instrument
could not play or that would sound strained.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Instrument:
    name: str
    program: int  # General MIDI program, 0-based
    low: int  # MIDI pitch range, inclusive
    high: int

    def fold(self, pitch: int) -> int:
        """``pitch`` moved by octaves into the range (the nearest octave if the range is under an octave)."""
        while pitch < self.low:
            pitch += 12
        while pitch > self.high:
            pitch -= 12
        return pitch if pitch >= self.low else pitch + 12 if pitch + 12 <= self.high else max(self.low, pitch)


I = Instrument
PIANO = I("Piano", 0, 21, 108)
VIOLIN, VIOLA, CELLO, CONTRABASS = I("Violin", 40, 55, 100), I("Viola", 41, 48, 88), I("Cello", 42, 36, 76), I("Contrabass", 43, 28, 60)
STRINGS, TREMOLO, PIZZICATO = I("Strings", 48, 40, 91), I("Tremolo Strings", 44, 40, 88), I("Pizzicato Strings", 45, 36, 84)
FLUTE, OBOE, CLARINET, BASSOON = I("Flute", 73, 60, 96), I("Oboe", 68, 58, 91), I("Clarinet", 71, 50, 91), I("Bassoon", 70, 34, 72)
TRUMPET, HORN, TROMBONE, TUBA, BRASS = (I("Trumpet", 56, 55, 82), I("French Horn", 60, 41, 77), I("Trombone", 57, 40, 72),
                                        I("Tuba", 58, 28, 58), I("Brass Section", 61, 40, 82))
CHOIR, VOICE = I("Choir Aahs", 52, 45, 79), I("Voice Oohs", 53, 55, 79)
ORGAN = I("Church Organ", 19, 36, 96)
GUITAR, ACOUSTIC_BASS = I("Nylon Guitar", 24, 40, 84), I("Acoustic Bass", 32, 28, 55)
HARP = I("Harp", 46, 24, 103)
CELESTA, VIBRAPHONE, MARIMBA = I("Celesta", 8, 60, 108), I("Vibraphone", 11, 53, 89), I("Marimba", 12, 45, 96)
SYNTH_LEAD, SYNTH_PAD, SYNTH_BASS = I("Saw Lead", 81, 48, 96), I("Warm Pad", 89, 36, 96), I("Synth Bass", 38, 28, 60)
TIMPANI, LOW_BRASS = I("Timpani", 47, 40, 57), I("Trombone", 57, 34, 65)

# family -> instrument per role (None: the family does not play that role)
ROLES: dict[str, dict[str, Instrument | None]] = {
    "strings": {"melody": VIOLIN, "low_melody": CELLO, "pad": STRINGS, "bass": CELLO, "counter": VIOLA, "figure": STRINGS},
    "piano": {"melody": PIANO, "low_melody": PIANO, "pad": PIANO, "bass": PIANO, "counter": PIANO, "figure": PIANO},
    "woodwinds": {"melody": FLUTE, "low_melody": CLARINET, "pad": CLARINET, "bass": BASSOON, "counter": CLARINET, "figure": CLARINET},
    "brass": {"melody": HORN, "low_melody": HORN, "pad": BRASS, "bass": TUBA, "counter": HORN, "figure": BRASS},
    "choir": {"melody": VOICE, "low_melody": CHOIR, "pad": CHOIR, "bass": None, "counter": CHOIR, "figure": None},
    "organ": {"melody": ORGAN, "low_melody": ORGAN, "pad": ORGAN, "bass": ORGAN, "counter": ORGAN, "figure": None},
    "guitar": {"melody": GUITAR, "low_melody": GUITAR, "pad": None, "bass": ACOUSTIC_BASS, "counter": GUITAR, "figure": GUITAR},
    "harp": {"melody": HARP, "low_melody": HARP, "pad": None, "bass": HARP, "counter": None, "figure": HARP},
    "mallets": {"melody": VIBRAPHONE, "low_melody": MARIMBA, "pad": None, "bass": None, "counter": None, "figure": CELESTA},
    "synth": {"melody": SYNTH_LEAD, "low_melody": SYNTH_LEAD, "pad": SYNTH_PAD, "bass": SYNTH_BASS, "counter": None, "figure": SYNTH_LEAD},
}
# the accompaniment figure -> instruments that realise it best, when the plan's families have them
FIGURE_PREFERENCE: dict[str, tuple[Instrument, ...]] = {
    "arpeggio": (HARP, CELESTA, PIANO, GUITAR),
    "broken": (PIANO, HARP, GUITAR),
    "waltz": (PIANO, PIZZICATO, GUITAR),
    "bounce": (PIZZICATO, PIANO, MARIMBA, CLARINET),
    "pulse": (STRINGS, PIANO, GUITAR),
    "ostinato": (STRINGS, PIANO, SYNTH_LEAD),
    "driving": (STRINGS, SYNTH_LEAD, PIANO),
    "march": (BRASS, STRINGS, PIANO),
    "tremolo": (TREMOLO,),
    "drone": (BRASS, STRINGS, PIANO),
}
FAMILY_OF = {inst.program: fam for fam, roles in ROLES.items() for inst in roles.values() if inst is not None}
FAMILY_OF.update({PIZZICATO.program: "strings", TREMOLO.program: "strings", CELESTA.program: "mallets",
                  HORN.program: "brass", FLUTE.program: "woodwinds", TIMPANI.program: "percussion"})
# a planned family that no role went to joins in its idiom: woodwinds and mallets double the tune an octave up,
# the harp arpeggiates, piano and guitar break the chords, choir, organ, brass, strings and synth sustain them
COLOURS: dict[str, tuple[str, Instrument]] = {
    "woodwinds": ("double", FLUTE), "mallets": ("double", CELESTA), "harp": ("arpeggio", HARP), "piano": ("broken", PIANO),
    "guitar": ("broken", GUITAR), "choir": ("sustain", CHOIR), "organ": ("sustain", ORGAN), "brass": ("sustain", HORN),
    "strings": ("sustain", STRINGS), "synth": ("sustain", SYNTH_PAD),
}


@dataclass(frozen=True)
class Ensemble:
    """The instrument playing each role of one cue."""

    melody: Instrument
    pad: Instrument
    bass: Instrument
    figure: Instrument
    counter: Instrument
    colours: tuple[tuple[str, str, Instrument], ...] = ()  # (family, idiom of :data:`COLOURS`, instrument) of unheard families

    def roles(self) -> dict[str, Instrument]:
        return {"melody": self.melody, "pad": self.pad, "bass": self.bass, "figure": self.figure, "counter": self.counter}


def choose_ensemble(families: Sequence[str], figure: str, low_melody: bool = False) -> Ensemble:
    """Instruments for a cue: the melody on the first family, the others on the families that play those roles
    (the second family first), falling back to strings and piano, which play every role."""
    pitched = [f for f in families if f in ROLES] or ["strings"]
    order = pitched[1:] + pitched[:1] + ["strings", "piano"]

    def pick(role: str) -> Instrument:
        return next(ROLES[f][role] for f in order if ROLES[f][role] is not None)

    melody = ROLES[pitched[0]]["low_melody" if low_melody else "melody"] or pick("melody")
    allowed = {f for f in pitched}
    fig = next((inst for inst in FIGURE_PREFERENCE.get(figure, ()) if FAMILY_OF.get(inst.program) in allowed), None)
    if figure == "tremolo":
        fig = TREMOLO
    pad = pick("pad")
    counter = next((ROLES[f]["counter"] for f in order if ROLES[f]["counter"] not in (None, melody)), pick("counter"))
    ensemble = Ensemble(melody=melody, pad=pad, bass=pick("bass"), figure=fig or pick("figure"), counter=counter)
    heard = {FAMILY_OF.get(inst.program) for role, inst in ensemble.roles().items() if not (role == "figure" and figure == "sustain")}
    colours = tuple((f, *COLOURS[f]) for f in pitched if f not in heard and f in COLOURS)
    return Ensemble(**{**ensemble.roles(), "colours": colours})
