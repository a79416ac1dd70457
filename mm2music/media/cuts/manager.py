"""The default detector (``--cut-detector mm2music``): two cheap detectors, a learned referee, one merger.

* the classic detector (:mod:`.classic`) proposes hard cuts, fades and dissolves;
* the HSV detector (:mod:`.hsv`) proposes hard cuts from differently built features;
* a cut both propose (within a frame) is kept when it stands ``hsv.RATIO`` times above its neighbours' HSV
  change, and is *unsure* otherwise (a handheld close-up whipping away changes every frame around it);
  a fade through black is kept;
* a cut only the classic detector proposes is dropped (on the labelled real footage every one of them was a
  false cut: motion inside a close-up, a spin), and so is an HSV-only cut on a flash or next to black frames
  (the fade logic owns those);
* an HSV-only cut that is no flash (the picture before it must not come back within a few frames) and no
  lighting change (one gain per colour channel must not explain it) is kept when it stands ``hsv.RATIO``
  times above its neighbours (PySceneDetect's adaptive rule) and no whip pan is next to it; one that passes
  only the fixed threshold (fast action does that too), and every dissolve not next to black, are *unsure*:
  TransNetV2 (:mod:`.transnet`) looks at a 48-frame window around it and keeps it when its boundary
  probability passes ``VERIFY`` (``VERIFY_GRADUAL`` for a dissolve, whose probability spreads over its frames;
  ``VERIFY_WHIP`` next to a whip pan the classic detector found, which the network half takes for a cut).

So the network runs only where the cheap detectors disagree (a handful of windows per film), not over every
frame. The merger then drops hard cuts inside a kept gradual transition and merges boundaries closer than
``CutConfig.min_scene_s``, keeping the clearer one (like PySceneDetect's ``SceneManager`` with several
detectors). Memory stays bounded: the manager keeps a ring of 48 x 27 frames a few seconds long.
"""

from __future__ import annotations

import logging
from bisect import bisect_left

import numpy as np

from mm2music.config import CutConfig
from mm2music.media.cuts.base import check_config
from mm2music.media.cuts.classic import DARK_MEAN, FLASH_FRAMES, CutDetector
from mm2music.media.cuts.hsv import RATIO, HsvCutDetector
from mm2music.media.cuts.transnet import PROBE, TransNetV2Model, resize
from mm2music.types import FrameChunk, Transition

log = logging.getLogger(__name__)

VERIFY = 0.25  # TransNetV2 probability above which an unsure cut is kept
VERIFY_WHIP = 0.5  # ... and one next to a whip pan
VERIFY_GRADUAL = 0.3  # ... and an unsure dissolve (its probability spreads over the frames it spans)
BATCH = 2  # windows per network call: 8 cost ~640 MB of activations for no faster a window (2: ~210 MB)
REPEAT = 0.3  # mean change (0-255) of the network's 48 x 27 frames under which a frame may repeat the one before ...
REPEAT_SHARE = 0.25  # ... when the frames either side of it change 4x more (a still shot repeats nothing)
GRADUAL_FRAMES = 16  # a dissolve longer than this is shown to the network at every 2nd, 3rd ... frame


