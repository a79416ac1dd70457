"""Registers: the bass lowest, the melody's band on top, low-interval limits; and the realiser keeps them."""

from __future__ import annotations

import pytest

from mm2music.arrange.instruments import CELLO, CONTRABASS, STRINGS, VIOLIN
from mm2music.arrange.orchestrate import NoteEvent
from mm2music.arrange.realise import TPQ
from mm2music.arrange.registers import LOW_INTERVAL_LIMIT, Band, bass_under_melody, in_band, low_interval_limits
from mm2music.graph.cues import FIGURES
from tests.arrange.test_realise import cue, realised


def N(start, end, pitch):
    return NoteEvent(start, end, pitch, 80)


def test_accompaniment_moves_between_bass_and_melody():
    melody = [N(0, TPQ, 67), N(TPQ, 2 * TPQ, 60)]
    bass = [N(0, 2 * TPQ, 48)]
    notes = [N(0, TPQ, 72), N(TPQ, 2 * TPQ, 64), N(0, 2 * TPQ, 45), N(0, 2 * TPQ, 55)]
    out = in_band(notes, STRINGS, melody, bass)
    assert [n.pitch for n in out] == [60, 52, 57, 55]  # 72 under 67; 64 under 60; 45 over the bass; 55 fits
    for n in out:
        assert all(n.pitch < m.pitch for m in melody if m.start < n.end and m.end > n.start)
        assert n.pitch >= 48
    assert in_band([N(0, 2 * TPQ, 50)], VIOLIN, melody, bass) == []  # no octave of it fits a violin under the tune: left out


def test_low_melody_keeps_its_rhythm_clear_above():
    melody = [N(0, TPQ, 50)]
    out = in_band([N(0, TPQ, 55), N(0, TPQ, 67), N(TPQ // 2, TPQ, 55)], STRINGS, melody, [N(0, TPQ, 38)], low_melody=True)
    struck = [n.pitch for n in out if n.start == 0]
    assert all(not 50 < p <= 62 for p in struck) and 67 in struck
    assert N(TPQ // 2, TPQ, 55) in out  # off the melody's rhythm it may sit close above


def test_bass_goes_under_a_low_melody():
    out = bass_under_melody([N(0, TPQ, 52)], [N(0, TPQ, 50)], CONTRABASS)
    assert out[0].pitch == 40


def test_low_interval_limits():
    layers = {"bass": [N(0, TPQ, 36)], "melody": [N(0, TPQ, 72)], "pad": [N(0, TPQ, 37), N(0, TPQ, 40), N(0, TPQ, 43)]}
    out = low_interval_limits(layers, {"pad": CELLO, "bass": CONTRABASS, "melody": VIOLIN}, band=Band(layers["melody"], layers["bass"]))
    pitches = sorted(n.pitch for n in out["pad"] + out["bass"])
    for i, a in enumerate(pitches):
        for b in pitches[i + 1:]:
            limit = LOW_INTERVAL_LIMIT.get(b - a)
            assert limit is None or a >= limit, (a, b)
    assert 36 in pitches and all(p < 72 for p in pitches)


@pytest.mark.parametrize("figure", FIGURES)
def test_realised_cue_keeps_its_registers(figure):
    """At every onset the bass is the lowest pitched note, the melody the highest; no minor second or ninth
    with both notes under C3."""
    for intensity in (0.3, 1.0):
        parts = [p for p in realised(cue(figure, intensity)) if not p.is_drum]
        for p in parts:  # an octave move never leaves two notes on one pitch and onset in a part
            assert len({(n.start, n.pitch) for n in p.notes}) == len(p.notes), (figure, p.name)
        notes = [(n, p.name.split(" - ")[0]) for p in parts for n in p.notes]
        for t in sorted({n.start for n, _ in notes}):
            sounding = [(n, role) for n, role in notes if n.start <= t < n.end]
            low = min(n.pitch for n, _ in sounding)
            if any(role == "Bass" for _, role in sounding):
                assert min(n.pitch for n, role in sounding if role == "Bass") == low, (figure, t)
            melody = [n.pitch for n, role in sounding if role.startswith("Melody") and n.start == t]
            others = [n.pitch for n, role in sounding if not role.startswith("Melody")]
            if melody and others:
                assert max(melody) > max(others), (figure, t)
            under = sorted(n.pitch for n, _ in sounding if n.pitch < 48)
            assert not any(b - a in (1, 13) for i, a in enumerate(under) for b in under[i + 1:]), (figure, t)
