"""Synthetic videos with known transitions, for the cut detector's tests and benchmark.

Frames are drawn with numpy (smooth value-noise landscapes with hard-edged "buildings", gradients, moving
discs, grain) and piped to ``ffmpeg`` as raw RGB. A :class:`_Timeline` strings shots together with hard cuts,
fades through black, dissolves and flashes, and records the ground truth as it goes, so every clip comes with
the exact frame index and presentation time of each transition.

Ground truth conventions (frame indices are decode order, times are the frames' presentation times):

* ``cut``: ``start_frame == end_frame`` = the first frame of the new shot.
* ``fade`` / ``dissolve``: ``start_frame`` is the first frame that is no longer pure old shot,
  ``end_frame`` the first frame that is pure new shot. ``frame`` is ``end_frame`` for all kinds.

Flashes, camera pans and zooms, grain and fast action are *not* transitions and appear in no truth list.
Clips are cached by name: a clip whose ``.json`` sidecar matches the requested parameters is reused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from mm2music.errors import MediaError

log = logging.getLogger(__name__)

FORMAT_VERSION = 2

# container name -> (file extension, ffmpeg output arguments)
CODECS: dict[str, tuple[str, list[str]]] = {
    "h264": ("mp4", ["-c:v", "libx264", "-preset", "veryfast", "-crf", "21", "-pix_fmt", "yuv420p"]),
    "mjpeg": ("avi", ["-c:v", "mjpeg", "-q:v", "5", "-pix_fmt", "yuvj420p"]),
    "mpeg4": ("avi", ["-c:v", "mpeg4", "-q:v", "5", "-pix_fmt", "yuv420p"]),
    "vp9": ("webm", ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "1500k", "-pix_fmt", "yuv420p"]),
}


@dataclass(frozen=True)
class TrueTransition:
    """One ground-truth transition (see the module docstring for the conventions)."""

    kind: str  # "cut", "fade" or "dissolve"
    start_frame: int
    end_frame: int
    start: float  # seconds, presentation time of start_frame
    end: float  # seconds, presentation time of end_frame

    @property
    def frame(self) -> int:
        return self.end_frame


@dataclass(frozen=True)
class GeneratedClip:
    """A generated video file and what is in it."""

    path: Path
    name: str
    category: str  # clip class: cuts, fades, dissolves, flashes, motion, action, vfr, static, same_photo, motion_cuts, lighting, handheld, ...
    width: int
    height: int
    fps: float  # nominal (average) frame rate
    codec: str
    times: tuple[float, ...]  # presentation time of every frame, seconds
    transitions: tuple[TrueTransition, ...] = field(default=())

    @property
    def n_frames(self) -> int:
        return len(self.times)

    @property
    def duration(self) -> float:
        return self.times[-1] + (self.times[-1] - self.times[-2] if len(self.times) > 1 else 1 / self.fps)

    def frame_at(self, seconds: float) -> int:
        """Index of the frame whose presentation time is nearest to ``seconds``."""
        times = np.asarray(self.times)
        return int(np.argmin(np.abs(times - seconds)))


# --- textures --------------------------------------------------------------------------------------


def _value_noise(rng: np.random.Generator, h: int, w: int, cell: float) -> np.ndarray:
    """Smooth noise in [0, 1]: a random grid every ``cell`` pixels, smoothstep-interpolated. (h, w) float32."""
    gh, gw = int(h / cell) + 2, int(w / cell) + 2
    grid = rng.random((gh, gw), dtype=np.float32)
    ys = np.arange(h, dtype=np.float32) / cell
    xs = np.arange(w, dtype=np.float32) / cell
    y0, x0 = ys.astype(np.int64), xs.astype(np.int64)
    fy, fx = ys - y0, xs - x0
    fy, fx = (fy * fy * (3 - 2 * fy))[:, None], (fx * fx * (3 - 2 * fx))[None, :]
    top = grid[y0][:, x0] * (1 - fx) + grid[y0][:, x0 + 1] * fx
    bottom = grid[y0 + 1][:, x0] * (1 - fx) + grid[y0 + 1][:, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def _fractal(rng: np.random.Generator, h: int, w: int, cell: float, octaves: int = 4) -> np.ndarray:
    out = np.zeros((h, w), np.float32)
    total = 0.0
    for o in range(octaves):
        weight = 0.5**o
        out += weight * _value_noise(rng, h, w, max(2.0, cell / 2**o))
        total += weight
    out /= total
    return (out - out.min()) / max(1e-6, float(out.max() - out.min()))


def _hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    rgb = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
    return np.array(rgb, np.float32) * 255


def make_texture(rng: np.random.Generator, h: int, w: int, hue: float, brightness: float = 1.0) -> np.ndarray:
    """A landscape-like RGB texture (h, w, 3) float32 in [0, 255]: sky/ground gradient, noise, buildings."""
    scale = min(h, w)
    noise = _fractal(rng, h, w, cell=scale / 4)
    detail = _fractal(rng, h, w, cell=scale / 40, octaves=2)
    palette = np.stack(
        [
            _hsv_to_rgb((hue + rng.uniform(-0.08, 0.08)) % 1, rng.uniform(0.3, 0.9), rng.uniform(0.15, 0.45)),
            _hsv_to_rgb((hue + rng.uniform(-0.1, 0.1)) % 1, rng.uniform(0.3, 0.9), rng.uniform(0.45, 0.75)),
            _hsv_to_rgb((hue + rng.uniform(0.2, 0.4)) % 1, rng.uniform(0.2, 0.7), rng.uniform(0.7, 1.0)),
        ]
    )
    n = np.clip(noise * 2, 0, 2)
    lo = np.minimum(n, 1)[..., None]
    hi = np.maximum(n - 1, 0)[..., None]
    img = palette[0] * (1 - lo) + palette[1] * lo
    img = img * (1 - hi) + palette[2] * hi
    horizon = rng.uniform(0.3, 0.6)
    ramp = np.clip((np.arange(h, dtype=np.float32) / h - horizon) * 3, -1, 1)[:, None, None]
    img = img * (1 + 0.25 * ramp) * (0.8 + 0.4 * detail[..., None])
    # hard-edged "buildings": rectangles of a darker or lighter shade
    for _ in range(int(rng.integers(6, 14))):
        bw, bh = int(rng.uniform(0.03, 0.12) * w), int(rng.uniform(0.1, 0.45) * h)
        x, y = int(rng.integers(0, max(1, w - bw))), int(h * horizon + rng.uniform(-0.1, 0.3) * h)
        shade = rng.uniform(0.4, 1.6)
        img[max(0, y - bh) : y, x : x + bw] *= shade
    return np.clip(img * brightness, 0, 255).astype(np.float32)


@dataclass
class Disc:
    """A moving disc (a ball, a person, a car...): position in frame fractions, velocity per frame."""

    x: float
    y: float
    vx: float
    vy: float
    radius: float  # fraction of the frame's short side
    color: np.ndarray


def _bounce(p: float) -> float:
    """Fold a coordinate into [0, 1] (triangle wave), so discs bounce off the frame edges."""
    p = p % 2.0
    return 2.0 - p if p > 1.0 else p


class Shot:
    """A continuous shot: a camera moving over a texture, plus moving discs and grain.

    ``pan`` is the camera velocity in frame widths per second, ``zoom`` the zoom rate per second (0.2 =
    20 % closer each second), ``shake`` a random camera jitter in pixels, ``grain`` the noise sigma in
    8-bit levels. Frame ``k`` is the k-th frame the shot is on screen (its own clock).
    """

    def __init__(
        self,
        rng: np.random.Generator,
        width: int,
        height: int,
        fps: float,
        *,
        hue: float | None = None,
        pan: tuple[float, float] = (0.02, 0.0),
        zoom: float = 0.0,
        discs: int = 2,
        disc_speed: float = 0.2,
        shake: float = 0.0,
        grain: float = 2.0,
        brightness: float = 1.0,
        flicker: float = 0.0,
        whip: tuple[float, float, float] | None = None,
        world: np.ndarray | None = None,
    ):
        self.w, self.h, self.fps = width, height, fps
        self.rng = np.random.default_rng(rng.integers(1 << 62))
        hue = self.rng.random() if hue is None else hue
        if world is None:
            world = make_texture(self.rng, int(height * 1.6), int(width * 2.2), hue, brightness)
        self.world = world  # shared between shots of the same place (another camera angle)
        # whip pan: (start s, duration s, extra frame widths travelled), with a smooth velocity bump
        self.whip = None if whip is None else (whip[0] * fps, max(1.0, whip[1] * fps), whip[2] * width)
        self.pan = (pan[0] * width / fps, pan[1] * height / fps)  # pixels per frame
        self.zoom = zoom / fps
        self.shake, self.grain, self.flicker = shake, grain, flicker
        self.origin = (self.rng.uniform(0, self.world.shape[1]), self.rng.uniform(0, 0.3 * height))
        self.discs = [
            Disc(
                self.rng.random(),
                self.rng.random(),
                self.rng.uniform(-1, 1) * disc_speed / fps,
                self.rng.uniform(-1, 1) * disc_speed / fps,
                self.rng.uniform(0.05, 0.2),
                _hsv_to_rgb(self.rng.random(), self.rng.uniform(0.4, 1), self.rng.uniform(0.3, 1)) * brightness,
            )
            for _ in range(discs)
        ]
        self._yy, self._xx = np.mgrid[0:height, 0:width].astype(np.float32)

    def frame(self, k: int) -> np.ndarray:
        """Frame ``k`` of the shot, (H, W, 3) float32 in [0, 255]."""
        jitter = np.random.default_rng(k * 7919 + 17).normal(0, self.shake, 2) if self.shake else (0.0, 0.0)
        cx = self.origin[0] + self.pan[0] * k + jitter[0]
        if self.whip is not None:
            start, length, distance = self.whip
            u = min(1.0, max(0.0, (k - start) / length))
            cx += distance * (u - np.sin(2 * np.pi * u) / (2 * np.pi))  # velocity rises and falls smoothly
        cy = self.origin[1] + self.pan[1] * k + jitter[1]
        scale = 1.0 / (1.0 + self.zoom * k)
        wh, ww = self.world.shape[:2]
        rows = (cy + np.arange(self.h) * scale + self.h * (1 - scale) / 2).astype(np.int64)
        cols = (cx + np.arange(self.w) * scale + self.w * (1 - scale) / 2).astype(np.int64)
        rows = np.abs(rows) % (2 * wh)
        rows = np.where(rows >= wh, 2 * wh - 1 - rows, rows)  # mirror: no seam when panning vertically
        img = self.world[rows][:, cols % ww]
        short = min(self.w, self.h)
        for d in self.discs:
            x, y = _bounce(d.x + d.vx * k) * self.w, _bounce(d.y + d.vy * k) * self.h
            r = d.radius * short
            y0, y1 = max(0, int(y - r - 2)), min(self.h, int(y + r + 2))
            x0, x1 = max(0, int(x - r - 2)), min(self.w, int(x + r + 2))
            if y1 <= y0 or x1 <= x0:
                continue
            dist = np.hypot(self._yy[y0:y1, x0:x1] - y, self._xx[y0:y1, x0:x1] - x)
            alpha = np.clip(r - dist, 0, 1)[..., None]
            shade = (1.1 - 0.3 * np.clip(dist / r, 0, 1))[..., None]
            img[y0:y1, x0:x1] = img[y0:y1, x0:x1] * (1 - alpha) + d.color * shade * alpha
        if self.flicker:
            img = img * (1 + self.flicker * np.sin(k * 1.7) * np.sin(k * 0.31))
        if self.grain:
            noise = np.random.default_rng(k * 104729 + 3).standard_normal((self.h, self.w, 1), dtype=np.float32)
            img = img + noise * self.grain
        return img


# --- timelines -------------------------------------------------------------------------------------


class _Timeline:
    """A frame plan: each entry renders one frame; transitions are recorded with their frame indices."""

    def __init__(self) -> None:
        self.plan: list[Callable[[], np.ndarray]] = []
        self.truth: list[tuple[str, int, int]] = []  # (kind, start_frame, end_frame)
        self.shot: Shot | None = None
        self.clock = 0  # frames the current shot has been on screen

    def _tick(self) -> int:
        k = self.clock
        self.clock += 1
        return k

    def show(self, shot: Shot, n: int) -> _Timeline:
        """``n`` frames of ``shot``; a hard cut if another shot was on screen."""
        if self.shot is not None and shot is not self.shot:
            self.truth.append(("cut", len(self.plan), len(self.plan)))
            self.clock = 0
        self.shot = shot
        for _ in range(n):
            self.plan.append(lambda s=shot, k=self._tick(): s.frame(k))
        return self

    def flash(self, strengths: tuple[float, ...] = (0.85,)) -> _Timeline:
        """Brighten the next frames of the current shot towards white (a photo flash, lightning)."""
        shot = self.shot
        for s in strengths:
            self.plan.append(lambda k=self._tick(), s=s: shot.frame(k) * (1 - s) + 255 * s)
        return self

    def dissolve(self, shot: Shot, n: int) -> _Timeline:
        """Cross-fade from the current shot to ``shot`` over ``n`` mixed frames."""
        old, start = self.shot, len(self.plan)
        for i in range(n):
            a = (i + 1) / (n + 1)
            k_old = self._tick()
            self.plan.append(lambda a=a, k=k_old, j=i: old.frame(k) * (1 - a) + shot.frame(j) * a)
        self.truth.append(("dissolve", start, len(self.plan)))
        self.shot, self.clock = shot, n
        return self

    def fade(self, shot: Shot, n_out: int, n_black: int, n_in: int) -> _Timeline:
        """Fade the current shot to black over ``n_out`` frames, hold black, fade ``shot`` in over ``n_in``."""
        old, start = self.shot, len(self.plan)
        for i in range(n_out):
            g = 1 - (i + 1) / (n_out + 1)
            self.plan.append(lambda g=g, k=self._tick(): old.frame(k) * g)
        black = np.zeros((shot.h, shot.w, 3), np.float32)
        for _ in range(n_black):
            self.plan.append(lambda: black)
        for i in range(n_in):
            g = (i + 1) / (n_in + 1)
            self.plan.append(lambda g=g, k=i: shot.frame(k) * g)
        self.truth.append(("fade", start, len(self.plan)))
        self.shot, self.clock = shot, n_in
        return self

    def frames(self) -> Iterator[np.ndarray]:
        for render in self.plan:
            yield np.clip(render(), 0, 255).astype(np.uint8)


# --- encoding --------------------------------------------------------------------------------------


def _ffmpeg() -> str:
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise MediaError("ffmpeg not found; install it (bash scripts/setup.sh does it)")
    return exe


def _encode(frames: Iterator[np.ndarray], path: Path, width: int, height: int, fps: float, codec: str, times: np.ndarray | None) -> None:
    """Pipe RGB frames into ffmpeg. With ``times`` (seconds per frame) the file gets those timestamps (VFR)."""
    if codec not in CODECS:
        raise MediaError(f"codec {codec!r} is not one of {sorted(CODECS)}; pick one of those")
    args = list(CODECS[codec][1])
    if times is None:
        rate = ["-framerate", f"{fps:g}"]
        filters: list[str] = []
    else:
        # Input clock of 1/1200 s (divisible by 24, 25, 30, 50, 60 fps); setpts maps frame N to its time.
        rate = ["-framerate", "1200"]
        filters = ["-vf", f"setpts='{_pts_expression(times)}'", "-fps_mode", "passthrough", "-video_track_timescale", "1200"]
    cmd = [_ffmpeg(), "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", *rate,
           "-i", "-", *filters, *args, "-threads", "2", str(path)]  # fmt: skip
    with tempfile.TemporaryFile() as log_file:  # a file, not a pipe: a chatty ffmpeg cannot block
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=log_file)
        stdin = proc.stdin
        if stdin is None:  # cannot happen with PIPE; keeps type checkers honest
            raise MediaError("ffmpeg did not open its input pipe")
        try:
            for frame in frames:
                stdin.write(frame.tobytes())
        except BrokenPipeError:
            pass  # ffmpeg died: its message follows
        finally:
            stdin.close()
        code = proc.wait()
        log_file.seek(0)
        err = log_file.read().decode(errors="replace").strip()
    if code != 0:
        raise MediaError(f"ffmpeg failed to write '{path}': {err.splitlines()[-1] if err else 'no message'}")


def _pts_expression(times: np.ndarray) -> str:
    """A setpts expression for piecewise-constant frame rates: ``times`` must be linear in runs."""
    steps = np.round(np.diff(times) * 1200).astype(np.int64)
    runs: list[tuple[int, int, int]] = []  # (first frame, ticks at first frame, ticks per frame)
    tick = 0
    for i, step in enumerate(steps):
        if not runs or runs[-1][2] != step:
            runs.append((i, tick, int(step)))
        tick += int(step)
    expr = f"{runs[-1][1]}+(N-{runs[-1][0]})*{runs[-1][2]}" if runs else "0"
    for i in reversed(range(len(runs) - 1)):
        first, ticks, step = runs[i]
        expr = f"if(lt(N,{runs[i + 1][0]}),{ticks}+(N-{first})*{step},{expr})"
    return expr


# --- clip builders ---------------------------------------------------------------------------------


def _key(params: dict) -> str:
    blob = json.dumps({**params, "version": FORMAT_VERSION}, sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:10]


def _build(
    out_dir: str | Path,
    name: str,
    category: str,
    params: dict,
    size: tuple[int, int],
    fps: float,
    codec: str,
    script: Callable[[np.random.Generator, int, int, float], _Timeline],
    seed: int,
    times: np.ndarray | None = None,
) -> GeneratedClip:
    """Render ``script``'s timeline to ``out_dir/name.ext`` (or reuse a cached copy) and return its truth."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    width, height = size
    ext = CODECS[codec][0] if codec in CODECS else "mp4"
    path = out / f"{name}.{ext}"
    sidecar = path.with_suffix(".json")
    key = _key({"name": name, "params": params, "size": size, "fps": fps, "codec": codec, "seed": seed})
    if path.exists() and sidecar.exists():
        cached = json.loads(sidecar.read_text())
        if cached.get("key") == key:
            return _clip_from_json(path, cached)
    timeline = script(np.random.default_rng(seed), width, height, fps)
    n = len(timeline.plan)
    frame_times = np.arange(n, dtype=np.float64) / fps if times is None else np.asarray(times[:n], np.float64)
    if len(frame_times) != n:
        raise MediaError(f"clip '{name}' has {n} frames but {len(frame_times)} timestamps; give one time per frame")
    _encode(timeline.frames(), path, width, height, fps, codec, None if times is None else frame_times)
    truth = tuple(
        TrueTransition(kind, s, e, round(float(frame_times[s]), 6), round(float(frame_times[min(e, n - 1)]), 6))
        for kind, s, e in timeline.truth
    )
    clip = GeneratedClip(path, name, category, width, height, fps, codec, tuple(round(float(t), 6) for t in frame_times), truth)
    data = {k: v for k, v in asdict(clip).items() if k != "path"}
    sidecar.write_text(json.dumps({"key": key, **data}))
    log.debug("generated %s: %d frames, %d transitions", path.name, n, len(truth))
    return clip


