"""A structured generator: a labelled training set of themes restated under new conditions.

The decoder learns from real tunes what a tune is, but it never sees "this tune, restated under these new
conditions" (another key or mode, tempo, register, density): that is what a later cue with the same theme
letter asks for, and the rules of :mod:`mm2music.arrange.theme` do it today. This module makes such examples
from real tunes of the TRAIN split, with those same rules:

1. the **statement**: a tune's first 8 bars (from its first full bar: a pickup bar is skipped, as a theme starts
   on the downbeat), read as a theme in the key of those bars (:func:`~mm2music.arrange.compose.tune_line`,
   :func:`~mm2music.arrange.compose.period_theme`, as the theme writer reads its own tunes);
2. two cues drawn at random, the one that states it (the tune's own key, meter and tempo) and a later one that
   restates it (a random tonic; its mode, tempo, register and ending from a random emotion), and the rules'
   restatement of the theme in the later cue (:func:`~mm2music.arrange.theme.transform_for`,
   :func:`~mm2music.arrange.theme.material`, :func:`~mm2music.arrange.theme.cue_melody`);
3. the example, in the decoder's token format, laid out as the theme writer primes the decoder::

       prefix(restatement's conditions), statement (REMI, moved into the restatement's key and register), restatement (REMI), EOS

   The prefix's labels are measured from the written restatement as the corpus labels its pieces (tempo band,
   density, register; the key is the cue's, the instrument family the one the theme writer asks for); the loss
   is taken on the restatement only (the statement is the given). The statement is moved into the restatement's
   key and register (:func:`~mm2music.arrange.compose.primer_in_key`), as ``music.restate=model`` primes the
   decoder: the decoder copies and varies a tune, it does not transpose it as it goes (fine-tuned on statements as
   written, it learned no copying at all: a 4-layer model with absolute pitch tokens).

The set is written to a folder (``examples.npz``: the token ids of every example, back to back, with their
offsets and where each target starts; ``manifest.jsonl``: one row per example with its source piece, transform
and labels; ``summary.json``) that ``data.structured_dir`` / ``data.structured_share`` mix into training
(:class:`StructuredSet`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mm2music.errors import CorpusError
from mm2music.music.attributes import REGISTER_BINS, register_bin, tonic_name
from mm2music.music.tokenizer import Conditions, MusicTokenizer
from mm2music.training.dataset import IGNORE, DataConfig, load_rows, manifest_hash, resolve_corpus_dir, tokenize_rows, window_key_indices

log = logging.getLogger(__name__)

STATEMENT_BARS = 8
FAMILY_PROGRAM = {"strings": 40, "pipe": 73}  # the program a restatement is written for, by family (violin, flute)
CADENCES = ("authentic", "half")
FORMAT = "mm2music-structured"


@dataclass
class StructuredConfig:
    pairs_per_tune: int = 2  # restatements made of each train tune (each under other random conditions)
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)  # which corpus and sources (its TRAIN split only)


@dataclass(frozen=True)
class Example:
    """One labelled example: ``ids`` = prefix + statement + restatement + EOS; targets from ``target_start`` on."""

    ids: np.ndarray
    target_start: int
    piece: str
    transform: str
    conditions: Conditions
    statement: tuple[int, int]  # the statement's bars [first, last) in the tune


def structured_dir(data: DataConfig, tokenizer: MusicTokenizer) -> Path:
    """The set's folder: ``data.structured_dir``, by default beside ``data``'s corpus, keyed by the tokenizer."""
    if data.structured_dir:
        return Path(data.structured_dir).expanduser()
    return resolve_corpus_dir(data) / f"structured-{tokenizer.hash}"


def _cue(index: int, tonic: int, mode: str, tempo: float, meter: str, bars: int, register: str, valence: float,
         arousal: float, cadence: str, density: str = "medium"):
    from mm2music.types import Cue, meter_quarters

    tempo = float(min(200.0, max(40.0, tempo)))
    seconds = bars * meter_quarters(meter) * 60.0 / tempo
    return Cue(index=index, start=0.0, end=seconds, key=tonic_name(tonic, mode), mode=mode, tempo_bpm=tempo, meter=meter,
               bars=bars, density=density, register=register, dynamics="mf", articulation="legato", instruments=("strings",),
               texture="melody", theme="A", transition="", cadence=cadence, valence=valence, arousal=arousal)


def statement_bars(tokenizer: MusicTokenizer, ids: np.ndarray, bars: np.ndarray) -> tuple[int, int] | None:
    """The bars [first, first + 8) of a tune's statement: from its first bar, or its second when the first is a
    pickup (its first note is not on the downbeat); None when the tune is shorter."""
    position = None
    for t in ids[bars[0]:]:
        name = tokenizer.token(int(t))
        if name.startswith("Position_"):
            position = name
        elif name.startswith("Pitch"):
            break
    b0 = 0 if position == "Position_0" else 1
    if b0 + STATEMENT_BARS >= len(bars):  # the statement's bars must all be complete (a bar follows them)
        return None
    return b0, b0 + STATEMENT_BARS


def _score(notes, meter: str, tempo: float, program: int):
    """A symusic Score (480 ticks per quarter) of NoteEvents in ``meter`` at ``tempo``, one track of ``program``."""
    import symusic

    from mm2music.arrange.timing import TICKS_PER_QUARTER

    num, den = (int(x) for x in meter.split("/"))
    score = symusic.Score(TICKS_PER_QUARTER)
    score.time_signatures.append(symusic.TimeSignature(0, num, den))
    score.tempos.append(symusic.Tempo(0, tempo))
    track = symusic.Track(program=program, is_drum=False)
    for n in notes:
        track.notes.append(symusic.Note(int(n.start), int(n.end - n.start), int(n.pitch), int(n.velocity)))
    score.tracks.append(track)
    return score


@dataclass(frozen=True)
class Task:
    """A theme to restate: the statement (a tune's first 8 bars), the cue that states it and the later cue that
    restates it (with the rules' ``transform``)."""

    piece: str
    statement: np.ndarray  # REMI ids of the statement's bars, as written in the tune
    span: tuple[int, int]  # the statement's bars [first, last) in the tune
    theme: object  # mm2music.arrange.theme.Theme
    first: object  # mm2music.types.Cue
    later: object  # mm2music.types.Cue
    transform: str


def restatement_task(tokenizer: MusicTokenizer, piece: str, ids: np.ndarray, meter: str, tempo_bpm: float,
                     rng: np.random.Generator) -> Task | None:
    """The statement of the tune ``ids`` (its REMI ids) and a later cue under random new conditions (see the module
    docstring); None when the tune cannot carry one (too short, no key, an odd meter)."""
    from mm2music.arrange.compose import period_theme, tune_line
    from mm2music.arrange.theme import REGISTER_CENTRE, material, transform_for

    num, _, den = meter.partition("/")
    if not (num.isdigit() and den in ("2", "4", "8")):
        return None
    bars = np.flatnonzero(ids == tokenizer.bar_id)
    if len(bars) == 0:
        return None
    span = statement_bars(tokenizer, ids, bars)
    if span is None:
        return None
    statement = ids[bars[span[0]]:bars[span[1]]]
    key_index = int(window_key_indices(tokenizer.bar_pitch_classes(statement), STATEMENT_BARS)[0])
    if key_index < 0:
        return None
    tonic, mode = key_index % 12, ("major", "minor")[key_index // 12]
    line = tune_line(tokenizer, statement, tonic, mode, meter)
    if len(line) < STATEMENT_BARS:
        return None
    theme = period_theme("A", meter, line, (), 0, tonic, mode)
    a1, v1 = float(rng.uniform(-0.8, 0.8)), float(rng.uniform(-0.8, 0.8))
    a2, v2 = float(rng.uniform(-0.9, 0.9)), float(rng.uniform(-0.9, 0.9))
    first = _cue(0, tonic, mode, tempo_bpm, meter, STATEMENT_BARS, register_bin(theme.centre), v1, a1, "half")
    register = str(rng.choice([r for r in REGISTER_BINS if r in REGISTER_CENTRE]))
    later = _cue(1, int(rng.integers(12)), "minor" if v2 < -0.1 else "major", first.tempo_bpm * 2.0 ** (a2 - a1), meter,
                 STATEMENT_BARS, register, v2, a2, str(rng.choice(CADENCES)))
    transform = transform_for(later, first, variant=int(rng.integers(7)))
    bars_out = material(theme, transform)[1]
    later = dataclasses.replace(later, bars=bars_out, end=bars_out * later.beats_per_bar * 60.0 / later.tempo_bpm)
    return Task(piece, statement, span, theme, first, later, transform)


def make_example(tokenizer: MusicTokenizer, piece: str, ids: np.ndarray, meter: str, tempo_bpm: float,
                 rng: np.random.Generator) -> Example | None:
    """One labelled example: the rules' restatement of a :func:`restatement_task` (None when the tune has none)."""
    from mm2music.arrange.compose import melody_family, primer_in_key
    from mm2music.arrange.theme import cue_melody

    task = restatement_task(tokenizer, piece, ids, meter, tempo_bpm, rng)
    if task is None:
        return None
    notes = cue_melody(task.theme, task.later, task.transform, final=False, first=task.first)
    if len(notes) < STATEMENT_BARS:
        return None
    family = melody_family(task.later)
    restatement = tokenizer.encode_music(_score(notes, meter, task.later.tempo_bpm, FAMILY_PROGRAM[family]))
    conditions = restatement_conditions(tokenizer.decode(restatement), task.later, family)
    primer = primer_in_key(tokenizer, [int(t) for t in task.statement], task.first, task.later,
                           sum(n.pitch for n in notes) / len(notes))
    if primer is None:
        return None
    prefix = tokenizer.prefix(conditions)
    seq = np.asarray(prefix + primer + restatement + [tokenizer.eos_id], dtype=np.int64)
    return Example(seq, len(prefix) + len(primer), piece, task.transform, conditions, task.span)


def restatement_conditions(score, cue, family: str) -> Conditions:
    """The labels of a written restatement (``score``: its tokens decoded, what the decoder is trained on), see
    :func:`~mm2music.arrange.compose.restatement_conditions`."""
    from mm2music.arrange.compose import restatement_conditions as measured

    q = score.ticks_per_quarter
    return measured([(n.time / q, n.duration / q, n.pitch) for t in score.tracks for n in t.notes], cue, family)


def piece_seed(piece: str) -> int:
    """A piece's own random stream: 64 bits of its id's SHA-1 (ids that share their last characters still differ)."""
    return int.from_bytes(hashlib.sha1(piece.encode()).digest()[:8], "little")


def build(config: StructuredConfig, tokenizer: MusicTokenizer, out_dir: str | Path | None = None,
          progress: bool = True) -> Path:
    """Write the structured set of ``config`` (see the module docstring) and return its folder."""
    from tqdm import tqdm

    data = config.data
    corpus_dir = resolve_corpus_dir(data)
    rows = load_rows(data, "train")  # the TRAIN split only: valid and test tunes never appear, not even as a statement
    if not rows:
        raise CorpusError(f"no train pieces in '{corpus_dir}' with sources {data.sources or 'all'}; convert the corpus first")
    out = Path(out_dir) if out_dir else structured_dir(data, tokenizer)
    paths = tokenize_rows(rows, corpus_dir, tokenizer, data.workers, data.max_tokens_per_piece, progress)
    examples: list[Example] = []
    for r in tqdm(rows, desc="structured", unit="tune", disable=not progress, mininterval=2.0):
        if r["id"] not in paths:
            continue
        ids = np.load(paths[r["id"]]).astype(np.int64)
        a = r["attributes"]
        rng = np.random.default_rng([config.seed, piece_seed(r["id"])])
        for _ in range(config.pairs_per_tune):
            ex = make_example(tokenizer, r["id"], ids, a.get("time_signature") or "4/4", float(a.get("tempo_bpm") or 100.0), rng)
            if ex is not None:
                examples.append(ex)
    if not examples:
        raise CorpusError(f"none of the {len(rows)} train tunes in '{corpus_dir}' gave a restatement; they need 9 bars and a key")
    write(out, examples, tokenizer, {"corpus_dir": str(corpus_dir), "manifest_sha256": manifest_hash(corpus_dir),
                                     "sources": list(data.sources), "pieces": len({e.piece for e in examples}),
                                     "pairs_per_tune": config.pairs_per_tune, "seed": config.seed})
    log.info("wrote %d structured examples from %d train tunes to %s", len(examples), len({e.piece for e in examples}), out)
    return out


def write(out: Path, examples: list[Example], tokenizer: MusicTokenizer, info: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    offsets = np.concatenate([[0], np.cumsum([len(e.ids) for e in examples])]).astype(np.int64)
    tmp = out / ".examples.tmp.npz"
    np.savez(tmp, ids=np.concatenate([e.ids for e in examples]).astype(np.uint16), offsets=offsets,
             target_start=np.array([e.target_start for e in examples], dtype=np.int64))
    tmp.replace(out / "examples.npz")
    with (out / "manifest.jsonl").open("w", encoding="utf-8") as f:
        for e in examples:
            f.write(json.dumps({"piece": e.piece, "split": "train", "transform": e.transform, "statement_bars": list(e.statement),
                                "conditions": e.conditions.to_dict()}) + "\n")
    summary = {"format": FORMAT, "tokenizer_hash": tokenizer.hash, "examples": len(examples),
               "tokens": int(offsets[-1]), "target_tokens": int(sum(len(e.ids) - e.target_start for e in examples)),
               "transforms": dict(Counter(e.transform for e in examples).most_common()), **info}
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")


def read_manifest(folder: str | Path) -> list[dict]:
    path = Path(folder) / "manifest.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


class StructuredSet:
    """A structured set in memory and its window sampler: a window starts at a random example's first token and
    packs whole examples after it; the targets are the restatements (and their EOS) only."""

    def __init__(self, folder: str | Path, tokenizer: MusicTokenizer):
        folder = Path(folder)
        try:
            summary = json.loads((folder / "summary.json").read_text())
            arrays = np.load(folder / "examples.npz")
        except (OSError, ValueError) as exc:
            raise CorpusError(f"cannot read the structured set in '{folder}' ({str(exc).splitlines()[0]}); "
                              "make it with `python pipelines/structured.py`") from None
        if summary.get("format") != FORMAT or summary.get("tokenizer_hash") != tokenizer.hash:
            raise CorpusError(f"the structured set in '{folder}' was made for tokenizer {summary.get('tokenizer_hash')}, "
                              f"this run's is {tokenizer.hash}; make it again with this run's tokenizer settings")
        self.ids = arrays["ids"].astype(np.int64)
        self.offsets = arrays["offsets"]
        self.target_start = arrays["target_start"]
        self.tokenizer = tokenizer
        self.summary = summary

    def __len__(self) -> int:
        return len(self.target_start)

    def window(self, rng: np.random.Generator, length: int) -> tuple[np.ndarray, np.ndarray]:
        """``length + 1`` ids and a mask of the positions that are targets."""
        ids, mask, n = [], [], 0
        while n < length + 1:
            k = int(rng.integers(len(self)))
            a, b = int(self.offsets[k]), int(self.offsets[k + 1])
            ids.append(self.ids[a:b])
            m = np.zeros(b - a, dtype=bool)
            m[int(self.target_start[k]):] = True
            mask.append(m)
            n += b - a
        return np.concatenate(ids)[: length + 1], np.concatenate(mask)[: length + 1]


def mixed_batch(real, structured: StructuredSet | None, share: float, seed: int, step: int, items, length: int):
    """(x, y) like :meth:`~mm2music.training.dataset.WindowDataset.batch`, each item a structured window with
    probability ``share`` (drawn from ``(seed, step, item)``: resuming gives the same batches)."""
    import torch

    rows, masks = [], []
    for i in items:
        rng = np.random.default_rng([seed, step, i, 1])
        if structured is not None and rng.random() < share:
            ids, mask = structured.window(rng, length)
        else:
            ids, mask = real.window(seed, step, i, length), np.ones(length + 1, dtype=bool)
        rows.append(ids)
        masks.append(mask)
    seqs = torch.from_numpy(np.stack(rows))
    x, y = seqs[:, :-1].clone(), seqs[:, 1:].clone()
    tok = real.tokenizer
    y[(y >= tok.remi_vocab_size) | (y == tok.bos_id) | ~torch.from_numpy(np.stack(masks)[:, 1:])] = IGNORE
    return x, y


def main(argv: list[str] | None = None) -> int:
    """``python pipelines/structured.py [--config train/music21-structured] [--out DIR]``: write the set the
    training config's ``data`` names (its corpus, sources and tokenizer)."""
    import argparse
    import sys

    from mm2music.errors import Mm2MusicError
    from mm2music.recipes import offline_environment, user_error

    p = argparse.ArgumentParser(prog="structured", description="Write the structured set of restated themes (train tunes only).")
    p.add_argument("--config", default="configs/train/music21-structured.yaml", help="a training config (its data and tokenizer)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a training config key")
    p.add_argument("--pairs", type=int, default=2, help="restatements per train tune")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None, help="output folder (default: the config's data.structured_dir)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--debug", action="store_true")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    offline_environment()
    try:
        from mm2music.training.train import load_train_config

        cfg = load_train_config(a.config, a.set)
        tokenizer = MusicTokenizer(cfg.tokenizer)
        out = build(StructuredConfig(a.pairs, a.seed, cfg.data), tokenizer, a.out or structured_dir(cfg.data, tokenizer),
                    progress=not a.no_progress)
    except Mm2MusicError as exc:
        return user_error(exc, a.debug)
    print(out)
    return 0
