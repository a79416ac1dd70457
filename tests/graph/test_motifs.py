"""Themes across a long film: leitmotifs for recurring speakers, moods that return, a bounded number of themes."""

from collections import Counter

import pytest

from mm2music.config import PlanConfig
from mm2music.graph.motifs import assign_themes, characters, scene_speakers, speakers
from mm2music.graph.plan import plan_music
from mm2music.types import Emotion, Scene, TextSegment

COORDS = {"joy": (0.8, 0.5), "sadness": (-0.7, -0.4), "fear": (-0.6, 0.7), "serenity": (0.6, -0.6)}
MOODS = [Emotion(0.8, 0.5, {"joy": 1.0}), Emotion(-0.7, -0.4, {"sadness": 1.0}), Emotion(-0.6, 0.7, {"fear": 1.0}),
         Emotion(0.6, -0.6, {"serenity": 1.0})]


@pytest.mark.parametrize("text, names", [
    ("ANNA: Run!", ["ANNA"]),
    ("- Anna: Hi. - Tomas: Hey.", ["ANNA", "TOMAS"]),
    ("THE DOCTOR: Sit down.", ["THE DOCTOR"]),
    ("\u2014 MIRA: No.", ["MIRA"]),
    ("He said: go home", []),  # a colon inside a sentence names nobody
    ("I told Tomas: go", []),
    ("We leave at 10:30 sharp", []),
    ("NOTE: the lights flicker", []),
])
def test_speaker_labels(text, names):
    assert speakers(text) == names


def test_webvtt_voices_name_their_speakers():
    from mm2music.media.text import clean_caption

    assert speakers(clean_caption("<v Anna>Run!</v>\n<v.loud The Doctor>Sit down.")) == ["ANNA", "THE DOCTOR"]


def test_scene_speakers_finds_each_block_by_its_middle():
    scenes = [Scene(0, 0, 10), Scene(1, 10, 20), Scene(2, 20, 30)]
    blocks = [TextSegment("ANNA: one", 1, 3), TextSegment("TOMAS: two", 9, 12),  # middle 10.5: the second scene
              TextSegment("- Anna: a - Tomas: b", 21, 25), TextSegment("no speaker here", 26, 28)]
    per = scene_speakers(scenes, list(reversed(blocks)))  # any order
    assert per[0] == Counter(ANNA=2.0)
    assert per[1] == Counter(TOMAS=3.0)
    assert per[2] == Counter(ANNA=2.0, TOMAS=2.0)


def test_only_the_most_recurring_main_speakers_get_a_theme():
    per = [Counter(ANNA=5)] * 4 + [Counter(TOMAS=5)] * 3 + [Counter(MIRA=5)] * 2 + [Counter(ANNA=1, ELSA=4)] + [Counter()]
    owners = characters(per, most=4, min_scenes=3)
    assert set(owners.values()) == {"ANNA", "TOMAS"}  # Mira leads only two scenes, Elsa one
    assert 9 not in owners  # Elsa speaks most there: not Anna's scene
    assert characters(per, most=1) == {i: "ANNA" for i in range(4)}
    assert characters(per, most=0) == {}


def test_moods_return_and_the_number_of_themes_is_bounded():
    emotions = [MOODS[i % 4] for i in range(40)]
    themes, motifs = assign_themes(emotions, 0.8)
    assert themes[:4] == list("ABCD") and themes[4:8] == list("ABCD") and motifs == {}  # a returning mood, its theme
    capped, _ = assign_themes(emotions, 1.01, max_themes=3)  # nothing similar enough: capped, then the nearest
    assert len(set(capped)) == 3 and capped[:3] == list("ABC")
    assert len(set(assign_themes(emotions, 1.01)[0])) == 40  # no cap: a tune per cue


def test_a_characters_cues_share_its_letter_whatever_the_mood():
    emotions = [MOODS[i % 4] for i in range(12)]
    owners = {1: "ANNA", 5: "ANNA", 6: "TOMAS", 10: "ANNA", 11: "TOMAS"}
    themes, motifs = assign_themes(emotions, 0.8, owners, max_themes=4)
    anna = next(k for k, v in motifs.items() if v == "ANNA")
    tomas = next(k for k, v in motifs.items() if v == "TOMAS")
    assert {themes[i] for i in (1, 5, 10)} == {anna} and {themes[i] for i in (6, 11)} == {tomas}
    assert len(set(themes)) == 4  # two leitmotifs and two moods: the cap holds


def test_plan_gives_recurring_speakers_their_leitmotif():
    n = 16
    scenes = [Scene(i, 10.0 * i, 10.0 * (i + 1)) for i in range(n)]
    emotions = [MOODS[i % 4] for i in range(n)]
    cast = ["ANNA", "TOMAS", None, "ANNA"]
    captions = [TextSegment(f"{cast[i % 4]}: a line", 10.0 * i + 2, 10.0 * i + 5) for i in range(n) if cast[i % 4]]
    config = PlanConfig(scene_similarity=1.0)  # every shot its own cue
    plan, graph = plan_music(scenes, emotions, COORDS, config, captions=captions)
    letters = {}
    for i, cue in enumerate(plan.cues):
        if cast[i % 4]:
            letters.setdefault(cast[i % 4], set()).add(cue.theme)
    assert all(len(v) == 1 for v in letters.values()) and letters["ANNA"] != letters["TOMAS"]
    anna = next(iter(letters["ANNA"]))
    assert graph.nodes[f"theme:{anna}"]["character"] == "ANNA"
    assert any(note.startswith(f"theme {anna}: the leitmotif of Anna") for note in plan.notes)
    without, _ = plan_music(scenes, emotions, COORDS, PlanConfig(scene_similarity=1.0, leitmotifs=0), captions=captions)
    assert not any("leitmotif" in note for note in without.notes)


@pytest.mark.parametrize("key, value", [("plan.leitmotifs", -1), ("plan.leitmotifs", 27), ("plan.max_themes", -2)])
def test_theme_settings_are_checked(key, value):
    from mm2music.checks import check_settings
    from mm2music.config import load_config
    from mm2music.errors import ConfigError

    with pytest.raises(ConfigError, match=f"{key} {value} is out of range"):
        check_settings(load_config(None, [f"{key}={value}"]), music=False)
