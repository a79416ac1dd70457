"""Spotting: silence where the words ask for it, dialogue-dense cues unscored or thin; action readings scored as action."""

from __future__ import annotations

import pytest

from mm2music.checks import check_settings
from mm2music.config import Config
from mm2music.errors import ConfigError
from mm2music.graph.plan import is_flight, plan_music
from mm2music.graph.spotting import MAX_SILENCE_S, silence_spans, spot
from mm2music.types import Emotion, Scene, TextSegment
from tests.graph.test_plan import COORDS, emotion


def plan3():
    scenes = [Scene(0, 0, 6), Scene(1, 6, 12), Scene(2, 12, 18)]
    emotions = [emotion(-0.7, -0.3, grief=1.0), emotion(0.6, -0.5, serenity=1.0), emotion(-0.7, -0.3, grief=1.0)]
    return plan_music(scenes, emotions, COORDS)[0]


def test_words_that_ask_for_silence():
    captions = [TextSegment("A quiet morning.", 0.0, 4.0), TextSegment("They stand in silence.", 5.0, 9.0)]
    assert silence_spans(captions, 10.0) == [(5.0, 9.0)]  # "quiet" is soft music, not silence
    text = "Rain fell on the umbrellas. The family stood in silence by the grave. They walked home."
    (a, b), = silence_spans([TextSegment(text, 0.0, 30.0)], 30.0)
    assert 5 < a < 12 and a < b <= a + MAX_SILENCE_S  # the asking sentence's share of the text, then music again
    assert silence_spans([TextSegment("A bright dance in the sun.", 0.0, 30.0)], 30.0) == []


def test_spotting_dialogue_and_silence():
    plan = plan3()
    speech = [(0.2, 5.5), (6.0, 8.5)]  # cue 1: 88% speech; cue 2: 42%
    spotted = spot(plan, [TextSegment("Nobody speaks; not a sound.", 13.0, 15.0)], speech)
    c1, c2, c3 = spotted.cues
    assert c1.spotting == "tacet" and "dense dialogue (88%" in c1.spotting_reason and c1.catches == ()
    assert c2.spotting == "thin" and "42%" in c2.spotting_reason
    assert c3.spotting == "" and c3.silences == ((13.0, 15.0),) and "silence" in c3.spotting_reason
    assert spot(plan, [TextSegment("in silence", 13.0, 15.0)], speech, mode="full") == plan
    assert spot(plan) == plan  # no dialogue known, no words: every cue scored as planned


def test_spotting_setting_is_checked():
    config = Config()
    config.plan.spotting = "some"
    with pytest.raises(ConfigError, match="plan.spotting 'some' is not known; choose auto or full"):
        check_settings(config, music=False)


def test_a_chase_is_scored_as_action_and_dread_stays_slow():
    chase = Emotion(-0.82, 0.63, {"fear": 0.9, "sadness": 0.05, "suspense": 0.05})
    dread = Emotion(-0.43, 0.46, {"suspense": 0.73, "dread": 0.2, "mystery": 0.07})
    assert is_flight(chase) and not is_flight(dread)
    coords = {**COORDS, "suspense": (-0.3, 0.4), "dread": (-0.6, 0.3), "mystery": (0.0, 0.2), "sadness": (-0.7, -0.4)}
    c = plan_music([Scene(0, 0, 20)], [chase], coords)[0].cues[0]
    d = plan_music([Scene(0, 0, 20)], [dread], coords)[0].cues[0]
    assert 140 <= c.tempo_bpm <= 180 and c.figure == "driving" and c.dynamics in ("f", "ff")
    assert {"brass", "percussion"} <= set(c.instruments)
    assert d.tempo_bpm <= 90 and d.figure != "driving"


def test_spotting_flag_maps_to_the_plan():
    from mm2music import cli

    argv = ["--text", "a funeral", "--spotting", "full"]
    args = cli.build_parser().parse_args(argv)
    assert cli._overrides(args, cli.given_flags(cli.build_parser(), argv)) == ["plan.spotting=full"]
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["--text", "x", "--spotting", "some"])


def test_spotted_cue_round_trips_through_the_project_json():
    import json

    from mm2music.project import cue_from_json, cue_to_json

    cue = spot(plan3(), [TextSegment("in silence", 1.0, 3.0)], [(6.0, 8.5)]).cues[0]
    again = cue_from_json(json.loads(json.dumps(cue_to_json(cue))), "cues/01.json")
    assert again.silences == cue.silences == ((1.0, 3.0),) and again.spotting_reason == cue.spotting_reason
