"""Delivery loudness: the --loudness vocabulary, the true peak, and one gain that meets the target while each cue
keeps its planned dynamic (a p cue alone lands well under an ff cue alone, the steps inside a score survive)."""

import math
from types import SimpleNamespace

import numpy as np
import pytest

from mm2music.errors import ConfigError
from mm2music.render.loudness import (DYNAMIC_LEVEL_DB, LOUDNESS_TARGETS, MAX_LIMIT_DB, PEAK_MARGIN_DB, TRUE_PEAK_DBTP, Level,
                                      ArraySource, cue_levels, deliver, fit_gain_db, measure, target_lufs, true_peak)
from mm2music.render.stems import gain_block
from mm2music.render.synth import loudness

SR = 22050


def noise(seconds: float, level: float, seed: int = 0) -> np.ndarray:
    """White stereo noise at an RMS of ``level`` (peaks ~4.5x over it)."""
    return (level * np.random.default_rng(seed).standard_normal((int(seconds * SR), 2))).astype(np.float32)


@pytest.mark.parametrize("value, lufs", [("ebu", -23.0), ("stream", -16.0), ("stream14", -14.0), ("EBU", -23.0), ("-20", -20.0), (-18.5, -18.5)])
def test_loudness_names_and_numbers(value, lufs):
    assert target_lufs(value) == lufs


@pytest.mark.parametrize("value, match", [("loud", "not a delivery target; choose ebu"), ("3", "out of range"), ("nan", "out of range")])
def test_a_bad_loudness_is_one_clear_error(value, match):
    with pytest.raises(ConfigError, match=match):
        target_lufs(value)


def test_every_name_is_a_broadcast_or_streaming_level():
    assert set(LOUDNESS_TARGETS) == {"ebu", "stream", "stream14"}
    assert all(-24 <= v <= -14 for v in LOUDNESS_TARGETS.values())


def test_true_peak_finds_the_peak_between_samples():
    # a sine at a quarter of the rate, sampled 45 degrees off its crests: every sample is at 0.707 of the crest
    n = np.arange(SR)
    x = np.sin(2 * np.pi * n / 4 + np.pi / 4)[:, None].repeat(2, axis=1)
    sample_peak = 20 * math.log10(np.abs(x).max())
    assert sample_peak == pytest.approx(-3.01, abs=0.01)
    assert true_peak(x) == pytest.approx(0.0, abs=0.2)  # the interpolation filter ripples ~0.1 dB
    assert true_peak(np.zeros((100, 2))) == -math.inf


def test_true_peak_is_the_same_in_blocks(monkeypatch):
    from mm2music.render import loudness as module

    x = noise(3.0, 0.2, seed=3)
    whole = true_peak(x)
    monkeypatch.setattr(module, "_PEAK_BLOCK", 1000)  # many block edges
    monkeypatch.setattr(module, "_RUN", 3000)
    assert true_peak(x) == pytest.approx(whole, abs=1e-9)


def test_a_single_cue_lands_at_its_dynamic_whatever_its_rendered_level():
    target = LOUDNESS_TARGETS["ebu"]
    for dyn, rendered in (("p", 0.01), ("p", 0.2), ("ff", 0.01), ("mf", 0.05)):
        audio = noise(8.0, rendered)
        out, report = deliver(audio, SR, target, [Level(0.0, 8.0, dyn)])
        assert loudness(out, SR) == pytest.approx(target + DYNAMIC_LEVEL_DB[dyn], abs=0.05)
        assert report.lufs == pytest.approx(loudness(out, SR), abs=0.01)
        assert not report.peak_limited and report.curve is None and report.true_peak_dbtp <= TRUE_PEAK_DBTP


def test_p_alone_stays_8_db_under_ff_alone_even_when_the_peak_ceiling_holds_ff_back():
    for name, target in LOUDNESS_TARGETS.items():
        p, _ = deliver(noise(8.0, 0.05, 1), SR, target, [Level(0, 8, "p")])
        ff, report = deliver(noise(8.0, 0.05, 2), SR, target, [Level(0, 8, "ff")])
        gap = loudness(ff, SR) - loudness(p, SR)
        assert gap >= 8.0, (name, gap)
        assert true_peak(ff) <= TRUE_PEAK_DBTP and true_peak(p) <= TRUE_PEAK_DBTP


