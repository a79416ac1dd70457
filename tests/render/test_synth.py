"""The in-process FluidSynth renderer: notes sound where they are, rendering in pieces equals rendering at
once (what lets the pipeline render each cue while the next is composed), and bad input is one clear error."""

import numpy as np
import pytest

from mm2music.errors import RenderError
from mm2music.render.synth import DEFAULT_SOUNDFONT, LoudnessMeter, Synthesizer

SR = 22050
pytestmark = pytest.mark.skipif(not DEFAULT_SOUNDFONT.is_file(), reason="fluid-soundfont-gm is not installed (scripts/setup.sh installs it)")

NOTES = [  # (start, end, pitch, velocity, program, drum)
    (0.50, 1.00, 60, 90, 0, False), (0.50, 1.20, 64, 80, 40, False), (1.10, 1.60, 67, 100, 0, False),
    (1.25, 1.40, 36, 100, 0, True), (1.60, 2.00, 48, 70, 42, False),
]


def rms(audio: np.ndarray, t0: float, t1: float) -> float:
    return float(np.sqrt(np.mean(audio[int(t0 * SR):int(t1 * SR)] ** 2)))


def render(pieces: list[float]) -> tuple[np.ndarray, float]:
    synth = Synthesizer(int(2.5 * SR), sample_rate=SR, fade_s=0.2)
    try:
        done = 0.0
        for until in pieces + [2.5]:
            for start, end, pitch, vel, program, drum in NOTES:
                if done <= start < until:
                    synth.add([(start, end, pitch, vel)], program, drum)
            synth.render_until(until)
            done = until
        return synth.finish(), synth.loudness()
    finally:
        synth.close()


def test_notes_sound_where_they_are_and_pieces_render_the_same():
    whole, lufs = render([])
    assert whole.shape == (int(2.5 * SR), 2) and whole.dtype == np.float32
    assert rms(whole, 0.0, 0.45) < 1e-4  # silence before the first note
    assert rms(whole, 0.55, 0.95) > 100 * max(rms(whole, 0.0, 0.45), 1e-6)
    assert rms(whole, 1.62, 1.95) > 1e-3  # the cello's note (program 42) sounds on its own channel
    pieces, lufs_pieces = render([0.7, 1.1, 1.3, 2.4])  # boundaries between notes, while notes sound, in the fade
    np.testing.assert_allclose(pieces, whole, atol=1e-6)
    assert lufs_pieces == pytest.approx(lufs, abs=1e-6)
    assert np.abs(whole[-1]).max() < 1e-4  # faded out at the very end


def test_loudness_meter_matches_pyloudnorm_however_the_audio_arrives():
    import pyloudnorm

    rng = np.random.default_rng(0)
    t = np.arange(int(3.3 * SR)) / SR
    audio = (0.3 * np.sin(2 * np.pi * 440 * t) * (t > 1.0) + 0.01 * rng.standard_normal(len(t))).astype(np.float32)
    audio = np.stack([audio, 0.5 * audio], axis=1)
    want = pyloudnorm.Meter(SR).integrated_loudness(audio.astype(np.float64))
    meter = LoudnessMeter(SR)
    cuts = np.sort(rng.integers(0, len(audio), 25))
    for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(audio)]):
        meter.add(audio[lo:hi])
    assert meter.integrated() == pytest.approx(want, abs=1e-6)
    assert LoudnessMeter(SR).integrated() == float("-inf")


def test_a_note_before_the_rendered_audio_is_refused():
    synth = Synthesizer(2 * SR, sample_rate=SR)
    try:
        synth.render_until(1.0)
        with pytest.raises(RenderError, match="arrived after the audio was rendered"):
            synth.add([(0.5, 0.8, 60, 90)])
    finally:
        synth.close()


def test_missing_or_invalid_soundfont_is_one_line(tmp_path):
    with pytest.raises(RenderError, match="does not exist; pass --soundfont"):
        Synthesizer(SR, tmp_path / "none.sf2")
    bad = tmp_path / "bad.sf2"
    bad.write_bytes(b"not a soundfont")
    with pytest.raises(RenderError) as err:
        Synthesizer(SR, bad)
    assert "cannot load the soundfont" in str(err.value) and "\n" not in str(err.value)


def test_the_chorus_runs_only_where_a_preset_that_uses_it_plays():
    from mm2music.render import synth as synth_module

    users = synth_module.chorus_presets(synth_module.find_soundfont(None))
    assert users is not None and (0, 40) not in users  # a violin sends nothing to the chorus
    chorused = sorted(p for b, p in users if b == 0)
    assert chorused  # General MIDI soundfonts put the electric pianos and the synth pads in it

    def render(program: int, presets) -> np.ndarray:
        synth = Synthesizer(int(2.0 * SR), sample_rate=SR, presets=presets)
        try:
            synth.add([(0.1, 0.8, 60, 90)], 40)
            synth.add([(0.9, 1.5, 64, 90)], program)
            return synth.finish()
        finally:
            synth.close()

    # a synth told what it plays sounds exactly like one whose chorus runs throughout (presets unknown)
    for program in (42, chorused[0]):
        np.testing.assert_array_equal(render(program, [(0, 40), (0, program)]), render(program, None))
    # one that plays a chorused preset it was not told of switches the chorus on: the sound is there
    assert np.abs(render(chorused[0], [(0, 40)])[int(0.9 * SR):]).max() > 1e-3
