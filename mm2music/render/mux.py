"""Mux the soundtrack into the video with ffmpeg and check the result with ffprobe."""

from __future__ import annotations

import contextlib
import json
import logging
import subprocess
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from mm2music.errors import RenderError

log = logging.getLogger(__name__)

# video codecs that an MP4 container carries as they are (anything else is re-encoded to H.264)
MP4_VIDEO_CODECS = {"h264", "hevc", "av1", "mpeg4", "vp9"}


def mux(video: Path, music: Iterable[np.ndarray], out: Path, video_codec: str, timestamps: str, keep_original: bool,
        has_audio: bool, duration: float, sample_rate: int = 44100) -> None:
    """Write ``out`` (MP4: the video stream + AAC audio, +faststart).

    ``music``: stereo 16-bit blocks at ``sample_rate``, piped to ffmpeg as they are made (it encodes while they
    are computed, and no file is written for them). With ``keep_original`` and a source
    audio track, the music (already ducked) is mixed under the original. The video stream is copied when MP4
    can hold it; AVI files without timestamps need ``-fflags +genpts``.
    """
    cmd = ["ffmpeg", "-y", "-v", "error"]
    if timestamps == "index":
        cmd += ["-fflags", "+genpts"]
    cmd += ["-i", str(video)]
    cmd += ["-f", "s16le", "-ar", str(sample_rate), "-ac", "2", "-i", "pipe:0"]
    if keep_original and has_audio:
        cmd += ["-filter_complex", "[0:a:0]aresample=44100,aformat=channel_layouts=stereo[o];[o][1:a]amix=inputs=2:duration=longest:normalize=0[a]",
                "-map", "0:v:0", "-map", "[a]"]
    else:
        cmd += ["-map", "0:v:0", "-map", "1:a:0"]
    if video_codec in MP4_VIDEO_CODECS:
        cmd += ["-c:v", "copy"]
        if video_codec == "hevc":
            cmd += ["-tag:v", "hvc1"]
    else:
        cmd += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p"]
    # the native encoder's "fast" coder: 0.6 s instead of 0.9 s for a minute of music, at 192 kb/s no audible loss
    cmd += ["-c:a", "aac", "-aac_coder", "fast", "-b:a", "192k", "-t", f"{duration:.6f}", "-movflags", "+faststart", str(out)]
    # ffmpeg at -v error says little: its stderr cannot fill the pipe while the music is written to its input
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for block in music:
            proc.stdin.write(np.ascontiguousarray(block, "<i2").tobytes())
        proc.stdin.close()
    except BrokenPipeError:  # ffmpeg stopped reading: it failed, and says why below
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()
    except BaseException:  # the music failed on our side: that error is the one that counts
        proc.kill()
        proc.wait()
        raise
    err = proc.stderr.read().decode(errors="replace")
    proc.wait()
    if proc.returncode != 0:
        raise RenderError(f"muxing {out.name} failed: {(err.strip().splitlines() or ['ffmpeg gave no reason'])[-1]}")


def probe_streams(path: Path) -> dict:
    proc = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", "-show_format", str(path)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RenderError(f"ffprobe cannot read the muxed file {path.name}: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")
    return json.loads(proc.stdout)


def verify_muxed(path: Path, duration: float, tolerance: float = 0.1) -> dict:
    """One video and one audio stream, each about ``duration`` s long; raises RenderError otherwise."""
    info = probe_streams(path)
    streams = info.get("streams", [])
    kinds = [s.get("codec_type") for s in streams]
    if kinds.count("video") != 1 or kinds.count("audio") != 1:
        raise RenderError(f"muxed file {path.name} has streams {kinds}; expected one video and one audio")
    for s in streams:
        d = float(s.get("duration") or info["format"].get("duration") or 0)
        if abs(d - duration) > tolerance:
            raise RenderError(f"muxed {s['codec_type']} stream lasts {d:.3f} s, the video {duration:.3f} s")
    return {"streams": kinds, "duration": float(info["format"]["duration"])}
