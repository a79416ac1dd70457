"""The soundtrack rendered track by track to disk, and delivered a block at a time: what the streamed path gives
is what the in-memory one gives, silence costs no synthesis, and only the limited stretches keep a curve."""

from __future__ import annotations

import math
import wave

import numpy as np
import pytest

from mm2music.project.format import load_mix, save_mix_blocks
from mm2music.render.loudness import (PEAK_MARGIN_DB, TRUE_PEAK_DBTP, ArraySource, GainCurve, Level, NpySource, deliver, measure,
                                      plan_delivery, true_peak, write_delivered)
from mm2music.render.mix import Ducking, duck_gain
from mm2music.render.synth import Synthesizer, loudness
from mm2music.render.tracks import TrackFile
from mm2music.types import AudioEnvelope

SR = 44100


def noise(seconds: float, scale: float, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal((int(seconds * SR), 2)) * scale).astype(np.float32)


def read16(path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, 2).astype(np.float32) / 32768.0


def test_a_track_file_gives_back_what_was_written_and_zeros_between(tmp_path):
    t = TrackFile(tmp_path / "t.f32")
    a, b = noise(0.1, 0.1, 1), noise(0.2, 0.1, 2)
    t.write(1000, a[:2000])
    t.write(3000, a[2000:])  # continues the first span
    t.write(20000, b)
    out = t.read(0, 30000)
    np.testing.assert_array_equal(out[1000:1000 + len(a)], a)
    np.testing.assert_array_equal(out[20000:20000 + len(b)], b[:10000])
    assert not out[:1000].any() and not out[1000 + len(a):20000].any()
    np.testing.assert_array_equal(t.read(4000, 21000), out[4000:21000])
    assert len(t._spans) == 2
    assert t.sounds(0, 1001) and not t.sounds(0, 1000) and not t.sounds(1000 + len(a), 20000) and t.sounds(28000, 40000) and not t.sounds(28820, 40000)
    total = np.ones((5000, 2), np.float32)
    assert t.add_into(total, 18000) and not t.add_into(np.zeros((10, 2), np.float32), 50000)
    np.testing.assert_array_equal(total, 1 + out[18000:23000])
    t.close()
    assert not (tmp_path / "t.f32").exists()


def test_the_stored_music_written_in_blocks_is_the_npy_that_loads(tmp_path):
    audio = noise(2.0, 0.1)
    save_mix_blocks(tmp_path, len(audio), (audio[a:a + 10000] for a in range(0, len(audio), 10000)))
    np.testing.assert_array_equal(load_mix(tmp_path, samples=len(audio)), audio)
    src = NpySource(tmp_path / "render" / "music.npy")
    assert src.n == len(audio)
    np.testing.assert_array_equal(src.read(12345, 23456), audio[12345:23456])
    np.testing.assert_array_equal(src.read(len(audio) - 5, len(audio) + 100), audio[-5:])


def test_measured_a_block_at_a_time_as_on_the_whole():
    audio = np.concatenate([noise(3.0, 0.02, 1), noise(4.0, 0.1, 2)])
    levels = [Level(0.0, 3.0, "p"), Level(3.0, 7.0, "ff"), Level(6.9, 7.0, "f")]
    m = measure(ArraySource(audio), SR, levels, block=7777)
    assert m.lufs == pytest.approx(loudness(audio, SR), abs=1e-6)
    assert m.level_lufs[0] == pytest.approx(loudness(audio[:3 * SR], SR), abs=0.01)
    assert m.level_lufs[1] == pytest.approx(loudness(audio[3 * SR:], SR), abs=0.01)
    assert m.level_lufs[2] is None  # shorter than a gating block
    assert m.max_abs == pytest.approx(float(np.abs(audio).max()))


