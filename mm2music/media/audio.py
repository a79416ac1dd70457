"""The source's own audio track, streamed through ffmpeg and reduced to envelopes.

A two-hour film's audio at 16 kHz is ~460 MB as float32, so it is never held whole: ffmpeg streams mono
PCM, and each block is reduced to a broadband RMS envelope and a speech-band (300-3400 Hz) envelope with
a short-time Fourier transform, and passed through a voice-activity detector (:mod:`~mm2music.media.speech`,
Silero VAD) that finds where people speak. Later stages duck the music under that speech.
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import numpy as np

from mm2music.errors import MediaError
from mm2music.media.speech import SpeechDetector
from mm2music.types import AudioEnvelope

log = logging.getLogger(__name__)

SPEECH_BAND_HZ = (300.0, 3400.0)
_EPS = 1e-10


def _block_envelopes(block: np.ndarray, sr: int, hop: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-hop RMS (dBFS) of a block, broadband and speech band. ``len(block)`` is a multiple of ``hop``.

    Non-overlapping Hann-windowed frames of ``hop`` samples; by Parseval, the one-sided power spectrum
    summed over a band and divided by ``sum(w**2) * hop / 2`` is that band's mean power.
    """
    frames = block.reshape(-1, hop).astype(np.float64)  # (T, hop)
    window = np.hanning(hop)
    power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2  # (T, F)
    freqs = np.fft.rfftfreq(hop, 1.0 / sr)
    band = (freqs >= SPEECH_BAND_HZ[0]) & (freqs <= SPEECH_BAND_HZ[1])
    norm = np.sum(window**2) * hop / 2
    total = power.sum(axis=1) / norm
    speech = power[:, band].sum(axis=1) / norm
    return 10 * np.log10(total + _EPS), 10 * np.log10(speech + _EPS)


def read_audio_envelope(path: str | Path, sample_rate: int = 16000, hop_s: float = 0.05, block_s: float = 30.0) -> AudioEnvelope | None:
    """Envelopes and speech spans of the first audio stream of ``path``; None when it has none.

    Memory is bounded by ``block_s`` seconds of samples.
    """
    hop = max(16, int(round(sample_rate * hop_s)))
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a:0", "-vn", "-ac", "1", "-ar", str(sample_rate), "-f", "f32le", "-"]
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except FileNotFoundError:
        raise MediaError("ffmpeg not found; install it (bash scripts/setup.sh does it)") from None
    block_bytes = int(block_s * sample_rate) // hop * hop * 4
    rms, speech = [], []
    carry = np.empty(0, np.float32)
    vad = SpeechDetector(sample_rate)
    n_samples = 0
    sum_sq = 0.0
    assert proc.stdout is not None
    while True:
        data = proc.stdout.read(block_bytes)
        if not data:
            break
        samples = np.frombuffer(data[: len(data) // 4 * 4], dtype="<f4")
        n_samples += len(samples)
        sum_sq += float(np.dot(samples.astype(np.float64), samples))
        vad.add(samples)
        samples = np.concatenate([carry, samples])
        usable = len(samples) // hop * hop
        if usable:
            r, s = _block_envelopes(samples[:usable], sample_rate, hop)
            rms.append(r)
            speech.append(s)
        carry = samples[usable:]
    _, err = proc.communicate()
    if proc.returncode != 0 and n_samples == 0:
        message = err.decode("utf-8", "replace").strip()
        if "matches no streams" in message or "does not contain any stream" in message:
            return None
        log.warning("could not read the audio of %s: %s", Path(path).name, (message.splitlines() or ["?"])[-1])
        return None
    if n_samples == 0:
        return None
    rms_db = np.concatenate(rms) if rms else np.full(1, 10 * np.log10(sum_sq / n_samples + _EPS))
    speech_db = np.concatenate(speech) if speech else rms_db.copy()
    mean_sq = sum_sq / n_samples
    # Ungated loudness estimate (ITU-R BS.1770 without K-weighting/gating): enough to compare levels.
    loudness = -0.691 + 10 * np.log10(mean_sq + _EPS)
    return AudioEnvelope(
        sample_rate=sample_rate,
        hop_s=hop / sample_rate,
        duration=n_samples / sample_rate,
        rms_db=rms_db.astype(np.float32),
        speech_db=speech_db.astype(np.float32),
        loudness_lufs=float(loudness),
        speech=tuple(vad.spans()),
    )
