"""The structured set: train tunes restated by the theme rules, labelled as the corpus labels its pieces; no valid or
test tune leaks in; training mixes it in (targets on the restatements only) and can start from a checkpoint."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from mm2music.arrange.theme import SCALES
from mm2music.errors import ConfigError, CorpusError
from mm2music.key import Key
from mm2music.music.attributes import KEY_MODES, density_bin, estimate_keys, register_bin, tempo_band
from mm2music.music.tokenizer import MusicTokenizer, program_family
from mm2music.training.corpora.cache import run_conversion
from mm2music.training.corpora.music21_corpus import _task, convert_music21_task
from mm2music.training.dataset import IGNORE, WindowDataset, load_rows, tokenize_rows
from mm2music.training.structured import StructuredConfig, StructuredSet, build, mixed_batch, read_manifest
from mm2music.training.train import load_train_config, train

REPO = Path(__file__).resolve().parents[2]
DEBUG = REPO / "configs" / "train" / "debug.yaml"
VALID, TEST = "#12", "#15"

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """Eight real tunes of Aird's Airs (16-17 bars) converted by the corpus pipeline: one made 'valid', one 'test', the rest 'train'."""
    root = tmp_path_factory.mktemp("corpus")
    run_conversion(root, [_task("airdsAirs/book1.abc", str(n), None) for n in range(10, 18)], convert_music21_task,
                   workers=1, progress=False)
    manifest = root / "manifest.jsonl"
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    for r in rows:
        r["split"] = "valid" if r["id"].endswith(VALID) else "test" if r["id"].endswith(TEST) else "train"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


@pytest.fixture(scope="module")
def made(corpus, tmp_path_factory):
    """(config, tokenizer, folder) of the structured set of the corpus, 3 restatements per tune."""
    cfg = load_train_config(DEBUG, [f"data.corpus_dir={corpus}", "data.max_pieces=0"])
    tokenizer = MusicTokenizer(cfg.tokenizer)
    out = build(StructuredConfig(pairs_per_tune=3, seed=0, data=cfg.data), tokenizer, tmp_path_factory.mktemp("st") / "set", progress=False)
    return cfg, tokenizer, out


def _examples(folder: Path) -> list[tuple[np.ndarray, int]]:
    arrays = np.load(folder / "examples.npz")
    ids, offsets, starts = arrays["ids"].astype(np.int64), arrays["offsets"], arrays["target_start"]
    return [(ids[offsets[k]:offsets[k + 1]], int(starts[k])) for k in range(len(starts))]


def test_only_train_tunes_are_restated_and_no_held_out_bar_leaks(made, corpus):
    cfg, tokenizer, folder = made
    rows = [json.loads(line) for line in (corpus / "manifest.jsonl").read_text().splitlines()]
    train_ids = {r["id"] for r in rows if r["split"] == "train"}
    held_out = [r for r in rows if r["split"] != "train"]
    manifest = read_manifest(folder)
    assert manifest and {m["piece"] for m in manifest} <= train_ids
    assert len({m["piece"] for m in manifest}) >= 4  # most train tunes carry a restatement
    tokens = {k: np.load(v).astype(np.int64) for k, v in tokenize_rows(rows, corpus, tokenizer, 1, 60000, progress=False).items()}
    held = [tokens[r["id"]] for r in held_out]
    assert len(held) == 2

    def contains(seq: np.ndarray, part: np.ndarray) -> bool:
        return any(np.array_equal(seq[i:i + len(part)], part) for i in np.flatnonzero(seq == part[0]))

    pitch = np.array([tokenizer.token(i).startswith("Pitch_") for i in range(tokenizer.vocab_size)])
    for (ids, start), m in zip(_examples(folder), manifest):
        primer = ids[tokenizer.prefix_length:start]
        tune = tokens[m["piece"]]
        bars = np.flatnonzero(tune == tokenizer.bar_id)
        first, last = m["statement_bars"]
        statement = tune[bars[first]:bars[last]]  # 8 whole bars of its train tune, as written
        assert len(primer) == len(statement) and (statement == tokenizer.bar_id).sum() == 8
        assert np.array_equal(primer[~pitch[primer]], statement[~pitch[statement]])  # the same rhythm and bars
        shifts = {int(tokenizer.token(a)[6:]) - int(tokenizer.token(b)[6:]) for a, b in zip(primer[pitch[primer]], statement[pitch[statement]])}
        assert len(shifts) == 1  # moved as a whole into the restatement's key and register
        assert not any(contains(h, statement) for h in held)  # and in no held-out tune


