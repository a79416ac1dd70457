"""The realiser: layers per intensity, instrument ranges, no clusters, caught cuts, meters that fit a scene."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter

import pretty_midi
import pytest

from mm2music.arrange.compose import CueMusic
from mm2music.arrange.instruments import ROLES, TREMOLO, PIZZICATO, CELESTA
from mm2music.arrange.orchestrate import NoteEvent
from mm2music.arrange.realise import TPQ, catch_ticks, realise
from mm2music.arrange.score import build_score
from mm2music.graph.beats import fit_beats, split_bars
from mm2music.graph.cues import FIGURES
from mm2music.graph.plan import plan_music
from mm2music.types import Cue, Emotion, Scene
from mm2music.emotion import CONCEPTS
from tests.graph.test_plan import COORDS, emotion

ALL_COORDS = {c.name: (c.valence, c.arousal) for c in CONCEPTS}

RANGES = {inst.program: (inst.low, inst.high) for roles in ROLES.values() for inst in roles.values() if inst is not None}
RANGES.update({i.program: (i.low, i.high) for i in (TREMOLO, PIZZICATO, CELESTA)})


def cue(figure="sustain", intensity=0.5, bars=4, **kw) -> Cue:
    base = dict(index=0, start=0.0, end=bars * 2.0, key="D", mode="minor", tempo_bpm=120.0, meter="4/4", bars=bars,
                density="medium", register="middle", dynamics="mf", articulation="legato",
                instruments=("strings", "brass", "percussion"), texture="homophonic", theme="A", transition="",
                cadence="authentic", figure=figure, bar_intensity=(intensity,) * bars)
    base.update(kw)
    return Cue(**base)


def sketch(length: int, seed: int = 0, cluster: bool = True) -> list[NoteEvent]:
    """A chorale-like sketch with the faults a raw sample can have: a 30-note cluster and wild registers."""
    rng = random.Random(seed)
    notes = []
    for t in range(0, length, TPQ):
        for _ in range(4):
            notes.append(NoteEvent(t, t + TPQ, rng.randrange(36, 90), 80))
    if cluster:
        notes += [NoteEvent(2 * TPQ, 3 * TPQ, p, 90) for p in range(40, 70)]
    return notes


def realised(c: Cue, last=False, seed=0):
    length = round(c.quarters * TPQ)
    return realise(CueMusic(c, [], sketch(length, seed), length), last=last)


@pytest.mark.parametrize("figure", FIGURES)
def test_every_figure_in_range_without_clusters(figure):
    for intensity in (0.05, 0.5, 1.0):
        parts = realised(cue(figure, intensity))
        assert parts
        per_onset = Counter()
        for part in parts:
            onsets = Counter(n.start for n in part.notes)
            assert max(onsets.values()) <= 4, (figure, part.name)  # no instrument plays more than 4 at once
            for n in part.notes:
                per_onset[n.start] += not part.is_drum
                if not part.is_drum:
                    lo, hi = RANGES[part.program]
                    assert lo <= n.pitch <= hi, (figure, part.name, n.pitch)
        assert max(per_onset.values()) <= 10  # the 30-note cluster in the sketch is gone


def test_layers_grow_with_intensity():
    counts = [len(realised(cue("driving", x))) for x in (0.0, 0.5, 1.0)]
    assert counts[0] == 3 and counts[0] < counts[1] < counts[2] == 6
    # the layers come in bar by bar with the curve: soft first bar, full last bar
    parts = realise(CueMusic(cue("ostinato", bar_intensity=(0.0, 0.3, 0.7, 1.0)), [], sketch(4 * 4 * TPQ), 4 * 4 * TPQ))
    playing = [sum(any(b * 4 * TPQ <= n.start < (b + 1) * 4 * TPQ for n in p.notes) for p in parts) for b in range(4)]
    assert playing == sorted(playing) and playing[0] < playing[-1]


def test_texture_differs_by_figure():
    """Grief: sustained, soft, few onsets; action: 16th-note ostinato, loud, percussion."""
    grief = realised(cue("sustain", 0.2, dynamics="p", instruments=("strings", "choir")))
    chase = realised(cue("driving", 0.9, dynamics="ff"))
    onsets = lambda parts: len({n.start for p in parts for n in p.notes})  # noqa: E731
    velocity = lambda parts: sum(n.velocity for p in parts for n in p.notes) / sum(len(p.notes) for p in parts)  # noqa: E731
    assert onsets(chase) >= 4 * onsets(grief)
    assert velocity(chase) > velocity(grief) + 25
    assert any(p.is_drum for p in chase) and not any(p.is_drum for p in grief)
    assert {p.name.split(" - ")[0] for p in grief} == {"Pad", "Melody", "Bass"}


def test_bass_in_bass_register_and_melody_above_pad():
    for figure in ("sustain", "arpeggio", "bounce"):
        parts = {p.name.split(" - ")[0]: p for p in realised(cue(figure, 1.0))}
        bass = [n.pitch for n in parts["Bass"].notes]
        assert max(bass) <= 55 and sum(bass) / len(bass) < 52
        pad, melody = parts["Pad"].notes, parts["Melody"].notes
        assert sum(n.pitch for n in melody) / len(melody) > sum(n.pitch for n in pad) / len(pad)


def test_caught_cuts_get_an_onset():
    c = cue("sustain", 0.3, catches=(2.9, 5.13))
    ticks = catch_ticks(c)
    parts = realised(c)
    onsets = {n.start for p in parts for n in p.notes}
    for t, tick in zip(c.catches, ticks):
        assert tick in onsets and abs(c.seconds_at(tick / TPQ) - t) <= 0.03


def test_realise_is_deterministic_per_cue():
    a, b = realised(cue("arpeggio", 0.6)), realised(cue("arpeggio", 0.6))
    assert a == b
    moved = realised(dataclasses.replace(cue("arpeggio", 0.6), index=3))
    assert [p.name for p in moved] == [p.name for p in a]


def test_odd_bars_fit_the_scene_exactly():
    assert split_bars(18, "4/4") == (5, "2/4") and split_bars(17, "4/4") == (4, "5/4") and split_bars(7, "6/8") == (4, "3/8")
    durations = [7.3, 4.1, 9.95]
    fits = fit_beats(durations, [60, 62, 58], "4/4")
    assert all(abs(f.qpm - 60) < 12 for f in fits)  # a steady tempo near the targets, no ramps
    scenes = [Scene(0, 0, 7.3), Scene(1, 7.3, 11.4), Scene(2, 11.4, 21.35)]
    emotions = [emotion(-0.7, -0.3, grief=1.0)] * 3
    emotions = [emotions[0], emotion(0.7, 0.8, excitement=1.0), emotions[0]]
    plan, _ = plan_music(scenes, emotions, COORDS)
    music = []
    for c in plan.cues:
        assert c.quarters * 60 / c.tempo_bpm == pytest.approx(c.end - c.start, abs=1e-9) and c.ramp_to_bpm is None
        length = round(c.quarters * TPQ)
        music.append(CueMusic(c, [], sketch(length, cluster=False), length))
    path = "/tmp/_odd_bars_test.mid"
    build_score(music, 25.0).dump_midi(path)
    pm = pretty_midi.PrettyMIDI(path)
    downbeats = pm.get_downbeats()
    for c in plan.cues[1:]:
        assert min(abs(d - c.start) for d in downbeats) < 0.010  # scene changes on downbeats
    odd = [c for c in plan.cues if c.odd_bar]
    assert odd and len(pm.time_signature_changes) > 1


def test_grief_slow_and_soft_chase_fast_and_loud():
    scenes = [Scene(0, 0, 30)]
    grief, _ = plan_music(scenes, [Emotion(-0.86, 0.27, {"grief": 0.99, "melancholy": 0.01})], ALL_COORDS)
    chase, _ = plan_music(scenes, [Emotion(0.2, 0.9, {"excitement": 0.7, "anger": 0.3})], ALL_COORDS)
    g, c = grief.cues[0], chase.cues[0]
    assert g.tempo_bpm < 76 and g.dynamics in ("pp", "p", "mp") and g.figure == "sustain"
    assert c.tempo_bpm > 130 and c.dynamics in ("f", "ff") and c.figure == "driving" and "percussion" in c.instruments
    assert c.intensity > g.intensity + 0.4
