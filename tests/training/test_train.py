"""Training: a tiny model overfits, a killed run resumes to the same weights, DDP with 2 processes
computes what one process does, a run exports a loadable checkpoint with a model card."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from mm2music.errors import ConfigError
from mm2music.music.checkpoint import load_checkpoint
from mm2music.training.corpora.cache import run_conversion
from mm2music.training.corpora.music21_corpus import _task, convert_music21_task
from mm2music.music.attributes import KEY_MODES, estimate_keys, tonic_name
from mm2music.music.tokenizer import MusicTokenizer, TokenizerSettings
from mm2music.training.dataset import DataConfig, WindowDataset, load_rows, window_key_indices
from mm2music.training.train import evaluate_split, export_run, load_train_config, train

REPO = Path(__file__).resolve().parents[2]
DEBUG = REPO / "configs" / "train" / "debug.yaml"


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """Six real pieces (a Bach chorale, five Essen tunes) converted by the corpus pipeline; one made 'valid'."""
    root = tmp_path_factory.mktemp("corpus")
    tasks = [_task("bach/bwv66.6.mxl", None, None)] + [_task("essenFolksong/erk10.abc", str(n), None) for n in range(65, 70)]
    run_conversion(root, tasks, convert_music21_task, workers=1, progress=False)
    manifest = root / "manifest.jsonl"
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    for r in rows:
        r["split"] = "valid" if r["id"].endswith("#69") else "train"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def overrides(corpus: Path, runs: Path, *extra: str) -> list[str]:
    return [f"data.corpus_dir={corpus}", f"runs_dir={runs}", "threads=1", *extra]


def metric_rows(run: Path) -> list[dict]:
    with (run / "metrics.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def final_weights(run: Path) -> dict:
    latest = (run / "checkpoints" / "LATEST").read_text().strip()
    return load_file(str(run / "checkpoints" / latest / "model.safetensors"))


def test_tiny_model_overfits_a_tiny_set(corpus, tmp_path):
    cfg = load_train_config(DEBUG, overrides(corpus, tmp_path, "steps=100", "data.max_pieces=2", "data.max_shift=0",
                                             "model.n_embd=64", "log_every=10", "eval_every=50", "ckpt_every=50"))
    run = train(cfg, progress=False)
    losses = [float(r["train_loss"]) for r in metric_rows(run)]
    assert losses[-1] < 0.35 * losses[0], losses
    info = json.loads((run / "run.json").read_text())
    assert info["seed"] == 0 and len(info["manifest_sha256"]) == 64 and info["git_commit"]
    assert info["pieces"] == {"train": 2, "valid": 1}
    assert (run / "config.yaml").exists() and (run / "tb").is_dir() and (run / "train.log").exists()


def test_killed_run_resumes_to_the_same_weights(corpus, tmp_path):
    args = overrides(corpus, tmp_path / "a", "steps=40", "log_every=2", "eval_every=10", "ckpt_every=10")
    straight = train(load_train_config(DEBUG, args), progress=False)

    killed = tmp_path / "b" / "run"
    cmd = [sys.executable, str(REPO / "pipelines" / "train.py"), "--config", str(DEBUG), "--run-dir", str(killed),
           "--no-progress", *sum((["--set", a] for a in overrides(corpus, tmp_path / "b", *args[3:])), [])]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:  # kill between checkpoints: after step 14, the last checkpoint is 10
            if (killed / "metrics.csv").exists() and any(r["step"] == "14" for r in metric_rows(killed)):
                break
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert (killed / "checkpoints" / "LATEST").read_text().strip() in ("step-0000010", "step-0000020")

    train(load_train_config(killed / "config.yaml"), run_dir=killed, resume=True, progress=False)
    a, b = final_weights(straight), final_weights(killed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    cols = ["step", "tokens", "lr", "train_loss", "grad_norm", "valid_nll"]
    assert [[r[c] for c in cols] for r in metric_rows(straight)] == [[r[c] for c in cols] for r in metric_rows(killed)]


def test_ddp_with_two_processes_matches_one_process(corpus, tmp_path):
    args = overrides(corpus, tmp_path, "steps=6", "log_every=2", "eval_every=6", "ckpt_every=6", "bf16=false")
    single = train(load_train_config(DEBUG, args), run_dir=tmp_path / "single", progress=False)
    ddp_dir = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(REPO / "pipelines" / "train.py"), "--config", str(DEBUG), "--run-dir", str(ddp_dir), "--no-progress",
           *sum((["--set", a] for a in args), [])]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((ddp_dir / "run.json").read_text())["world_size"] == 2
    a, b = final_weights(single), final_weights(ddp_dir)
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=2e-5, rtol=1e-4)


def test_export_writes_a_loadable_checkpoint_and_card(corpus, tmp_path):
    run = train(load_train_config(DEBUG, overrides(corpus, tmp_path, "steps=10", "eval_every=5", "ckpt_every=5")), progress=False)
    out = export_run(run, tmp_path / "checkpoints" / "music21")
    assert sorted(p.name for p in out.iterdir()) == ["MODEL_CARD.md", "config.json", "model.safetensors", "tokenizer.json", "training_data.json"]
    model, tok, config = load_checkpoint(out)
    assert config["training"]["step"] in (5, 10) and config["training"]["manifest_sha256"]
    card = (out / "MODEL_CARD.md").read_text()
    assert "valid NLL" in card and "tokens seen" in card
    assert "## Training data and its terms" in card  # every collection trained on, with what its files allow
    record = json.loads((out / "training_data.json").read_text())
    assert record["collections"]
    # the families of the train pieces (a Bach chorale's choir, Essen's flute) travel with the checkpoint
    assert config["training"]["families"] == record["families"] == {"pipe": 4, "ensemble": 1} == tok.families_seen
    assert "Instrument families of the train pieces" in card and "pipe 4, ensemble 1" in card
    held_out = evaluate_split(model, tok, DataConfig(corpus_dir=str(corpus)), "valid")
    assert held_out["pieces"] == 1 and 0 < held_out["nll_per_token"] < 7 and not model.training


def test_config_errors_name_the_fix(corpus, tmp_path):
    with pytest.raises(ConfigError, match="unknown config key 'model.n_layers'; did you mean 'n_layer'"):
        load_train_config(DEBUG, ["model.n_layers=3"])
    with pytest.raises(ConfigError, match=r"ckpt_every \(7\) and eval_every \(10\) must be multiples of log_every \(5\)"):
        load_train_config(DEBUG, ["ckpt_every=7"])
    with pytest.raises(ConfigError, match="over the 30 MB checkpoint budget"):
        train(load_train_config(DEBUG, overrides(corpus, tmp_path, "model.n_embd=1024", "model.n_layer=3")), progress=False)


def test_window_key_labels_follow_the_bars_they_start(corpus):
    """With key_window_bars, a window's key token is the key of its own first bars (transposed with it)."""
    per_bar = np.zeros((6, 12))
    per_bar[:3, [0, 4, 7]] = 1.0  # three bars of C major triads, then A minor with its leading tone
    per_bar[3:, [9, 0, 4, 8]] = 1.0
    assert window_key_indices(per_bar, 2).tolist() == [0, 0, 0, 21, 21, 21]  # C major = 0, A minor = 9 + 12

    tok = MusicTokenizer()
    cfg = DataConfig(corpus_dir=str(corpus), key_window_bars=4, max_shift=3)
    ds = WindowDataset(load_rows(cfg, "train"), tok, cfg, progress=False)
    checked = 0
    for k, p in enumerate(ds.pieces):
        for bar in range(0, len(p.bars), 3):
            tonic, mode, _ = estimate_keys(tok.bar_pitch_classes(p.ids[p.bars[bar]:])[:4].sum(axis=0))
            mode_name = KEY_MODES[mode]
            for shift in (-2, 0, 3):
                key_token = tok.token(ds._prefix(k, shift, bar)[1])
                assert key_token == f"Key_{tonic_name(tonic + shift, mode_name)}_{mode_name}"
                checked += 1
    assert checked > 30


