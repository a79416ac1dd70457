"""The classic detector (``--cut-detector classic``): hard cuts, fades through black and dissolves from hand-made features, one streaming pass.

A detector has one method that matters, ``update(chunk)``, called on every decoded :class:`FrameChunk` in
order, and ``finish()``, which returns the transitions (like PySceneDetect's ``SceneDetector``). State is
bounded: a window of a few seconds of tiny per-frame features, whatever the video's length.

Our detector (``"mm2music"``) works on a ~36-cell-high block-average grid of each frame's luma (and a
64-bin colour histogram), brightness-normalised so flicker and exposure drift cost nothing:

* **cuts**: the frame-to-frame difference after the best global shift (so pans and shakes cost little),
  combined with the histogram difference, must exceed ``CutConfig.threshold`` *and* stand well above the
  differences around it (fast action raises that local baseline) and above its two neighbours (a whip pan
  changes several frames alike). A candidate whose next 1-3 frames match the frame before it again is a
  flash; one between two fast-moving frames that matches its predecessor shifted by up to 60 % of the
  width is a whip pan.
* **fades**: a run of near-black frames, extended outwards over the frames whose brightness ramps down
  into it and up out of it.
* **dissolves**: a window whose middle frame is close to the average of its two ends, whose ends differ in
  colour, and whose motion-compensated frame steps add up to that end-to-end change (a pan's steps do not:
  it is the same picture shifted). The span is located by projecting each frame on the line between the
  two ends; candidates whose surroundings keep changing the same way, or whose ends are one picture
  zoomed, are rejected.
"""

from __future__ import annotations

import logging
import numpy as np

from mm2music.config import CutConfig
from mm2music.errors import MediaError
from mm2music.media.cuts.base import area_resize, check_config
from mm2music.types import FrameChunk, Transition

log = logging.getLogger(__name__)

GRID_ROWS = 36  # feature grid cells along the frame's short side
HIST_BINS = 4  # colour histogram bins per RGB channel
DARK_MEAN = 0.07  # a frame is black when its mean luma (0-1) is below this ...
DARK_PEAK = 0.16  # ... and its 98th-percentile cell is below this
FLASH_FRAMES = 3  # longest flash, frames
CLEAR_CUT = 0.6  # a score this high is a cut, never part of the "busy footage" baseline
FAST_MOTION = 3  # camera motion (grid cells per frame) from which a cut needs a clear score
WHIP_MATCH = 0.07  # mean luma change (0-1) under which a far-shifted frame still "matches" in a whip pan
STILL = 0.006  # mean luma change (0-1) below which a frame counts as still: no motion search


