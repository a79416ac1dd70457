"""Attributes measured from the notes: key, tempo, meter, bars, density, register, polyphony, programs."""

from __future__ import annotations

import pretty_midi
import pytest
import symusic

from mm2music.errors import Mm2MusicError
from mm2music.music.attributes import (
    DENSITY_BINS,
    DENSITY_EDGES,
    DRUM_PROGRAM,
    REGISTER_BINS,
    TEMPO_BANDS,
    MusicAttributes,
    attributes_from_notes,
    bin_index,
    density_bin,
    extract_attributes,
    tempo_band,
    tonic_name,
)

# I - IV - V7 - I in C major and i - iv - V7 - i in A minor, one whole-note chord per bar, under a melody.
C_MAJOR_CHORDS = [(48, 64, 67), (53, 65, 69), (43, 65, 71), (48, 64, 72)]
C_MAJOR_MELODY = [72, 74, 76, 77, 79, 77, 76, 74, 72, 71, 72, 74, 76, 74, 72, 72]
A_MINOR_CHORDS = [(45, 64, 69), (50, 65, 69), (40, 68, 71), (45, 64, 72)]
A_MINOR_MELODY = [69, 71, 72, 74, 76, 74, 72, 71, 69, 68, 69, 71, 72, 71, 68, 69]