def test_opening_slot_marks_windows_that_start_a_piece(corpus):
    """With tokenizer.opening_slot, a window's prefix says Opening_yes where it starts at a piece's first bar
    (and so does every piece packed after it), Opening_no where it starts inside a piece."""
    tok = MusicTokenizer(TokenizerSettings(opening_slot=True))
    assert tok.remi_hash == MusicTokenizer().remi_hash  # same REMI ids: one token cache for both
    cfg = DataConfig(corpus_dir=str(corpus), max_shift=3)
    ds = WindowDataset(load_rows(cfg, "train"), tok, cfg, progress=False)
    opening = tok.prefix_length - 2
    assert tok.token(ds._prefix(0, 0, 0)[opening]) == "Opening_yes"
    assert tok.token(ds._prefix(0, 0, 2)[opening]) == "Opening_no"
    starts_seen = set()
    for item in range(40):
        w = ds.window(seed=0, step=0, item=item, length=600)
        bos = np.flatnonzero(w == tok.bos_id)
        flags = [tok.token(w[b + opening]) for b in bos if b + opening < len(w)]
        starts_seen.add(flags[0])
        assert all(f == "Opening_yes" for f in flags[1:])  # packed pieces start from their first bar
    assert starts_seen == {"Opening_yes", "Opening_no"}
