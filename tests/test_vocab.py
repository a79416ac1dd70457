"""One vocabulary: every name the CLI offers is accepted by the settings check and works, and the studio's forms
offer the same names and limits."""

import dataclasses

import pytest

from mm2music import cli, vocab
from mm2music.checks import check_settings
from mm2music.config import Config


def choices(flag):
    action = next(a for a in cli.build_parser()._actions if flag in a.option_strings)
    return tuple(action.choices)


@pytest.mark.parametrize("flag, names", [("--cut-detector", vocab.DETECTORS), ("--encoder", vocab.ENCODERS),
                                         ("--meter", vocab.METERS), ("--mix", vocab.MIXES), ("--stems-format", vocab.STEM_FORMATS)])
def test_the_cli_offers_the_vocabulary(flag, names):
    assert choices(flag) == names


@pytest.mark.parametrize("detector", vocab.DETECTORS)
def test_every_offered_detector_passes_the_settings_check(detector):
    config = Config()
    check_settings(dataclasses.replace(config, cuts=dataclasses.replace(config.cuts, detector=detector)), music=False)


@pytest.mark.parametrize("detector", ["classic", "transnetv2"])
def test_an_offered_detector_scores_a_clip(capfd, tmp_path, small_video, detector):
    import json

    code = cli.main(["--video", str(small_video), "--cut-detector", detector, "--analyze-only", "--config", "debug",
                     "--encoder", "affect", "--out", str(tmp_path), "-q"])
    assert code == 0, capfd.readouterr().err
    assert json.loads((tmp_path / "small" / "analysis.json").read_text())["cut_detector"] == detector


def test_tempo_limits_are_one_set(tmp_path, capfd):
    lo, hi = vocab.TEMPO_FLAG
    code = cli.main(["--text", "calm lake", "--tempo", str(hi + 1), "--analyze-only", "--out", str(tmp_path), "-q"])
    assert code == 1 and f"give beats per minute between {lo:g} and {hi:g}" in capfd.readouterr().err
    from mm2music.types import Cue

    with pytest.raises(Exception, match=f"outside {vocab.CUE_TEMPO[0]:g}-{vocab.CUE_TEMPO[1]:g}"):
        Cue(0, 0.0, 2.0, "C", "major", vocab.CUE_TEMPO[1] + 1, "4/4", 1, "medium", "middle", "mf", "legato", ("piano",),
            "homophonic", "A", "final cadence", "authentic")


def test_the_studio_offers_the_vocabulary(tmp_path):
    from fastapi.testclient import TestClient

    from mm2music.studio.app import Studio, create_app

    client = TestClient(create_app(Studio(tmp_path)), base_url="http://127.0.0.1")
    res = client.get("/api/vocabulary")
    assert res.status_code == 200 and res.json() == vocab.as_json()
    assert res.json()["families"] == list(vocab.FAMILIES) and res.json()["tempo"] == list(vocab.CUE_TEMPO)
