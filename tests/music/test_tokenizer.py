"""Tokenizer: REMI round-trip on real corpus MIDI, the condition prefix, versioned save/load, transposition."""

from __future__ import annotations

import json

import pytest
import torch
import symusic

from mm2music.errors import CheckpointError, ConfigError
from mm2music.music.attributes import extract_attributes
from mm2music.music.tokenizer import Conditions, MusicTokenizer, TokenizerSettings
from mm2music.training.corpora.music21_corpus import _task, convert_music21_task


pytestmark = pytest.mark.usefixtures("one_thread")




@pytest.fixture(scope="module")
def chorale(tmp_path_factory):
    """Bach's BWV 66.6 (with a pickup) converted by the corpus converter and written as MIDI."""
    path = tmp_path_factory.mktemp("midi") / "bwv66.6.mid"
    convert_music21_task(_task("bach/bwv66.6.mxl", None, None)).dump_midi(str(path))
    return path


def notes_in_quarters(score: symusic.Score) -> list[tuple[float, float, int, int]]:
    tpq = score.ticks_per_quarter
    return sorted((n.time / tpq, n.duration / tpq, n.pitch, t.program) for t in score.tracks for n in t.notes)


def test_round_trip_on_a_bach_chorale(tok, chorale):
    original = symusic.Score(str(chorale))
    ids = tok.encode(chorale)
    assert ids[: tok.prefix_length][0] == tok.bos_id and ids[tok.prefix_length - 1] == tok.sep_id
    assert tok.token(ids[tok.prefix_length]) == "Bar_None"
    assert tok.grammar_errors(ids) == 0.0
    decoded = tok.decode(ids)
    assert decoded.ticks_per_quarter == 480
    assert notes_in_quarters(decoded) == notes_in_quarters(original)  # quarters/eighths survive exactly
    assert len(notes_in_quarters(decoded)) == 163
    bars = sum(1 for i in ids if i == tok.bar_id)
    assert bars == extract_attributes(original).bars


def test_prefix_states_the_measured_conditions(tok, chorale):
    ids = tok.encode(chorale)
    cond = tok.conditions_of(ids)
    assert cond == Conditions(key="F# minor", tempo_band=cond.tempo_band, time_signature="4/4", density="dense",
                              register="middle", polyphony="four_or_more_voices", families=cond.families)
    assert tok.conditions_of(tok.prefix(cond)) == cond
    assert len(tok.prefix(Conditions(families=("piano", "strings", "brass", "reed")))) == tok.prefix_length


def test_opening_slot_round_trips_and_older_tokenizers_ignore_it(tok, tmp_path):
    opening = MusicTokenizer(TokenizerSettings(opening_slot=True))
    assert opening.prefix_length == tok.prefix_length + 1 and opening.vocab_size == tok.vocab_size + 2
    for flag in (True, False):
        c = Conditions(key="D minor", opening=flag)
        assert opening.conditions_of(opening.prefix(c)) == c
        assert tok.prefix(c) == tok.prefix(Conditions(key="D minor"))  # no slot: the flag is not stated
    data = json.loads(tok.save(tmp_path / "v1.json").read_text())
    del data["settings"]["opening_slot"]  # a tokenizer saved before the slot existed (the first checkpoints)
    (tmp_path / "old.json").write_text(json.dumps(data))
    assert MusicTokenizer.load(tmp_path / "old.json").prefix_length == tok.prefix_length


def test_conditions_validate_themselves():
    assert Conditions(key="Gb major").key == "F# major"  # one spelling per key
    assert Conditions(key="B- minor").key == "Bb minor"  # music21's flat sign
    with pytest.raises(ConfigError, match=r"condition density='loud' is not one of \['very_sparse'"):
        Conditions(density="loud")
    with pytest.raises(ConfigError, match="key 'H major' is not a key like 'D minor'"):
        Conditions(key="H major")
    with pytest.raises(ConfigError, match="family 'kazoo'"):
        Conditions(families=("kazoo",))


def test_transposition_moves_pitches_and_key_not_drums(tok):
    table, shifts = tok.transposition_table(6)
    row = list(shifts).index(2)
    assert tok.token(table[row][tok.id("Pitch_60")]) == "Pitch_62"
    assert tok.token(table[row][tok.id("Key_A_minor")]) == "Key_B_minor"
    assert tok.token(table[list(shifts).index(-6)][tok.id("Key_C_major")]) == "Key_F#_major"
    assert table[row][tok.id("PitchDrum_36")] == tok.id("PitchDrum_36")
    assert table[row][tok.id("Position_4")] == tok.id("Position_4")
    c = Conditions(key="A minor", register="middle")
    assert c.transposed(3, pitch_mean=62.0) == Conditions(key="C minor", register="high")


def test_save_load_keeps_the_vocabulary_and_checks_the_version(tok, tmp_path):
    path = tok.save(tmp_path / "tokenizer.json")
    loaded = MusicTokenizer.load(path)
    assert loaded.hash == tok.hash and loaded.vocab_size == tok.vocab_size
    other = MusicTokenizer(TokenizerSettings(max_families=2))
    assert other.hash != tok.hash and other.vocab_size == tok.vocab_size  # same tokens, shorter prefix

    data = json.loads(path.read_text())
    data["version"] = 99
    (tmp_path / "v99.json").write_text(json.dumps(data))
    with pytest.raises(CheckpointError, match="has tokenizer version 99, this code reads version 1"):
        MusicTokenizer.load(tmp_path / "v99.json")
    data["version"] = 1
    data["remi_vocab"] = data["remi_vocab"][:-1]
    (tmp_path / "other.json").write_text(json.dumps(data))
    with pytest.raises(CheckpointError, match=r"vocabulary differs .* install miditok==3\.1\.0"):
        MusicTokenizer.load(tmp_path / "other.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="the file is corrupt"):
        MusicTokenizer.load(tmp_path / "bad.json")


def test_bar_pitch_classes_read_off_the_tokens_give_the_measured_key(tok, chorale):
    import numpy as np

    from mm2music.music.attributes import estimate_keys

    ids = tok.encode_music(chorale)
    per_bar = tok.bar_pitch_classes(ids)
    attrs = extract_attributes(chorale)
    assert per_bar.shape == (attrs.bars, 12)
    score = symusic.Score(str(chorale)).to("quarter")
    assert per_bar.sum() == pytest.approx(sum(n.duration for t in score.tracks for n in t.notes))
    tonic, mode, _ = estimate_keys(per_bar.sum(axis=0))
    assert (tonic, ("major", "minor")[mode]) == (attrs.key_pc, attrs.key_mode)