class CutManager:
    """Streaming: ``update`` every chunk, then ``finish``. See the module docstring."""

    def __init__(self, config: CutConfig | None = None):
        self.config = check_config(config or CutConfig())
        self.classic = CutDetector(self.config)
        self.hsv = HsvCutDetector()
        self._ring = np.zeros((0, 27, 48, 3), np.uint8)  # small frames for positions [_ring_base, ...)
        self._step = np.zeros(0, np.float32)  # mean change of each ring frame from the one before it
        self._ring_base = 0
        self._seen = 0
        self._where: dict[int, tuple[float, int]] = {}  # position -> (time, frame index), candidates only
        self._times: np.ndarray = np.zeros(0)  # times of the frames in the ring
        self._indices: np.ndarray = np.zeros(0, np.int64)
        self._done = 0  # candidates at positions < _done are settled
        self._queue: list[tuple[int, str, np.ndarray]] = []  # (position, "cut" / "dissolve", window) to verify
        self._verdicts: dict[tuple[int, str], bool] = {}
        self._near_whip: set[int] = set()  # HSV-only cuts next to a whip pan: they need VERIFY_WHIP
        self._hsv_only: list[int] = []  # positions of cuts only the HSV detector proposed
        self._next_cut = 0  # how many of classic's cuts / gradual transitions / HSV candidates were looked at
        self._next_gradual = 0
        self._next_hsv = 0
        self.probes = 0

    def update(self, chunk: FrameChunk) -> None:
        if len(chunk) == 0:
            return
        self.classic.update(chunk)
        self.hsv.update(chunk.frames)
        small = resize(chunk.frames)
        before = np.concatenate([self._ring[-1:] if len(self._ring) else small[:1], small[:-1]]).astype(np.int16)
        step = np.abs(small.astype(np.int16) - before).mean(axis=(1, 2, 3)).astype(np.float32)  # change from the frame before
        self._ring = np.concatenate([self._ring, small])
        self._step = np.concatenate([self._step, step])
        self._times = np.concatenate([self._times, np.asarray(chunk.times, np.float64)])
        self._indices = np.concatenate([self._indices, np.asarray(chunk.indices, np.int64)])
        self._seen += len(chunk)
        self._settle(min(self.classic._done, self.hsv._decided, self._seen - PROBE // 2) - 2)
        keep = max(0, min(self._done, self._seen) - self._ring_base - 4 * PROBE)
        if keep:
            self._ring, self._times, self._indices = self._ring[keep:], self._times[keep:], self._indices[keep:]
            self._step = self._step[keep:]
            self._ring_base += keep
        if len(self._queue) >= BATCH:
            self._verify()

    def finish(self) -> list[Transition]:
        self.hsv.finish()
        found = self.classic.finish()
        self._settle(self._seen)
        self._verify()
        return self._merge(found)

    # -- deciding ------------------------------------------------------------------------------------

    def _settle(self, stop: int) -> None:
        """Sort out every candidate before position ``stop``: kept, dropped or queued for the network."""
        if stop <= self._done:
            return
        cuts = self.classic._cuts
        hsv = self.hsv.candidates
        lo = min([self._done] + [c[0] for c in cuts[self._next_cut : self._next_cut + 1]] + [c[0] for c in hsv[self._next_hsv : self._next_hsv + 1]]) - 2
        classic_pos = {p for p, _ in cuts[bisect_left(cuts, (lo,)) :]}  # only the candidates near those to settle
        hsv_ratio = {p: ratio for p, _, ratio in hsv[bisect_left(hsv, (lo,)) :]}
        while self._next_cut < len(cuts) and cuts[self._next_cut][0] < stop:
            pos = cuts[self._next_cut][0]
            self._next_cut += 1
            ratios = [hsv_ratio[q] for q in (pos - 1, pos, pos + 1) if q in hsv_ratio]
            if not ratios:
                self._verdicts[(pos, "cut")] = False  # classic alone: dropped
                self._note(pos)
            elif max(ratios) < RATIO:  # both see it, but the frames around it change nearly as much: motion?
                self._enqueue(pos, "cut")
        while self._next_hsv < len(hsv) and hsv[self._next_hsv][0] < stop:
            pos, _, ratio = hsv[self._next_hsv]
            self._next_hsv += 1
            if classic_pos & {pos - 1, pos, pos + 1} or not self._local_peak(pos):
                continue
            if self._near_black(pos) or self._flash(pos) or self._relit(pos):
                continue
            self._hsv_only.append(pos)
            if self._whip(pos):  # TransNetV2 takes a whip pan for a cut with little conviction: ask for more
                self._near_whip.add(pos)
                self._enqueue(pos, "cut")
            elif ratio >= RATIO:  # stands alone among its neighbours, no flash, no relighting: a cut
                self._verdicts[(pos, "cut")] = True
                self._note(pos)
            else:
                self._enqueue(pos, "cut")
        gradual = self.classic._gradual
        while self._next_gradual < len(gradual) and gradual[self._next_gradual][4] < stop:
            start, end, kind, _, mid = gradual[self._next_gradual]
            self._next_gradual += 1
            if kind == "dissolve" and not self._near_black(mid, reach=(end - start) // 2 + 2):
                self._enqueue(mid, "dissolve", stride=-(-(end - start) // GRADUAL_FRAMES))
        self._done = stop

    def _local_peak(self, pos: int) -> bool:
        """Whether the HSV score at ``pos`` is the largest of the HSV candidates next to it (a burst of
        fast motion proposes several frames in a row; only its peak is worth a look)."""
        cands = self.hsv.candidates
        near = [c for c in cands[bisect_left(cands, (pos - 2,)) :] if c[0] <= pos + 2]
        return max(near, key=lambda c: c[1])[0] == pos

    def _whip(self, pos: int) -> bool:
        """Whether the classic detector found the picture at ``pos`` (or next to it) to be the frame before,
        shifted sideways: a whip pan, too fast for a motion search."""
        whips = self.classic.whips
        return bisect_left(whips, pos + 2) > bisect_left(whips, pos - 1)  # one at pos - 1, pos or pos + 1

    def _near_black(self, pos: int, reach: int = 2) -> bool:
        """Whether a frame within ``reach`` of ``pos`` is black (mean below DARK_MEAN): a fade's business."""
        lo, hi = max(0, pos - reach - self._ring_base), max(0, pos + reach + 1 - self._ring_base)
        part = self._ring[lo:hi]
        return bool(len(part)) and float(part.reshape(len(part), -1).mean(axis=1).min()) < DARK_MEAN * 255

    def _flash(self, pos: int) -> bool:
        """Whether the picture before ``pos`` comes back within ``FLASH_FRAMES`` frames (a flash, lightning):
        some frame before the change matches some frame after it far better than the change itself."""
        i = pos - self._ring_base
        if i < 1 or i >= len(self._ring):
            return False
        lo = max(0, i - 1 - FLASH_FRAMES)
        ring, i = self._ring[lo : i + FLASH_FRAMES + 1].astype(np.float32), i - lo
        change = float(np.abs(ring[i] - ring[i - 1]).mean())
        for a in range(0, FLASH_FRAMES + 1):
            for b in range(0, FLASH_FRAMES + 1 - a):
                if (a or b) and i - 1 - a >= 0 and i + b < len(ring):
                    if float(np.abs(ring[i + b] - ring[i - 1 - a]).mean()) < 0.35 * change:
                        return True
        return False

    def _relit(self, pos: int) -> bool:
        """Whether frame ``pos`` is frame ``pos - 1`` under other light: one gain per colour channel explains
        most of the change (a lamp switched on, a door opened onto the sun)."""
        i = pos - self._ring_base
        if i < 1 or i >= len(self._ring):
            return False
        before, after = self._ring[i - 1].astype(np.float32), self._ring[i].astype(np.float32)
        gain = after.mean(axis=(0, 1)) / np.maximum(before.mean(axis=(0, 1)), 1.0)  # (3,)
        change = float(np.abs(after - before).mean())
        return float(np.abs(after - before * gain).mean()) < 0.35 * change

    def _note(self, pos: int) -> None:
        i = pos - self._ring_base
        if 0 <= i < len(self._ring):
            self._where[pos] = (float(self._times[i]), int(self._indices[i]))

    def _repeats(self) -> np.ndarray:
        """Which ring frames repeat the frame before them in moving footage: animation on twos, a
        frame-doubled encode (their change is next to nothing while the frames around them move)."""
        step = self._step
        nxt = np.concatenate([step[1:], step[-1:]])
        prev = np.concatenate([step[:1], step[:-1]])
        return (step < REPEAT) & (step < REPEAT_SHARE * np.minimum(prev, nxt))

    def _enqueue(self, pos: int, kind: str, stride: int = 1) -> None:
        """Queue the ``PROBE`` frames around ``pos``, shown at the pace the network learnt from: repeated frames
        left out (animation on twos, frame-doubled encodes: their jumps look like cuts at double speed), and a
        long or high-frame-rate dissolve at every ``stride``-th frame; the ring's first / last frame stand in
        past its ends."""
        i = pos - self._ring_base
        if i < 0 or i >= len(self._ring):
            log.debug("position %d left the frame ring before it could be verified; kept", pos)
            self._verdicts[(pos, kind)] = True
            return
        self._note(pos)
        half = PROBE // 2
        fresh = np.flatnonzero(~self._repeats())  # frames that show something new
        k = int(np.searchsorted(fresh, i))
        after = fresh[k : k + half * stride : stride]
        before = fresh[max(0, k - half * stride) : k][::-1][stride - 1 :: stride][::-1] if k else fresh[:0]
        if not len(after) or after[0] != i:  # pos itself repeats its predecessor (a still): the plain window
            after = np.arange(i, i + half * stride, stride)
            before = np.arange(i - half * stride, i, stride)
        at = np.concatenate([np.full(half - len(before), before[0] if len(before) else i), before,
                             after, np.full(half - len(after), after[-1])])  # fmt: skip
        self._queue.append((pos, kind, self._ring[np.clip(at, 0, len(self._ring) - 1)]))

    def _verify(self) -> None:
        if not self._queue:
            return
        model = TransNetV2Model.load()
        half = PROBE // 2
        for b in range(0, len(self._queue), BATCH):
            part = self._queue[b : b + BATCH]
            probs = model._run(np.stack([w for _, _, w in part]))  # (B, PROBE)
            for (pos, kind, _), p in zip(part, probs):
                if kind == "cut":
                    score, need = float(p[half - 2 : half + 1].max()), VERIFY_WHIP if pos in self._near_whip else VERIFY
                else:
                    score, need = float(p[half // 2 : half + half // 2].max()), VERIFY_GRADUAL
                self._verdicts[(pos, kind)] = score >= need
                log.debug("%s at position %d: TransNetV2 %.2f -> %s", kind, pos, score, "kept" if score >= need else "dropped")
        self.probes += len(self._queue)
        self._queue = []

    # -- merging -------------------------------------------------------------------------------------

    def _merge(self, found: list[Transition]) -> list[Transition]:
        """Classic's transitions less the refuted ones, plus the HSV-only cuts the network confirmed."""
        frame_of = {pos: self._where[pos][1] for pos in self._where}
        refuted_cuts = {frame_of[p] for (p, k), ok in self._verdicts.items() if not ok and k == "cut" and p in frame_of}
        refuted_gradual = {frame_of[p] for (p, k), ok in self._verdicts.items() if not ok and k == "dissolve" and p in frame_of}
        kept = [t for t in found if not (t.kind == "cut" and t.frame in refuted_cuts) and not (t.kind == "dissolve" and t.frame in refuted_gradual)]
        gradual = [t for t in kept if t.kind != "cut"]
        for pos in self._hsv_only:
            if not self._verdicts.get((pos, "cut"), False) or pos not in self._where:
                continue
            time, frame = self._where[pos]
            if any(g.start - 1e-6 <= time <= g.end + 1e-6 for g in gradual):
                continue
            kept.append(Transition("cut", time, time, time, frame, 1.0))
        out: list[Transition] = []
        for t in sorted(kept, key=lambda t: t.time):
            if out and t.time - out[-1].time < self.config.min_scene_s:
                if t.score > out[-1].score:
                    out[-1] = t
                continue
            out.append(t)
        log.debug("%d transitions, %d candidates checked by TransNetV2", len(out), self.probes)
        return out
