"""Slow tier (deselected by default; run with ``pytest -m real``): the shipped checkpoint, end to end."""

import json

import pytest

from mm2music import cli
from mm2music.music.checkpoint import DEFAULT_CHECKPOINT

pytestmark = [pytest.mark.real, pytest.mark.skipif(not DEFAULT_CHECKPOINT.exists(), reason="no shipped checkpoint")]


def test_sample_scored_with_shipped_checkpoint(capfd, tmp_path):
    code = cli.main(["--sample", "--out", str(tmp_path), "-q"])
    _, err = capfd.readouterr()
    assert code == 0, err
    sheet = json.loads((tmp_path / "sample" / "cue_sheet.json").read_text())
    assert sheet["sync"]["max_ms"] < 10
    assert sheet["muxed"]["streams"] == ["video", "audio"]
    keys_ok = [c["generation"]["key_ok"] for c in sheet["cues"]]
    assert sum(keys_ok) >= len(keys_ok) - 1  # the plan's keys are obeyed
    assert sheet["cues"][-1]["generation"]["cadence"] >= 0.75  # the piece ends on the tonic
