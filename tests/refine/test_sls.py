"""The preference GP and sequential line search (issue 13), against a simulated person with a known taste."""

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.refine import bump, simulate  # noqa: E402
from mm2music.refine.gp import PreferenceGP, expected_improvement  # noqa: E402
from mm2music.refine.sls import RandomLineSearch, SequentialLineSearch  # noqa: E402


def test_posterior_follows_the_choices():
    gp = PreferenceGP(1)
    shown = [[0.1], [0.4], [0.7], [0.9]]
    gp.observe(shown, 2)  # 0.7 preferred over the rest
    gp.observe([[0.7], [0.55], [0.85]], 0)
    mean, std = gp.predict(np.array(shown + [[0.3]]))
    assert np.argmax(mean[:4]) == 2
    assert mean[2] > mean[1] and mean[2] > mean[3]
    assert std.max() < gp.amplitude  # the choices tell something everywhere near them
    assert np.allclose(gp.best(), [0.7])
    ei = expected_improvement(gp, np.array([[0.7], [0.62], [0.05]]), np.array([0.7]))
    assert ei[0] < 1e-3 < ei[1]  # nothing to gain at the best itself; something just beside it
    with pytest.raises(ValueError, match="choice 3 among 2"):
        gp.observe([[0.1], [0.2]], 3)


def test_state_round_trips_through_json():
    sls = SequentialLineSearch(3, seed=1, start=[0.2, 0.5, 0.8])
    shown = sls.slider(sls.next_line(), 4)
    sls.observe(shown, 2)
    again = SequentialLineSearch.from_json(sls.to_json())
    assert np.allclose(again.best(), sls.best())
    assert np.allclose(again.next_line()[1], sls.next_line()[1])
    assert np.allclose(shown[0], [0.2, 0.5, 0.8]) and len(shown) == 4


def test_line_search_beats_random_lines_on_a_simulated_person():
    """Same people, same sliders' first ends: the model-guided line gets closer to their optimum sooner."""
    ours, baseline = [], []
    for s in range(4):
        rng = np.random.default_rng(1000 + s)
        opt, start = rng.uniform(0.1, 0.9, 3), rng.random(3)
        ours.append(simulate(SequentialLineSearch(3, seed=s, start=start), bump(opt), 10, 5))
        baseline.append(simulate(RandomLineSearch(3, seed=s, start=start), bump(opt), 10, 5))
    ours, baseline = np.array(ours), np.array(baseline)
    assert ours[:, -1].mean() > 0.9  # near the optimum after 10 sliders
    assert ours[:, -1].mean() > baseline[:, -1].mean()
    assert ours.mean() > baseline.mean()  # and better along the way