def test_a_few_peaks_are_limited_and_the_rest_keeps_its_gain():
    audio = noise(6.0, 0.05)
    audio[3 * SR] = 0.45  # one spike over the noise's peaks (~0.25)
    levels = [Level(0, 6, "ff")]
    planned = fit_gain_db(measure(ArraySource(audio), SR, levels), levels, -16.0, SR)
    out, report = deliver(audio, SR, -16.0, [Level(0, 6, "ff")])
    assert report.peak_limited and report.gain_db == pytest.approx(planned) and 0 < report.limiter_db <= MAX_LIMIT_DB
    assert true_peak(out) <= TRUE_PEAK_DBTP - PEAK_MARGIN_DB + 1e-3
    curve = report.curve
    far = np.r_[0:2 * SR, 4 * SR:6 * SR]
    assert np.allclose(curve[far], 10 ** (planned / 20))  # untouched away from the spike
    near = slice(3 * SR - int(0.02 * SR), 3 * SR + int(0.06 * SR))
    assert curve[near].min() < 10 ** (planned / 20) * 0.9 and np.argmin(curve) in range(near.start, near.stop)
    assert report.lufs == pytest.approx(loudness(out, SR), abs=1e-3) and report.lufs == pytest.approx(-13.0, abs=0.1)


def test_a_peak_beyond_the_limiters_reach_brings_the_whole_gain_down():
    audio = noise(6.0, 0.02)
    audio[SR] = 0.9  # over 20 dB above the noise's peaks
    out, report = deliver(audio, SR, -14.0, [Level(0, 6, "ff")])
    assert report.peak_limited and report.limiter_db == pytest.approx(MAX_LIMIT_DB, abs=0.05)
    assert true_peak(out) <= TRUE_PEAK_DBTP - PEAK_MARGIN_DB + 1e-3
    assert report.lufs < -14.0 + DYNAMIC_LEVEL_DB["ff"] - 3


def test_stems_scaled_by_the_mix_gain_add_up_to_the_limited_mix():
    a, b = noise(4.0, 0.05, 1), noise(4.0, 0.04, 2)
    b[2 * SR] = 0.7
    mix, report = deliver(a + b, SR, -14.0, [Level(0, 4, "ff")])
    assert report.curve is not None
    parts = [x * gain_block(report.gain, 0, len(x), SR, SR) for x in (a, b)]
    np.testing.assert_allclose(parts[0] + parts[1], mix, atol=1e-6)
    assert gain_block(0.5, 0, 10, SR, SR) == 0.5
    resampled = gain_block(report.gain, 0, int(4.0 * 48000), 48000, SR)  # --stems-format 48k24
    assert resampled.shape == (4 * 48000, 1)
    assert resampled.min() == pytest.approx(report.curve.min(), abs=1e-3)


def test_one_gain_keeps_the_steps_between_cues_and_fits_their_plan():
    # a p cue rendered 12 dB under an ff cue: both keep that step; the fit puts them around their planned levels
    quiet, loud = noise(10.0, 0.02, 1), noise(10.0, 0.08, 2)
    audio = np.concatenate([quiet, loud])
    out, report = deliver(audio, SR, -23.0, [Level(0, 10, "p"), Level(10, 20, "ff")])
    a, b = loudness(out[:10 * SR], SR), loudness(out[10 * SR:], SR)
    assert b - a == pytest.approx(loudness(loud, SR) - loudness(quiet, SR), abs=0.05)
    want = (-23.0 + DYNAMIC_LEVEL_DB["p"] - loudness(quiet, SR) - 23.0 + DYNAMIC_LEVEL_DB["ff"] - loudness(loud, SR)) / 2
    assert report.gain_db == pytest.approx(want, abs=0.05)


def test_without_a_plan_the_whole_file_meets_the_target_and_silence_is_left_alone():
    out, report = deliver(noise(5.0, 0.1), SR, -16.0)
    assert loudness(out, SR) == pytest.approx(-16.0, abs=0.05)
    silent, report = deliver(np.zeros((SR, 2), np.float32), SR, -16.0, [Level(0, 1, "p")])
    assert report.gain_db == 0.0 and not np.any(silent)


def test_cue_levels_in_a_preview_window():
    cues = [SimpleNamespace(start=0.0, end=5.0, dynamics="p"), SimpleNamespace(start=5.0, end=12.0, dynamics="ff")]
    assert cue_levels(cues) == [Level(0.0, 5.0, "p"), Level(5.0, 12.0, "ff")]
    assert cue_levels(cues, 4.0, 8.0) == [Level(0.0, 1.0, "p"), Level(1.0, 4.0, "ff")]


def test_the_cli_offers_the_targets_and_refuses_others_in_one_line(capfd, tmp_path):
    from mm2music import cli

    assert "--loudness {ebu,stream,stream14,LUFS}" in " ".join(cli.build_parser().format_help().split())
    with pytest.raises(SystemExit) as exit_:  # a usage error: argparse's exit 2
        cli.main(["--text", "a calm sea", "--loudness", "loud", "--out", str(tmp_path)])
    assert exit_.value.code == 2 and "'loud' is not a delivery target; choose ebu (-23 LUFS)" in capfd.readouterr().err
    code = cli.main(["--text", "a calm sea", "--set", "render.loudness=-80", "--out", str(tmp_path)])
    err = capfd.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and err[0].startswith("error: --loudness '-80' is out of range")
    assert not any(tmp_path.iterdir())  # nothing written
