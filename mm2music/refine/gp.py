"""A Gaussian process over a person's preferences, learnt from choices (Koyama et al., SIGGRAPH 2017, §4;
Chu & Ghahramani 2005).

The person never scores anything: each observation is "among these points, this one was the best". The
latent goodness f has a GP prior (ARD squared-exponential kernel); a choice of point c among the shown set S
has the Bradley-Terry-Luce (softmax) likelihood ``exp(f_c / s) / sum_{i in S} exp(f_i / s)``, which is
log-concave, so the posterior has one mode. The posterior is approximated around it (Laplace): Newton steps
find the mode f̂, W = -∇∇ log p(choices | f̂) gives the curvature, and at a new point

    mean = k*ᵀ ∇log p(choices | f̂)          variance = k** - k*ᵀ (I + W K)⁻¹ W k*

(Rasmussen & Williams 2006, §3.4, with W a block of softmax Hessians instead of a diagonal).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass
class PreferenceGP:
    """Choices among points of the unit cube ``[0, 1]^dim`` -> a posterior over the latent preference f.

    ``lengthscale`` (in units of the cube's side) and ``amplitude`` are the kernel's; ``noise`` is the BTL
    temperature s (how consistently the person picks the best). The defaults were chosen on bench/refine.py's
    simulated person (4 settings, 8 people, utility of the best point after 5 / 10 / 15 rounds): length 0.35,
    scale 0.1: 0.82 / 0.96 / 0.97; the paper's length 0.5, scale 0.01: 0.83 / 0.88 / 0.91 (with BTL scale 0.01
    the softmax saturates, W vanishes and the Laplace variance stops shrinking where the person has already
    said no, so EI returns to the same corner); random lines 0.63 / 0.67 / 0.78.
    """

    dim: int
    lengthscale: float = 0.35
    amplitude: float = 1.0
    noise: float = 0.1
    points: list[np.ndarray] = field(default_factory=list)  # distinct points seen, (dim,) each
    choices: list[tuple[int, tuple[int, ...]]] = field(default_factory=list)  # (chosen index, shown indices)

    def __post_init__(self) -> None:
        self._mode: np.ndarray | None = None

    # --- data ---------------------------------------------------------------------------------------

    def index(self, x: Sequence[float]) -> int:
        """The index of point ``x`` (added if new; points closer than 1e-9 are the same point)."""
        x = np.clip(np.asarray(x, dtype=float), 0.0, 1.0)
        for i, p in enumerate(self.points):
            if np.max(np.abs(p - x)) < 1e-9:
                return i
        self.points.append(x)
        return len(self.points) - 1

    def observe(self, shown: Sequence[Sequence[float]], chosen: int) -> None:
        """The person saw ``shown`` and preferred ``shown[chosen]`` to all the others."""
        if not 0 <= chosen < len(shown) or len(shown) < 2:
            raise ValueError(f"choice {chosen} among {len(shown)} shown points")
        idx = tuple(self.index(x) for x in shown)
        self.choices.append((idx[chosen], idx))
        self._mode = None

    # --- the model ----------------------------------------------------------------------------------

    def kernel(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """ARD squared exponential, (len(a), len(b))."""
        d = (a[:, None, :] - b[None, :, :]) / self.lengthscale
        return self.amplitude ** 2 * np.exp(-0.5 * np.sum(d * d, axis=-1))

    def _likelihood_terms(self, f: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """log p(choices | f), its gradient and W = -Hessian."""
        n, s = len(f), self.noise
        logp, grad, w = 0.0, np.zeros(n), np.zeros((n, n))
        for c, shown in self.choices:
            idx = np.array(shown)
            z = f[idx] / s
            z = z - z.max()
            p = np.exp(z) / np.exp(z).sum()
            logp += float(np.log(p[list(shown).index(c)]))
            g = -p / s
            g[list(shown).index(c)] += 1 / s
            np.add.at(grad, idx, g)
            block = (np.diag(p) - np.outer(p, p)) / s ** 2
            w[np.ix_(idx, idx)] += block
        return logp, grad, w

    def fit(self, iterations: int = 50) -> np.ndarray:
        """The posterior mode f̂ at the points (Newton's method on the log posterior)."""
        n = len(self.points)
        x = np.array(self.points).reshape(n, self.dim)
        self._k = self.kernel(x, x) + 1e-8 * np.eye(n)
        f = np.zeros(n) if self._mode is None or len(self._mode) != n else self._mode
        for _ in range(iterations):
            _, grad, w = self._likelihood_terms(f)
            b = w @ f + grad
            # f_new = (K^-1 + W)^-1 b = K (I + W K)^-1 b
            f_new = self._k @ np.linalg.solve(np.eye(n) + w @ self._k, b)
            if np.max(np.abs(f_new - f)) < 1e-8:
                f = f_new
                break
            f = f_new
        _, grad, w = self._likelihood_terms(f)
        self._mode, self._grad, self._w = f, grad, w
        self._inv = np.linalg.inv(np.eye(n) + w @ self._k) @ w  # (I + W K)^-1 W
        return f

    def _ready(self) -> None:
        if self._mode is None:
            self.fit()

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation of f at ``x`` (m, dim)."""
        x = np.atleast_2d(np.asarray(x, dtype=float))
        if not self.points or not self.choices:
            return np.zeros(len(x)), np.full(len(x), self.amplitude)
        self._ready()
        k = self.kernel(x, np.array(self.points))
        mean = k @ self._grad
        var = self.amplitude ** 2 - np.einsum("ij,jk,ik->i", k, self._inv, k)
        return mean, np.sqrt(np.maximum(var, 1e-12))

    def best(self) -> np.ndarray:
        """The seen point with the highest posterior mean (the current best)."""
        if not self.choices:
            return self.points[0] if self.points else np.full(self.dim, 0.5)
        mean, _ = self.predict(np.array(self.points))
        return self.points[int(np.argmax(mean))]


def expected_improvement(gp: PreferenceGP, x: np.ndarray, best: np.ndarray) -> np.ndarray:
    """EI of ``x`` (m, dim) over the point ``best``: E[max(0, f(x) - f(best))] under the joint posterior.

    Choices only say which point is better, so the common level of f stays as uncertain as the prior; the
    difference to the current best is what the choices inform (its variance is 0 at ``best`` itself)."""
    from scipy.stats import norm

    x = np.atleast_2d(np.asarray(x, dtype=float))
    mean, std = gp.predict(x)
    mean_b, std_b = gp.predict(np.asarray(best, dtype=float)[None])
    if gp.points and gp.choices:
        kx, kb = gp.kernel(x, np.array(gp.points)), gp.kernel(np.asarray(best, dtype=float)[None], np.array(gp.points))
        cov = gp.kernel(x, np.asarray(best, dtype=float)[None])[:, 0] - (kx @ gp._inv @ kb[0])
    else:
        cov = gp.kernel(x, np.asarray(best, dtype=float)[None])[:, 0]
    delta = mean - mean_b[0]
    sd = np.sqrt(np.maximum(std ** 2 + std_b[0] ** 2 - 2 * cov, 1e-12))
    z = delta / sd
    return delta * norm.cdf(z) + sd * norm.pdf(z)