def _clip_from_json(path: Path, data: dict) -> GeneratedClip:
    truth = tuple(TrueTransition(**t) for t in data["transitions"])
    return GeneratedClip(path, data["name"], data["category"], data["width"], data["height"], data["fps"],
                         data["codec"], tuple(data["times"]), truth)  # fmt: skip


def _frames(seconds: float, fps: float) -> int:
    return max(1, int(round(seconds * fps)))


def hard_cuts(
    out_dir: str | Path,
    name: str = "cuts",
    size: tuple[int, int] = (320, 240),
    fps: float = 24.0,
    codec: str = "h264",
    shots: int = 4,
    shot_s: float = 1.5,
    similar: bool = True,
    seed: int = 1,
) -> GeneratedClip:
    """Hard cuts between textured, gently moving shots. With ``similar`` every other cut joins two shots
    of the same hue (same palette, different place): a colour histogram alone barely sees those."""

    def script(rng, w, h, fps):
        tl = _Timeline()
        hue = rng.random()
        for i in range(shots):
            if not (similar and i % 2 == 1):
                hue = rng.random()
            shot = Shot(rng, w, h, fps, hue=hue, pan=(rng.uniform(-0.08, 0.08), rng.uniform(-0.03, 0.03)))
            tl.show(shot, _frames(shot_s * rng.uniform(0.7, 1.3), fps))
        return tl

    return _build(out_dir, name, "cuts", {"shots": shots, "shot_s": shot_s, "similar": similar}, size, fps, codec, script, seed)


