"""Themes first: a tune kept in scale steps, restated and transformed per cue; harmony fitted to it."""

from __future__ import annotations

import dataclasses

import pytest

from mm2music.arrange.compose import CueMusic, compose
from mm2music.arrange.harmony import diatonic_chords, harmonise, palette_for, vocabulary
from mm2music.arrange.orchestrate import NoteEvent
from mm2music.arrange.realise import TPQ, realise
from mm2music.arrange.theme import (Theme, ThemeNote, cadence_bars, closing_step, cue_melody, pattern_repetition, scale_intervals,
                                    steps_of, to_pitch, to_step, transform_for)
from mm2music.key import Key
from tests.arrange.test_realise import cue


def tune() -> Theme:
    """An 8-bar period in 4/4 with no rests: a one-bar motif, its sequence, an answer, a close on the tonic."""
    steps = [0, 1, 2, 0, 2, 3, 4, 2, 4, 5, 4, 3, 2, 1, 1, 1, 0, 1, 2, 0, 2, 3, 4, 2, 4, 5, 4, 3, 2, 1, 0, 0]
    notes = [ThemeNote(k * 1.0, 1.0, s) for k, s in enumerate(steps)]
    return Theme("A", "4/4", tuple(notes), tuple(ThemeNote(k * 2.0, 2.0, s) for k, s in enumerate([4, 3, 2, 1, 2, 3, 4, 4])))


@pytest.mark.parametrize("key", ["C major", "F# major", "A minor", "Eb minor", "B major"])
def test_steps_and_pitches_round_trip(key):
    tonic, mode = Key.of(*key.split())
    for pitch in range(36, 96):
        step, alter = to_step(pitch, tonic, mode)
        assert alter in (0, 1) and to_pitch(step, alter, tonic, mode) == pitch


def test_the_last_cue_ends_on_the_tonic_and_a_half_cadence_on_the_dominant():
    t = tune()
    for bars in (1, 2, 3, 5, 8, 13, 20):
        c = cue(bars=bars, cadence="half")
        tonic, mode = Key.of(c.key, c.mode)
        final = cue_melody(t, c, "state", final=True)
        assert final[-1].pitch % 12 == tonic and final[-1].end == round(c.quarters * TPQ)
        half = cue_melody(t, c, "state", final=False)
        assert (half[-1].pitch - tonic) % 12 == 7


def test_every_eight_bars_the_tune_breathes():
    c = cue(bars=16)
    melody = cue_melody(tune(), c, "state", final=True)
    bar = round(c.beats_per_bar * TPQ)
    for first in range(0, 16 - 7):
        a, b = first * bar, (first + 8) * bar
        inside = [n for n in melody if a <= n.start < b]
        gaps = [y.start - x.end for x, y in zip(inside, inside[1:])] + [b - inside[-1].end]
        assert max(gaps) >= TPQ, f"bars {first + 1}-{first + 8} never rest a beat"


def test_a_restatement_in_another_mode_keeps_the_tune_in_scale_steps():
    t = tune()
    first = cue(bars=8, key="D", mode="major", valence=0.6, arousal=0.3)
    later = dataclasses.replace(first, index=3, start=30.0, end=46.0, key="B", mode="minor", valence=-0.5, arousal=-0.4)
    a = cue_melody(t, first, "state", final=False)
    b = cue_melody(t, later, "restate", final=False)
    sa = steps_of(a, *Key.of("D", "major"))
    sb = steps_of(b, *Key.of("B", "minor"))
    assert scale_intervals(sa)[:8] == scale_intervals(sb)[:8]
    semis_a = [y.pitch - x.pitch for x, y in zip(a, a[1:])][:8]
    semis_b = [y.pitch - x.pitch for x, y in zip(b, b[1:])][:8]
    assert semis_a != semis_b  # the minor mode is heard: some steps are smaller


def test_emotion_chooses_the_transformation():
    calm = cue(bars=8, valence=0.6, arousal=0.1)
    assert transform_for(calm, None) == "state"
    assert transform_for(dataclasses.replace(calm, index=2, valence=-0.6, arousal=0.7), calm) == "fragment"
    assert transform_for(dataclasses.replace(calm, index=2, arousal=-0.6), calm) == "augment"
    assert transform_for(dataclasses.replace(calm, index=2, valence=0.7, arousal=0.8), calm) == "diminish"
    assert {transform_for(dataclasses.replace(calm, index=2), calm, v) for v in range(3)} == {"restate", "answer", "third"}


