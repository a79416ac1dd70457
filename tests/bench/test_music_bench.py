"""Smoke tests of the music benchmark's metric functions and its n-gram baseline (no checkpoint, no corpus)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.music import (  # noqa: E402
    Excerpt,
    empty_beat_rate,
    groove_consistency,
    key_relation,
    kl_and_overlap,
    pitch_class_entropy,
    scale_consistency,
    yang_lerch,
)
from bench.music_baseline import KneserNeyLM  # noqa: E402


def excerpt(notes, bar_len=4.0, n_bars=2):
    """``notes``: (start, duration, pitch) in quarter notes."""
    a = np.array(notes, dtype=np.float64).reshape(-1, 3)
    return Excerpt(a[:, 0], a[:, 1], a[:, 2].astype(np.int64), bar_len, n_bars)


def test_pitch_class_entropy_is_duration_weighted_per_bar():
    # bar 0: C for 2 beats, G for 2 -> 1 bit; bar 1: one C -> 0 bits; mean 0.5
    e = excerpt([(0, 2, 60), (2, 2, 67), (4, 4, 72)])
    assert pitch_class_entropy(e) == pytest.approx(0.5)
    # a note held across the barline counts in both bars by the time it sounds in each
    e = excerpt([(0, 2, 60), (2, 4, 62), (6, 2, 64)])
    assert pitch_class_entropy(e) == pytest.approx(1.0)
    assert np.isnan(pitch_class_entropy(excerpt([])))


def test_groove_consistency():
    same = excerpt([(0, 1, 60), (1, 1, 62), (4, 1, 60), (5, 1, 62)])
    assert groove_consistency(same) == 1.0
    # bar 1 moves one onset by an eighth: two of 16 grid positions differ
    moved = excerpt([(0, 1, 60), (1, 1, 62), (4, 1, 60), (5.5, 1, 62)])
    assert groove_consistency(moved) == pytest.approx(1 - 2 / 16)
    assert np.isnan(groove_consistency(excerpt([(0, 1, 60)], n_bars=1)))


def test_scale_consistency_and_empty_beats():
    c_major = excerpt([(i, 1, p) for i, p in enumerate([60, 62, 64, 65, 67, 69, 71, 72])])
    assert scale_consistency(c_major) == 1.0
    assert scale_consistency(excerpt([(i, 1, 60 + i) for i in range(4)])) == 0.75  # no scale holds C C# D D#
    # beats 0 and 3 sound (a held note covers beat 3 only partly), beats 1-2 and 4-7 are empty
    e = excerpt([(0, 1, 60), (3.5, 0.25, 62)])
    assert empty_beat_rate(e) == pytest.approx(6 / 8)
    assert empty_beat_rate(excerpt([])) == 1.0


def test_key_relation():
    assert key_relation(0, "major", 0, "major") == "same"
    assert key_relation(0, "major", 9, "minor") == "relative"
    assert key_relation(9, "minor", 0, "major") == "relative"
    assert key_relation(0, "major", 0, "minor") == "parallel"
    assert key_relation(0, "major", 7, "major") == "fifth"
    assert key_relation(0, "major", 2, "major") == "other"


def test_distribution_distances():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, 200), rng.normal(0, 1, 200)
    kl, oa = kl_and_overlap(a, b)
    assert kl < 0.1 and oa > 0.85
    kl_far, oa_far = kl_and_overlap(a, a + 5)
    assert kl_far > 5 and oa_far < 0.05
    constant_kl, constant_oa = kl_and_overlap(np.ones(10), np.ones(10))  # degenerate sets still compare
    assert constant_kl == pytest.approx(0, abs=1e-6) and constant_oa == pytest.approx(1, abs=1e-3)
    ykl, yoa = yang_lerch(a, b)
    assert ykl < 0.1 and yoa > 0.85


def test_kneser_ney_normalises_and_beats_unigram():
    rng = np.random.default_rng(0)
    V = 7
    # a Markov chain: next id = (id + 1 or 2) mod V
    seqs = [np.cumsum(rng.integers(1, 3, size=200)) % V for _ in range(20)]
    lm = KneserNeyLM(V, order=3).fit(seqs)
    assert KneserNeyLM(V, order=8).fit(seqs).token_nll(seqs[:1])[0].mean() < lm.token_nll(seqs[:1])[0].mean() + 0.05
    probs = [np.exp(-lm.token_nll([np.array([3, 4, w])])[0][-1]) for w in range(V)]
    assert sum(probs) == pytest.approx(1.0, abs=1e-9)
    assert probs[5] + probs[6] > 0.95
    held_out = [np.cumsum(rng.integers(1, 3, size=200)) % V]
    assert lm.token_nll(held_out)[0].mean() < 0.8 * np.log(V)
    with pytest.raises(ValueError, match="outside"):
        lm.token_nll([np.array([V])])


def test_opening_signature_is_transposition_invariant():
    from bench.music import opening_signature

    pitch_of = np.array([-1] + list(range(128)))  # id 0 is not a pitch, id i + 1 is pitch i
    tune = [0, 61, 0, 63, 65, 0, 61]
    assert opening_signature(tune, pitch_of, n=3) == (2, 2, -4)
    assert opening_signature([t + 5 if t else 0 for t in tune], pitch_of, n=3) == (2, 2, -4)
    assert opening_signature(tune, pitch_of, n=4) is None  # fewer than n + 1 notes


def test_key_probe_always_moves_the_tonic():
    from bench.music import HeldOut, match_conditions, transposed_requests
    from mm2music.music.attributes import attributes_from_notes
    from mm2music.music.tokenizer import Conditions

    conds = [Conditions(key=k) for k in ("C major", "A minor", "F# major", "Bb minor")] * 10
    held = [HeldOut({"attributes": {"pitch_mean": 66.0}}, np.zeros(0, np.int64), np.zeros(0, np.int64))] * len(conds)
    moved, shifts = transposed_requests(held, conds, seed=0)
    assert all(-6 <= s <= 6 and s != 0 for s in shifts)
    assert all(m.key_pc == (c.key_pc + s) % 12 and m.key_mode == c.key_mode for m, c, s in zip(moved, conds, shifts))
    assert transposed_requests(held, conds, seed=0)[1] == shifts  # seeded
    # a C major scale in quarters matches a C major request, not a G major one
    scale = attributes_from_notes([(i, 1, p) for i, p in enumerate([60, 62, 64, 65, 67, 69, 71, 72, 67, 64, 60])])
    assert match_conditions(Conditions(key="C major", density="very_sparse"), scale)["key_exact"]
    got = match_conditions(Conditions(key="G major", density="very_sparse"), scale)
    assert not got["key_exact"] and got["mode"] and got["key_relation"] == "fifth"