def fades(
    out_dir: str | Path,
    name: str = "fades",
    size: tuple[int, int] = (320, 240),
    fps: float = 25.0,
    codec: str = "h264",
    shot_s: float = 1.0,
    brightness: float = 1.0,
    seed: int = 2,
) -> GeneratedClip:
    """Fades through black: out-and-in, out-only (then the new shot cuts in), in-only (after a cut to black).
    ``brightness`` below 1 makes dim (night) shots, whose fades start close to black already."""
    shapes = [(12, 4, 12), (20, 0, 15), (15, 6, 0), (0, 5, 18)]  # (frames out, black frames, frames in)

    def script(rng, w, h, fps):
        tl = _Timeline()
        tl.show(Shot(rng, w, h, fps, brightness=brightness), _frames(shot_s, fps))
        for n_out, n_black, n_in in shapes:
            tl.fade(Shot(rng, w, h, fps, brightness=brightness), n_out, n_black, n_in)
            tl.show(tl.shot, _frames(shot_s, fps))
        return tl

    params = {"shapes": shapes, "shot_s": shot_s, "brightness": brightness}
    return _build(out_dir, name, "fades", params, size, fps, codec, script, seed)


def dissolves(
    out_dir: str | Path,
    name: str = "dissolves",
    size: tuple[int, int] = (320, 240),
    fps: float = 30.0,
    codec: str = "h264",
    lengths: tuple[int, ...] = (10, 20, 30),
    shot_s: float = 1.6,
    pan: float = 0.08,
    seed: int = 3,
) -> GeneratedClip:
    """Cross-fades of ``lengths`` frames between shots panning at up to ``pan`` frame widths per second."""

    def script(rng, w, h, fps):
        tl = _Timeline()
        tl.show(Shot(rng, w, h, fps, pan=(pan * 0.6, 0.0)), _frames(shot_s, fps))
        for n in lengths:
            tl.dissolve(Shot(rng, w, h, fps, pan=(rng.uniform(-pan, pan), 0.0)), n)
            tl.show(tl.shot, _frames(shot_s, fps))
        return tl

    params = {"lengths": list(lengths), "shot_s": shot_s} | ({"pan": pan} if pan != 0.08 else {})
    return _build(out_dir, name, "dissolves", params, size, fps, codec, script, seed)


