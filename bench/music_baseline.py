"""The baseline of the music benchmark: an interpolated Kneser-Ney n-gram model over token ids.

``bench/music.py`` compares the Transformer's held-out negative log-likelihood per token with this
model's on exactly the same targets, so "the Transformer wins" means more than "it is better than
nothing". Interpolated Kneser-Ney (Chen & Goodman 1998, one absolute discount per order estimated as
``n1 / (n1 + 2 n2)``) is the standard strong count-based baseline.

Everything is numpy over 64-bit hashes of the n-grams (a polynomial hash of the ids, wrapping modulo
2^64): fitting ~10 M tokens takes seconds per order and a few hundred MB, and orders up to 16 work.
A collision between two distinct n-grams of ~10^7 is a ~10^-5 event and would only blur two counts.
Why high orders matter here: a REMI note is ``Position Program Pitch Velocity Duration``, so a model
must see 5 tokens back to relate a pitch to the previous pitch; a 6-gram is the first that can.

Sequences never share context: each is left-padded with ``order - 1`` copies of a start symbol
(id ``vocab_size``), which is never predicted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_MUL = np.uint64(0x9E3779B97F4A7C15)  # odd multiplier of the polynomial hash
MAX_ORDER = 16


@dataclass
class _Order:
    """Counts of one order k: k-grams (sorted hashes) and their (k-1)-gram histories."""

    grams: np.ndarray  # (G,) sorted uint64 hashes of k-grams
    counts: np.ndarray  # (G,) raw counts (highest order) or continuation counts (lower orders)
    hists: np.ndarray  # (H,) sorted hashes of histories (k-1 ids; the empty history for k = 1)
    hist_total: np.ndarray  # (H,) sum of counts over the words following the history
    hist_types: np.ndarray  # (H,) number of distinct words following the history
    discount: float


def _hashes(x: np.ndarray, ends: np.ndarray, k: int) -> np.ndarray:
    """Hashes of the k-grams ``x[t-k+1 .. t]`` for every t in ``ends`` (k = 0: the empty n-gram, 0)."""
    h = np.zeros(len(ends), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(k - 1, -1, -1):
            h = h * _MUL + (x[ends - j].astype(np.uint64) + np.uint64(1))
    return h


def _lookup(keys: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
    """``values`` at the positions of ``query`` in sorted ``keys``; 0 where absent."""
    if len(keys) == 0:
        return np.zeros(len(query), dtype=values.dtype)
    i = np.searchsorted(keys, query).clip(max=len(keys) - 1)
    return np.where(keys[i] == query, values[i], 0)


class KneserNeyLM:
    """Interpolated Kneser-Ney n-gram language model over ids in ``[0, vocab_size)``."""

    def __init__(self, vocab_size: int, order: int = 4):
        if not 1 <= order <= MAX_ORDER:
            raise ValueError(f"n-gram order {order} must be in 1..{MAX_ORDER}")
        self.vocab_size = vocab_size
        self.order = order
        self.start = vocab_size  # start-of-sequence padding symbol
        self.orders: list[_Order] = []
        self.n_tokens = 0

    def _pad(self, sequences: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
        """Concatenated padded ids and the positions of every real token in it."""
        n = self.order - 1
        parts, ends, offset = [], [], 0
        for s in sequences:
            s = np.asarray(s, dtype=np.int64)
            if len(s) == 0:
                continue
            if s.min() < 0 or s.max() >= self.vocab_size:
                raise ValueError(f"token id outside [0, {self.vocab_size}) in a sequence")
            parts.append(np.full(n + 1, self.start, dtype=np.int64))  # one more: histories look at t - 1
            parts.append(s)
            ends.append(np.arange(offset + n + 1, offset + n + 1 + len(s)))
            offset += n + 1 + len(s)
        if not parts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return np.concatenate(parts), np.concatenate(ends)

    def fit(self, sequences: Sequence[Sequence[int]]) -> KneserNeyLM:
        x, ends = self._pad(sequences)
        self.n_tokens = len(ends)
        n = self.order
        # from the top order down: unique n-grams with one position where each occurs; a lower order's
        # (continuation) count of a k-gram = the number of distinct (k+1)-grams ending in it
        by_order: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        grams, first, counts = np.unique(_hashes(x, ends, n), return_index=True, return_counts=True)
        pos = ends[first]
        by_order[n] = (grams, counts, pos)
        for k in range(n - 1, 0, -1):
            grams, first, counts = np.unique(_hashes(x, pos, k), return_index=True, return_counts=True)
            pos = pos[first]
            by_order[k] = (grams, counts, pos)
        self.orders = []
        for k in range(1, n + 1):
            grams, counts, pos = by_order[k]
            hist_of = _hashes(x, pos - 1, k - 1)  # each k-gram's history: the (k-1)-gram before its last id
            hists, inv = np.unique(hist_of, return_inverse=True)
            total = np.bincount(inv, weights=counts, minlength=len(hists)).astype(np.int64)
            types = np.bincount(inv, minlength=len(hists)).astype(np.int64)
            n1, n2 = int(np.sum(counts == 1)), int(np.sum(counts == 2))
            d = n1 / (n1 + 2 * n2) if n1 + 2 * n2 > 0 else 0.5
            self.orders.append(_Order(grams, counts, hists, total, types, float(min(max(d, 0.05), 0.95))))
        return self

    def _prob(self, x: np.ndarray, ends: np.ndarray) -> np.ndarray:
        p = np.full(len(ends), 1.0 / self.vocab_size)  # order 0: uniform over the real vocabulary
        for k, o in enumerate(self.orders, start=1):
            gram, hist = _hashes(x, ends, k), _hashes(x, ends - 1, k - 1)
            c = _lookup(o.grams, o.counts, gram).astype(np.float64)
            total = _lookup(o.hists, o.hist_total, hist).astype(np.float64)
            types = _lookup(o.hists, o.hist_types, hist).astype(np.float64)
            seen = total > 0
            safe = np.where(seen, total, 1.0)
            interp = np.maximum(c - o.discount, 0.0) / safe + o.discount * types / safe * p
            p = np.where(seen, interp, p)
        return p
    def token_nll(self, sequences: Sequence[Sequence[int]]) -> list[np.ndarray]:
        """Per sequence, the negative log-likelihood (nats) of every token given the ones before it."""
        if not self.orders:
            raise RuntimeError("fit the n-gram model before scoring")
        x, ends = self._pad(sequences)
        nll = -np.log(self._prob(x, ends))
        lengths = [len(s) for s in sequences if len(s)]
        out, i = [], 0
        it = iter(lengths)
        for s in sequences:
            if len(s) == 0:
                out.append(np.zeros(0))
                continue
            m = next(it)
            out.append(nll[i : i + m])
            i += m
        return out
