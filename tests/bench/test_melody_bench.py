"""Measurements of the melody benchmark (bench/melody_features.py, bench/melody.py) on hand-built notes."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pretty_midi
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import film_features as ff  # noqa: E402
from bench import melody as mb  # noqa: E402
from bench import melody_features as mf  # noqa: E402

THEME = [60, 62, 64, 65, 67, 65, 64, 62, 60]  # C major: up the fifth and back


def written(tmp_path, tracks, bpm=120.0, meter=(4, 4), name="t.mid"):
    """``tracks``: {(name, program, is_drum): [(start_s, end_s, pitch), ...]} -> Music read back from a MIDI file."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    for (track, program, is_drum), notes in tracks.items():
        inst = pretty_midi.Instrument(program=program, is_drum=is_drum, name=track)
        inst.notes = [pretty_midi.Note(velocity=80, pitch=p, start=s, end=e) for s, e, p in notes]
        pm.instruments.append(inst)
    pm.time_signature_changes = [pretty_midi.TimeSignature(*meter, 0.0)]
    path = tmp_path / name
    pm.write(str(path))
    return ff.music_from_pretty_midi(pretty_midi.PrettyMIDI(str(path)))


def line(pitches, value=1.0, start=0.0, bar=4.0):
    n = len(pitches)
    on = start + np.arange(n) * value
    return mf.Line(on, on + value, np.array(pitches), np.arange(0.0, on[-1] + value + bar, bar))


# --- repetition ---------------------------------------------------------------------------------------------


def test_repetition_share_counts_occurrences_of_recurring_patterns():
    # intervals +2 +2 -4 +2 +2 -4: patterns (2,2,-4) (2,-4,2) (-4,2,2) (2,2,-4): only the first recurs, twice
    assert mf.repetition_share([60, 62, 64, 60, 62, 64, 60]) == pytest.approx(2 / 4)
    assert mf.repetition_share([60, 62, 64, 60] * 10) == pytest.approx(1.0)  # one motif throughout
    assert mf.repetition_share([60, 61, 63, 66, 70, 75, 81]) == 0.0  # every interval new
    assert np.isnan(mf.repetition_share([60, 62, 64, 65]))  # one pattern cannot recur


def test_repetition_share_reads_only_the_first_notes():
    fresh = [60 + int(x) for x in np.cumsum(np.arange(1, 12))]  # 12 notes, every interval different
    assert mf.repetition_share(fresh + [60, 62, 64, 60] * 10, n_notes=12) == 0.0
    assert mf.repetition_share(fresh + [60, 62, 64, 60] * 10, n_notes=60) > 0.5


# --- the melody -----------------------------------------------------------------------------------------------


def test_melody_line_takes_the_melody_tracks_highest_note_per_onset(tmp_path):
    m = written(tmp_path, {("Melody - Violin", 40, False): [(0, 0.5, 76), (0, 0.5, 72), (0.5, 1, 74)],
                           ("Pad - Strings", 48, False): [(0, 1, 84)],  # higher, but not the melody
                           ("Melody - Flute", 73, False): [(1, 1.5, 79)]})
    mel = mf.melody_line(m)
    assert mel.pitch.tolist() == [76, 74, 79]
    assert mel.program.tolist() == [40, 40, 73]
    assert mel.start_q.tolist() == pytest.approx([0.0, 1.0, 2.0])  # beats at 120 BPM


def test_note_values_ignore_articulation_but_keep_rests():
    # a detached quarter (sounds 0.6 beats), a quarter, then a half note followed by a two-beat rest
    ln = mf.Line(np.array([0.0, 1.0, 2.0, 6.0]), np.array([0.6, 2.0, 4.0, 7.0]), np.array([60, 62, 64, 65]), np.array([0.0, 4.0, 8.0]))
    assert mf.note_values(ln).tolist() == pytest.approx([1.0, 1.0, 2.0, 1.0])


def test_segment_features_measure_rests_range_and_rhythm():
    # two bars of 4/4: four quarters, then a half note and a half rest
    ln = mf.Line(np.array([0.0, 1, 2, 3, 4]), np.array([1.0, 2, 3, 4, 6]), np.array([60, 64, 67, 72, 60]), np.array([0.0, 4.0, 8.0]))
    f = mf.segment_features(ln)
    assert f["rest_share"] == pytest.approx(2 / 8)
    assert f["range"] == 12
    assert f["on_downbeat"] == pytest.approx(2 / 5)
    assert f["value_0.501_1.001"] == pytest.approx(4 / 5)
    assert all(np.isfinite(v) for v in f.values())