def flashes(
    out_dir: str | Path,
    name: str = "flashes",
    size: tuple[int, int] = (320, 240),
    fps: float = 25.0,
    codec: str = "h264",
    cuts: int = 1,
    shot_s: float = 3.0,
    seed: int = 4,
) -> GeneratedClip:
    """Photo flashes and lightning (1-3 bright frames) inside shots; ``cuts`` real cuts between shots."""
    patterns = [(0.85,), (0.6, 0.9), (0.5, 0.95, 0.7), (0.75,)]

    def script(rng, w, h, fps):
        tl = _Timeline()
        for s in range(cuts + 1):
            shot = Shot(rng, w, h, fps, pan=(0.03, 0.0), discs=3)
            tl.show(shot, _frames(shot_s * 0.3, fps))
            for p in range(2):
                tl.flash(patterns[(2 * s + p) % len(patterns)])
                tl.show(shot, _frames(shot_s * 0.3, fps))
        return tl

    return _build(out_dir, name, "flashes", {"cuts": cuts, "shot_s": shot_s}, size, fps, codec, script, seed)


def camera_motion(
    out_dir: str | Path,
    name: str = "motion",
    size: tuple[int, int] = (320, 240),
    fps: float = 30.0,
    codec: str = "h264",
    cuts: int = 1,
    shot_s: float = 3.0,
    zoom: float = 0.35,
    seed: int = 5,
) -> GeneratedClip:
    """Fast pans, tilts and zooms across textured scenes: a pan of 0.9 frame widths per second, a tilt,
    a zoom in at ``zoom`` (1.0: the picture doubles in size in one second) and a slow zoom out, in turn."""
    moves = [((0.9, 0.0), 0.0), ((-0.5, 0.25), 0.0), ((0.0, 0.0), zoom), ((0.3, -0.1), -0.15)]

    def script(rng, w, h, fps):
        tl = _Timeline()
        for s in range(cuts + 1):
            pan, zoom = moves[s % len(moves)]
            tl.show(Shot(rng, w, h, fps, pan=pan, zoom=zoom, discs=2, shake=1.5), _frames(shot_s, fps))
        return tl

    params = {"cuts": cuts, "shot_s": shot_s} | ({"zoom": zoom} if zoom != 0.35 else {})
    return _build(out_dir, name, "motion", params, size, fps, codec, script, seed)


