"""The built-in visual affect encoder: colour, light and motion features and their valence/arousal."""

import time

import numpy as np
import pytest

from mm2music.encoders import FEATURES, AffectEncoder, affect_va
from mm2music.encoders.affect import frame_features

F = {name: i for i, name in enumerate(FEATURES)}


def solid(rgb, n=1, h=144, w=256):
    return np.broadcast_to(np.array(rgb, np.uint8), (n, h, w, 3)).copy()


def test_features_of_solid_colours():
    red, _ = frame_features(solid((255, 0, 0)))
    grey, _ = frame_features(solid((128, 128, 128)))
    blue, _ = frame_features(solid((0, 0, 255)))
    assert red[0, F["brightness"]] == pytest.approx(0.299, abs=1e-3)
    assert red[0, F["saturation"]] == pytest.approx(1.0) and grey[0, F["saturation"]] == 0
    assert red[0, F["warmth"]] == pytest.approx(1.0) and blue[0, F["warmth"]] == pytest.approx(-1.0)
    assert red[0, F["hue_x"]] == pytest.approx(1.0, abs=1e-3) and abs(red[0, F["hue_y"]]) < 1e-3
    assert grey[0, F["colourfulness"]] == 0
    assert red[0, F["colourfulness"]] == pytest.approx(0.3 * np.hypot(255, 127.5) / 100, abs=1e-3)  # sigma 0, only the mean term
    assert grey[0, F["contrast"]] == 0


def test_motion_is_the_change_since_the_previous_sampled_frame_across_calls():
    enc = AffectEncoder()
    still = enc.encode_frames(solid((90, 90, 90), n=3))
    assert np.all(still[:, F["motion"]] == 0)
    flip = enc.encode_frames(np.concatenate([solid((255, 255, 255)), solid((0, 0, 0))]))
    assert flip[0, F["motion"]] == pytest.approx(1 - 90 / 255, abs=0.01)  # against the last frame of the previous call
    assert flip[1, F["motion"]] == pytest.approx(1.0, abs=0.01)


def dark_still(n=20):
    return solid((20, 22, 30), n=n)


def bright_fast(n=20):
    rng = np.random.default_rng(0)
    palette = np.array([(250, 200, 40), (40, 210, 250), (250, 70, 150), (120, 250, 60)], np.uint8)
    out = np.empty((n, 144, 256, 3), np.uint8)
    for i in range(n):
        out[i] = palette[i % 4]
        x = int(rng.integers(0, 200))
        out[i, 40:100, x : x + 50] = 255
    return out


def test_dark_still_frames_read_lower_valence_and_arousal_than_bright_saturated_fast_ones():
    dark = AffectEncoder().encode_frames(dark_still())
    bright = AffectEncoder().encode_frames(bright_fast())
    v_dark, a_dark = affect_va(dark, cuts_per_min=2)
    v_bright, a_bright = affect_va(bright, cuts_per_min=40)
    assert v_dark < 0 < v_bright and a_dark < 0 < a_bright
    assert all(-1 <= x <= 1 for x in (v_dark, a_dark, v_bright, a_bright))


def test_cutting_rate_raises_arousal():
    feats = AffectEncoder().encode_frames(solid((120, 110, 100), n=4))
    assert affect_va(feats, cuts_per_min=40)[1] > affect_va(feats, cuts_per_min=3)[1]


def test_affect_features_are_cheap():
    frames = bright_fast(60)
    enc = AffectEncoder()
    t0 = time.perf_counter()
    enc.encode_frames(frames)
    assert time.perf_counter() - t0 < 1.5  # ~2 ms a frame on an idle core; 2 fps of a 2-hour film is 14,400 frames