def test_segments_are_whole_windows_of_bars():
    ln = line([60, 62] * 20, value=1.0)  # 40 beats = 10 bars of 4/4
    segs = mf.segments(ln, 8)
    assert len(segs) == 1 and len(segs[0]) == 32 and segs[0].start_q[0] == 0.0


def test_sixteenth_share():
    ln = mf.Line(np.array([0.0, 0.25, 0.5, 0.75, 1.0]), np.array([0.25, 0.5, 0.75, 1.0, 2.0]), np.array([60] * 5), np.array([0.0, 4.0]))
    assert mf.sixteenth_share(ln) == pytest.approx(4 / 5)


# --- endings ---------------------------------------------------------------------------------------------------


def final(tmp_path, chord, melody_end=3.9):
    """A score whose melody stops early and whose pad / bass hold ``chord`` (MIDI pitches) to the end at 4 s."""
    bass, *upper = sorted(chord)
    return written(tmp_path, {("Melody - Violin", 40, False): [(0, melody_end, 79)],
                              ("Pad - Strings", 48, False): [(0, 2, 62), (0, 2, 65)] + [(2, 4, p) for p in upper],
                              ("Bass - Cello", 42, False): [(0, 2, 38), (2, 4, bass)],
                              ("Percussion", 0, True): [(3.9, 4.2, 36)]})


def test_final_sonority_is_what_sounds_last(tmp_path):
    m = final(tmp_path, [48, 64, 67, 72])
    assert mf.final_sonority(m).tolist() == [48, 64, 67, 72, 79]  # the melody's last quarter beat counts, drums do not


@pytest.mark.parametrize("chord, expected", [
    ([48, 64, 67, 72], (True, True, True)),  # C E G C over C: root position
    ([43, 64, 67, 72], (False, True, False)),  # I6/4: the march bass's fifth held to the end
    ([43, 62, 66, 69], (False, False, False)),  # a D triad over a G bass
    ([48, 55, 60], (True, False, False)),  # a bare fifth: no third, no triad
    ([48, 64, 67, 70], (True, False, False)),  # C7: B-flat is no tonic-triad tone
])
def test_ending_in_c_major(tmp_path, chord, expected):
    m = final(tmp_path, chord, melody_end=3.0)  # the melody stops before the last quarter beat
    e = mf.ending(mf.final_sonority(m), mf.tonic_pc("C"), "major")
    assert (e["bass_on_tonic"], e["tonic_triad"], e["root_position"]) == expected


def test_ending_in_minor_accepts_a_picardy_third():
    assert mf.ending([45, 60, 64, 69], mf.tonic_pc("A"), "minor")["root_position"]
    assert mf.ending([45, 61, 64, 69], mf.tonic_pc("A"), "minor")["root_position"]  # A major ending an A minor cue
    assert not mf.ending([45, 60, 61, 64], mf.tonic_pc("A"), "minor")["tonic_triad"]  # both thirds


def test_tonic_spellings():
    assert [mf.tonic_pc(k) for k in ("C", "F#", "Bb", "E-flat", "B-", "c#")] == [0, 6, 10, 3, 10, 1]
    with pytest.raises(ValueError, match="not a letter"):
        mf.tonic_pc("H")


# --- theme restatement --------------------------------------------------------------------------------------


def test_intervals_match_under_transposition():
    up_a_fifth = [p + 7 for p in THEME]
    assert mf.matching_intervals(THEME, up_a_fifth) == 8
    steps = mf.matching_intervals(mf.scale_steps(THEME, 0, "major"), mf.scale_steps(up_a_fifth, 7, "major"))
    assert steps == 8


def test_a_parallel_minor_restatement_keeps_its_scale_steps_but_not_its_semitones():
    minor = [60, 62, 63, 65, 67, 65, 63, 62, 60]  # the theme in C minor: E becomes E-flat
    assert mf.matching_intervals(THEME, minor) == 4  # 2-1 / 1-2 swap around the third
    assert mf.matching_intervals(mf.scale_steps(THEME, 0, "major"), mf.scale_steps(minor, 0, "minor")) == 8
    a_minor = [p - 3 for p in minor]  # and transposed to A minor
    assert mf.matching_intervals(mf.scale_steps(THEME, 0, "major"), mf.scale_steps(a_minor, 9, "minor")) == 8


def test_scale_steps_count_a_raised_leading_tone_as_the_seventh_degree():
    steps = mf.scale_steps([57, 68, 69, 71, 72], 9, "minor")  # A3, G#4, A4, B4, C5 in A minor
    assert (steps - steps[0]).tolist() == [0, 6, 7, 8, 9]


