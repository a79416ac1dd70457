"""The baseline of the music benchmark: an interpolated Kneser-Ney n-gram model over token ids.

``bench/music.py`` compares the Transformer's held-out negative log-likelihood per token with this
model's on exactly the same targets, so "the Transformer wins" means more than "it is better than
nothing". Interpolated Kneser-Ney (Chen & Goodman 1998, one absolute discount per order estimated as
``n1 / (n1 + 2 n2)``) is the standard strong count-based baseline; everything is numpy over integer
codes of the n-grams (vocabulary < 1024, so an n-gram of up to 6 ids fits in one int64), so fitting
~10 M tokens takes seconds and a few hundred MB.

Sequences never share context: each is left-padded with ``order - 1`` copies of a start symbol
(id ``vocab_size``), which is never predicted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_BITS = 10  # bits per id in a code


@dataclass
class _Order:
    """Counts of one order k: k-grams (sorted codes) and their (k-1)-gram histories."""

    grams: np.ndarray  # (G,) sorted int64 codes of k-grams
    counts: np.ndarray  # (G,) raw counts (highest order) or continuation counts (lower orders)
    hists: np.ndarray  # (H,) sorted codes of histories (k-1 ids; 0 for k = 1)
    hist_total: np.ndarray  # (H,) sum of counts over the words following the history
    hist_types: np.ndarray  # (H,) number of distinct words following the history
    discount: float


def _codes(x: np.ndarray, ends: np.ndarray, k: int) -> np.ndarray:
    """Codes of the k-grams ``x[t-k+1 .. t]`` for every t in ``ends`` (oldest id in the high bits)."""
    code = np.zeros(len(ends), dtype=np.int64)
    for j in range(k - 1, -1, -1):
        code = (code << _BITS) | x[ends - j]
    return code


def _lookup(keys: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
    """``values`` at the positions of ``query`` in sorted ``keys``; 0 where absent."""
    if len(keys) == 0:
        return np.zeros(len(query), dtype=values.dtype)
    i = np.searchsorted(keys, query).clip(max=len(keys) - 1)
    return np.where(keys[i] == query, values[i], 0)


class KneserNeyLM:
    """Interpolated Kneser-Ney n-gram language model over ids in ``[0, vocab_size)``."""

    def __init__(self, vocab_size: int, order: int = 4):
        if not 1 <= order <= 64 // _BITS:
            raise ValueError(f"n-gram order {order} must be in 1..{64 // _BITS}")
        if vocab_size + 1 > 1 << _BITS:
            raise ValueError(f"vocabulary of {vocab_size} ids does not fit in {_BITS} bits per id")
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
            parts.append(np.full(n, self.start, dtype=np.int64))
            parts.append(s)
            ends.append(np.arange(offset + n, offset + n + len(s)))
            offset += n + len(s)
        if not parts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return np.concatenate(parts), np.concatenate(ends)

    def fit(self, sequences: Sequence[Sequence[int]]) -> KneserNeyLM:
        x, ends = self._pad(sequences)
        self.n_tokens = len(ends)
        n = self.order
        top, top_counts = np.unique(_codes(x, ends, n), return_counts=True)
        by_order: dict[int, tuple[np.ndarray, np.ndarray]] = {n: (top, top_counts)}
        for k in range(n - 1, 0, -1):
            # continuation count of a k-gram: how many distinct ids precede it (types of (k+1)-grams)
            longer = by_order[k + 1][0]
            suffix = longer & ((1 << (_BITS * k)) - 1)
            by_order[k] = np.unique(suffix, return_counts=True)
        self.orders = []
        for k in range(1, n + 1):
            grams, counts = by_order[k]
            hist = grams >> _BITS
            hists, first = np.unique(hist, return_index=True)
            total = np.add.reduceat(counts, first) if len(first) else np.zeros(0, dtype=np.int64)
            types = np.diff(np.append(first, len(grams)))
            n1, n2 = int(np.sum(counts == 1)), int(np.sum(counts == 2))
            d = n1 / (n1 + 2 * n2) if n1 + 2 * n2 > 0 else 0.5
            self.orders.append(_Order(grams, counts, hists, total, types, float(min(max(d, 0.05), 0.95))))
        return self

    def _prob(self, x: np.ndarray, ends: np.ndarray) -> np.ndarray:
        p = np.full(len(ends), 1.0 / self.vocab_size)  # order 0: uniform over the real vocabulary
        for k, o in enumerate(self.orders, start=1):
            gram = _codes(x, ends, k)
            hist = gram >> _BITS
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
