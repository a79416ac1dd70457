"""Speech in the source's audio: Silero VAD finds a line spoken by espeak-ng and not the explosion-like bursts
around it, the same whether the audio arrives whole or in blocks, and the analysis keeps the spans."""

import shutil

import numpy as np
import pytest

from bench.mix import VAD_RATE
from mm2music.media import speech as speech_module
from mm2music.media.audio import read_audio_envelope
from mm2music.media.speech import SpeechDetector, speech_spans

needs_espeak = pytest.mark.skipif(not shutil.which("espeak-ng"), reason="espeak-ng is not installed (scripts/setup.sh installs it)")


def overlap(spans, a: float, b: float) -> float:
    return sum(max(0.0, min(e, b) - max(s, a)) for s, e in spans)


@needs_espeak
def test_speech_is_found_and_the_bursts_are_not(dialogue):
    _, samples, truth = dialogue
    found = speech_spans(samples, VAD_RATE)
    (a, b), = truth["speech"]
    assert overlap(found, a, b) >= 0.9 * (b - a)
    for a, b in truth["burst"]:
        assert overlap(found, a, b) < 0.1


@needs_espeak
def test_blocks_and_rates_give_the_same_spans(dialogue, monkeypatch):
    from scipy.signal import resample_poly

    _, samples, _ = dialogue
    whole = speech_spans(samples, VAD_RATE)
    monkeypatch.setattr(speech_module, "BLOCK", 40 * speech_module.WINDOW)  # many block edges, each run with its context
    detector = SpeechDetector(VAD_RATE)
    for i in range(0, len(samples), 7777):
        detector.add(samples[i:i + 7777])
    assert np.allclose(detector.spans(), whole, atol=0.1)
    assert np.allclose(speech_spans(resample_poly(samples, 3, 1), 48000), whole, atol=0.1)


def test_silence_and_a_tone_have_no_speech():
    t = np.arange(5 * VAD_RATE) / VAD_RATE
    assert speech_spans(np.zeros(len(t), np.float32)) == []
    assert speech_spans((0.5 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)) == []
    assert speech_spans(np.zeros(0, np.float32)) == []


@needs_espeak
def test_the_audio_envelope_carries_the_speech(dialogue):
    path, _, truth = dialogue
    env = read_audio_envelope(path)
    (a, b), = truth["speech"]
    assert env.speech and overlap(env.speech, a, b) >= 0.9 * (b - a)
    summary = env.summary()
    assert summary["speech"] == [[round(s, 3), round(e, 3)] for s, e in env.speech]
    assert summary["speech_s"] == pytest.approx(sum(e - s for s, e in env.speech), abs=0.01)


@needs_espeak
def test_the_batched_network_gives_silero_s_own_probabilities(dialogue, monkeypatch):
    import torch

    _, samples, _ = dialogue
    monkeypatch.setattr(speech_module, "BLOCK", 100 * speech_module.WINDOW)  # the LSTM state crosses block edges
    detector = SpeechDetector(VAD_RATE)
    detector.add(samples)
    detector.spans()
    ours = np.concatenate(detector._probs)
    model = speech_module.load_model()
    model.reset_states()
    padded = np.pad(samples, (0, -len(samples) % speech_module.WINDOW))
    with torch.inference_mode():  # Silero's streaming call, one 32 ms window at a time
        theirs = np.array([model(torch.from_numpy(w.copy()), VAD_RATE).item() for w in padded.reshape(-1, speech_module.WINDOW)])
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, atol=1e-4)
