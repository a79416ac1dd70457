"""Render MIDI to audio with FluidSynth and a General MIDI soundfont, then loudness-normalise.

The ``fluidsynth`` program (Debian package ``fluidsynth``) renders the file faster than real time and honours
the tempo map, program changes and controllers exactly as a DAW would play them. Loudness is measured with
pyloudnorm (ITU-R BS.1770-4) and normalised to ``target_lufs`` with the peak kept under ``peak_dbfs``.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np

from mm2music.errors import RenderError

log = logging.getLogger(__name__)

DEFAULT_SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")


def find_soundfont(path: str | Path | None = None) -> Path:
    """The soundfont to use: ``path`` if given, else the Debian GM soundfont."""
    sf = Path(path) if path else DEFAULT_SOUNDFONT
    if not sf.is_file():
        if path:
            raise RenderError(f"soundfont '{sf}' does not exist; pass --soundfont with an .sf2 file")
        raise RenderError(f"General MIDI soundfont {sf} is missing; install the Debian package fluid-soundfont-gm (bash scripts/setup.sh does it) or pass --soundfont PATH")
    return sf


def render_midi(midi_path: Path, wav_path: Path, soundfont: str | Path | None = None, sample_rate: int = 44100) -> np.ndarray:
    """Render ``midi_path`` to a stereo float32 array (N, 2) and also write it as 16-bit WAV to ``wav_path``."""
    sf = find_soundfont(soundfont)
    exe = shutil.which("fluidsynth")
    if exe is None:
        raise RenderError("the fluidsynth program is missing; install the Debian package fluidsynth (bash scripts/setup.sh does it)")
    cmd = [exe, "-ni", "-q", "-g", "0.6", "-r", str(sample_rate), "-F", str(wav_path), "-T", "wav", "-O", "s16", str(sf), str(midi_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not wav_path.exists():
        raise RenderError(f"fluidsynth failed on {midi_path.name}: {(proc.stderr.strip().splitlines() or ['no output'])[-1]}")
    return read_wav(wav_path)


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        n, ch, width = w.getnframes(), w.getnchannels(), w.getsampwidth()
        data = np.frombuffer(w.readframes(n), dtype="<i2" if width == 2 else "<i4")
    audio = data.reshape(-1, ch).astype(np.float32) / (32768.0 if width == 2 else 2147483648.0)
    return audio if ch == 2 else np.repeat(audio, 2, axis=1)


def write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    """16-bit PCM WAV, (N, 2) float in [-1, 1]."""
    pcm = (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(pcm.shape[1])
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.tobytes())


def fit_length(audio: np.ndarray, n_samples: int, fade_s: float = 0.0, sample_rate: int = 44100) -> np.ndarray:
    """Trim or zero-pad to exactly ``n_samples``; optionally fade out the last ``fade_s`` seconds."""
    if len(audio) >= n_samples:
        out = audio[:n_samples].copy()
    else:
        out = np.concatenate([audio, np.zeros((n_samples - len(audio), audio.shape[1]), audio.dtype)])
    n_fade = min(len(out), int(fade_s * sample_rate))
    if n_fade > 0:
        out[-n_fade:] *= np.linspace(1.0, 0.0, n_fade, dtype=out.dtype)[:, None]
    return out


def loudness(audio: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness, LUFS (ITU-R BS.1770-4 via pyloudnorm); -inf for silence."""
    import pyloudnorm

    if len(audio) < int(0.4 * sample_rate):  # shorter than one gating block
        audio = np.concatenate([audio, np.zeros((int(0.4 * sample_rate) - len(audio) + 1, audio.shape[1]), audio.dtype)])
    return float(pyloudnorm.Meter(sample_rate).integrated_loudness(audio.astype(np.float64)))


def normalize_loudness(audio: np.ndarray, sample_rate: int, target_lufs: float = -16.0, peak_dbfs: float = -1.0) -> tuple[np.ndarray, float]:
    """Gain to ``target_lufs``, limited so the peak stays under ``peak_dbfs``. Returns (audio, measured LUFS after)."""
    current = loudness(audio, sample_rate)
    if not np.isfinite(current):
        return audio, current
    gain = 10 ** ((target_lufs - current) / 20)
    peak = float(np.max(np.abs(audio))) * gain
    limit = 10 ** (peak_dbfs / 20)
    if peak > limit:
        gain *= limit / peak
        log.info("loudness target %.1f LUFS capped by the %.1f dBFS peak limit", target_lufs, peak_dbfs)
    # BS.1770 loudness scales with a linear gain: no second measurement needed
    return (audio * gain).astype(np.float32), current + 20 * np.log10(gain)
