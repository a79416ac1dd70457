"""Feature extractors of the film benchmark (bench/film_features.py) on tiny MIDI built from note tuples."""

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


def midi(tracks, bpm=120.0, tmp_path=None, tempo_changes=()):
    """``tracks``: {(name, program, is_drum): [(start_s, end_s, pitch, velocity), ...]} -> Music read back from a
    written MIDI file (the benchmark's own reading path)."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    for (name, program, is_drum), notes in tracks.items():
        inst = pretty_midi.Instrument(program=program, is_drum=is_drum, name=name)
        inst.notes = [pretty_midi.Note(velocity=v, pitch=p, start=s, end=e) for s, e, p, v in notes]
        pm.instruments.append(inst)
    pm.time_signature_changes = [pretty_midi.TimeSignature(4, 4, 0.0)]
    path = tmp_path / "t.mid"
    pm.write(str(path))
    return ff.music_from_pretty_midi(pretty_midi.PrettyMIDI(str(path)))


def test_clash_rate_of_known_chords():
    # onset 0: C E G (no clash); onset 1: C E G B (major 7th C-B); onset 2: B over a held C from onset 1? no:
    # onset 2: C4 + Db5 (minor 9th); onset 3: G alone
    m = ff.music_from_notes([(0, 1, 60), (0, 1, 64), (0, 1, 67),
                             (1, 2, 60), (1, 2, 64), (1, 2, 67), (1, 2, 71),
                             (2, 3, 60), (2, 3, 73), (3, 4, 67)])
    assert ff.clash_rate(m) == pytest.approx(2 / 4)


def test_clash_counts_a_new_note_against_a_held_one_but_not_a_held_pair_again():
    # C held over two beats, C# enters on beat 1 (clash), then E on beat 2 while C and C# are both still held
    m = ff.music_from_notes([(0, 3, 60), (1, 3, 61), (2, 3, 64)])
    assert ff.clash_rate(m) == pytest.approx(1 / 3)


def test_max_notes_per_onset_overall_and_by_track(tmp_path):
    m = midi({("Melody - Violin", 40, False): [(0.0, 0.5, 76, 80), (0.5, 1.0, 77, 80)],
              ("Harmony - Strings", 48, False): [(0.0, 1.0, p, 70) for p in (60, 64, 67)],
              ("Drums", 0, True): [(0.0, 0.1, 36, 100), (0.0, 0.1, 42, 100)]}, tmp_path=tmp_path)
    assert ff.max_notes_per_onset(m) == 4  # drums excluded
    assert ff.max_notes_per_onset_by_track(m) == {"Melody - Violin": 1, "Harmony - Strings": 3, "Drums": 2}


def test_layers_per_bar_and_rests(tmp_path):
    # 120 BPM: a bar is 2 s. Bar 1: two tracks; bar 2: one track, silent on its third beat
    m = midi({("Melody", 0, False): [(0.0, 2.0, 72, 80), (2.0, 3.0, 74, 80), (3.5, 3.75, 76, 80)],
              ("Bass", 32, False): [(0.0, 2.0, 36, 80)]}, tmp_path=tmp_path)
    assert ff.layers_per_bar(m) == pytest.approx(1.5)
    assert ff.rest_onset_share(m) == pytest.approx(5 / 8)  # onsets on beats 0, 4 and 7 of 8
    assert ff.rest_silent_share(m) == pytest.approx(1 / 8)
    assert ff.sustained_share(m) == pytest.approx(3 / 4)


def test_roles_by_name_then_by_register(tmp_path):
    named = midi({("Pad - Strings", 48, False): [(0, 1, 40, 80)], ("Bass - Cello", 42, False): [(0, 1, 50, 80)],
                  ("Melody - Flute", 73, False): [(0, 1, 79, 80)]}, tmp_path=tmp_path)
    roles = ff.track_roles(named)
    assert named.tracks[roles["bass"]].name == "Bass - Cello"  # the name wins over the lower pad
    assert named.tracks[roles["melody"]].name == "Melody - Flute"
    anon = ff.music_from_notes([(0, 1, 40, 80, 0), (0, 1, 60, 80, 1), (0, 1, 84, 80, 2)])
    roles = ff.track_roles(anon)
    assert (roles["melody"], roles["bass"]) == (2, 0)


def test_out_of_range_uses_the_program(tmp_path):
    m = midi({("Melody - Violin", 40, False): [(0, 1, 50, 80), (1, 2, 60, 80)],  # violin's lowest is G3 = 55
              ("Bass - Tuba", 58, False): [(0, 1, 30, 80)]}, tmp_path=tmp_path)
    assert ff.out_of_range(m) == 1
    assert ff.out_of_range_by_track(m) == {"Melody - Violin": 1, "Bass - Tuba": 0}


def test_tempo_map_quarters_spread_and_cuts(tmp_path):
    tt, bpm = np.array([0.0, 2.0]), np.array([120.0, 60.0])
    assert ff.quarters_at(np.array([1.0, 2.0, 3.0]), tt, bpm) == pytest.approx([2.0, 4.0, 5.0])
    m = ff.music_from_notes([(0, 1, 60), (2, 3, 62)])  # 120 BPM: onsets at 0 s and 1 s
    m.tempo_times_s, m.tempo_bpm = tt, bpm
    assert ff.tempo_spread(m, 0.0, 4.0) == pytest.approx(60.0)
    assert ff.tempo_spread(m, 0.0, 1.5) == 0.0
    assert ff.cuts_caught(m, [0.02, 0.5, 1.039]) == pytest.approx(2 / 3)


def test_window_takes_whole_bars_from_zero():
    m = ff.music_from_notes([(0, 1, 60), (4, 6, 62), (7, 9, 64), (8, 9, 65)])
    w = ff.window(m, 1, 1)
    assert w.start_q.tolist() == [0.0, 3.0] and w.end_q.tolist() == [2.0, 4.0]
    assert ff.window(m, 2, 1).start_q.tolist() == [0.0]
    assert ff.window(m, 2, 2) is None  # 3 bars only (0..12 quarters)


def test_texture_features_are_finite_on_a_chorale_and_empty_safe():
    chorale = ff.music_from_notes([(b, b + 1, p + (b % 2)) for b in range(8) for p in (48, 55, 64, 72)])
    f = ff.texture_features(chorale)
    assert all(np.isfinite(v) for v in f.values())
    assert f["mean_notes_per_onset"] == 4 and f["sustained_share"] == 1.0 and f["offbeat_share"] == 0.0


def test_quadrants_and_inputs_cover_the_circumplex():
    from bench.film_inputs import PROMPTS, QUADRANTS, REAL_TEXTS, quadrant_of

    assert [quadrant_of(v, a) for v, a in ((0.5, 0.5), (-0.5, 0.5), (-0.5, -0.5), (0.5, -0.5))] == list(QUADRANTS)
    for inputs in (PROMPTS, REAL_TEXTS):
        assert {q: sum(p.quadrant == q for p in inputs) for q in QUADRANTS} == {q: 4 for q in QUADRANTS}
    # a real text's human valence rating agrees with its quadrant's valence
    assert all((p.rating > 0) == (p.quadrant in ("Q1", "Q4")) for p in REAL_TEXTS)


def test_score_rows_skips_the_pickup_and_merges_ties():
    from music21 import meter, note, stream

    from bench.film import score_rows

    score = stream.Score()
    for k, pitches in enumerate(((72, 74, 76, 77, 79), (48, 50, 52, 53, 55))):
        part = stream.Part()
        pickup = stream.Measure(number=0)
        pickup.append(meter.TimeSignature("4/4"))
        pickup.append(note.Note(pitches[0], quarterLength=1))
        part.append(pickup)
        for b in range(2):
            m = stream.Measure(number=b + 1)
            first = note.Note(pitches[1 + 2 * b], quarterLength=2)
            second = note.Note(pitches[2 + 2 * b], quarterLength=2)
            if b == 0:
                first.tie = note.tie.Tie("start")
                second = note.Note(pitches[1], quarterLength=2)
                second.tie = note.tie.Tie("stop")
            m.append([first, second])
            part.append(m)
        score.insert(0, part)
    piece = score_rows(score)
    rows = sorted(piece["rows"], key=lambda r: (r[4], r[0]))
    assert piece["bar_q"] == 4.0
    assert rows[:3] == [(0.0, 4.0, 74, 80, 0), (4.0, 6.0, 77, 80, 0), (6.0, 8.0, 79, 80, 0)]  # pickup gone, tie merged
    assert piece["bars"] == 2


def test_montage_figures_on_a_known_plan():
    from bench.film import montage_figures

    m = ff.music_from_notes([(0, 1, 60), (2, 3, 62), (4, 5, 64)])  # onsets at 0, 1, 2 s (120 BPM)
    m.tempo_times_s, m.tempo_bpm = np.array([0.0, 2.0]), np.array([120.0, 132.0])
    plan = {"cues": [{"start": 0.0, "end": 1.5}, {"start": 1.5, "end": 3.0}]}
    scene = lambda s, v: {"start": s, "valence": v, "arousal": 0.0}  # noqa: E731
    analysis = {"duration": 3.0, "transitions": [{"kind": "cut", "time": 1.0}, {"kind": "cut", "time": 2.0}],
                "scenes": [scene(0.0, 0.0), scene(1.0, 0.1), scene(2.0, 0.2)]}
    f = montage_figures(m, plan, analysis, truth=[1.0, 1.5], contrast=0.5)
    assert (f["cuts"], f["cuts_detected"]) == (2, 2)
    assert f["cuts_caught"] == 0.5 and f["cuts_caught_detected"] == 1.0
    assert f["cue_tempo_spread_max"] == pytest.approx(12.0) and f["cue_tempo_spread_mean"] == pytest.approx(6.0)
    assert f["noncontrast_changes"] == 2 and f["noncontrast_tempo_changed"] == 0.5


def test_grouped_cv_keeps_groups_apart():
    from bench.film import grouped_cv

    rng = np.random.default_rng(0)
    y = np.repeat(np.array(["a", "b"]), 20)
    groups = np.repeat(np.arange(10), 4)  # each group holds one class only
    separable = np.c_[np.where(y == "a", 0.0, 5.0) + rng.normal(0, 0.3, 40), rng.normal(0, 1, 40)]
    assert grouped_cv(separable, y, groups, "logreg")["accuracy"] == 1.0
    # a feature that only identifies the group says nothing about an unseen group's class
    ids = groups.astype(np.float64)[:, None] * 1000 % 7
    assert grouped_cv(ids, y, groups, "forest")["accuracy"] < 0.8


def test_merged_groups_join_inputs_that_produced_the_same_music():
    from bench.film import merged_groups

    recs = [{"id": "chase", "notes_hash": "a"}, {"id": "chase", "notes_hash": "b"}, {"id": "horror", "notes_hash": "b"},
            {"id": "mystery", "notes_hash": "c"}, {"id": "horror", "notes_hash": "d"}]
    g = merged_groups(recs)
    assert g[0] == g[1] == g[2] == g[4] and g[3] != g[0]