def action(
    out_dir: str | Path,
    name: str = "action",
    size: tuple[int, int] = (320, 240),
    fps: float = 25.0,
    codec: str = "h264",
    cuts: int = 1,
    shot_s: float = 3.0,
    grain: float = 18.0,
    seed: int = 6,
) -> GeneratedClip:
    """Noisy, flickering footage with big fast-moving objects and a shaking camera."""

    def script(rng, w, h, fps):
        tl = _Timeline()
        for _ in range(cuts + 1):
            shot = Shot(rng, w, h, fps, pan=(rng.uniform(-0.3, 0.3), 0.05), discs=5, disc_speed=2.5,
                        shake=0.02 * min(w, h), grain=grain, brightness=0.6, flicker=0.06)  # fmt: skip
            tl.show(shot, _frames(shot_s, fps))
        return tl

    return _build(out_dir, name, "action", {"cuts": cuts, "shot_s": shot_s, "grain": grain}, size, fps, codec, script, seed)


def whip_pans(
    out_dir: str | Path,
    name: str = "whip",
    size: tuple[int, int] = (320, 240),
    fps: float = 30.0,
    codec: str = "h264",
    cuts: int = 1,
    shot_s: float = 3.0,
    speed: float = 1.2,
    seed: int = 9,
) -> GeneratedClip:
    """Whip pans: the camera swings ``speed`` frame widths in a third of a second, mid-shot (not cuts)."""

    def script(rng, w, h, fps):
        tl = _Timeline()
        for _ in range(cuts + 1):
            whip = (shot_s * rng.uniform(0.3, 0.6), 0.33, speed * rng.choice([-1, 1]))
            tl.show(Shot(rng, w, h, fps, pan=(0.03, 0.0), whip=whip, discs=2), _frames(shot_s, fps))
        return tl

    return _build(out_dir, name, "motion", {"cuts": cuts, "shot_s": shot_s, "speed": speed}, size, fps, codec, script, seed)