def test_augmentation_doubles_the_tune_and_fragmentation_drives_its_motif_up():
    t = tune()
    c = cue(bars=16)
    plain = cue_melody(t, c, "state", final=False)
    slow = cue_melody(t, c, "augment", final=False)
    assert slow[1].start == 2 * plain[1].start and scale_intervals(steps_of(slow[:9], 2, "minor")) == scale_intervals(steps_of(plain[:9], 2, "minor"))
    frag = steps_of(cue_melody(t, cue(bars=8), "fragment", final=False), 2, "minor")
    bar1, bar3 = [n.step for n in frag if n.start < 4], [n.step for n in frag if 8 <= n.start < 12]
    assert [s + 1 for s in bar1] == bar3


def test_pattern_repetition():
    assert pattern_repetition([1, 2, 3, 1, 2, 3]) == pytest.approx(2 / 4 + 0, abs=0.26)
    assert pattern_repetition([2, 2, 2, 2]) == 1.0
    assert pattern_repetition([1, 2, 3, 4, 5]) == 0.0


def melody_of(steps, tonic=0, mode="major", beat=TPQ):
    return [NoteEvent(k * beat, (k + 1) * beat, to_pitch(s, 0, tonic, mode), 80) for k, s in enumerate(steps)]


def test_harmony_holds_the_tune_moves_and_closes_with_v_i():
    melody = melody_of([0, 1, 2, 0, 4, 3, 2, 1, 2, 3, 4, 5, 4, 1, 7, 7])  # C major, 4 bars of quarters
    bounds = [0, 2 * TPQ, 4 * TPQ, 6 * TPQ, 8 * TPQ, 10 * TPQ, 12 * TPQ, 14 * TPQ, 16 * TPQ]
    slots = harmonise(melody, bounds, 0, "major", "authentic", final=True)
    chords = diatonic_chords(0, "major")
    assert slots[-1].chord == chords[1] and slots[-2].chord == chords[5]
    assert slots[0].chord == chords[1]
    on_beat = [n for n in melody if n.start % (2 * TPQ) == 0]
    held = sum(any(s.start <= n.start < s.end and n.pitch % 12 in s.chord.pcs for s in slots) for n in on_beat)
    assert held == len(on_beat)  # every note on a chord change is a chord tone
    assert len({s.chord for s in slots}) >= 3 and all(a.chord != b.chord for a, b in zip(slots, slots[1:]))


def test_half_cadence_and_a_vocabulary_per_emotion():
    melody = melody_of([4, 2, 1, 0, 1, 2, 1, 1])
    bounds = [0, 2 * TPQ, 4 * TPQ, 6 * TPQ, 8 * TPQ]
    slots = harmonise(melody, bounds, 0, "major", "half")
    assert slots[-1].chord == diatonic_chords(0, "major")[5]
    assert palette_for({"fear": 0.8}, -0.8, 0.7) == "dread"
    assert palette_for({"wonder": 0.8}, 0.8, 0.5) == "mediant"
    assert palette_for({"triumph": 0.8}, 0.9, 0.6) == "mixture"
    assert palette_for({"serenity": 0.8}, 0.8, -0.7) == "diatonic"
    qualities = {c.quality for _, c, _ in vocabulary(0, "minor", "dread")}
    assert {"dim", "aug"} <= qualities
    names = {n for n, _, _ in vocabulary(0, "major", "mixture")}
    assert {"iv", "bVI", "bVII"} <= names