def test_labels_match_the_written_restatement(made):
    _, tokenizer, folder = made
    manifest = read_manifest(folder)
    transforms, in_key, same_key = set(), [], []
    for (ids, start), m in zip(_examples(folder), manifest):
        cond = tokenizer.conditions_of(ids[: tokenizer.prefix_length].tolist())
        assert cond.to_dict() == m["conditions"]
        restated = ids[start:]
        assert restated[-1] == tokenizer.eos_id and restated[0] == tokenizer.bar_id
        score = tokenizer.decode(restated[:-1].tolist())
        notes = [n for t in score.tracks for n in t.notes]
        q = score.ticks_per_quarter
        quarters = max(n.time + n.duration for n in notes) / q
        assert len(score.tracks) == 1 and program_family(score.tracks[0].program) == cond.families[0]
        tempos = [tokenizer.token(i) for i in restated if tokenizer.token(int(i)).startswith("Tempo_")]
        assert tempo_band(float(tempos[0].split("_")[1])) == cond.tempo_band
        sig = next(tokenizer.token(int(i)) for i in restated if tokenizer.token(int(i)).startswith("TimeSig_"))
        assert sig == f"TimeSig_{cond.time_signature}"
        assert register_bin(float(np.mean([n.pitch for n in notes]))) == cond.register
        # density: notes per quarter over the restatement's length, as the corpus measures it (up to the last note's end)
        assert density_bin(len(notes) / quarters) in (cond.density,)
        tonic, mode = Key.parse(cond.key).pc, Key.parse(cond.key).mode
        scale = {(tonic + s) % 12 for s in SCALES[mode]} | ({(tonic + 11) % 12} if mode == "minor" else set())
        in_key.append(np.mean([n.pitch % 12 in scale for n in notes]))
        tonics, modes, _ = estimate_keys(tokenizer.bar_pitch_classes(restated).sum(0, keepdims=True))
        same_key.append((int(tonics[0]), KEY_MODES[int(modes[0])]) == (tonic, mode))
        transforms.add(m["transform"])
    assert min(in_key) >= 0.75 and np.mean(in_key) >= 0.9, in_key  # in the labelled key (a tune's accidentals kept)
    assert np.mean(same_key) >= 0.8, same_key  # and the key the corpus's analysis reads in the notes
    assert len(transforms) >= 3  # the emotions drawn ask for several of the rules' transformations


def test_windows_target_the_restatements_only(made, corpus):
    cfg, tokenizer, folder = made
    st = StructuredSet(folder, tokenizer)
    real = WindowDataset(load_rows(cfg.data, "train"), tokenizer, cfg.data, progress=False)
    x, y = mixed_batch(real, st, 1.0, 0, 1, range(4), 256)
    starts = {int(st.offsets[k]): int(st.target_start[k]) for k in range(len(st))}
    for row_x, row_y in zip(x.numpy(), y.numpy()):
        seq = np.append(row_x, row_y[-1] if row_y[-1] != IGNORE else -1)
        first = next(iter(k for k in range(len(st)) if np.array_equal(st.ids[st.offsets[k]:st.offsets[k] + 20], seq[:20])))
        target_from = starts[int(st.offsets[first])] - 1  # y[t] is the token after x[t]
        assert (row_y[:target_from] == IGNORE).all()
        assert row_x[target_from + 1] == tokenizer.bar_id and row_y[target_from] == tokenizer.bar_id
    x0, y0 = mixed_batch(real, st, 0.0, 0, 1, range(4), 256)
    xr, yr = real.batch(0, 1, range(4), 256)
    assert torch.equal(x0, xr) and torch.equal(y0, yr)  # share 0: the real windows, as before


def test_a_run_starts_from_a_checkpoint_and_mixes_the_set(made, corpus, tmp_path):
    cfg, tokenizer, folder = made
    base = [f"data.corpus_dir={corpus}", f"runs_dir={tmp_path}", "threads=1", "log_every=1", "eval_every=2", "ckpt_every=2"]
    first = train(load_train_config(DEBUG, base + ["steps=2"]), run_dir=tmp_path / "a", progress=False)
    tuned = train(load_train_config(DEBUG, base + ["steps=2", f"init={first / 'checkpoints' / 'best'}", "optim.lr=0", "optim.min_lr=0",
                                                   "data.structured_share=0.5", f"data.structured_dir={folder}"]),
                  run_dir=tmp_path / "b", progress=False)
    start = load_file(str(first / "checkpoints" / "best" / "model.safetensors"))
    end = load_file(str(tuned / "checkpoints" / "step-0000002" / "model.safetensors"))
    assert all(torch.equal(start[k], end[k]) for k in end)  # lr 0: the weights it started from
    info = json.loads((tuned / "run.json").read_text())
    assert info["init"].endswith("best") and info["structured"]["share"] == 0.5 and info["structured"]["examples"] == len(read_manifest(folder))
    with pytest.raises(ConfigError, match="model.n_embd=32, this config has 64"):
        train(load_train_config(DEBUG, base + ["steps=1", "model.n_embd=64", f"init={first / 'checkpoints' / 'best'}"]),
              run_dir=tmp_path / "c", progress=False)


def test_a_set_made_for_another_tokenizer_is_refused(made):
    _, tokenizer, folder = made
    other = MusicTokenizer(dataclasses.replace(tokenizer.settings, max_families=2))
    with pytest.raises(CorpusError, match="made for tokenizer .* make it again"):
        StructuredSet(folder, other)
