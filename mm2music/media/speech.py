"""Where the source's audio has speech: Silero VAD, a small voice-activity network (MIT; its model ships inside the
``silero-vad`` wheel; CPU, offline, 16 kHz).

A band-energy guess ducks the music under every loud sound in 300-3,400 Hz, an explosion as much as a line of
dialogue; the VAD tells the voice apart. Audio arrives in blocks (the source is streamed, never held whole).
Silero's own streaming call runs its network once per 32 ms window from Python (~2.5% of real time here); its
network is a per-window front end (STFT + convolutions, no state) and one LSTM cell, so :class:`_Network` runs the
front end over every window of a block at once and the LSTM over the block as one sequence, carrying the LSTM
state and the 64-sample context across blocks: the same probabilities as the streaming call (within 1e-5;
tests/media/test_speech.py checks it) at ~0.2% of real time. Silero's own post-processing turns them into spans.
"""

from __future__ import annotations

import math
import warnings
from functools import lru_cache

import numpy as np

from mm2music.errors import MediaError

VAD_RATE = 16000  # Hz: the rate the network was trained at
WINDOW = 512  # samples per probability at 16 kHz (32 ms)
CONTEXT = 64  # samples of the previous window the network sees before each window (as Silero's streaming call)
BLOCK = 30 * VAD_RATE // WINDOW * WINDOW  # samples scored at once (~30 s)


def load_model():
    """Silero VAD's TorchScript model as the wheel ships it (the streaming ``model(window, 16000)`` call)."""
    try:
        from silero_vad import load_silero_vad
    except ImportError:
        raise MediaError("the speech detector (silero-vad) is not installed; run bash scripts/setup.sh or "
                         "pip install --no-deps silero-vad") from None
    with warnings.catch_warnings():  # torch.jit.load's deprecation notice: the wheel ships a TorchScript model
        warnings.simplefilter("ignore", FutureWarning)
        return load_silero_vad()


class _Network:
    """Silero VAD's 16 kHz network over many windows at once: ``(windows (N, CONTEXT + WINDOW), LSTM state)``
    -> ``(speech probability per window (N,), state)``. Stateless between calls (the caller carries the LSTM
    state): one per process, :meth:`shared`."""

    @classmethod
    @lru_cache(maxsize=1)
    def shared(cls) -> _Network:
        """The process's network, built on first use (loading it costs ~0.1 s a run otherwise)."""
        return cls()

    def __init__(self):
        import torch

        net = load_model()._model  # the 16 kHz branch: stft -> encoder -> decoder (rnn, then a 1x1 conv head)
        self._front = lambda x: net.encoder(net.stft(x))  # (N, 128, 1)
        self._head = net.decoder.decoder
        cell = dict(net.decoder.rnn.named_parameters())
        self._lstm = torch.nn.LSTM(128, 128)
        self._lstm.load_state_dict({f"{k}_l0": cell[k] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")})

    def __call__(self, windows, state):
        import torch

        with torch.inference_mode():
            features = self._front(windows).squeeze(-1)  # (N, 128)
            h, state = self._lstm(features[:, None, :], state)  # the windows in time order as one sequence
            return self._head(h[:, 0, :, None])[:, 0, 0].numpy(), state


class SpeechDetector:
    """Speech spans (seconds) of mono audio at ``sample_rate`` streamed through :meth:`add` in blocks of any
    length; :meth:`spans` when it has all arrived."""

    def __init__(self, sample_rate: int = VAD_RATE, threshold: float = 0.5, min_speech_s: float = 0.25,
                 min_silence_s: float = 0.1, pad_s: float = 0.03):
        self.sample_rate = sample_rate
        self.settings = {"threshold": threshold, "min_speech_duration_ms": round(min_speech_s * 1000),
                         "min_silence_duration_ms": round(min_silence_s * 1000), "speech_pad_ms": round(pad_s * 1000)}
        self._network = _Network.shared()
        self._state = None  # the LSTM's (h, c) after the last window scored
        self._pending = np.empty(0, np.float32)  # 16 kHz samples not yet scored
        self._context = np.zeros(CONTEXT, np.float32)  # the end of the last window scored (silence before the start)
        self._probs: list[np.ndarray] = []
        self._n = 0  # 16 kHz samples received

    def _resample(self, samples: np.ndarray) -> np.ndarray:
        if self.sample_rate == VAD_RATE:
            return samples.astype(np.float32, copy=False)
        from scipy.signal import resample_poly

        g = math.gcd(VAD_RATE, self.sample_rate)
        return resample_poly(samples, VAD_RATE // g, self.sample_rate // g).astype(np.float32)

    def _score(self, block: np.ndarray) -> None:
        """Probabilities of ``block`` (a multiple of WINDOW samples), each window with the CONTEXT before it."""
        import torch

        frames = block.reshape(-1, WINDOW)
        context = np.concatenate([self._context[None], frames[:-1, -CONTEXT:]])
        probs, self._state = self._network(torch.from_numpy(np.concatenate([context, frames], axis=1)), self._state)
        self._probs.append(probs)
        self._context = frames[-1, -CONTEXT:].copy()

    def add(self, samples: np.ndarray) -> None:
        """The next mono samples (float, -1..1)."""
        samples = self._resample(np.asarray(samples, np.float32))
        self._n += len(samples)
        self._pending = np.concatenate([self._pending, samples])
        while len(self._pending) >= BLOCK:
            self._score(self._pending[:BLOCK])
            self._pending = self._pending[BLOCK:]

    def spans(self) -> list[tuple[float, float]]:
        """``(start s, end s)`` of every stretch of speech in the audio added so far."""
        from silero_vad import get_speech_timestamps_from_probs

        if len(self._pending):  # the last partial window is padded with silence, as Silero pads it
            tail = np.pad(self._pending, (0, -len(self._pending) % WINDOW))
            self._score(tail)
            self._pending = np.empty(0, np.float32)
        if not self._probs or self._n == 0:
            return []
        probs = np.concatenate(self._probs).tolist()
        found = get_speech_timestamps_from_probs(probs, sampling_rate=VAD_RATE, return_seconds=True, audio_length_samples=self._n,
                                                 **self.settings)
        return [(float(s["start"]), float(s["end"])) for s in found]


def speech_spans(samples: np.ndarray, sample_rate: int = VAD_RATE) -> list[tuple[float, float]]:
    """``(start s, end s)`` of the speech in mono ``samples`` (float, -1..1) at ``sample_rate``: where the
    music ducks and the arrangement can thin out."""
    detector = SpeechDetector(sample_rate)
    detector.add(samples)
    return detector.spans()
