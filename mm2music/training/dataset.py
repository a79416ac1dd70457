"""Training data: manifest pieces -> cached REMI token arrays -> packed, transposed, conditioned windows.

- Every piece is tokenized once; its REMI ids are cached as ``<corpus dir>/tokens-<REMI hash>/<id>.npy``
  (uint16), so a tokenizer with other REMI settings gets a fresh cache and one that differs only in its
  prefix reuses it.
- A training window starts at a bar boundary of a random piece, with that piece's condition prefix in
  front, transposed by a random shift that keeps every pitch inside the tokenizer's range (so every key
  is seen; the key and register conditions move with it). When the piece ends, ``EOS`` follows and the
  next random piece starts from its first bar with its own prefix (packing: no padding).
- The batch at a step is a pure function of ``(seed, step, item)``: no sampler state to save, resuming
  reproduces the uninterrupted run's data order, and DDP ranks just take different items.
- Targets on condition tokens are ignored (``-100``): the model is asked to follow conditions, not guess them.
- With ``key_window_bars = K`` the key token of a window is the key of the K bars it starts with (music21's
  analysis, read off the tokens with the same estimator that labelled the piece), not the piece's key:
  music that modulates, or a tune whose 8-bar opening reads in another key than its whole, otherwise teaches
  the model that a key token means "somewhere in this piece" (on the held-out set, the analysis of the first
  8 bars agrees with the 64-bar piece label only ~81% of the time). The other conditions stay the piece's.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from mm2music.errors import CorpusError
from mm2music.music.attributes import KEY_MODES, tonic_name
from mm2music.music.tokenizer import Conditions, MusicTokenizer, TokenizerSettings

log = logging.getLogger(__name__)

IGNORE = -100


@dataclass
class DataConfig:
    corpus_dir: str = ""  # converted corpus (manifest.jsonl + midi/); "" = music21's in the user cache
    sources: list[str] = field(default_factory=list)  # keep only these manifest sources ([] = all)
    max_pieces: int = 0  # first N train pieces by id (0 = all); the debug config uses a handful
    max_tokens_per_piece: int = 60000  # longer pieces are cut (a few huge scores would dominate)
    key_window_bars: int = 0  # key token = key of the window's first K bars (0 = the piece's key, as labelled)
    max_shift: int = 6  # random transposition in [-max_shift, max_shift] semitones (12 keys reachable)
    eval_windows: int = 128  # valid windows (the first window of each valid piece, sorted by id)
    workers: int = 2  # processes for the one-time tokenization
    # the structured set of restated themes (mm2music/training/structured.py) mixed in: this share of the windows
    # (0 = none) from this folder ("" = beside the corpus, keyed by the tokenizer)
    structured_share: float = 0.0
    structured_dir: str = ""


def resolve_corpus_dir(config: DataConfig) -> Path:
    if config.corpus_dir:
        return Path(config.corpus_dir).expanduser()
    from mm2music.training.corpora import music21_cache_dir

    return music21_cache_dir()


def manifest_hash(corpus_dir: Path) -> str:
    """sha256 of the manifest file (recorded in every run: which data it saw)."""
    path = corpus_dir / "manifest.jsonl"
    if not path.exists():
        raise CorpusError(f"no manifest at '{path}'; run `python pipelines/prepare_corpus.py --corpus music21` first")
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_rows(config: DataConfig, split: str) -> list[dict]:
    """Manifest rows of one split, sorted by id, filtered by source, limited to ``max_pieces``."""
    from mm2music.training.corpora import read_manifest

    corpus_dir = resolve_corpus_dir(config)
    rows = [r for r in read_manifest(corpus_dir) if r.get("split") == split]
    if config.sources:
        rows = [r for r in rows if r.get("source") in config.sources]
    rows.sort(key=lambda r: r["id"])
    if config.max_pieces:
        rows = rows[: config.max_pieces]
    return rows


def _cache_name(piece_id: str) -> str:
    digest = hashlib.sha1(piece_id.encode()).hexdigest()[:10]
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in piece_id)[-80:]
    return f"{safe}.{digest}.npy"


_WORKER_TOKENIZER: MusicTokenizer | None = None


def _tokenize_one(args: tuple[dict, str, str, int]) -> tuple[str, str | None]:
    settings, midi_path, out_path, limit = args
    global _WORKER_TOKENIZER
    if _WORKER_TOKENIZER is None or _WORKER_TOKENIZER.settings != TokenizerSettings(**settings):
        _WORKER_TOKENIZER = MusicTokenizer(TokenizerSettings(**settings))
    try:
        ids = np.asarray(_WORKER_TOKENIZER.encode_music(midi_path)[:limit], dtype=np.uint16)
    except Exception as exc:  # an unreadable piece is skipped and counted, never fatal
        return out_path, f"{type(exc).__name__}: {exc}".splitlines()[0]
    tmp = f"{out_path}.{os.getpid()}.tmp.npy"
    np.save(tmp, ids)
    os.replace(tmp, out_path)
    return out_path, None


def token_cache_dir(corpus_dir: Path, tokenizer: MusicTokenizer) -> Path:
    return corpus_dir / f"tokens-{tokenizer.remi_hash}"


def tokenize_rows(rows: list[dict], corpus_dir: Path, tokenizer: MusicTokenizer, workers: int = 2,
                  limit: int = 60000, progress: bool = True) -> dict[str, Path]:
    """Make sure every row has a cached token array; returns id -> .npy path (failed pieces are left out)."""
    from tqdm import tqdm

    cache = token_cache_dir(corpus_dir, tokenizer)
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "tokenizer.json").exists() or tokenizer.save(cache / "tokenizer.json")
    failures_path = cache / "failures.json"
    failures = json.loads(failures_path.read_text()) if failures_path.exists() else {}
    paths = {r["id"]: cache / _cache_name(r["id"]) for r in rows}
    todo = [r for r in rows if not paths[r["id"]].exists() and r["id"] not in failures]
    if todo:
        log.info("tokenizing %d pieces into %s", len(todo), cache)
        settings = {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(tokenizer.settings).items()}
        jobs = [(settings, str(corpus_dir / r["path"]), str(paths[r["id"]]), limit) for r in todo]
        by_path = {str(paths[r["id"]]): r["id"] for r in todo}
        bar = tqdm(total=len(jobs), desc="tokenize", unit="piece", disable=not progress, mininterval=2.0)
        if workers > 1 and len(jobs) > 50:
            with ProcessPoolExecutor(workers) as pool:
                results = pool.map(_tokenize_one, jobs, chunksize=16)
                for out, err in results:
                    bar.update()
                    if err:
                        failures[by_path[out]] = err
        else:
            for job in jobs:
                out, err = _tokenize_one(job)
                bar.update()
                if err:
                    failures[by_path[out]] = err
        bar.close()
        failures_path.write_text(json.dumps(failures, indent=1, sort_keys=True))
    if failures:
        log.info("%d pieces could not be tokenized and are skipped (see %s)", len(failures), failures_path)
    return {k: p for k, p in paths.items() if k not in failures and p.exists()}


@dataclass
class Piece:
    id: str
    ids: np.ndarray  # (N,) REMI ids, int64
    bars: np.ndarray  # indices of Bar tokens
    conditions: Conditions
    pitch_mean: float | None
    pitch_lo: int  # lowest / highest MIDI pitch of the pitched notes
    pitch_hi: int
    window_keys: np.ndarray | None = None  # (bars,) key index (tonic + 12 * mode, -1 = none) from each bar on


def window_key_indices(bar_pcs: np.ndarray, window: int) -> np.ndarray:
    """Key index (tonic + 12 * mode; -1 without pitched notes) of bars ``[b, b + window)`` for every bar ``b``."""
    from mm2music.music.attributes import estimate_keys

    cum = np.concatenate([np.zeros((1, 12)), np.cumsum(bar_pcs, axis=0)])
    ends = np.minimum(np.arange(len(bar_pcs)) + window, len(bar_pcs))
    tonic, mode, _ = estimate_keys(cum[ends] - cum[: len(bar_pcs)])
    return np.where(tonic >= 0, tonic + 12 * mode, -1)


class WindowDataset:
    """Pieces of one split in memory, and the window sampler described in the module docstring."""

    def __init__(self, rows: list[dict], tokenizer: MusicTokenizer, config: DataConfig, progress: bool = True):
        corpus_dir = resolve_corpus_dir(config)
        self.tokenizer = tokenizer
        self.config = config
        paths = tokenize_rows(rows, corpus_dir, tokenizer, config.workers, config.max_tokens_per_piece, progress)
        self.pieces: list[Piece] = []
        for r in rows:
            if r["id"] not in paths:
                continue
            ids = np.load(paths[r["id"]]).astype(np.int64)
            bars = np.flatnonzero(ids == tokenizer.bar_id)
            if len(bars) == 0:
                continue
            a = r["attributes"]
            window_keys = None
            if config.key_window_bars:
                window_keys = window_key_indices(tokenizer.bar_pitch_classes(ids[bars[0]:]), config.key_window_bars)
            self.pieces.append(Piece(
                id=r["id"], ids=ids, bars=bars, conditions=Conditions.from_attributes(a),
                pitch_mean=a.get("pitch_mean"),
                pitch_lo=a.get("pitch_min") if a.get("pitch_min") is not None else 60,
                pitch_hi=a.get("pitch_max") if a.get("pitch_max") is not None else 60,
                window_keys=window_keys,
            ))
        if not self.pieces:
            raise CorpusError(f"no usable pieces among {len(rows)} manifest rows in '{corpus_dir}'; check the corpus conversion")
        lengths = np.array([len(p.ids) for p in self.pieces], dtype=np.float64)
        self.n_tokens = int(lengths.sum())
        self._cum = np.cumsum(lengths / lengths.sum())  # pieces drawn in proportion to their length
        self.table, shifts = tokenizer.transposition_table(config.max_shift)
        self._lo_pitch, self._hi_pitch = tokenizer.settings.pitch_range
        self._prefix_cache: dict[tuple[int, int, int], list[int]] = {}
        self._music_limit = tokenizer.remi_vocab_size

    def __len__(self) -> int:
        return len(self.pieces)

    def _prefix(self, k: int, shift: int, bar: int = 0) -> list[int]:
        """Condition prefix of piece ``k`` transposed by ``shift``, for a window starting at its bar ``bar``
        (``opening`` says whether that is the piece's first bar, where a pickup may leave the bar half empty)."""
        p = self.pieces[k]
        key_index = -1 if p.window_keys is None or bar >= len(p.window_keys) else int(p.window_keys[bar])
        cache_key = (k, shift, key_index, bar == 0)
        if cache_key not in self._prefix_cache:
            conditions = dataclasses.replace(p.conditions, opening=bar == 0)
            if key_index >= 0:
                mode = KEY_MODES[key_index // 12]
                conditions = dataclasses.replace(conditions, key=f"{tonic_name(key_index % 12, mode)} {mode}")
            self._prefix_cache[cache_key] = self.tokenizer.prefix(conditions.transposed(shift, p.pitch_mean))
        return self._prefix_cache[cache_key]

    def _shift_range(self, p: Piece) -> tuple[int, int]:
        m = self.config.max_shift
        return max(-m, self._lo_pitch - p.pitch_lo), min(m, self._hi_pitch - 1 - p.pitch_hi)

    def _draw_piece(self, rng: np.random.Generator) -> int:
        return min(int(np.searchsorted(self._cum, rng.random(), side="right")), len(self.pieces) - 1)

    def window(self, seed: int, step: int, item: int, length: int) -> np.ndarray:
        """``length + 1`` token ids of training item ``item`` at ``step`` (deterministic)."""
        rng = np.random.default_rng([seed, step, item])
        out: list[np.ndarray] = []
        n = 0
        first = True
        while n < length + 1:
            k = self._draw_piece(rng)
            p = self.pieces[k]
            lo, hi = self._shift_range(p)
            shift = int(rng.integers(lo, hi + 1)) if hi >= lo else 0
            bar = int(rng.integers(len(p.bars))) if first else 0
            start = int(p.bars[bar]) if first else 0
            body = self.table[shift + self.config.max_shift][p.ids[start:]]
            chunk = np.concatenate([np.asarray(self._prefix(k, shift, bar)), body, [self.tokenizer.eos_id]])
            out.append(chunk)
            n += len(chunk)
            first = False
        return np.concatenate(out)[: length + 1]

    def batch(self, seed: int, step: int, items: range, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(x, y) of shape (len(items), length); y is x shifted by one with condition targets ignored."""
        seqs = torch.from_numpy(np.stack([self.window(seed, step, i, length) for i in items]))
        x, y = seqs[:, :-1].clone(), seqs[:, 1:].clone()
        y[(y >= self._music_limit) | (y == self.tokenizer.bos_id)] = IGNORE
        return x, y

    def eval_batches(self, length: int, batch_size: int, limit: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Fixed valid windows: each piece's first ``length`` tokens after its prefix, untransposed, padded."""
        rows_x, rows_y = [], []
        for k, p in enumerate(self.pieces[:limit]):
            seq = np.concatenate([np.asarray(self._prefix(k, 0)), p.ids[:length + 1 - self.tokenizer.prefix_length]])
            x = np.full(length, self.tokenizer.pad_id)
            y = np.full(length, IGNORE)
            x[: len(seq) - 1] = seq[:-1]
            y[: len(seq) - 1] = seq[1:]
            y[(y >= self._music_limit) | (y == self.tokenizer.bos_id)] = IGNORE
            rows_x.append(x)
            rows_y.append(y)
        out = []
        for i in range(0, len(rows_x), batch_size):
            out.append((torch.from_numpy(np.stack(rows_x[i:i + batch_size])), torch.from_numpy(np.stack(rows_y[i:i + batch_size]))))
        return out