def subtle_cuts(
    out_dir: str | Path,
    name: str = "subtle",
    size: tuple[int, int] = (320, 240),
    fps: float = 25.0,
    codec: str = "h264",
    shots: int = 6,
    shot_s: float = 1.2,
    seed: int = 10,
) -> GeneratedClip:
    """Hard cuts that are easy to miss: another camera angle on the same place (same texture and palette)
    and cuts between two dim night shots."""

    def script(rng, w, h, fps):
        tl = _Timeline()
        place = None
        for i in range(shots):
            if i % 3 == 2:
                shot = Shot(rng, w, h, fps, brightness=0.3, grain=3.0, pan=(0.02, 0.0))
            elif i % 3 == 1 and place is not None:
                shot = Shot(rng, w, h, fps, world=place.world, pan=(-0.03, 0.0), discs=1)  # same place, new angle
            else:
                shot = place = Shot(rng, w, h, fps, pan=(0.03, 0.0))
            tl.show(shot, _frames(shot_s * rng.uniform(0.8, 1.2), fps))
        return tl

    return _build(out_dir, name, "cuts", {"shots": shots, "shot_s": shot_s}, size, fps, codec, script, seed)


def static(
    out_dir: str | Path,
    name: str = "static",
    size: tuple[int, int] = (320, 240),
    fps: float = 25.0,
    codec: str = "h264",
    seconds: float = 3.0,
    seed: int = 7,
) -> GeneratedClip:
    """One shot, no transitions at all."""

    def script(rng, w, h, fps):
        return _Timeline().show(Shot(rng, w, h, fps, pan=(0.02, 0.0)), _frames(seconds, fps))

    return _build(out_dir, name, "static", {"seconds": seconds}, size, fps, codec, script, seed)


