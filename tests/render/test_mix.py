"""Ducking under dialogue: the music goes down under speech only (not under an explosion), and a scored video
with speech carries it all through: the speech in the analysis, a ducked mix, a seated stereo soundtrack at the
delivery loudness."""

import json

import numpy as np
import pretty_midi
import pytest

from mm2music import cli
from mm2music.arrange.seating import seat
from mm2music.media.audio import read_audio_envelope
from mm2music.render.loudness import true_peak
from mm2music.render.mix import duck_gain, ducked_fraction
from mm2music.render.synth import read_wav
from mm2music.types import AudioEnvelope
from tests.conftest import ffmpeg

SR = 8000


def envelope(speech) -> AudioEnvelope:
    hops = np.zeros(200, np.float32)
    return AudioEnvelope(16000, 0.05, 10.0, hops - 20, hops - 20, speech=tuple(speech))


def db(gain: np.ndarray, a: float, b: float) -> float:
    return float(20 * np.log10(np.mean(gain[int(a * SR):int(b * SR)])))


def test_the_music_ducks_under_speech_only():
    gain = duck_gain(envelope([(3.0, 6.0)]), 10 * SR, SR, depth_db=-12.0)
    assert gain.shape == (10 * SR,) and gain.dtype == np.float32
    assert db(gain, 4.0, 6.0) == pytest.approx(-12.0, abs=0.3)  # held down through the line
    assert db(gain, 0.0, 2.5) == pytest.approx(0.0, abs=0.01)  # untouched before it
    assert gain[int(2.99 * SR)] < 0.9  # already going down as the first syllable starts
    assert db(gain, 9.0, 10.0) > -0.5  # back up after the release
    assert ducked_fraction(gain) == pytest.approx(0.3, abs=0.05)
    assert np.all(duck_gain(envelope([]), 10 * SR, SR) == 1.0)


def test_speech_ducks_6_db_more_than_an_explosion_which_barely_moves_the_music(dialogue):
    path, _, truth = dialogue
    env = read_audio_envelope(path)
    gain = duck_gain(env, int(env.duration * SR), SR, depth_db=-12.0)
    (a, b), = truth["speech"]
    under_speech = db(gain, a + 0.3, b - 0.1)
    under_bursts = min(db(gain, s + 0.3, e - 0.1) for s, e in truth["burst"])
    assert under_bursts >= -3.0
    assert under_bursts - under_speech >= 6.0


@pytest.fixture(scope="module")
def spoken_video(dialogue, tmp_path_factory):
    path = tmp_path_factory.mktemp("spoken") / "spoken.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x90:r=25", "-i", str(dialogue[0]), "-map", "0:v", "-map", "1:a", "-shortest",
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(path))
    return path


def test_a_scored_video_with_dialogue(capfd, tmp_path, tiny_checkpoint, spoken_video):
    code = cli.main(["--video", str(spoken_video), "--loudness", "ebu", "--mix", "keep", "--checkpoint", str(tiny_checkpoint),
                     "--config", "debug", "--out", str(tmp_path), "-q"])
    assert code == 0, capfd.readouterr().err
    out = tmp_path / "spoken"
    speech = json.loads((out / "analysis.json").read_text())["audio"]["speech"]
    assert speech and all(e > s for s, e in speech)  # where the arrangement can thin out
    sheet = json.loads((out / "cue_sheet.json").read_text())
    assert 0.2 < sheet["ducked_fraction"] < 0.8  # the line, not the bursts or the silences
    assert sheet["loudness_target_lufs"] == -23.0 and sheet["true_peak_dbtp"] <= -1.0
    audio = read_wav(out / "soundtrack.wav")
    assert true_peak(audio) <= -1.0 + 0.05  # 16-bit rounding
    assert not np.allclose(audio[:, 0], audio[:, 1], atol=1e-3)  # stereo, not two copies of mono
    midi = pretty_midi.PrettyMIDI(str(out / "soundtrack.mid"))
    for inst in midi.instruments:  # each track seated where the synth played it
        cc = {c.number: c.value for c in inst.control_changes if c.number in (10, 91)}
        place = seat(inst.program, inst.is_drum)
        assert cc == {10: place.pan_cc, 91: place.reverb_cc}, inst.name
