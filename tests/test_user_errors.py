"""Small user mistakes, each one line that says what is wrong (not something else), exit 1, nothing written."""

import os
import shutil
from pathlib import Path

import pytest

from mm2music import cli
from tests.test_cli import assert_one_line_error
from tests.test_revise import scored  # noqa: F401  (fixture: a scored three-cue project)

FAST = ["--config", "debug", "--encoder", "affect", "-q"]


def run_cli(capfd, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capfd.readouterr()
    return code, out, err


def test_an_edit_list_that_is_a_pipe_is_called_a_pipe(capfd, tmp_path):
    fifo = tmp_path / "cuts.edl"
    os.mkfifo(fifo)
    code, _, err = run_cli(capfd, "--text", "calm lake", "--cuts-from", fifo, "--analyze-only", "--out", tmp_path / "out", *FAST)
    assert_one_line_error(code, err, f"--cuts-from '{fifo}' is a pipe, not a regular file")
    assert not (tmp_path / "out").exists()


def test_binary_captions_are_called_captions(capfd, tmp_path):
    srt = tmp_path / "film.srt"
    srt.write_bytes(bytes(range(128, 256)) * 4)
    code, _, err = run_cli(capfd, "--captions", srt, "--analyze-only", "--out", tmp_path / "out", *FAST)
    assert_one_line_error(code, err, f"captions '{srt}' are not valid UTF-8 (byte ")
    assert "text file" not in err and not (tmp_path / "out").exists()


def test_lock_of_a_cue_that_does_not_exist_names_lock(capfd, scored, tmp_path, tiny_checkpoint, three_shots):
    folder = tmp_path / "film"
    shutil.copytree(scored, folder)
    code, _, err = run_cli(capfd, "--video", three_shots, "--checkpoint", tiny_checkpoint, "--config", "debug", "--out", tmp_path,
                           "--name", "film", "--set", "plan.scene_similarity=1", "--overwrite", "--lock", "99", "-q")
    assert_one_line_error(code, err, "--lock 99 does not exist; film has cues 1-3")
    assert "--cue" not in err


@pytest.mark.parametrize("seed", ["-7", str(2**32)])
def test_revise_refuses_a_seed_the_main_cli_refuses(capfd, scored, tmp_path, seed):
    folder = tmp_path / "film"
    shutil.copytree(scored, folder)
    code, _, err = run_cli(capfd, "revise", folder, "--cue", "1", "--seed", seed, "-q")
    assert_one_line_error(code, err, f"--seed {seed} is out of range; give a whole number from 0 to {2**32 - 1}")
    code, _, err = run_cli(capfd, "revise", folder, "--cue", "1", "--variations", "2", "--seed", seed, "-q")
    assert_one_line_error(code, err, f"--seed {seed} is out of range")
    assert not (folder / "history").exists() and not (folder / "variations").exists()


def test_a_config_over_weights_saved_without_one_is_checked_by_the_probe(capfd, tmp_path, tiny_checkpoint):
    """The shipped weights carry no model config (saved before that was recorded): its probe.json records what
    they compute, so a config.json edited to 4 heads over weights trained with 2 is refused, not run as noise."""
    import json

    import torch
    from safetensors.torch import load_file, save_file

    from mm2music.music.checkpoint import DEFAULT_CHECKPOINT, PROBE, load_checkpoint, save_checkpoint, write_probe

    assert (DEFAULT_CHECKPOINT / PROBE).is_file()
    load_checkpoint(DEFAULT_CHECKPOINT)  # the shipped config agrees with its probe
    model, tokenizer, _ = load_checkpoint(tiny_checkpoint)
    with torch.no_grad():  # attention that matters, as after training (at random init it barely moves the output)
        for block in model.h:
            block.attn.c_attn.weight.mul_(10)
            block.attn.c_proj.weight.mul_(10)
    bad = save_checkpoint(tmp_path / "old-format", model, tokenizer)
    save_file(load_file(str(bad / "model.safetensors")), str(bad / "model.safetensors"), metadata={"format": "mm2music-music-decoder"})
    write_probe(bad)
    config = json.loads((bad / "config.json").read_text())
    config["model"]["n_head"] = 4
    (bad / "config.json").write_text(json.dumps(config))
    code, _, err = run_cli(capfd, "--text", "A storm at sea", "--checkpoint", bad, "--out", tmp_path / "out", *FAST)
    assert_one_line_error(code, err, f"n_head is 4 in '{bad / 'config.json'}' but the weights were saved with 2; "
                                     "restore the checkpoint's own config.json")
    assert not (tmp_path / "out").exists()


EDL_HEAD = "TITLE: test\nFCM: NON-DROP FRAME\n\n"


@pytest.mark.parametrize("events, message", [
    (["001  AX       V     C        00:00:00:00 90:00:00:00 01:00:00:00 91:00:00:00"],
     "the edit list 'cuts.edl' lasts 324000 s, longer than the 10800 s (3 h) mm2music scores"),
    (["001  AX       V     C        00:00:00:00 00:00:00:05 01:00:00:00 01:00:00:05"],
     "the edit list 'cuts.edl' lasts 0.20 s, too short for a bar of music; the minimum is 1 s"),
    (["001  AX       V     C        00:00:00:00 00:00:05:00 01:00:00:00 01:00:05:00",
      "002  AX       V     C        00:00:10:00 00:00:05:00 01:00:10:00 01:00:05:00"],
     "event 002 of the edit list 'cuts.edl' ends before it starts (-5 s long)"),
])
def test_a_text_scored_on_an_edit_list_keeps_the_limits(capfd, tmp_path, events, message):
    edl = tmp_path / "cuts.edl"
    edl.write_text(EDL_HEAD + "\n".join(events) + "\n")
    code, _, err = run_cli(capfd, "--text", "calm lake", "--cuts-from", edl, "--edl-rate", "25", "--analyze-only",
                           "--out", tmp_path / "out", *FAST)
    assert_one_line_error(code, err, message)
    assert not (tmp_path / "out").exists()


def test_importing_the_cli_changes_no_environment():
    """The library's offline settings are applied when a command runs, not when a module is imported."""
    import subprocess
    import sys

    from tests.conftest import REPO

    code = ("import os; before = dict(os.environ); import mm2music.cli, mm2music.pipeline, mm2music.revise; "
            "changed = sorted(k for k in os.environ if os.environ.get(k) != before.get(k)); print(changed); "
            "mm2music.cli.offline_environment(); print(os.environ['HF_HUB_OFFLINE'])")
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TOKENIZERS_PARALLELISM",
                                                           "OPENCV_LOG_LEVEL", "OPENCV_FFMPEG_LOGLEVEL")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env, check=True).stdout
    assert out.splitlines() == ["[]", "1"]


def test_a_shipped_checkpoint_is_found_by_name_from_any_folder(tmp_path, monkeypatch):
    from mm2music.checks import check_settings
    from mm2music.config import load_config

    monkeypatch.chdir(tmp_path)  # no checkpoints/ folder here
    config = check_settings(load_config(None, ["music.checkpoint=music21-open"]))
    assert Path(config.music.checkpoint, "model.safetensors").is_file()
    assert check_settings(load_config(None)).music.checkpoint is None  # the default stays the default
