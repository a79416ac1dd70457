"""The embedded sample video: several shots of different colour and motion, made with ffmpeg's lavfi.

The README's main command scores this clip on a fresh machine. It is generated on demand (deterministic,
about a second of encoding) instead of being committed, and cached in the user's cache folder
(``~/.cache/mm2music/samples/`` on Linux; ``MM2MUSIC_SAMPLE_DIR`` overrides it), so an installed package
never writes into its own folder.
"""

from __future__ import annotations

import logging
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from mm2music.errors import MediaError

log = logging.getLogger(__name__)

SIZE = "640x360"
FPS = 25


@dataclass(frozen=True)
class Shot:
    name: str
    seconds: float
    source: str  # a lavfi source graph producing SIZE at FPS
    fade_out: bool = False  # fade to black over the last second


SHOTS = (
    Shot("dawn", 5.0, f"gradients=s={SIZE}:r={FPS}:c0=0x10204a:c1=0xe89a50:x0=0:y0=0:x1=640:y1=360:speed=0.004:seed=3"),
    Shot("market", 4.0, f"mandelbrot=s={SIZE}:r={FPS}:start_scale=2.5:end_scale=0.2:end_pts=400,hue=s=1.6"),
    Shot("chase", 4.0, f"life=s={SIZE}:r={FPS}:ratio=0.35:mold=10:life_color=0xffd040:death_color=0x401010:seed=7,gblur=sigma=1", fade_out=True),
    Shot("night", 5.0, f"gradients=s={SIZE}:r={FPS}:c0=0x0a0620:c1=0x4a3090:n=2:speed=0.002:seed=11,format=yuv420p,noise=alls=4:allf=t"),
    Shot("festival", 4.0, f"cellauto=s={SIZE}:r={FPS}:rule=110:seed=5:scroll=1,format=rgb24,colorchannelmixer=rr=1:gg=0.55:bb=0.1:gb=0.3,gblur=sigma=2,eq=saturation=1.6"),
)


def sample_dir() -> Path:
    """Where the generated sample is cached: ``$MM2MUSIC_SAMPLE_DIR``, else ``<user cache>/mm2music/samples``."""
    import platformdirs

    return Path(os.environ.get("MM2MUSIC_SAMPLE_DIR") or Path(platformdirs.user_cache_dir("mm2music")) / "samples")


def sample_cuts() -> list[float]:
    """The true shot boundaries of the sample (seconds), for tests and the README."""
    t, out = 0.0, []
    for shot in SHOTS[:-1]:
        t += shot.seconds
        out.append(t)
    return out


def make_sample_video(path: str | Path | None = None, overwrite: bool = False) -> Path:
    """Write the sample video (H.264 + AAC MP4) and return its path; reuse an existing one."""
    out = Path(path) if path else sample_dir() / "sample.mp4"
    if out.exists() and out.stat().st_size > 0 and not overwrite:
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    inputs: list[str] = []
    filters = []
    for i, shot in enumerate(SHOTS):
        inputs += ["-f", "lavfi", "-t", f"{shot.seconds}", "-i", shot.source]
        chain = f"[{i}:v]format=yuv420p,setsar=1,trim=duration={shot.seconds},setpts=PTS-STARTPTS"
        if shot.fade_out:
            chain += f",fade=t=out:st={shot.seconds - 1.0}:d=1.0"
        filters.append(chain + f"[v{i}]")
    total = sum(s.seconds for s in SHOTS)
    n = len(SHOTS)
    # a soft two-tone drone with a little noise stands in for location sound
    inputs += ["-f", "lavfi", "-t", f"{total}", "-i", "sine=f=110:r=44100", "-f", "lavfi", "-t", f"{total}", "-i", "anoisesrc=c=pink:a=0.05:r=44100:seed=1"]
    concat = "".join(f"[v{i}]" for i in range(n)) + f"concat=n={n}:v=1:a=0[v]"
    audio = f"[{n}:a]volume=0.5[a0];[a0][{n + 1}:a]amix=inputs=2:duration=first[a]"
    graph = ";".join(filters + [concat, audio])
    tmp = out.with_name(f".{out.stem}.partial{out.suffix}")
    cmd = ["ffmpeg", "-nostdin", "-y", "-v", "error", *inputs, "-filter_complex", graph, "-map", "[v]", "-map", "[a]",
           "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p", "-r", str(FPS),
           "-c:a", "aac", "-b:a", "96k", "-movflags", "+faststart", str(tmp)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True)
    except FileNotFoundError:
        raise MediaError("ffmpeg not found; install it (bash scripts/setup.sh does it)") from None
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise MediaError(f"could not generate the sample video: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")
    tmp.replace(out)
    log.info("generated sample video %s (%.0f s, %d shots)", out, total, n)
    return out
