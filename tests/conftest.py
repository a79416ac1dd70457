"""Shared fixtures: small generated media, offline environment, and 'no ERROR logs' enforcement."""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-y", "-v", "error", *args], check=True)


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def small_video(media_dir) -> Path:
    """2 s, 160x120, 25 fps H.264 with an AAC tone; no faststart (moov atom at the end)."""
    path = media_dir / "small.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:r=25:d=2", "-f", "lavfi", "-i", "sine=f=440:d=2",
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path))
    return path


@pytest.fixture(scope="session")
def three_shots(media_dir):
    """9 s, three shots (cuts at 3 and 6 s), with a tone: a small film to score, revise and edit."""
    path = media_dir / "three.mp4"
    ffmpeg("-f", "lavfi", "-t", "3", "-i", "testsrc2=s=160x90:r=25", "-f", "lavfi", "-t", "3", "-i", "mandelbrot=s=160x90:r=25",
           "-f", "lavfi", "-t", "3", "-i", "color=c=navy:s=160x90:r=25", "-f", "lavfi", "-t", "9", "-i", "sine=f=330",
           "-filter_complex", "[0:v][1:v][2:v]concat=n=3:v=1[v]", "-map", "[v]", "-map", "3:a",
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path))
    return path


@pytest.fixture(scope="session")
def silent_avi(media_dir) -> Path:
    """1.6 s MPEG-4 Part 2 AVI with B-frames, no audio: decord returns garbage timestamps (~ -3.7e17) for it."""
    path = media_dir / "silent.avi"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=176x144:r=25:d=1.6", "-c:v", "mpeg4", "-bf", "2", str(path))
    return path


@pytest.fixture(autouse=True)
def no_error_logs(caplog):
    """Fail any test that logs an ERROR (an error should be raised, not logged and ignored)."""
    yield
    errors = [r for r in caplog.get_records("call") if r.levelno >= logging.ERROR]
    if errors:
        pytest.fail("test logged an ERROR: " + "; ".join(r.getMessage() for r in errors))


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models run fastest on one thread (and on a busy machine two threads spin)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def tok():
    """The default music tokenizer (REMI + condition prefix)."""
    from mm2music.music.tokenizer import MusicTokenizer

    return MusicTokenizer()


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """A randomly initialised 2-layer music decoder saved as a real checkpoint: it exercises the whole
    scoring path fast (assembly, timing, files), not musical quality."""
    import torch

    from mm2music.music.checkpoint import save_checkpoint
    from mm2music.music.model import ModelConfig, MusicTransformer
    from mm2music.music.tokenizer import MusicTokenizer, TokenizerSettings

    torch.manual_seed(0)
    tokenizer = MusicTokenizer(TokenizerSettings(positions_per_beat=4, num_velocities=8, max_families=3))
    model = MusicTransformer(ModelConfig(vocab_size=tokenizer.vocab_size, block_size=256, n_layer=2, n_head=2, n_embd=32))
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny", model, tokenizer)


@pytest.fixture(scope="session")
def dialogue(tmp_path_factory):
    """A 16 kHz WAV: an explosion-like burst, a line spoken by espeak-ng, another burst, silences between;
    (path, its samples, {"speech" | "burst" | "quiet": [(start s, end s)]})."""
    import shutil

    import soundfile

    from bench.mix import dialogue_clip

    if not shutil.which("espeak-ng"):
        pytest.skip("espeak-ng is not installed (scripts/setup.sh installs it)")
    path, spans = dialogue_clip(tmp_path_factory.mktemp("dialogue"), "The bells rang across the square as the bride and groom stepped into the sunlight.")
    samples, _ = soundfile.read(str(path), dtype="float32")
    return path, samples, spans