def write_piece(path, chords, melody, *, bpm=120.0, program=0, drums=False):
    """4 bars of 4/4: whole-note chords (program ``program``) and a quarter-note melody on a flute."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    pm.time_signature_changes.append(pretty_midi.TimeSignature(4, 4, 0.0))
    beat = 60.0 / bpm
    harmony = pretty_midi.Instrument(program=program, name="chords")
    for bar, chord in enumerate(chords):
        for p in chord:
            harmony.notes.append(pretty_midi.Note(80, p, bar * 4 * beat, (bar + 1) * 4 * beat))
    tune = pretty_midi.Instrument(program=73, name="melody")
    for i, p in enumerate(melody):
        tune.notes.append(pretty_midi.Note(90, p, i * beat, (i + 1) * beat))
    pm.instruments += [harmony, tune]
    if drums:
        kit = pretty_midi.Instrument(program=0, is_drum=True, name="drums")
        kit.notes += [pretty_midi.Note(100, 36, i * beat, i * beat + 0.1) for i in range(16)]
        pm.instruments.append(kit)
    pm.write(str(path))
    return pm


def test_c_major_piece(tmp_path):
    path = tmp_path / "c.mid"
    write_piece(path, C_MAJOR_CHORDS, C_MAJOR_MELODY, bpm=96.0, program=19)
    a = extract_attributes(path)
    assert (a.key_tonic, a.key_mode, a.key_pc, a.key) == ("C", "major", 0, "C major")
    assert a.tempo_bpm == pytest.approx(96.0)
    assert a.time_signature == "4/4"
    assert a.bars == 4
    assert a.n_notes == 12 + 16
    assert a.duration_beats == pytest.approx(16.0)
    assert a.notes_per_beat == pytest.approx(28 / 16)
    assert (a.pitch_min, a.pitch_max) == (43, 79)
    assert a.polyphony == pytest.approx(4.0)  # three chord notes + the melody, all the time
    assert a.programs == (19, 73)
    assert a.tempo_band == "moderate" and a.density_bin == "sparse" and a.polyphony_bin == "four_or_more_voices"


def test_a_minor_piece(tmp_path):
    path = tmp_path / "a.mid"
    write_piece(path, A_MINOR_CHORDS, A_MINOR_MELODY, bpm=150.0)
    a = extract_attributes(path)
    assert (a.key_tonic, a.key_mode, a.key_pc) == ("A", "minor", 9)
    assert a.tempo_band == "very_fast"


def test_same_answer_for_path_score_pretty_midi_and_note_list(tmp_path):
    path = tmp_path / "c.mid"
    pm = write_piece(path, C_MAJOR_CHORDS, C_MAJOR_MELODY)
    from_path = extract_attributes(path)
    assert extract_attributes(symusic.Score(str(path))) == from_path
    assert extract_attributes(pm) == from_path
    notes = [(n.start * 2, (n.end - n.start) * 2, n.pitch, n.velocity, inst.program)
             for inst in pm.instruments for n in inst.notes]  # seconds at 120 BPM -> quarter notes
    assert extract_attributes(notes) == from_path


def test_drums_count_as_notes_but_not_as_pitches(tmp_path):
    path = tmp_path / "d.mid"
    write_piece(path, C_MAJOR_CHORDS, C_MAJOR_MELODY, drums=True)
    a = extract_attributes(path)
    assert a.n_notes == 28 + 16
    assert a.programs == (DRUM_PROGRAM, 0, 73)
    assert a.pitch_min == 43  # the kick drum's 36 is not a pitch
    assert a.key == "C major"


def test_generated_eight_bars_in_three_four():
    # a waltz bass + a melody over 8 bars of 3/4, as a generated excerpt would be measured
    notes = [(bar * 3.0, 1.0, 45, 80, 32) for bar in range(8)]
    notes += [(bar * 3.0 + b, 1.0, 69 + b, 80, 0) for bar in range(8) for b in (1, 2)]
    a = attributes_from_notes(notes, tempo_bpm=60.0, time_signature=(3, 4))
    assert (a.bars, a.time_signature, a.tempo_band) == (8, "3/4", "slow")
    assert a.notes_per_beat == pytest.approx(24 / 24)


def test_bars_follow_time_signature_changes():
    score = symusic.Score(480)
    score.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    score.time_signatures.append(symusic.TimeSignature(480 * 8, 3, 4))  # 2 bars of 4/4, then 3/4
    track = symusic.Track(name="t", program=0)
    track.notes.append(symusic.Note(0, 480 * 14, 60, 80))  # ends after 2 + 2 bars
    score.tracks.append(track)
    a = extract_attributes(score)
    assert a.bars == 4
    assert a.time_signature == "4/4"
    assert a.tempo_bpm == 120.0  # no tempo event: the MIDI default


def test_key_uses_only_the_first_bars():
    c_bars = [(bar * 4.0 + i, 1.0, p) for bar in range(2) for i, p in enumerate((60, 64, 67, 72))]
    # many later bars of A minor-ish material would win if they were counted
    late = [(8.0 + k, 1.0, p) for k, p in enumerate([69, 72, 76, 68, 71, 69] * 20)]
    assert attributes_from_notes(c_bars + late, key_bars=2).key == "C major"
    assert attributes_from_notes(c_bars + late).key_tonic == "A"


def test_empty_and_invalid_inputs(tmp_path):
    a = attributes_from_notes([])
    assert (a.n_notes, a.bars, a.key, a.register_bin, a.notes_per_beat) == (0, 0, None, None, 0.0)
    with pytest.raises(Mm2MusicError, match="at least"):
        attributes_from_notes([(0.0, 1.0)])
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"not a midi file")
    with pytest.raises(Mm2MusicError, match="cannot read MIDI file"):
        extract_attributes(bad)


def test_dict_round_trip_and_bins():
    a = attributes_from_notes([(0, 1, 60), (1, 1, 64), (2, 2, 67)])
    d = a.to_dict()
    assert d["key"] == a.key and d["density_bin"] == a.density_bin and d["programs"] == [0]
    assert MusicAttributes.from_dict(d) == a
    assert bin_index(DENSITY_EDGES[0] - 1e-9, DENSITY_EDGES) == 0
    assert bin_index(DENSITY_EDGES[0], DENSITY_EDGES) == 1
    assert density_bin(100.0) == DENSITY_BINS[-1]
    assert tempo_band(20.0) == TEMPO_BANDS[0] and tempo_band(200.0) == TEMPO_BANDS[-1]
    assert len(REGISTER_BINS) == 4
    assert tonic_name(10, "major") == "Bb" and tonic_name(8, "minor") == "G#"
    with pytest.raises(Mm2MusicError, match="key mode"):
        MusicAttributes.from_dict({**d, "key_mode": "dorian"})


def test_estimate_keys_is_music21s_key_analysis():
    """The vectorised estimator gives music21's analyze('key') answer (Aarden-Essen) on any distribution."""
    import numpy as np
    from music21 import note, stream

    from mm2music.music.attributes import KEY_MODES, estimate_keys

    rng = np.random.default_rng(7)
    dists = rng.gamma(0.5, 2.0, (60, 12)) * (rng.random((60, 12)) < 0.7)
    tonic, mode, corr = estimate_keys(dists)
    for d, t, m, c in zip(dists, tonic, mode, corr):
        s = stream.Stream()
        for pc, dur in enumerate(d):
            if dur > 0:
                s.append(note.Note(60 + pc, quarterLength=max(round(float(dur) / 0.25) * 0.25, 0.25)))
        key = s.analyze("key")
        assert (key.tonic.pitchClass, key.mode) == (t, KEY_MODES[m])
        assert key.correlationCoefficient == pytest.approx(c)
    assert estimate_keys(np.zeros(12))[0] == -1  # nothing sounds: no key
