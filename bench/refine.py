"""Sequential line search vs random lines against a simulated person (issue 13).

The person's taste is a known function on the unit cube: a Gaussian bump (width 0.3) around a random optimum,
1 there. Each round they see ``previews`` points along one slider and pick the one they like most (noiselessly,
or with ``--noise``: Gumbel noise of that scale on their utility, a BTL chooser). Both methods draw the same
sliders' first end (the current best); sequential line search (mm2music.refine.sls) puts the other end at the
preference model's expected-improvement maximiser, the baseline at a uniformly random point. Printed: the
mean utility of the best point after each round and the rounds needed to get within 10% / 5% of the optimum.

    python bench/refine.py [--dim 4] [--seeds 10] [--rounds 20] [--previews 5] [--noise 0]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mm2music.refine.sls import RandomLineSearch, SequentialLineSearch  # noqa: E402


def bump(opt: np.ndarray, width: float = 0.3):
    return lambda x: float(np.exp(-np.sum((np.asarray(x) - opt) ** 2) / (2 * width ** 2)))


def simulate(engine, utility, rounds: int, previews: int, noise: float = 0.0, seed: int = 0) -> list[float]:
    """Utility of the engine's best point after each round of a simulated person's picks."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(rounds):
        shown = engine.slider(engine.next_line(), previews)
        values = np.array([utility(x) for x in shown])
        if noise > 0:
            values = values + noise * rng.gumbel(size=len(values))
        engine.observe(shown, int(np.argmax(values)))
        out.append(utility(engine.best()))
    return out


def rounds_to(curve: list[float], level: float) -> int | None:
    return next((r + 1 for r, v in enumerate(curve) if v >= level), None)


def run(dim: int, seeds: int, rounds: int, previews: int, noise: float) -> dict:
    results = {}
    for name, cls in (("line search", SequentialLineSearch), ("random lines", RandomLineSearch)):
        t0 = time.perf_counter()
        curves = []
        for s in range(seeds):
            rng = np.random.default_rng(1000 + s)
            opt, start = rng.uniform(0.1, 0.9, dim), rng.random(dim)
            curves.append(simulate(cls(dim, seed=s, start=start), bump(opt), rounds, previews, noise, seed=s))
        results[name] = (np.array(curves), (time.perf_counter() - t0) / (seeds * rounds))
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dim", type=int, default=4)
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--previews", type=int, default=5)
    p.add_argument("--noise", type=float, default=0.0)
    args = p.parse_args()
    results = run(args.dim, args.seeds, args.rounds, args.previews, args.noise)
    print(f"{args.dim} settings, {args.previews} previews per slider, {args.seeds} simulated people, noise {args.noise}")
    marks = [r for r in (1, 3, 5, 10, 15, 20, 30) if r <= args.rounds]
    print(f"{'':14} " + " ".join(f"{'r' + str(r):>6}" for r in marks) + "   to 90%: median (reached)   to 95%: median (reached)   ms/round")
    for name, (curves, per_round) in results.items():
        mean = curves.mean(axis=0)
        cells = []
        for level in (0.90, 0.95):
            hits = [rounds_to(list(c), level) for c in curves]
            got = [h for h in hits if h is not None]
            med = f"{np.median([h if h is not None else args.rounds + 1 for h in hits]):.0f}"
            cells.append(f"{med:>6} ({len(got)}/{len(hits)})")
        print(f"{name:14} " + " ".join(f"{mean[r - 1]:6.3f}" for r in marks) + f"   {cells[0]:>18}   {cells[1]:>18}   {per_round * 1000:8.0f}")
    print("(a median of rounds + 1 means most did not get there within the rounds)")


if __name__ == "__main__":
    main()