def test_the_score_ends_on_the_tonic_in_root_position(tiny_checkpoint):
    from mm2music.config import MusicConfig
    from mm2music.music.checkpoint import load_checkpoint

    model, tokenizer, _ = load_checkpoint(tiny_checkpoint)
    model.eval()
    cues = [cue(bars=4, index=0, start=0.0, end=8.0, key="G", mode="major", cadence="half", figure="march", valence=0.5, arousal=0.6),
            cue(bars=4, index=1, start=8.0, end=16.0, key="E", mode="minor", figure="march", valence=0.5, arousal=0.6)]
    music = compose(cues, model, tokenizer, MusicConfig(theme_candidates=2), seed=3)
    assert music[1].theme == music[0].theme and music[0].tokens and not music[1].tokens
    parts = realise(music[1], last=True)
    end = music[1].length_ticks
    last = [(n.pitch, p.name) for p in parts if not p.is_drum for n in p.notes if n.end == end]
    bass = min(last)
    assert bass[1].startswith("Bass") and bass[0] % 12 == 4  # E, the root of E minor, lowest
    assert {p % 12 for p, _ in last} <= {4, 7, 11}


def test_a_close_is_approached_from_the_note_before_and_phrases_end_held():
    notes = [ThemeNote(0.0, 1.0, 4), ThemeNote(1.0, 1.0, 3), ThemeNote(2.0, 1.0, 9)]  # G, F, then a sampled D an octave up
    assert closing_step(notes, 0) == 0  # the tonic next to the F, not the C an octave up next to the D
    assert closing_step(notes[:2] + [ThemeNote(2.0, 1.0, 7)], 0) == 7  # a tonic already there stays
    bar = [ThemeNote(k * 0.5, 0.5, k % 3) for k in range(8)]  # eight eighths in a 4/4 bar
    held = cadence_bars(bar + [ThemeNote(4.0, 1.0, 0)], "4/4", (0,))
    assert [(n.start, n.dur) for n in held] == [(0.0, 0.5), (0.5, 0.5), (1.0, 0.5), (1.5, 0.5), (2.0, 2.0), (4.0, 1.0)]
    assert [(n.start, n.dur) for n in cadence_bars(bar[:6], "3/4", (0,))][-1] == (0.0, 3.0)  # 3/4: the downbeat held
    # a half cadence runs on: held to the bar's last beat, what the tune had there kept as its lead-in
    ran = cadence_bars(bar + [ThemeNote(4.0, 1.0, 0)], "4/4", (0,), lead_in=(0,))
    assert [(n.start, n.dur) for n in ran] == [(0.0, 0.5), (0.5, 0.5), (1.0, 0.5), (1.5, 0.5), (2.0, 1.0), (3.0, 0.5), (3.5, 0.5), (4.0, 1.0)]
    assert [(n.start, n.dur) for n in cadence_bars(bar[:4], "4/4", (0,), lead_in=(0,))] == [(0.0, 4.0)]  # nothing on the last beat: the downbeat held to the bar line


def test_a_reprise_moved_an_octave_is_not_moved_back_by_its_instruments_range():
    from mm2music.arrange.instruments import Instrument
    from mm2music.arrange.realise import melody_line

    flute = Instrument("Flute", 73, 60, 96)
    c = cue(bars=2)
    down = [NoteEvent(k * TPQ, (k + 1) * TPQ, p, 80) for k, p in enumerate([55, 57, 59, 60, 62, 64, 66, 67])]  # an octave under 67-79
    first = [n.pitch for n in melody_line(down, c, flute, 8 * TPQ, shaped=True)]
    assert min(first) == 67  # the range alone puts it back where the theme was first heard
    reprise = [n.pitch for n in melody_line(down, c, flute, 8 * TPQ, shaped=True, reprise_octave=-12)]
    assert min(reprise) == 79 and [b - a for a, b in zip(reprise, reprise[1:])] == [b - a for a, b in zip(first, first[1:])]


def test_a_cue_cut_to_an_odd_last_bar_still_ends_on_a_held_tonic():
    t = Theme("A", "4/4", tuple(ThemeNote(k * 0.25, 0.25, k % 5) for k in range(128)))  # 8 bars of 16ths
    c = cue(bars=5, end=9.0, odd_bar="2/4")  # four bars of 4/4 and one of 2/4
    melody = cue_melody(t, c, "state", final=True)
    tonic, _ = Key.of(c.key, c.mode)
    last = melody[-1]
    assert last.pitch % 12 == tonic and last.end == round(c.quarters * TPQ) and last.end - last.start == 2 * TPQ
