"""The CLI contract: outputs, exit codes, one-line errors, no partial output (issue 2)."""

import json
import os
import subprocess
import sys

import pytest

from mm2music import cli
from tests.conftest import REPO, ffmpeg


def run_cli(capfd, *argv):
    code = cli.main(list(argv))
    out, err = capfd.readouterr()
    return code, out, err


def assert_one_line_error(code, err, match):
    assert code == 1
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got: {err!r}"
    assert lines[0].startswith("error: ")
    assert match in lines[0]


def test_analyze_video_writes_analysis_json(capfd, tmp_path, small_video):
    code, out, err = run_cli(capfd, "--video", str(small_video), "--analyze-only", "--out", str(tmp_path), "-q")
    assert code == 0, err
    data = json.loads((tmp_path / "small" / "analysis.json").read_text())
    assert data["source"].endswith("small.mp4")
    assert data["duration"] == pytest.approx(2.0, abs=1e-3)
    assert data["fps"] == 25.0
    assert isinstance(data["cuts"], list)
    assert data["scenes"][0]["start"] == 0.0 and data["scenes"][-1]["end"] == pytest.approx(2.0, abs=1e-3)
    assert "scene" in out and "wrote" in out
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging leftovers


def test_existing_output_needs_overwrite(capfd, tmp_path, small_video):
    args = ["--video", str(small_video), "--analyze-only", "--out", str(tmp_path), "-q"]
    assert run_cli(capfd, *args)[0] == 0
    marker = tmp_path / "small" / "analysis.json"
    before = marker.read_text()
    code, _, err = run_cli(capfd, *args)
    assert_one_line_error(code, err, "already exists; pass --overwrite")
    assert marker.read_text() == before
    code, _, err = run_cli(capfd, *args, "--overwrite", "--name", "small")
    assert code == 0, err


def test_name_and_text_slug(capfd, tmp_path):
    code, out, err = run_cli(capfd, "--text", "A joyful wedding in the sun!", "--analyze-only", "--out", str(tmp_path), "-q")
    assert code == 0, err
    data = json.loads((tmp_path / "a-joyful-wedding-in-the-sun" / "analysis.json").read_text())
    assert data["kind"] == "text" and len(data["scenes"]) == 1
    code, _, err = run_cli(capfd, "--text", "x", "--name", "../escape", "--out", str(tmp_path), "-q")
    assert_one_line_error(code, err, "not a plain folder name")