def test_a_long_soundtrack_keeps_a_curve_only_where_the_limiter_acts(tmp_path):
    # two minutes of music-like noise with three loud transients: the limiter acts around them alone
    audio = noise(120.0, 0.05, 3)
    for t in (10.0, 61.3, 110.0):
        audio[int(t * SR)] = 0.8
    save_mix_blocks(tmp_path, len(audio), (audio[a:a + (1 << 20)] for a in range(0, len(audio), 1 << 20)))
    source = NpySource(tmp_path / "render" / "music.npy")
    report = plan_delivery(source, SR, -14.0, [Level(0, 120, "ff")])
    assert report.peak_limited and report.limiter is not None
    kept = sum(len(c) for _, c in report.limiter.segments)
    assert len(report.limiter.segments) == 3 and kept < 0.02 * len(audio)
    report = write_delivered(source, report, tmp_path / "out.wav", SR)
    out = read16(tmp_path / "out.wav")
    assert true_peak(out) <= TRUE_PEAK_DBTP - PEAK_MARGIN_DB + 0.05  # 16-bit rounding
    assert report.lufs == pytest.approx(loudness(out, SR), abs=0.01)
    # the same as delivering the whole array in memory
    whole, same = deliver(audio, SR, -14.0, [Level(0, 120, "ff")])
    assert same.gain_db == pytest.approx(report.gain_db) and same.true_peak_dbtp == pytest.approx(report.true_peak_dbtp)
    np.testing.assert_allclose(out, np.clip(whole, -1, 1), atol=2 / 32768)


def test_a_gain_curve_reads_in_blocks_and_at_another_rate():
    curve = GainCurve(0.5, 1000, [(100, np.linspace(0.5, 0.25, 50, dtype=np.float32))])
    full = curve.full()
    assert full[:100].tolist() == [0.5] * 100 and full[149] == pytest.approx(0.25)
    assert curve.block(0, 100) == 0.5 and curve.block(150, 1000) == 0.5
    np.testing.assert_array_equal(curve.block(120, 130), full[120:130])
    up = curve.resampled(0, 2000, 88200, 44100)
    assert up.shape == (2000,) and up.min() == pytest.approx(full.min(), abs=1e-3)
    assert curve.scaled(2.0).min() == pytest.approx(0.5)


def test_ducking_a_block_at_a_time_is_the_whole_curve():
    env = AudioEnvelope(SR, 0.01, 10.0, np.zeros(1000), np.zeros(1000), speech=((2.0, 4.0), (7.0, 7.5)))
    whole = duck_gain(env, 10 * SR, SR)
    ducking = Ducking(env, SR, 10.0)
    np.testing.assert_array_equal(np.concatenate([ducking.block(a, min(10 * SR, a + 65536)) for a in range(0, 10 * SR, 65536)]), whole)


def test_silence_costs_no_synthesis_and_notes_land_where_they_would(monkeypatch):
    # a note after 20 s of silence: FluidSynth computes the note and its tail, not the silence; the note starts
    # on the same sample as in a synth that runs through everything
    quiet = Synthesizer(22 * SR, sample_rate=SR, measure=False)
    quiet.add([(20.0, 20.5, 60, 100)], 0)
    a = quiet.finish()
    from mm2music.render import synth

    monkeypatch.setattr(synth, "SILENCE", 0.0)  # never quiet: every sample synthesised
    busy = Synthesizer(22 * SR, sample_rate=SR, measure=False)
    busy.add([(0.0, 0.1, 30, 1), (20.0, 20.5, 60, 100)], 0)
    b = busy.finish()
    quiet.close(), busy.close()
    assert quiet.synthesised < 2.5 * SR and busy.synthesised == 22 * SR
    assert np.abs(a[:20 * SR]).max() < 1e-6  # zeros, and the few samples that keep FluidSynth on its blocks
    onset = lambda x: int(np.argmax(np.abs(x[20 * SR:, 0]) > 1e-3))  # noqa: E731
    assert onset(a) == onset(b)
    np.testing.assert_allclose(a[20 * SR:int(20.3 * SR)], b[20 * SR:int(20.3 * SR)], atol=0.02)
    assert math.isfinite(loudness(a, SR))
