"""Sequential line search (Koyama, Sato, Sakamoto & Igarashi, "Sequential Line Search for Efficient Visual
Design Optimization by Crowds", SIGGRAPH 2017).

Each round the person gets one slider: a line through the unit cube from the current best point to the point
that maximises the expected improvement of the preference model (:mod:`mm2music.refine.gp`). They pick the
best point on it; the pick ("better than every other point shown") updates the model, and the next slider
starts from the new best. A 1-D choice per round, however many settings there are.

The engine is a plain object with a JSON state (``to_json`` / ``from_json``), so a terminal loop, a test with a
simulated person, and a web page can all drive it:

    sls = SequentialLineSearch(dim=4, seed=0, start=x0)
    line = sls.next_line()             # (best, candidate) ends of the slider
    shown = sls.slider(line, 5)        # 5 points along it, to render as previews
    sls.observe(shown, chosen=3)       # the person's pick
    sls.best()                         # the current best point
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mm2music.refine.gp import PreferenceGP, expected_improvement


class SequentialLineSearch:
    """Sequential line search over ``[0, 1]^dim``. ``start``: the point the first slider starts from (the
    current settings); ``seed``: the random candidates of the EI search (and the first slider's other end)."""

    def __init__(self, dim: int, seed: int = 0, start: Sequence[float] | None = None, lengthscale: float = 0.35,
                 noise: float = 0.1):
        self.dim = dim
        self.seed = seed
        self.start = np.clip(np.full(dim, 0.5) if start is None else np.asarray(start, dtype=float), 0.0, 1.0)
        self.gp = PreferenceGP(dim, lengthscale=lengthscale, noise=noise)
        self.rounds = 0

    def _rng(self) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.rounds])

    def best(self) -> np.ndarray:
        return self.gp.best() if self.gp.choices else self.start.copy()

    def next_line(self) -> tuple[np.ndarray, np.ndarray]:
        """(current best, EI maximiser): the ends of the next slider (the first one: start -> a random point)."""
        rng = self._rng()
        best = self.best()
        if not self.gp.choices:
            return best, rng.random(self.dim)
        self.gp.fit()
        cands = np.vstack([rng.random((512 * self.dim, self.dim)),
                           np.clip(best + 0.1 * rng.standard_normal((64, self.dim)), 0, 1)])
        ei = expected_improvement(self.gp, cands, best)
        top = cands[np.argsort(-ei)[:3]]
        x, value = top[0], float(ei.max())
        from scipy.optimize import minimize

        for x0 in top:  # polish the best candidates
            res = minimize(lambda v: -float(expected_improvement(self.gp, v[None], best)[0]), x0, method="L-BFGS-B",
                           bounds=[(0.0, 1.0)] * self.dim, options={"maxiter": 30})
            if -res.fun > value:
                x, value = np.clip(res.x, 0, 1), -float(res.fun)
        if np.max(np.abs(x - best)) < 1e-6:  # nothing to gain: explore at random
            x = rng.random(self.dim)
        return best, x

    @staticmethod
    def slider(line: tuple[np.ndarray, np.ndarray], n: int) -> list[np.ndarray]:
        """``n`` points evenly along the line, the first at its start (the current best)."""
        a, b = (np.asarray(v, dtype=float) for v in line)
        return [a + (b - a) * t for t in np.linspace(0.0, 1.0, n)]

    def observe(self, shown: Sequence[Sequence[float]], chosen: int) -> None:
        """The person picked ``shown[chosen]`` on the slider."""
        self.gp.observe(shown, chosen)
        self.rounds += 1

    def to_json(self) -> dict:
        return {"dim": self.dim, "seed": self.seed, "start": self.start.tolist(), "rounds": self.rounds,
                "lengthscale": self.gp.lengthscale, "noise": self.gp.noise,
                "points": [p.tolist() for p in self.gp.points],
                "choices": [[c, list(shown)] for c, shown in self.gp.choices]}

    @classmethod
    def from_json(cls, data: dict) -> SequentialLineSearch:
        sls = cls(data["dim"], data["seed"], data["start"], data["lengthscale"], data["noise"])
        sls.gp.points = [np.asarray(p, dtype=float) for p in data["points"]]
        sls.gp.choices = [(int(c), tuple(int(i) for i in shown)) for c, shown in data["choices"]]
        sls.rounds = int(data["rounds"])
        return sls


class RandomLineSearch(SequentialLineSearch):
    """The baseline: each slider runs from the current best to a uniformly random point (same interaction, no
    model guiding the line)."""

    def next_line(self) -> tuple[np.ndarray, np.ndarray]:
        return self.best(), self._rng().random(self.dim)

    def best(self) -> np.ndarray:
        if not self.gp.choices:
            return self.start.copy()
        return self.gp.points[self.gp.choices[-1][0]]  # the last pick: the slider always offers the best so far