def test_captions_alone(capfd, tmp_path):
    code, out, err = run_cli(capfd, "--captions", str(REPO / "data/samples/story.srt"), "--analyze-only", "--out", str(tmp_path), "-q")
    assert code == 0, err
    data = json.loads((tmp_path / "story" / "analysis.json").read_text())
    assert len(data["scenes"]) == 4 and data["duration"] == 20.0
    assert [s["start"] for s in data["scenes"]] == [0.0, 5.0, 10.0, 15.0]


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory, small_video):
    d = tmp_path_factory.mktemp("bad")
    (d / "empty.mp4").write_bytes(b"")
    (d / "notes.mp4").write_text("these are my notes, not a video\n" * 20)
    data = small_video.read_bytes()
    (d / "half.mp4").write_bytes(data[: len(data) // 2])  # moov atom at the end: nothing left to read
    ffmpeg("-f", "lavfi", "-i", "sine=f=440:d=1", "-c:a", "aac", str(d / "voice.mp4"))
    (d / "folder.mp4").mkdir()
    (d / "bad.srt").write_text("1\n00:00:01,000 -> nonsense\nhello\n")
    (d / "bad.vtt").write_text("WEBVTT\n\n00:00:01.000 --> xx\nhello\n")
    (d / "latin1.txt").write_bytes("déjà vu".encode("latin-1"))
    return d


@pytest.mark.parametrize(
    "argv, match",
    [
        (["--video", "{d}/missing.mp4"], "does not exist"),
        (["--video", "{d}/empty.mp4"], "is empty (0 bytes)"),
        (["--video", "{d}/notes.mp4"], "is not a readable video"),
        (["--video", "{d}/half.mp4"], "is not a readable video"),
        (["--video", "{d}/voice.mp4"], "has no video stream"),
        (["--video", "{d}/folder.mp4"], "is a directory"),
        (["--captions", "{d}/bad.srt"], "not valid SRT"),
        (["--captions", "{d}/bad.vtt"], "not valid WebVTT"),
        (["--text-file", "{d}/latin1.txt"], "not valid UTF-8"),
        (["--text", "  "], "is empty"),
        (["--text", "a", "--video", "{d}/notes.mp4"], "not both"),
        (["--set", "cuts.treshold=0.2", "--text", "a"], "did you mean 'threshold'"),
    ],
)
def test_bad_input_one_line_error_no_output(capfd, tmp_path, bad_inputs, argv, match):
    out_dir = tmp_path / "out"
    argv = [a.format(d=bad_inputs) for a in argv] + ["--out", str(out_dir), "--analyze-only"]
    code, out, err = run_cli(capfd, *argv)
    assert_one_line_error(code, err, match)
    assert not out_dir.exists() or not any(out_dir.iterdir())


def test_unreadable_file(capfd, tmp_path, small_video, monkeypatch):
    # Tests run as root, for whom chmod 000 changes nothing: simulate the permission check's answer.
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == str(small_video) else real_access(p, mode))
    code, _, err = run_cli(capfd, "--video", str(small_video), "--out", str(tmp_path / "o"))
    assert_one_line_error(code, err, "not readable (permission denied)")
    assert not (tmp_path / "o").exists()


def test_usage_error_exits_2_and_debug_shows_traceback(tmp_path):
    cmd = [sys.executable, str(REPO / "run_pipeline.py")]
    proc = subprocess.run(cmd + ["--no-such-flag"], capture_output=True, text=True)
    assert proc.returncode == 2
    proc = subprocess.run(cmd + ["--video", str(tmp_path / "nope.mp4"), "--debug"], capture_output=True, text=True)
    assert proc.returncode == 1 and "Traceback" in proc.stderr


def test_flags_always_override_the_config_file(capfd, tmp_path, small_video):
    """Layers, lowest first: defaults < --config YAML < --set < flags; a typed flag wins whatever its value."""
    yaml_file = tmp_path / "mine.yaml"
    yaml_file.write_text("seed: 5\ncuts:\n  threshold: 0.5\n  detector: pyscenedetect\nplan:\n  key: D minor\n"
                         "media:\n  sample_fps: 3.0\n  frame_short_side: 64\n")
    argv = ["--video", str(small_video), "--analyze-only", "-q", "--config", str(yaml_file),
            "--seed", "0",  # a flag equal to its default still beats the file
            "--cut-detector", "mm2music", "--set", "cuts.detector=pyscenedetect",  # flag beats --set
            "--set", "cuts.threshold=0.4",  # --set beats the file
            "--set", "plan.key=Bbm", "--key", "E-flat major"]
    code, _, err = run_cli(capfd, *argv, "--out", str(tmp_path / "o"))
    assert code == 0, err
    config = json.loads((tmp_path / "o" / "small" / "config.json").read_text())
    assert config["seed"] == 0
    assert config["cuts"]["detector"] == "mm2music" and config["cuts"]["threshold"] == 0.4
    assert config["plan"]["key"] == "E-flat major"
    assert config["media"]["sample_fps"] == 3.0  # the file beats the default when no flag is typed
    assert config["media"]["frame_short_side"] == 64
    assert config["output"]["out_dir"] == str(tmp_path / "o")


def test_given_flags_sees_flags_equal_to_their_default():
    argv = ["--seed", "0", "--mix", "keep", "--set", "seed=3", "--overwrite"]
    assert cli.given_flags(cli.build_parser(), argv) == {"seed", "mix", "set", "overwrite"}
    args = cli.build_parser().parse_args(argv)
    assert cli._overrides(args, cli.given_flags(cli.build_parser(), argv)) == [
        "seed=3", "output.overwrite=True", "seed=0", "render.mix=keep"]


def test_bad_stems_format_in_a_config_file_fails_before_any_work(capfd, tmp_path, small_video):
    bad = tmp_path / "bad.yaml"
    bad.write_text("interchange:\n  stems_format: 96k32\n")
    code, _, err = run_cli(capfd, "--video", str(small_video), "--config", str(bad), "--out", str(tmp_path / "o"))
    assert_one_line_error(code, err, "interchange.stems_format '96k32' is not one of ['default', '48k24', 'none']")
    assert not (tmp_path / "o").exists()
