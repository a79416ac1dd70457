"""Tokens: MidiTok REMI (one stream, with programs, tempos and time signatures) plus a condition prefix.

A sequence is ``BOS, <condition tokens>, SEP, <REMI tokens>``. The REMI part is exactly what miditok 3.1.0
produces (``Bar TimeSig Position [Tempo] Program Pitch Velocity Duration ...``; we don't re-implement it).
The prefix has a fixed length, one token per slot, so every sequence's music starts at the same position:

==========  ==============================================================================
slot        values (bins from :mod:`mm2music.music.attributes`)
==========  ==============================================================================
key         24 keys ``Key_C_major`` ... ``Key_B_minor`` and ``Key_none`` (no pitched notes)
tempo       ``TempoBand_slow|moderate|fast|very_fast`` (first tempo, quarter notes per minute)
meter       ``Meter_4/4`` ... one per time signature the REMI vocabulary has, ``Meter_other``
density     ``Density_<bin>`` (notes per quarter note, all tracks)
register    ``Register_<bin>`` (mean pitch of pitched notes), ``Register_none``
polyphony   ``Polyphony_<bin>`` (mean voices sounding together)
families    ``max_families`` slots of ``Family_<GM family>`` (``Family_drums``), padded ``Family_none``
opening     ``Opening_yes`` (the music starts where a piece starts: it may open with a pickup) or
            ``Opening_no`` (it starts at some bar inside a piece); only with ``opening_slot``
==========  ==============================================================================

Condition ids come after miditok's vocabulary, so REMI ids are miditok's own ids. The tokenizer saves to
one JSON with a version stamp and the REMI vocabulary it was built with; ``load`` rebuilds miditok's
tokenizer from the settings and refuses a file whose vocabulary differs (another miditok version).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mm2music.errors import CheckpointError, ConfigError, Mm2MusicError
from mm2music.key import Key
from mm2music.music.attributes import (
    DENSITY_BINS,
    DRUM_PROGRAM,
    KEY_MODES,
    POLYPHONY_BINS,
    REGISTER_BINS,
    TEMPO_BANDS,
    density_bin,
    polyphony_bin,
    register_bin,
    tempo_band,
    tonic_name,
)

log = logging.getLogger(__name__)

TOKENIZER_FORMAT = "mm2music-tokenizer"
TOKENIZER_VERSION = 1
MIDITOK_VERSION = "3.1.0"  # the REMI format changed between miditok releases; pyproject pins this one

GM_FAMILIES = (
    "piano", "chromatic_percussion", "organ", "guitar", "bass", "strings", "ensemble", "brass",
    "reed", "pipe", "synth_lead", "synth_pad", "synth_effects", "ethnic", "percussive", "sound_effects",
)  # General MIDI program // 8
FAMILIES = GM_FAMILIES + ("drums",)
# Time signatures of the REMI vocabulary, {denominator: numerators}: covers music21's corpus and pop/classical.
TIME_SIGNATURES = {8: [3, 6, 9, 12], 4: [1, 2, 3, 4, 5, 6, 7], 2: [1, 2, 3, 4]}


def program_family(program: int) -> str:
    """General MIDI family of a program (0-127), ``'drums'`` for :data:`DRUM_PROGRAM`."""
    if program == DRUM_PROGRAM:
        return "drums"
    if not 0 <= program <= 127:
        raise Mm2MusicError(f"MIDI program {program} is outside 0-127 (or {DRUM_PROGRAM} for drums)")
    return GM_FAMILIES[program // 8]


def _meter_names() -> list[str]:
    return [f"{n}/{d}" for d, nums in TIME_SIGNATURES.items() for n in nums]


@dataclass(frozen=True)
class Conditions:
    """What to generate (or what a training piece is): the values of the condition prefix.

    ``key`` is ``'<tonic> major|minor'`` (any spelling; stored with :func:`tonic_name`'s) or None for
    music without pitched notes. ``families`` are General MIDI families (see :data:`FAMILIES`), most
    important first; at most the tokenizer's ``max_families`` are kept.
    """

    key: str | None = "C major"
    tempo_band: str = "moderate"
    time_signature: str = "4/4"
    density: str = "medium"
    register: str | None = "middle"
    polyphony: str = "monophonic"
    families: tuple[str, ...] = ("piano",)
    opening: bool = False  # the start of a piece (tokenizers with an opening slot); else a bar inside one

    def __post_init__(self) -> None:
        if self.key is not None:
            object.__setattr__(self, "key", str(Key.parse(self.key)))
        object.__setattr__(self, "families", tuple(self.families))
        for name, value, allowed in (
            ("tempo_band", self.tempo_band, TEMPO_BANDS),
            ("density", self.density, DENSITY_BINS),
            ("register", self.register, REGISTER_BINS + (None,)),
            ("polyphony", self.polyphony, POLYPHONY_BINS),
        ):
            if value not in allowed:
                raise ConfigError(f"condition {name}={value!r} is not one of {list(allowed)}")
        if not re.fullmatch(r"\d+/\d+", self.time_signature or ""):
            raise ConfigError(f"condition time_signature={self.time_signature!r} is not like '4/4' or '6/8'")
        for fam in self.families:
            if fam not in FAMILIES:
                raise ConfigError(f"condition family {fam!r} is not one of {list(FAMILIES)}")

    @property
    def key_pc(self) -> int | None:
        return None if self.key is None else Key.parse(self.key).pc

    @property
    def key_mode(self) -> str | None:
        return None if self.key is None else Key.parse(self.key).mode

    @classmethod
    def from_attributes(cls, attrs: Any, opening: bool = False) -> Conditions:
        """From a manifest row's ``attributes`` dict or a :class:`~mm2music.music.attributes.MusicAttributes`
        (``opening``: for music that starts where the piece starts)."""
        a = attrs if isinstance(attrs, dict) else attrs.to_dict()
        families: list[str] = []
        for prog in a.get("programs") or []:
            fam = program_family(int(prog))
            if fam not in families:
                families.append(fam)
        families.sort(key=lambda f: f == "drums")  # pitched families first (programs are sorted)
        key = None if a.get("key_pc") is None else f"{tonic_name(a['key_pc'], a['key_mode'])} {a['key_mode']}"
        pitch_mean = a.get("pitch_mean")
        return cls(
            key=key,
            tempo_band=tempo_band(float(a.get("tempo_bpm") or 120.0)),
            time_signature=a.get("time_signature") or "4/4",
            density=density_bin(float(a.get("notes_per_beat") or 0.0)),
            register=None if pitch_mean is None else register_bin(float(pitch_mean)),
            polyphony=polyphony_bin(float(a.get("polyphony") or 0.0)),
            families=tuple(families),
            opening=opening,
        )

    def transposed(self, semitones: int, pitch_mean: float | None = None) -> Conditions:
        """The conditions of this music moved by ``semitones``; the register is re-binned from
        ``pitch_mean + semitones`` when the (untransposed) mean pitch is given."""
        key = self.key
        if key is not None:
            key = str(Key.parse(key).transpose(semitones))
        register = self.register
        if pitch_mean is not None:
            register = register_bin(pitch_mean + semitones)
        return dataclasses.replace(self, key=key, register=register)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["families"] = list(self.families)
        return d


_PREFIX_SETTINGS = ("max_families", "opening_slot")  # settings that shape the prefix only, not the REMI ids


@dataclass(frozen=True)
class TokenizerSettings:
    """Everything that defines the vocabulary (saved in the tokenizer JSON)."""

    positions_per_beat: int = 8  # REMI position resolution inside a beat (beat = the meter's denominator)
    num_velocities: int = 8
    num_tempos: int = 32
    tempo_range: tuple[int, int] = (40, 250)  # BPM
    pitch_range: tuple[int, int] = (21, 109)  # MIDI pitches [low, high)
    max_families: int = 3  # instrument-family slots in the prefix
    opening_slot: bool = False  # a prefix slot saying whether the music starts where a piece starts

    def miditok_config(self):
        from miditok import TokenizerConfig

        return TokenizerConfig(
            pitch_range=tuple(self.pitch_range),
            beat_res={(0, 4): self.positions_per_beat, (4, 12): max(1, self.positions_per_beat // 2)},
            num_velocities=self.num_velocities,
            special_tokens=["PAD", "BOS", "EOS"],
            use_programs=True,
            one_token_stream_for_programs=True,
            use_tempos=True,
            num_tempos=self.num_tempos,
            tempo_range=tuple(self.tempo_range),
            use_time_signatures=True,
            time_signature_range={d: list(n) for d, n in TIME_SIGNATURES.items()},
            use_chords=False,
            use_rests=False,
        )


class MusicTokenizer:
    """Condition prefix + miditok REMI. ``encode(score, conditions) -> ids``, ``decode(ids) -> Score``."""

    def __init__(self, settings: TokenizerSettings | None = None):
        from miditok import REMI

        self.settings = settings or TokenizerSettings()
        self.remi = REMI(self.settings.miditok_config())
        self.remi_vocab_size = len(self.remi.vocab)
        self.condition_tokens = self._condition_vocabulary()
        self._cond_id = {tok: self.remi_vocab_size + i for i, tok in enumerate(self.condition_tokens)}
        self._id_to_token = {i: t for t, i in self.remi.vocab.items()}
        self._id_to_token.update({i: t for t, i in self._cond_id.items()})
        self.vocab_size = self.remi_vocab_size + len(self.condition_tokens)
        self.pad_id = self.remi.vocab["PAD_None"]
        self.bos_id = self.remi.vocab["BOS_None"]
        self.eos_id = self.remi.vocab["EOS_None"]
        self.bar_id = self.remi.vocab["Bar_None"]
        self.sep_id = self._cond_id["Sep_None"]
        # BOS, 6 slots, families, [opening], SEP
        self.prefix_length = 1 + 6 + self.settings.max_families + int(self.settings.opening_slot) + 1
        # The instrument families a checkpoint's training pieces carried (family -> pieces), set when it is loaded
        # from a checkpoint that records them; None: not recorded (any family may have been seen). Not part of the
        # vocabulary: a condition the data never carried is in the vocabulary all the same, but means nothing.
        self.families_seen: dict[str, int] | None = None

    # --- vocabulary ---------------------------------------------------------------------------------

    def _condition_vocabulary(self) -> list[str]:
        keys = [f"Key_{tonic_name(pc, mode)}_{mode}" for mode in KEY_MODES for pc in range(12)] + ["Key_none"]
        return (
            keys
            + [f"TempoBand_{b}" for b in TEMPO_BANDS]
            + [f"Meter_{m}" for m in _meter_names()] + ["Meter_other"]
            + [f"Density_{b}" for b in DENSITY_BINS]
            + [f"Register_{b}" for b in REGISTER_BINS] + ["Register_none"]
            + [f"Polyphony_{b}" for b in POLYPHONY_BINS]
            + [f"Family_{f}" for f in FAMILIES] + ["Family_none"]
            + (["Opening_yes", "Opening_no"] if self.settings.opening_slot else [])
            + ["Sep_None"]
        )

    def token(self, id_: int) -> str:
        """Token string of an id (``'Pitch_60'``, ``'Key_A_minor'``)."""
        return self._id_to_token[int(id_)]

    def id(self, token: str) -> int:
        if token in self._cond_id:
            return self._cond_id[token]
        if token in self.remi.vocab:
            return self.remi.vocab[token]
        raise Mm2MusicError(f"token {token!r} is not in the vocabulary of {self.vocab_size} tokens")

    def remi_tokens(self) -> list[str]:
        """miditok's token strings in id order (what a saved tokenizer is checked against)."""
        return [self._id_to_token[i] for i in range(self.remi_vocab_size)]

    def token_types(self) -> list[str]:
        """Type of every id: miditok's types (``'Pitch'``, ``'Bar'`` ...) and ``'Condition'``."""
        return [self._id_to_token[i].split("_")[0] if i < self.remi_vocab_size else "Condition"
                for i in range(self.vocab_size)]

    def __len__(self) -> int:
        return self.vocab_size

    # --- encode / decode ----------------------------------------------------------------------------

    def prefix(self, conditions: Conditions) -> list[int]:
        """The condition prefix: BOS, key, tempo band, meter, density, register, polyphony, families, [opening], SEP."""
        c = conditions
        key = "Key_none" if c.key is None else f"Key_{c.key.replace(' ', '_')}"
        meter = f"Meter_{c.time_signature}" if c.time_signature in _meter_names() else "Meter_other"
        register = f"Register_{c.register}" if c.register is not None else "Register_none"
        fams = list(c.families[: self.settings.max_families])
        fams += ["none"] * (self.settings.max_families - len(fams))
        tokens = [key, f"TempoBand_{c.tempo_band}", meter, f"Density_{c.density}", register,
                  f"Polyphony_{c.polyphony}"] + [f"Family_{f}" for f in fams]
        if self.settings.opening_slot:
            tokens.append("Opening_yes" if c.opening else "Opening_no")
        tokens.append("Sep_None")
        return [self.bos_id] + [self._cond_id[t] for t in tokens]

    def conditions_of(self, ids: list[int]) -> Conditions:
        """Read the conditions back from a prefix (inverse of :meth:`prefix`)."""
        toks = [self.token(i) for i in ids[1 : self.prefix_length - 1]]
        if len(toks) != self.prefix_length - 2 or not all(i in self._id_to_token for i in ids[: self.prefix_length]):
            raise Mm2MusicError(f"sequence of {len(ids)} tokens has no complete condition prefix")
        val = [t.split("_", 1)[1] for t in toks]
        fams = tuple(f for f in val[6 : 6 + self.settings.max_families] if f != "none")
        return Conditions(
            key=None if val[0] == "none" else val[0].replace("_", " "),
            tempo_band=val[1],
            time_signature="4/4" if val[2] == "other" else val[2],
            density=val[3],
            register=None if val[4] == "none" else val[4],
            polyphony=val[5],
            families=fams,
            opening=self.settings.opening_slot and val[-1] == "yes",
        )

    def encode_music(self, score_or_path) -> list[int]:
        """REMI ids of a symusic ``Score`` or a MIDI path (no prefix)."""
        score = self._load(score_or_path)
        seq = self.remi.encode(score)
        return list(seq.ids)

    def encode(self, score_or_path, conditions: Conditions | None = None) -> list[int]:
        """Prefix + REMI ids. Without ``conditions`` they are measured from the music itself."""
        score = self._load(score_or_path)
        if conditions is None:
            from mm2music.music.attributes import extract_attributes

            conditions = Conditions.from_attributes(extract_attributes(score))
        return self.prefix(conditions) + self.encode_music(score)

    def music_ids(self, ids) -> list[int]:
        """The REMI part of ``ids``: after the last SEP, without special or condition tokens."""
        ids = [int(i) for i in ids]
        if self.sep_id in ids:
            ids = ids[len(ids) - ids[::-1].index(self.sep_id) :]
        if self.eos_id in ids:
            ids = ids[: ids.index(self.eos_id)]
        return [i for i in ids if i < self.remi_vocab_size and i not in (self.pad_id, self.bos_id)]

    def decode(self, ids, tpq: int | None = 480):
        """Ids (with or without the prefix) -> symusic ``Score`` (resampled to ``tpq`` ticks per quarter)."""
        music = self.music_ids(ids)
        if not music:
            raise Mm2MusicError("no music tokens to decode (the sequence holds only a prefix or specials)")
        score = self.remi.decode(music)
        return score.resample(tpq) if tpq else score

    def grammar_errors(self, ids) -> float:
        """miditok's error ratio of the REMI part (types, time going back, duplicated notes); 0 is valid."""
        music = self.music_ids(ids)
        return float(self.remi.tokens_errors(music)) if music else 0.0

    def bar_pitch_classes(self, ids) -> np.ndarray:
        """``(bars, 12)`` quarter notes each pitch class sounds in each bar of REMI ids (from every
        ``Pitch`` token's ``Duration``, drums excluded): the input of
        :func:`~mm2music.music.attributes.estimate_keys`, read straight off the tokens."""
        if not hasattr(self, "_pc_tables"):
            n = self.remi_vocab_size
            pc, dur, qpb = np.full(n, -1), np.full(n, np.nan), np.full(n, np.nan)
            for i in range(n):
                kind, _, value = self._id_to_token[i].partition("_")
                if kind == "Pitch":
                    pc[i] = int(value) % 12
                elif kind == "Duration":
                    whole, part, res = (int(x) for x in value.split("."))
                    dur[i] = whole + part / res  # beats of the current time signature
                elif kind == "TimeSig":
                    qpb[i] = 4.0 / int(value.split("/")[1])
            self._pc_tables = (pc, dur, qpb)
        pc, dur, qpb = self._pc_tables
        ids = np.asarray(ids, dtype=np.int64)
        ids = ids[ids < self.remi_vocab_size]
        bar = np.cumsum(ids == self.bar_id) - 1
        out = np.zeros((max(int(bar[-1]) + 1, 0) if len(ids) else 0, 12))
        notes = np.flatnonzero((pc[ids] >= 0) & (bar >= 0))
        durs = np.flatnonzero(~np.isnan(dur[ids]))
        nxt = np.searchsorted(durs, notes)
        notes, nxt = notes[nxt < len(durs)], nxt[nxt < len(durs)]
        sigs = np.flatnonzero(~np.isnan(qpb[ids]))
        last_sig = np.searchsorted(sigs, notes, side="right") - 1
        scale = np.where(last_sig >= 0, qpb[ids[sigs[np.maximum(last_sig, 0)]]], 1.0) if len(sigs) else 1.0
        np.add.at(out, (bar[notes], pc[ids[notes]]), dur[ids[durs[nxt]]] * scale)
        return out

    @staticmethod
    def _load(score_or_path):
        import symusic

        if isinstance(score_or_path, (str, os.PathLike)):
            try:
                return symusic.Score(str(score_or_path))
            except Exception as exc:
                raise Mm2MusicError(f"cannot read MIDI file '{score_or_path}': {exc}; check that it is a valid .mid") from None
        return score_or_path

    # --- persistence --------------------------------------------------------------------------------

    def to_dict(self) -> dict:
        return {
            "format": TOKENIZER_FORMAT,
            "version": TOKENIZER_VERSION,
            "miditok_version": MIDITOK_VERSION,
            "settings": asdict(self.settings),
            "vocab_size": self.vocab_size,
            "remi_vocab": self.remi_tokens(),
            "condition_tokens": list(self.condition_tokens),
        }

    @property
    def hash(self) -> str:
        """Short digest of the vocabulary and settings: token caches are keyed by it."""
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    @property
    def remi_hash(self) -> str:
        """Digest of what the REMI ids depend on (miditok's settings and vocabulary, not the prefix): caches
        of tokenized music are keyed by it, so tokenizers that differ only in their prefix share one."""
        remi_settings = {k: v for k, v in asdict(self.settings).items() if k not in _PREFIX_SETTINGS}
        blob = json.dumps({"miditok_version": MIDITOK_VERSION, "settings": remi_settings,
                           "remi_vocab": self.remi_tokens()}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=1) + "\n", encoding="utf-8")
        return path

    @classmethod
    def from_dict(cls, data: dict, where: str = "tokenizer") -> MusicTokenizer:
        if not isinstance(data, dict) or data.get("format") != TOKENIZER_FORMAT:
            raise CheckpointError(f"{where} is not an mm2music tokenizer (no format '{TOKENIZER_FORMAT}'); save one with MusicTokenizer.save")
        if data.get("version") != TOKENIZER_VERSION:
            raise CheckpointError(f"{where} has tokenizer version {data.get('version')}, this code reads version {TOKENIZER_VERSION}; retrain or use the matching mm2music release")
        try:
            s = data["settings"]
            settings = TokenizerSettings(**{**s, "tempo_range": tuple(s["tempo_range"]), "pitch_range": tuple(s["pitch_range"])})
        except (KeyError, TypeError) as exc:
            raise CheckpointError(f"{where} has invalid settings ({exc}); re-save the tokenizer") from None
        tok = cls(settings)
        if data.get("remi_vocab") != tok.remi_tokens() or data.get(
            "condition_tokens"
        ) != tok.condition_tokens:
            raise CheckpointError(
                f"{where} was written with miditok {data.get('miditok_version')} and its vocabulary differs from the one "
                f"miditok builds here; install miditok=={data.get('miditok_version')}"
            )
        return tok

    @classmethod
    def load(cls, path: str | Path) -> MusicTokenizer:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CheckpointError(f"tokenizer file '{path}' does not exist") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"cannot read tokenizer '{path}': {str(exc).splitlines()[0]}; the file is corrupt") from None
        return cls.from_dict(data, where=f"'{path}'")

    # --- transposition (training-time augmentation) ----------------------------------------------------

    def transposition_table(self, max_shift: int = 6) -> tuple[np.ndarray, range]:
        """(2*max_shift+1, vocab) int array: row ``s + max_shift`` maps every id to its id shifted by ``s``
        semitones (``Pitch_*`` tokens and the ``Key_*`` condition token; drums' ``PitchDrum`` stay). A
        pitch that would leave the range maps to -1: callers choose shifts within the piece's range."""
        shifts = range(-max_shift, max_shift + 1)
        table = np.tile(np.arange(self.vocab_size, dtype=np.int64), (len(shifts), 1))
        for i in range(self.vocab_size):
            tok = self._id_to_token[i]
            if tok.startswith("Pitch_"):
                p = int(tok.split("_")[1])
                for r, s in enumerate(shifts):
                    table[r, i] = self.remi.vocab.get(f"Pitch_{p + s}", -1)
            elif tok.startswith("Key_") and tok != "Key_none":
                _, tonic, mode = tok.split("_")
                pc = Key.of(tonic, mode).pc
                for r, s in enumerate(shifts):
                    table[r, i] = self._cond_id[f"Key_{tonic_name(pc + s, mode)}_{mode}"]
        return table, shifts
