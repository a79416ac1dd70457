"""The in-process FluidSynth renderer: notes sound where they are, rendering in pieces equals rendering at
once (what lets the pipeline render each cue while the next is composed), and bad input is one clear error."""

import numpy as np
import pytest

from mm2music.errors import RenderError
from mm2music.render.synth import DEFAULT_SOUNDFONT, Synthesizer

SR = 22050
pytestmark = pytest.mark.skipif(not DEFAULT_SOUNDFONT.is_file(), reason="fluid-soundfont-gm is not installed (scripts/setup.sh installs it)")

NOTES = [  # (start, end, pitch, velocity, program, drum)
    (0.50, 1.00, 60, 90, 0, False), (0.50, 1.20, 64, 80, 40, False), (1.10, 1.60, 67, 100, 0, False),
    (1.25, 1.40, 36, 100, 0, True), (1.60, 2.00, 48, 70, 42, False),
]


def rms(audio: np.ndarray, t0: float, t1: float) -> float:
    return float(np.sqrt(np.mean(audio[int(t0 * SR):int(t1 * SR)] ** 2)))


def render(pieces: list[float]) -> np.ndarray:
    synth = Synthesizer(sample_rate=SR)
    try:
        done = 0.0
        for until in pieces + [2.5]:
            for start, end, pitch, vel, program, drum in NOTES:
                if done <= start < until:
                    synth.add([(start, end, pitch, vel)], program, drum)
            synth.render_until(until)
            done = until
        return synth.finish(int(2.5 * SR))
    finally:
        synth.close()


def test_notes_sound_where_they_are_and_pieces_render_the_same():
    whole = render([])
    assert whole.shape == (int(2.5 * SR), 2) and whole.dtype == np.float32
    assert rms(whole, 0.0, 0.45) < 1e-4  # silence before the first note
    assert rms(whole, 0.55, 0.95) > 100 * max(rms(whole, 0.0, 0.45), 1e-6)
    assert rms(whole, 1.62, 1.95) > 1e-3  # the cello's note (program 42) sounds on its own channel
    pieces = render([0.7, 1.1, 1.3])  # cue boundaries between notes and while notes sound
    np.testing.assert_allclose(pieces, whole, atol=1e-6)


def test_a_note_before_the_rendered_audio_is_refused():
    synth = Synthesizer(sample_rate=SR)
    try:
        synth.render_until(1.0)
        with pytest.raises(RenderError, match="arrived after the audio was rendered"):
            synth.add([(0.5, 0.8, 60, 90)])
    finally:
        synth.close()


def test_missing_or_invalid_soundfont_is_one_line(tmp_path):
    with pytest.raises(RenderError, match="does not exist; pass --soundfont"):
        Synthesizer(tmp_path / "none.sf2")
    bad = tmp_path / "bad.sf2"
    bad.write_bytes(b"not a soundfont")
    with pytest.raises(RenderError) as err:
        Synthesizer(bad)
    assert "cannot load the soundfont" in str(err.value) and "\n" not in str(err.value)