def variable_frame_rate(
    out_dir: str | Path,
    name: str = "vfr",
    size: tuple[int, int] = (320, 240),
    rates: tuple[float, ...] = (24.0, 12.0, 30.0),
    segment_s: float = 2.0,
    seed: int = 8,
) -> GeneratedClip:
    """An MP4 whose frame rate changes (24 -> 12 -> 30 fps by default), a hard cut at each change and one
    in the middle of every segment, so frame index / average fps puts later cuts in the wrong place."""
    counts = [_frames(segment_s, r) for r in rates]
    times = np.concatenate([np.arange(c) / r + i * segment_s for i, (c, r) in enumerate(zip(counts, rates))])
    avg_fps = len(times) / (segment_s * len(rates))

    def script(rng, w, h, fps):
        tl = _Timeline()
        for c, r in zip(counts, rates):
            for part in (c // 2, c - c // 2):
                tl.show(Shot(rng, w, h, r, pan=(0.05, 0.0)), part)
        return tl

    params = {"rates": list(rates), "segment_s": segment_s}
    return _build(out_dir, name, "vfr", params, size, avg_fps, "h264", script, seed, times=times)


# --- harder classes: one photograph, motion across the cut, lighting, handheld, action without a cut ---------


def same_photo(
    out_dir: str | Path,
    name: str = "same_photo",
    size: tuple[int, int] = (320, 240),
    fps: float = 25.0,
    codec: str = "h264",
    shots: int = 5,
    shot_s: float = 1.2,
    seed: int = 41,
) -> GeneratedClip:
    """Cuts between crops of one photograph: every shot frames another part of the same picture, at the
    same scale, with a slow pan (same palette, same layout: what a colour histogram cannot tell apart)."""

    def script(rng, w, h, fps):
        tl = _Timeline()
        world = make_texture(rng, int(h * 1.6), int(w * 2.2), rng.random())
        for _ in range(shots):
            shot = Shot(rng, w, h, fps, world=world, pan=(rng.uniform(-0.05, 0.05), rng.uniform(-0.02, 0.02)), discs=1)
            tl.show(shot, _frames(shot_s * rng.uniform(0.8, 1.2), fps))
        return tl

    return _build(out_dir, name, "same_photo", {"shots": shots, "shot_s": shot_s}, size, fps, codec, script, seed)


def motion_cuts(
    out_dir: str | Path,
    name: str = "motion_cuts",
    size: tuple[int, int] = (320, 240),
    fps: float = 25.0,
    codec: str = "h264",
    cuts: int = 3,
    shot_s: float = 1.5,
    seed: int = 42,
) -> GeneratedClip:
    """Cuts with the camera moving fast on both sides: two places, the pan carrying on across each cut."""

    def script(rng, w, h, fps):
        tl = _Timeline()
        worlds = [make_texture(rng, int(h * 1.6), int(w * 2.2), rng.random()) for _ in range(2)]
        for i in range(cuts + 1):
            speed = 0.6 * (1 if i % 2 == 0 else -1)
            shot = Shot(rng, w, h, fps, world=worlds[i % 2], pan=(speed, 0.05), shake=1.5, discs=3, disc_speed=1.0)
            tl.show(shot, _frames(shot_s, fps))
        return tl

    return _build(out_dir, name, "motion_cuts", {"cuts": cuts, "shot_s": shot_s}, size, fps, codec, script, seed)


def lighting(
    out_dir: str | Path,
    name: str = "lighting",
    size: tuple[int, int] = (320, 240),
    fps: float = 25.0,
    codec: str = "h264",
    seconds: float = 5.0,
    seed: int = 43,
) -> GeneratedClip:
    """One shot, no cut: a light switched off and on (the picture halves in brightness within two frames,
    then comes back), a slow warm colour cast, and a cloud passing (a soft shadow sweeping across)."""

    def script(rng, w, h, fps):
        tl = _Timeline()
        shot = Shot(rng, w, h, fps, pan=(0.02, 0.0), discs=2)
        n = _frames(seconds, fps)
        tl.show(shot, 0)
        xs = np.linspace(0, 1, w, dtype=np.float32)[None, :, None]

        def render(k: int) -> np.ndarray:
            img = shot.frame(k)
            t = k / n
            gain = 1.0
            if 0.15 <= t < 0.35:
                gain = 0.5 if t >= 0.15 + 2 / n else 0.75  # the light goes off, then on again at 0.35
            cast = np.array([1.0 + 0.25 * max(0.0, t - 0.4), 1.0, 1.0 - 0.25 * max(0.0, t - 0.4)], np.float32)
            shade = 1.0 - 0.45 * np.exp(-(((xs - (t - 0.6) * 3.0) / 0.25) ** 2)) if t > 0.55 else 1.0
            return img * gain * cast * shade

        for k in range(n):
            tl.plan.append(lambda k=k: render(k))
        return tl

    return _build(out_dir, name, "lighting", {"seconds": seconds}, size, fps, codec, script, seed)


def handheld(
    out_dir: str | Path,
    name: str = "handheld",
    size: tuple[int, int] = (320, 240),
    fps: float = 30.0,
    codec: str = "h264",
    seconds: float = 5.0,
    seed: int = 44,
) -> GeneratedClip:
    """One shot, no cut: a handheld camera that sways (rotation up to 6 degrees), breathes in and out
    (zoom 1.0-1.3) and shakes, over a scene with moving objects."""

    def script(rng, w, h, fps):
        import cv2

        tl = _Timeline()
        shot = Shot(rng, w, h, fps, pan=(0.05, 0.0), discs=3, disc_speed=0.6, shake=2.0)
        n = _frames(seconds, fps)
        tl.show(shot, 0)
        phase = rng.uniform(0, 6.28, 3)

        def render(k: int) -> np.ndarray:
            t = k / fps
            angle = 6.0 * np.sin(1.3 * t + phase[0]) + 1.5 * np.sin(5.1 * t + phase[1])
            scale = 1.15 + 0.15 * np.sin(0.9 * t + phase[2])
            m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
            return cv2.warpAffine(shot.frame(k), m, (w, h), borderMode=cv2.BORDER_REFLECT)

        for k in range(n):
            tl.plan.append(lambda k=k: render(k))
        return tl

    return _build(out_dir, name, "handheld", {"seconds": seconds}, size, fps, codec, script, seed)


def clip_set(out_dir: str | Path, quick: bool = False) -> list[GeneratedClip]:
    """The benchmark's clips: every class at several sizes, rates and codecs (``quick``: one per class)."""
    out = Path(out_dir)
    clips = [
        hard_cuts(out, "cuts_320x240_24", (320, 240), 24.0, shots=6),
        fades(out, "fades_320x240_25", (320, 240), 25.0),
        dissolves(out, "dissolves_320x240_30", (320, 240), 30.0),
        flashes(out, "flashes_320x240_25", (320, 240), 25.0, cuts=1),
        camera_motion(out, "motion_320x240_30", (320, 240), 30.0, cuts=2),
        action(out, "action_320x240_25", (320, 240), 25.0, cuts=2),
        static(out, "static_320x240_25"),
        whip_pans(out, "whip_320x240_30", (320, 240), 30.0, cuts=1),
        subtle_cuts(out, "subtle_320x240_25", (320, 240), 25.0),
        variable_frame_rate(out, "vfr_320x240"),
        same_photo(out, "same_photo_320x240_25"),
        motion_cuts(out, "motion_cuts_320x240_25"),
        lighting(out, "lighting_320x240_25"),
        handheld(out, "handheld_320x240_30"),
        action(out, "action_nocut_320x240_25", (320, 240), 25.0, cuts=0, shot_s=4.0, seed=45),
    ]
    if quick:
        return clips
    clips += [
        hard_cuts(out, "cuts_854x480_30", (854, 480), 30.0, shots=6, seed=11),
        hard_cuts(out, "cuts_1280x720_25", (1280, 720), 25.0, shots=4, seed=12),
        hard_cuts(out, "cuts_480x854_60_vp9", (480, 854), 60.0, codec="vp9", shots=4, seed=13),
        hard_cuts(out, "cuts_640x360_24_mjpeg", (640, 360), 24.0, codec="mjpeg", shots=5, seed=14),
        hard_cuts(out, "cuts_640x360_25_mpeg4", (640, 360), 25.0, codec="mpeg4", shots=5, seed=15),
        fades(out, "fades_854x480_30", (854, 480), 30.0, seed=21),
        fades(out, "fades_480x854_24", (480, 854), 24.0, seed=22),
        dissolves(out, "dissolves_854x480_25", (854, 480), 25.0, lengths=(8, 15, 25, 40), seed=23),
        dissolves(out, "dissolves_640x360_60", (640, 360), 60.0, lengths=(20, 40, 60), seed=24),
        flashes(out, "flashes_854x480_30", (854, 480), 30.0, cuts=2, seed=25),
        camera_motion(out, "motion_854x480_30", (854, 480), 30.0, cuts=3, seed=26),
        camera_motion(out, "motion_1280x720_60", (1280, 720), 60.0, cuts=1, shot_s=2.0, seed=27),
        action(out, "action_854x480_30", (854, 480), 30.0, cuts=2, seed=28),
        action(out, "action_640x360_24_grain30", (640, 360), 24.0, cuts=3, grain=30.0, seed=29),
        fades(out, "fades_640x360_25_dim", (640, 360), 25.0, brightness=0.45, seed=33),
        dissolves(out, "dissolves_640x360_30_panning", (640, 360), 30.0, lengths=(15, 30), pan=0.35, seed=34),
        hard_cuts(out, "cuts_640x360_30_fast", (640, 360), 30.0, shots=10, shot_s=0.6, seed=35),
        camera_motion(out, "motion_640x360_25_crashzoom", (640, 360), 25.0, cuts=2, shot_s=2.0, zoom=1.5, seed=36),
        whip_pans(out, "whip_854x480_25_fast", (854, 480), 25.0, cuts=2, speed=2.0, seed=31),
        subtle_cuts(out, "subtle_854x480_30", (854, 480), 30.0, shots=8, seed=32),
        variable_frame_rate(out, "vfr_854x480", (854, 480), rates=(30.0, 15.0, 25.0, 60.0), seed=30),
        same_photo(out, "same_photo_640x360_30", (640, 360), 30.0, shots=6, seed=46),
        motion_cuts(out, "motion_cuts_640x360_30", (640, 360), 30.0, cuts=4, seed=47),
        lighting(out, "lighting_640x360_24", (640, 360), 24.0, seed=48),
        handheld(out, "handheld_640x360_25", (640, 360), 25.0, seed=49),
        action(out, "action_nocut_640x360_30", (640, 360), 30.0, cuts=0, shot_s=4.0, grain=25.0, seed=50),
    ]
    return clips
