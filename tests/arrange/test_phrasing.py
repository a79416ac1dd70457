"""Breath, drop-outs and performance: rests before phrase ends, thinner moments, controllers, feel off the grid."""

from __future__ import annotations

import dataclasses

from mm2music.arrange import phrasing
from mm2music.arrange.compose import CueMusic
from mm2music.arrange.instruments import choose_ensemble
from mm2music.arrange.orchestrate import NoteEvent
from mm2music.arrange.realise import TPQ, Bar, bars_of, catch_ticks, realise
from tests.arrange.test_realise import cue, realised, sketch


def bars(n: int, beat: int = TPQ) -> list[Bar]:
    return [Bar(k * 4 * beat, (k + 1) * 4 * beat, beat, 0.5) for k in range(n)]


def line(length: int) -> list[NoteEvent]:
    return [NoteEvent(t, t + TPQ, 60 + (t // TPQ) % 5, 80) for t in range(0, length, TPQ)]


def rests(notes, lo, hi) -> int:
    return phrasing._longest_rest(notes, lo, hi)


def test_melody_breathes_before_every_phrase_end():
    b = bars(8)
    out = phrasing.breathe(line(b[-1].end), b)
    assert rests(out, b[-1].end - 2 * 4 * TPQ, b[-1].end) >= TPQ  # a beat at the end of the period
    assert rests(out, b[2].start, b[4].start) == TPQ // 2  # half a beat between its phrases
    rung = phrasing.breathe(line(b[-1].end), b, ring=True)  # the end of the piece rings
    assert max(n.end for n in rung) == b[-1].end and rests(rung, b[2].start, b[4].start) >= TPQ // 2


def test_thin_windows_last_long_enough_and_keep_half_the_layers():
    b = bars(3)
    windows = phrasing.thin_windows(b, lambda q: q * 60 / 170)  # 170 BPM: a beat is 0.35 s
    assert windows == [(b[-1].end - 2 * TPQ, b[-1].end)]
    layers = {name: [NoteEvent(0, b[-1].end, 60, 80)] for name in ("melody", "pad", "bass", "figure", "counter", "percussion")}
    out = phrasing.thin_out(layers, windows)
    lo = windows[0][0]
    assert {k for k, v in out.items() if any(n.end > lo for n in v)} == {"melody", "pad", "bass"}  # the tune goes on


def test_performance_feel_and_legato():
    notes = [NoteEvent(0, TPQ, 60, 80), NoteEvent(TPQ, 2 * TPQ, 62, 80), NoteEvent(2 * TPQ, 3 * TPQ, 64, 80)]
    felt = phrasing.feel(notes, "melody", {TPQ}, ticks_per_ms=1.0, seed=7)
    assert felt[1] == notes[1]  # a caught cut stays exact
    assert all(0 <= f.start - n.start <= phrasing.FEEL_MS["melody"] and f.end == n.end for f, n in zip(felt, notes))
    tied = phrasing.legato(notes, 20)
    assert [n.end for n in tied] == [TPQ + 20, 2 * TPQ + 20, 3 * TPQ]
    pedal = phrasing.pedal(notes, [TPQ * 2])
    assert (2 * TPQ, 64, 0) in pedal and (2 * TPQ + TPQ // 16, 64, 127) in pedal and pedal[-1] == (3 * TPQ, 64, 0)
    swell = phrasing.expression_curve(notes, [4 * TPQ], 100, 0.2, TPQ // 2)
    values = [v for _, _, v in swell]
    assert max(values) <= 100 and values[0] < max(values)


def test_realised_cue_breathes_phrases_and_performs():
    c = cue("arpeggio", 0.7, bars=8, instruments=("piano", "strings"), end=16.0)
    parts = realised(c)
    length = round(c.quarters * TPQ)
    melody = [n for p in parts if p.name.startswith("Melody") for n in p.notes]
    assert rests(melody, 0, length) >= TPQ
    piano = [p for p in parts if p.program == 0]
    assert piano and all(any(cc == 64 for _, cc, _ in p.controls) for p in piano)
    assert any(cc == 11 for p in parts for _, cc, _ in p.controls)
    lo, hi = phrasing.thin_windows(bars_of(c), c.seconds_at)[0]
    assert sum(any(n.start < hi and n.end > lo for n in p.notes) for p in parts) <= len(parts) / 2


def test_every_planned_family_plays():
    ensemble = choose_ensemble(("woodwinds", "strings", "piano", "mallets"), "bounce")
    assert {f for f, _, _ in ensemble.colours} == {"piano", "mallets"}
    for figure, families in (("bounce", ("woodwinds", "strings", "piano", "mallets")), ("arpeggio", ("harp", "strings", "choir", "mallets")),
                             ("sustain", ("strings", "choir", "organ", "brass")), ("driving", ("brass", "strings", "percussion", "synth"))):
        parts = realised(cue(figure, 0.1, instruments=families))
        heard = {choose_family(p) for p in parts}
        assert set(families) <= heard, (figure, set(families) - heard)
        doubles = [p for p in parts if p.name.startswith("Melody 8va")]
        tune = next(p for p in parts if p.name.startswith("Melody -"))
        for d in doubles:  # an octave above the tune, never in unison with it
            assert all(any(abs(n.pitch - m.pitch) == 12 for m in tune.notes if m.start <= n.start < m.end + 40) for n in d.notes)


def choose_family(part) -> str:
    from mm2music.arrange.instruments import FAMILY_OF

    return "percussion" if part.is_drum else FAMILY_OF.get(part.program, "?")


def test_silence_thin_and_tacet():
    c = cue("pulse", 0.8, bars=8, end=16.0)
    length = round(c.quarters * TPQ)
    music = CueMusic(c, [], sketch(length), length)
    quiet = realise(dataclasses.replace(music, cue=dataclasses.replace(c, silences=((5.0, 9.0),))))
    assert not any(n.start < 18 * TPQ and n.end > 10 * TPQ for p in quiet for n in p.notes)  # 120 BPM: 1 s = 2 quarters
    assert any(n.start >= 18 * TPQ for p in quiet for n in p.notes)  # and the music comes back
    pad = next(p for p in quiet if p.name.startswith("Pad"))
    fade = [v for t, cc, v in pad.controls if cc == 11 and 8 * TPQ <= t < 10 * TPQ]
    assert fade == sorted(fade, reverse=True) and fade[-1] < pad.expression  # it tails off into the silence
    thin = realise(dataclasses.replace(music, cue=dataclasses.replace(c, spotting="thin")))
    assert {p.name.split(" - ")[0] for p in thin} <= {"Pad", "Bass"} and thin[0].expression < realise(music)[0].expression
    assert realise(dataclasses.replace(music, cue=dataclasses.replace(c, spotting="tacet"))) == []


def test_catches_stay_exact_under_the_feel():
    c = cue("sustain", 0.3, catches=(2.9, 5.13))
    onsets = {n.start for p in realised(c) for n in p.notes}
    assert set(catch_ticks(c)) <= onsets


def test_timpani_roll_grows_into_the_phrase():
    c = cue("march", 1.0, bars=8, end=16.0)
    timpani = next(p for p in realised(c) if p.program == 47)
    down = 4 * 4 * TPQ  # bar 5: the second phrase
    roll = [n for n in timpani.notes if down - TPQ <= n.start < down]
    assert len(roll) >= 6 and len({n.pitch for n in roll}) == 1
    assert roll[-1].velocity > roll[0].velocity and any(n.start == down for n in timpani.notes)


def test_velocities_swell_over_a_phrase():
    c = cue("pulse", 0.5, bars=4)
    figure = next(p for p in realised(c) if p.name.startswith("Figure"))
    by_bar = [[n.velocity for n in figure.notes if b * 4 * TPQ < n.start < (b + 1) * 4 * TPQ and n.start % (4 * TPQ)]
              for b in range(4)]  # off the accented downbeats
    means = [sum(v) / len(v) for v in by_bar]
    assert means[2] > means[0] and means[2] > means[3]  # rises to ~60% of the phrase, breathes out at its end