class _Features:
    """Per-frame features of a chunk, computed together with numpy.

    ``cells``: (N, R, C) float32 block-mean luma in [0, 1]; ``mean`` / ``peak``: mean and 98th-percentile
    cell luma. ``level`` is ``cells`` scaled to a mean of 0.45 and ``hist`` (N, B) the RGB histogram of the
    block means scaled the same way: flicker and exposure changes leave both alone.
    """

    def __init__(self, frames: np.ndarray, cell: int):
        n, h, w, _ = frames.shape
        rows, cols = h // cell, w // cell
        rgb = area_resize(frames[:, : rows * cell, : cols * cell], (cols, rows)).astype(np.float32) / 255.0  # (N, R, C, 3) block means
        self.cells = rgb @ np.array([0.299, 0.587, 0.114], np.float32)  # (N, R, C)
        self.mean = self.cells.mean(axis=(1, 2))
        gain = (0.45 / np.maximum(self.mean, 0.05))[:, None, None]  # (N, 1, 1)
        self.level = self.cells * gain
        r2, c2 = rows // 2 * 2, cols // 2 * 2
        self.coarse = self.cells[:, :r2, :c2].reshape(n, r2 // 2, 2, c2 // 2, 2).mean(axis=(2, 4))  # (N, R/2, C/2)
        q = np.clip((rgb * gain[..., None] * HIST_BINS).astype(np.int64), 0, HIST_BINS - 1)
        codes = (q[..., 0] * HIST_BINS + q[..., 1]) * HIST_BINS + q[..., 2]  # (N, R, C)
        bins = HIST_BINS**3
        offsets = (np.arange(n) * bins)[:, None]
        counts = np.bincount((codes.reshape(n, -1) + offsets).ravel(), minlength=n * bins)
        self.hist = counts.reshape(n, bins).astype(np.float32) / (rows * cols)
        self.peak = np.ones(n, np.float32)  # only needed (and computed) for frames dark on average
        dim = np.flatnonzero(self.mean < DARK_MEAN)
        if len(dim):
            self.peak[dim] = np.percentile(self.cells[dim].reshape(len(dim), -1), 98, axis=1)


def _steepest_ramp(alpha: np.ndarray) -> tuple[int, int] | None:
    """Where ``alpha`` (0 at the window's first frame, 1 at its last) rises from the old picture to the new:
    between its last frame near 0 and its first frame near 1 (not a drift before, not a flash after), the
    run of steps around the steepest rise (a 3-frame average, so a frame-doubled blend counts as one) while
    each keeps a quarter of that pace. (first, last) step index, step j going from frame j to j + 1;
    ``None`` when there is no such rise of at least half the way."""
    top = np.flatnonzero(alpha >= 0.95)
    if not len(top):
        return None
    bottom = np.flatnonzero(alpha[: top[0]] <= 0.05)
    if not len(bottom):
        return None
    lo, hi = int(bottom[-1]), int(top[0])
    steps = np.diff(alpha[lo : hi + 1])
    if len(steps) < 1:
        return None
    smooth = np.convolve(steps, np.ones(3) / 3, mode="same") if len(steps) >= 3 else steps
    peak = int(np.argmax(smooth))
    if smooth[peak] <= 0:
        return None
    fast = smooth >= 0.25 * smooth[peak]
    first, last = peak, peak
    while first > 0 and fast[first - 1]:
        first -= 1
    while last < len(fast) - 1 and fast[last + 1]:
        last += 1
    while first < last and steps[first] <= 0:  # the average reaches one frame past the blend on either side
        first += 1
    while last > first and steps[last] <= 0:
        last -= 1
    if alpha[lo + last + 1] - alpha[lo + first] < 0.5:
        return None
    return lo + first, lo + last


def _profile_shifts(a: np.ndarray, b: np.ndarray, limit: int, k: int) -> np.ndarray:
    """The ``k`` best shifts d in [-limit, limit] with a[:, x] ~ b[:, x + d], profiles (N, L) -> (N, k).

    Compares the middle L - 2 * limit samples of ``a`` with every window of ``b`` at once.
    """
    length = a.shape[1]
    limit = min(limit, (length - 1) // 3)
    core = a[:, limit : length - limit]  # (N, L')
    windows = np.lib.stride_tricks.sliding_window_view(b, core.shape[1], axis=1)  # (N, 2 limit + 1, L')
    errors = np.abs(windows - core[:, None, :]).sum(axis=2)  # (N, 2 limit + 1)
    k = min(k, errors.shape[1])
    return np.argsort(errors, axis=1)[:, :k] - limit


def _overlap_diff(a: np.ndarray, b: np.ndarray, dy: int, dx: int) -> float:
    """Mean |a[y, x] - b[y + dy, x + dx]| over the region where both exist, one (R, C) pair."""
    rows, cols = a.shape
    y0, y1, x0, x1 = max(0, -dy), min(rows, rows - dy), max(0, -dx), min(cols, cols - dx)
    diff = np.abs(a[y0:y1, x0:x1] - b[y0 + dy : y1 + dy, x0 + dx : x1 + dx])
    return float(diff.sum()) / diff.size


def _shift_diff(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean |a - b| after the best global shift of b, for stacks (N, R, C): motion-compensated change.

    The shift (up to a quarter of the height and a third of the width: whip pans) is estimated from
    row and column mean profiles (their 1 x 2 best guesses, and no shift along either axis), refined over the four neighbours of the
    best guess on the full grid, and never does worse than no shift. Returns the difference (N,) and the shift (dy, dx) (N, 2), in cells.
    """
    n, rows, cols = a.shape
    best = np.abs(a - b).mean(axis=(1, 2))
    where = np.zeros((n, 2), np.int64)
    moving = np.flatnonzero(best > STILL)  # a still frame cannot do better
    if not len(moving):
        return best, where
    am, bm = a[moving], b[moving]
    dys = _profile_shifts(am.mean(axis=2), bm.mean(axis=2), max(1, rows // 4), 1)
    dxs = _profile_shifts(am.mean(axis=1), bm.mean(axis=1), max(1, cols // 3), 2)
    for j, i in enumerate(moving):
        # the profiles' best guesses, then the neighbours of the best of them
        for dy, dx in {(int(y), int(x)) for y in (0, *dys[j]) for x in (0, *dxs[j])}:
            if (dy or dx) and abs(dy) < rows // 2 and abs(dx) < cols // 2:
                d = _overlap_diff(a[i], b[i], dy, dx)
                if d < best[i]:
                    best[i], where[i] = d, (dy, dx)
        y0, x0 = (int(v) for v in where[i])
        for dy, dx in ((y0 - 1, x0), (y0 + 1, x0), (y0, x0 - 1), (y0, x0 + 1)):
            if (dy or dx) and abs(dy) < rows // 2 and abs(dx) < cols // 2:
                d = _overlap_diff(a[i], b[i], dy, dx)
                if d < best[i]:
                    best[i], where[i] = d, (dy, dx)
    return best, where


def _zoom_explains(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether ``b`` is mostly ``a`` scaled about some point (a fast zoom), two (R, C) grids.

    Tries scales 0.6-1.6 about nine centres (nearest-cell sampling) and compares with the plain
    difference; only called for dissolve candidates, so the search may be exhaustive.
    """
    rows, cols = a.shape
    plain = float(np.abs(a - b).mean())
    ys, xs = np.mgrid[0:rows, 0:cols].astype(np.float32)
    best = plain
    for cy in (0.3 * rows, 0.5 * rows, 0.7 * rows):
        for cx in (0.3 * cols, 0.5 * cols, 0.7 * cols):
            for scale in (0.6, 0.7, 0.8, 0.9, 1.12, 1.25, 1.4, 1.6):
                # b at (y, x) shows what a shows at centre + (y - centre) / scale
                sy = np.rint(cy + (ys - cy) / scale).astype(np.int64)
                sx = np.rint(cx + (xs - cx) / scale).astype(np.int64)
                inside = (sy >= 0) & (sy < rows) & (sx >= 0) & (sx < cols)
                if inside.mean() < 0.4:
                    continue
                d = float(np.abs(b[inside] - a[sy[inside], sx[inside]]).mean())
                best = min(best, d)
    return best < 0.5 * plain


class CutDetector:
    """Our streaming transition detector (see the module docstring). Feed every chunk, then ``finish()``."""

    def __init__(self, config: CutConfig | None = None):
        self.config = check_config(config or CutConfig())
        self._cell = 0  # pixels per feature-grid cell, fixed by the first chunk
        self._size = (0, 0)
        self._fps = 0.0
        self._buf: dict[str, np.ndarray] = {}  # per-frame arrays for frames [_base, _base + len)
        self._base = 0  # position (frames seen) of the buffer's first frame
        self._seen = 0
        self._done = 0  # positions < _done are analysed
        self._cuts: list[tuple[int, float]] = []  # (position, score)
        # (start pos, end pos = first frame of the new shot, kind, score, the boundary's pos)
        self._gradual: list[tuple[int, int, str, float, int]] = []
        self._dark_start: int | None = None  # first position of the current run of black frames
        self._fade_start = 0  # where the fade-out ramp into that run began
        self._times: dict[int, tuple[float, int]] = {}  # position -> (time, frame index), events only
        self._flash_until = -1
        self.whips: list[int] = []  # positions of cut candidates that were a whip pan (the picture shifted sideways)
        self._open: tuple[int, int, float] | None = None  # dissolve being assembled: (lo, hi, score)
        self._finished = False

    # -- streaming -----------------------------------------------------------------------------------

    def update(self, chunk: FrameChunk) -> None:
        """Take the next decoded frames (consecutive, in order)."""
        if self._finished:
            raise MediaError("cut detector already finished; make a new detector for another video")
        if len(chunk) == 0:
            return
        height, width = chunk.frames.shape[1:3]
        if not self._cell:
            short = min(height, width)
            self._cell = max(1, int(round(short / GRID_ROWS)))
            if short // self._cell < 8:
                raise MediaError(f"frames of {width}x{height} px are too small for cut detection; decode at 64 px or more on the short side")
            self._size = (width, height)
        elif (width, height) != self._size:
            raise MediaError(f"frame size changed from {self._size[0]}x{self._size[1]} to {width}x{height} mid-video; decode every chunk at one size")
        self._append(_Features(chunk.frames, self._cell), chunk)
        if not self._fps and self._seen >= 8:  # enough frame times for the rate; window sizes follow it
            self._fps = self._estimate_fps()
        if self._fps:
            self._analyse(final=False)

    def finish(self) -> list[Transition]:
        """Analyse the frames still in the window and return every transition, in time order."""
        if not self._finished:
            self._finished = True
            if self._seen:
                if not self._fps:
                    self._fps = self._estimate_fps()
                self._analyse(final=True)
        out = self._assemble()
        kinds = [t.kind for t in out]
        log.debug("%d frames: %d cuts, %d fades, %d dissolves", self._seen, kinds.count("cut"), kinds.count("fade"), kinds.count("dissolve"))
        return out

    # -- buffer --------------------------------------------------------------------------------------

    def _append(self, f: _Features, chunk: FrameChunk) -> None:
        new = {
            "cells": f.cells,
            "level": f.level,
            "coarse": f.coarse,
            "hist": f.hist,
            "mean": f.mean,
            "peak": f.peak,
            "time": np.asarray(chunk.times, np.float64),
            "index": np.asarray(chunk.indices, np.int64),
        }
        prev = self._buf.get("level")
        first = prev[-1:] if prev is not None and len(prev) else f.level[:1]
        step, shift = _shift_diff(f.level, np.concatenate([first, f.level[:-1]]))
        prev_hist = self._buf["hist"][-1:] if prev is not None and len(prev) else f.hist[:1]
        hist_step = 0.5 * np.abs(f.hist - np.concatenate([prev_hist, f.hist[:-1]])).sum(axis=1)
        if self._seen == 0:
            step[0], hist_step[0] = 0.0, 0.0
        new["step"] = step.astype(np.float32)
        new["hstep"] = hist_step.astype(np.float32)
        new["motion"] = np.abs(shift).max(axis=1).astype(np.float32)  # camera motion, grid cells per frame
        for key, value in new.items():
            self._buf[key] = value if key not in self._buf else np.concatenate([self._buf[key], value])
        self._seen += len(chunk)

    def _estimate_fps(self) -> float:
        """Frames per second from the median frame interval (robust to a VFR file's rate changes)."""
        times = self._buf["time"]
        steps = np.diff(times)
        steps = steps[steps > 0]
        return float(1.0 / np.median(steps)) if len(steps) else 25.0

    def _frames(self, seconds: float, lo: int, hi: int) -> int:
        return int(min(hi, max(lo, round(seconds * self._fps))))

    def _analyse(self, final: bool) -> None:
        """Decide every position that has enough frames after it (all of them when ``final``)."""
        look = self._lookahead()
        stop = self._seen if final else self._seen - look
        if stop <= self._done:
            return
        self._find_cuts(self._done, stop)
        self._find_fades(self._done, stop, final)
        if self.config.gradual:
            self._find_dissolves(self._done, stop)
            if final:
                self._close_dissolve()
        self._done = stop
        held = [self._done - look]
        held += [self._dark_start] if self._dark_start is not None else []
        held += [self._open[0]] if self._open is not None else []
        keep_from = max(0, min(held) - look)
        keep_from = max(keep_from, self._done - 4 * look)  # bounded even inside an endless black
        if keep_from > self._base:
            cut = keep_from - self._base
            for key in self._buf:
                self._buf[key] = self._buf[key][cut:]
            self._base = keep_from

    def _lookahead(self) -> int:
        return self._frames(2.0, 16, 150)

    def _get(self, key: str, lo: int, hi: int) -> np.ndarray:
        """Buffer values for positions [lo, hi), clipped to what is held."""
        lo, hi = max(lo, self._base), min(hi, self._base + len(self._buf[key]))
        return self._buf[key][lo - self._base : max(lo, hi) - self._base]

    def _remember(self, pos: int) -> None:
        i = pos - self._base
        self._times[pos] = (float(self._buf["time"][i]), int(self._buf["index"][i]))

    # -- hard cuts -----------------------------------------------------------------------------------

    def _score(self, lo: int, hi: int) -> np.ndarray:
        """Hard-cut score of positions [lo, hi) in [0, 1]: ~0 within a shot, ~1 across unrelated shots.

        The geometric mean of the motion-compensated luma change (saturating at 0.1) and the colour
        histogram change (saturating at 0.4): a pan moves the picture but keeps its colours, a lighting
        change shifts colours but keeps the picture; a cut changes both.
        """
        step = self._get("step", lo, hi)
        hstep = self._get("hstep", lo, hi)
        return np.sqrt(np.clip(step / 0.1, 0, 1) * np.clip(hstep / 0.4, 0, 1))

    def _find_cuts(self, lo: int, hi: int) -> None:
        win = self._frames(0.5, 4, 30)
        start = max(self._base, lo - win)
        score = self._score(start, min(self._seen, hi + win))
        offset = lo - start
        for j in np.flatnonzero(score[offset : offset + hi - lo] >= self.config.threshold):
            pos, k = lo + int(j), offset + int(j)
            if pos == 0 or pos <= self._flash_until:
                continue
            s = float(score[k])
            around = np.concatenate([score[max(0, k - win) : max(0, k - 1)], score[k + 2 : k + win + 1]])
            around = around[around < CLEAR_CUT]  # other clear cuts nearby (rapid editing) are no baseline
            neighbours = [float(score[i]) for i in (k - 1, k + 1) if 0 <= i < len(score)]
            motion = self._get("motion", pos - 1, pos + 2)
            if len(motion) == 3 and min(motion[0], motion[2]) >= FAST_MOTION and self._whip(pos):
                self.whips.append(pos)
                continue  # mid whip pan, moving faster than the per-frame motion search reaches
            if len(around):
                # fast action and noise raise the local level; a cut must stand out of it
                if s < 2.0 * float(np.median(around)) + 0.05 or s < float(np.percentile(around, 90)) + 0.1:
                    continue
            if neighbours and s < 1.5 * max(neighbours):
                continue  # a neighbour changes almost as much: a whip pan or a burst, not a cut
            flash = self._flash_length(pos)
            if flash:
                self._flash_until = pos + flash
                log.debug("flash of %d frames at position %d", flash, pos)
                continue
            self._remember(pos)
            self._cuts.append((pos, s))

    def _whip(self, pos: int) -> bool:
        """Whether frame ``pos`` is frame ``pos - 1`` moved sideways by up to 60 % of its width.

        Only asked for cut candidates between two fast-moving frames (rare), so an exhaustive search is fine.
        """
        pair = self._get("level", pos - 1, pos + 1)
        if len(pair) < 2:
            return False
        before, after = pair
        rows, cols = before.shape
        reach = int(0.6 * cols)
        best = min(_overlap_diff(after, before, dy, dx) for dy in (-1, 0, 1) for dx in range(-reach, reach + 1))
        around = self._get("step", pos - 3, pos + 4)
        usual = float(np.median(np.delete(around, 3))) if len(around) == 7 else STILL
        return best < max(2.0 * usual, WHIP_MATCH)

    def _flash_length(self, pos: int) -> int:
        """Frames until the picture returns to what it was before ``pos`` (0: it does not, a real cut)."""
        before = self._get("cells", pos - 1, pos)
        if not len(before):
            return 0
        step = float(self._get("step", pos, pos + 1)[0])
        for k in range(1, FLASH_FRAMES + 1):
            after = self._get("cells", pos + k, pos + k + 1)
            if not len(after):
                return 0
            d, _ = _shift_diff(after, before)
            if d[0] < 0.35 * step:
                return k
        return 0

    # -- fades ---------------------------------------------------------------------------------------

    def _find_fades(self, lo: int, hi: int, final: bool) -> None:
        mean = self._get("mean", lo, hi)
        peak = self._get("peak", lo, hi)
        dark = (mean < DARK_MEAN) & (peak < DARK_PEAK)
        for j, is_dark in enumerate(dark):
            pos = lo + j
            if is_dark and self._dark_start is None:
                self._dark_start = pos
                # the fade-out ramp is measured now: a long black may outlast the window
                before = self._get("mean", pos - self._frames(2.0, 8, 120), pos)[::-1]  # nearest first
                self._fade_start = pos - self._ramp(before)
                self._remember(self._fade_start)
            elif not is_dark and self._dark_start is not None:
                self._add_fade(self._fade_start, self._dark_start, pos)
                self._dark_start = None
        if final and self._dark_start is not None:
            self._dark_start = None  # fade-out at the very end: no new shot follows

    def _add_fade(self, start: int, d0: int, d1: int) -> None:
        """Record a fade: ramp down from ``start``, black over [d0, d1), then ramp up into the new shot."""
        if d0 == 0:
            return  # the video starts in black: a fade-in from nothing, not a transition between shots
        end = d1 + self._ramp(self._get("mean", d1, d1 + self._frames(2.0, 8, 120)))
        if end >= self._seen:
            return
        self._remember(end)
        mid = max((start + end) // 2, self._base)  # inside the window even after a very long black
        self._remember(mid)
        self._gradual.append((start, end, "fade", 1.0, mid))

    @staticmethod
    def _ramp(lum: np.ndarray) -> int:
        """How many frames (nearest the black first) keep brightening away from it: the fade's length.

        One frame that does not brighten (busy content) does not end the ramp; two in a row do.
        """
        n, level = 0, float(lum[0]) if len(lum) else 0.0
        for i in range(1, len(lum)):
            if lum[i] > level * 1.02 + 0.002:
                n, level = i, float(lum[i])
            elif i - n >= 2:
                break
        return n  # 0: the first frame is already the new shot (a cut to or from black)

    # -- dissolves -----------------------------------------------------------------------------------

    def _half_lengths(self) -> list[int]:
        """Window half-lengths tried (frames): dissolves of about 4 frames up to 2 seconds."""
        top = self._frames(1.0, 4, 60)
        return [h for h in (2, 3, 5, 8, 12, 18, 27, 40, 60) if h <= top]

    def _find_dissolves(self, lo: int, hi: int) -> None:
        cells = self._buf["coarse"]  # half resolution is plenty to see a blend
        step = self._buf["step"]
        csum = np.concatenate([[0.0], np.cumsum(step, dtype=np.float64)])
        held = len(cells)
        best: dict[int, tuple[float, int, float]] = {}  # center -> (quality, h, D)
        for h in self._half_lengths():
            centers = np.arange(max(lo, self._base + h), min(hi, self._base + held - h))
            if not len(centers):
                continue
            c = centers - self._base
            # cheap tests first: the colours must change across the window, and the picture must move
            # (motion-compensated) by at least 0.6 x the smallest end-to-end change we accept
            hist = 0.5 * np.abs(self._buf["hist"][c - h] - self._buf["hist"][c + h]).sum(axis=1)
            path = csum[c + h + 1] - csum[c - h + 1]  # motion-compensated steps inside the window
            keep = (hist > 0.2) & (path > 0.6 * 0.05)
            if not keep.any():
                continue
            centers, c, path = centers[keep], c[keep], path[keep]
            a, b = cells[c - h], cells[c + h]
            d = np.abs(a - b).mean(axis=(1, 2))
            keep = (d > 0.05) & (path > 0.6 * d) & (path < 2.5 * d)
            if not keep.any():
                continue
            centers, c, path, a, b, d = centers[keep], c[keep], path[keep], a[keep], b[keep], d[keep]
            m = cells[c]
            r = np.abs(m - 0.5 * (a + b)).mean(axis=(1, 2))
            quarter = np.abs(cells[c - h // 2] - (0.75 * a + 0.25 * b)).mean(axis=(1, 2))
            biggest = np.lib.stride_tricks.sliding_window_view(step, 2 * h)[c - h + 1].max(axis=1)  # steps c-h+1 .. c+h
            ok = (d > 0.05) & (r < 0.3 * d) & (quarter < 0.35 * d) & (path > 0.6 * d) & (path < 2.5 * d) & (biggest < 0.45 * d)
            for i in np.flatnonzero(ok):
                q = float(d[i] * (1 - r[i] / d[i]))
                pos = int(centers[i])
                if pos not in best or q > best[pos][0]:
                    best[pos] = (q, h, float(d[i]))
        for pos in sorted(best):
            q, h, d = best[pos]
            self._add_window(pos - h, pos + h, min(1.0, d / 0.15))
        if self._open is not None and self._open[1] < hi - self._half_lengths()[-1]:
            self._close_dissolve()  # no later window can reach back to it

    def _add_window(self, lo: int, hi: int, score: float) -> None:
        """Merge an accepted dissolve window [lo, hi] into the open dissolve, or start a new one."""
        if self._open is not None and lo <= self._open[1]:
            self._open = (self._open[0], max(hi, self._open[1]), max(score, self._open[2]))
            return
        self._close_dissolve()
        self._open = (lo, hi, score)

    def _close_dissolve(self) -> None:
        """Locate the open dissolve's first mixed and first pure-new frames and record it.

        Each frame k in the window is projected on the line from its first frame A to its last B:
        alpha_k = <F_k - A, B - A> / |B - A|^2 rises linearly through a dissolve; a line fitted to the
        frames between 15 % and 85 % crosses 0 one frame before the first mixed frame and 1 at the
        first frame of the new shot.
        """
        if self._open is None:
            return
        lo, hi, score = self._open
        self._open = None
        lo = max(lo, self._base)
        cells = self._get("cells", lo, hi + 1)
        hi = lo + len(cells) - 1
        if hi - lo < 2:
            return
        a, b = cells[0], cells[-1]
        ab = b - a
        alpha = ((cells - a) * ab).sum(axis=(1, 2)) / max(float((ab * ab).sum()), 1e-9)
        k = np.arange(lo, hi + 1, dtype=np.float64)
        mid = (alpha > 0.15) & (alpha < 0.85)
        start, end = lo + 1, hi
        if mid.sum() >= 2:
            slope, icpt = np.polyfit(k[mid], alpha[mid], 1)
            if slope > 0:
                start = int(round(-icpt / slope)) + 1
                end = int(round((1 - icpt) / slope))
        start = min(max(start, lo + 1), hi - 1)
        end = min(max(end, start + 1), hi)
        if self._drifts(start, end):
            log.debug("positions %d-%d change steadily before and after: not a dissolve", start, end)
            return
        ends = self._get("cells", start - 1, start), self._get("cells", end, end + 1)
        if len(ends[0]) and len(ends[1]) and _zoom_explains(ends[0][0], ends[1][0]):
            log.debug("positions %d-%d are a zoom, not a dissolve", start, end)
            return
        ramp = _steepest_ramp(alpha)
        if ramp is not None:  # the blend itself, without a drift (a fly-by, a slow pan) the window caught too
            start, end = lo + ramp[0] + 1, lo + ramp[1] + 1
        for pos in (start, end, (start + end) // 2):
            self._remember(pos)
        self._gradual.append((start, end, "dissolve", score, (start + end) // 2))

    def _drifts(self, start: int, end: int) -> bool:
        """Whether the picture keeps changing the same way outside [start, end] (a zoom into a fractal,
        a slow colour cycle): a dissolve is flanked by frames that stay near its two ends."""
        pad = max(3, (end - start) // 2)
        a, b = self._get("cells", start - 1, start), self._get("cells", end, end + 1)
        if not len(a) or not len(b):
            return False
        ab = b[0] - a[0]
        norm = max(float((ab * ab).sum()), 1e-9)
        before = self._get("cells", start - 1 - pad, start - 1)
        after = self._get("cells", end + 1, end + 1 + pad)
        drift = 0.0
        if len(before):
            drift = max(drift, float(np.abs(((before - a[0]) * ab).sum(axis=(1, 2)) / norm).mean()))
        if len(after):
            drift = max(drift, float(np.abs(((after - b[0]) * ab).sum(axis=(1, 2)) / norm).mean()))
        return drift > 0.25

    # -- output --------------------------------------------------------------------------------------

    def _assemble(self) -> list[Transition]:
        gradual = sorted(self._gradual)
        fades = [g for g in gradual if g[2] == "fade"]
        events = [
            g
            for g in gradual  # the ramps of a fade look like dissolves into and out of black
            if g[2] == "fade" or not any(g[0] <= f[1] + 1 and f[0] <= g[1] + 1 for f in fades)
        ]
        events += [(pos, pos, "cut", score, pos) for pos, score in self._cuts if not any(e[0] - 1 <= pos <= e[1] + 1 for e in events)]
        out: list[Transition] = []
        for event in sorted(events):
            t = self._transition(*event)
            if out and t.time - out[-1].time < self.config.min_scene_s:
                if t.score > out[-1].score:
                    out[-1] = t  # shots shorter than min_scene_s: keep the clearer boundary
                continue
            out.append(t)
        return out

    def _transition(self, start: int, end: int, kind: str, score: float, mid: int) -> Transition:
        time, frame = self._times[mid]
        if kind == "cut":
            return Transition("cut", time, time, time, frame, round(float(score), 4))
        return Transition(kind, self._times[start][0], self._times[end][0], time, frame, round(float(score), 4))
