"""The musical key as one value type, shared by the planner, the tokenizer, the arrangers and the reports.

It sits below both ``graph/`` and ``music/`` (it imports nothing of the project but the errors), so every
stage parses and spells keys the same way. A :class:`Key` validates itself on construction, like
pretty_midi's ``Note``; :meth:`Key.parse` reads keys as people write them::

    E-flat major, Eb major, E♭ minor, ebm, c# minor, Bbm, D minor, F# major, Bb, Em, B- major (music21)

A bare tonic is major (``Bb``) unless written in lower case (``d``, ``f#``: the old convention for minor).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mm2music.errors import ConfigError

MODES = ("major", "minor")
_LETTERS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
# Tonic spellings with the fewest accidentals in the key signature (a MIDI file has no spelling).
_TONIC_NAMES = {
    "major": ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"),
    "minor": ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B"),
}
# Sharps (+) or flats (-) in each key signature, by the major tonic's pitch class (relative minors share it).
_SIGNATURE_SHARPS = (0, -5, 2, -3, 4, -1, 6, 1, -4, 3, -2, 5)

_ACCIDENTAL = r"(?:[#♯b♭\-]*|\s*-?\s*(?:sharp|flat))"
_MODE_WORDS = {"major": "major", "maj": "major", "minor": "minor", "min": "minor", "m": "minor"}
_KEY_RE = re.compile(
    rf"\s*(?P<letter>[A-Ga-g])(?P<acc>{_ACCIDENTAL})\s*-?\s*(?P<mode>major|maj|minor|min|m)?\s*", re.IGNORECASE
)


def tonic_name(pitch_class: int, mode: str) -> str:
    """Conventional spelling of a key's tonic: ``tonic_name(10, 'major') == 'Bb'``."""
    return _TONIC_NAMES[mode][pitch_class % 12]


def _accidental_shift(acc: str) -> int:
    acc = acc.lower().replace(" ", "")
    if acc.endswith("sharp"):
        return 1
    if acc.endswith("flat"):
        return -1
    return acc.count("#") + acc.count("♯") - acc.count("b") - acc.count("♭") - acc.count("-")


@dataclass(frozen=True, order=True)
class Key:
    """A major or minor key: ``pc`` is the tonic's pitch class (0 = C .. 11 = B), ``mode`` 'major' or 'minor'.

    ``str(Key(3, 'minor')) == 'Eb minor'``: the spelling with the fewest accidentals, as the tokenizer's
    ``Key_<tonic>_<mode>`` tokens write it.
    """

    pc: int
    mode: str = "major"

    def __post_init__(self) -> None:
        if isinstance(self.pc, bool) or not isinstance(self.pc, int) or not 0 <= self.pc <= 11:
            raise ConfigError(f"key pitch class {self.pc!r} is not an integer 0-11; 0 is C, 11 is B")
        if self.mode not in MODES:
            raise ConfigError(f"key mode {self.mode!r} is not 'major' or 'minor'")

    @classmethod
    def parse(cls, text: "str | Key", what: str = "key") -> "Key":
        """Read a key as users write it (see the module docstring); raises ConfigError naming ``what``
        (such as --key) and the value."""
        if isinstance(text, Key):
            return text
        m = _KEY_RE.fullmatch(text or "") if isinstance(text, str) else None
        if m is None:
            raise ConfigError(
                f"{what} {text!r} is not a key like 'D minor', 'E-flat major', 'F# major', 'Bbm' or 'Em'; "
                "give a tonic A-G (with #, b, sharp or flat) and major/minor"
            )
        letter, acc, mode_word = m.group("letter"), m.group("acc"), m.group("mode")
        if mode_word is None:
            mode = "minor" if letter.islower() else "major"
        else:
            mode = _MODE_WORDS[mode_word.lower()]
        return cls((_LETTERS[letter.upper()] + _accidental_shift(acc)) % 12, mode)

    @classmethod
    def of(cls, tonic: str, mode: str) -> "Key":
        """From a tonic name and a mode kept apart (``Cue.key``, ``Cue.mode``)."""
        if mode not in MODES:
            raise ConfigError(f"key mode {mode!r} is not 'major' or 'minor'")
        return cls(cls.parse(tonic).pc, mode)

    @property
    def tonic(self) -> str:
        """'Eb', 'F#', ... (see :func:`tonic_name`)."""
        return tonic_name(self.pc, self.mode)

    @property
    def sharps(self) -> int:
        """Sharps (> 0) or flats (< 0) of the key signature: ``Key(2, 'major').sharps == 2``."""
        major_pc = self.pc if self.mode == "major" else (self.pc + 3) % 12
        return _SIGNATURE_SHARPS[major_pc]

    def relative(self) -> "Key":
        """C major <-> A minor."""
        return Key((self.pc + 9) % 12, "minor") if self.mode == "major" else Key((self.pc + 3) % 12, "major")

    def transpose(self, semitones: int) -> "Key":
        return Key((self.pc + semitones) % 12, self.mode)

    def __str__(self) -> str:
        return f"{self.tonic} {self.mode}"

    def __iter__(self):
        """Unpacks as ``pc, mode = key``."""
        return iter((self.pc, self.mode))