def test_octave_displaced_notes_match_only_up_to_octaves():
    displaced = [72, 62, 76, 65, 67, 77, 64, 62, 60]  # the theme with three notes an octave up
    assert mf.matching_intervals(THEME, displaced) == 3
    assert mf.matching_intervals(THEME, displaced, modulo=12) == 8


def test_a_missing_interval_never_matches():
    assert mf.matching_intervals(THEME, THEME[:5]) == 4


def test_restatement_differences(tmp_path):
    """Two cues of theme A: the second in A minor, a tenth lower, on a cello, twice as slow, at another tempo."""
    first = [(i * 0.5, i * 0.5 + 0.5, p) for i, p in enumerate(THEME)]  # 120 BPM: quarter notes, 0-4.5 s
    minor = [p - 3 - 12 for p in (60, 62, 63, 65, 67, 65, 63, 62, 60)]
    second = [(8 + i * 1.0, 8 + i * 1.0 + 1.0, p) for i, p in enumerate(minor)]  # half notes from 8 s
    m = written(tmp_path, {("Melody - Violin", 40, False): first, ("Melody - Cello", 42, False): second})
    plan = [mb.plan_choices({"key": "C", "mode": "major", "tempo_bpm": 120, "meter": "4/4", "theme": "A", "start": 0, "end": 8}),
            mb.plan_choices({"key": "A", "mode": "minor", "tempo_bpm": 120, "meter": "4/4", "theme": "A", "start": 8, "end": 18})]
    (r,) = mb.restatements(m, mf.melody_line(m), plan)
    assert (r["steps"], r["semitones"], r["octave_free"]) == (8, 4, 4)
    assert set(r["differs"]) == {"mode", "register", "instrument", "rhythm"}  # same tempo map throughout


# --- harmony ---------------------------------------------------------------------------------------------------


def test_harmonic_rhythm_of_a_held_pad(tmp_path):
    # 120 BPM 4/4 (2 s a bar): C for two bars, F for one, G7 for one; a passing note inside the F bar
    pad = [(0, 4, p) for p in (60, 64, 67)] + [(4, 6, p) for p in (60, 65, 69)] + [(4.5, 5, 70)] + [(6, 8, p) for p in (62, 65, 67, 71)]
    bass = [(0, 4, 36), (4, 6, 41), (6, 8, 43)]
    m = written(tmp_path, {("Pad - Strings", 48, False): pad, ("Bass - Cello", 42, False): bass,
                           ("Melody - Flute", 73, False): [(0, 8, 84)]})
    assert [lab for _, _, lab in mf.chord_spans(m)] == [(0, "maj"), (5, "maj"), (7, "maj")]
    h = mf.harmonic_rhythm(m)
    assert h["chords_per_bar"] == pytest.approx(3 / 4)
    assert h["longest_chord_s"] == pytest.approx(4.0)


def test_chord_label_keeps_the_chord_through_a_bare_fifth():
    fifth = np.zeros(12)
    fifth[[2, 9]] = 1.0  # D and A only
    assert mf.chord_label(fifth, previous=(2, "min")) == (2, "min")
    assert mf.chord_label(fifth, previous=(2, "maj")) == (2, "maj")


# --- seed variation --------------------------------------------------------------------------------------------


def _plan(**kw):
    cue = {"key": "C", "mode": "major", "tempo_bpm": 100, "meter": "4/4", "figure": "arpeggio", "instruments": ["piano"],
           "dynamics": "mp", "theme": "A", "start": 0, "end": 30}
    cue.update(kw)
    return [mb.plan_choices(cue)]


def test_plans_differ_in_choices_not_in_small_tempo_moves():
    assert mb.plans_differ(_plan(), _plan(tempo_bpm=101.5)) == []
    assert mb.plans_differ(_plan(), _plan(tempo_bpm=104, figure="waltz")) == ["tempo", "figure"]
    recs = [{"id": "x", "seed": s, "plan": p} for s, p in enumerate((_plan(), _plan(), _plan(key="G")))]
    v = mb.seed_variation(recs)
    assert v["pairs"] == 3 and v["share"] == pytest.approx(2 / 3) and v["choices_changed"] == {"key": 2}


def test_an_only_pattern_that_matches_nothing_is_a_one_line_error(tmp_path, capsys):
    assert mb.main(["--only", "no-such-input", "--json", str(tmp_path / "m.json")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: --only 'no-such-input' matches no input") and err.count("\n") == 1
    assert not (tmp_path / "m.json").exists()
