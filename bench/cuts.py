"""Benchmark: shot-transition detectors side by side, on generated clips and (``--real``) real footage.

Detectors, each timed with its own decoding included:

* ``mm2music``: the default detector (``--cut-detector mm2music``), our decoder + ``make_detector``;
* ``classic``: our hand-made detector alone (``--cut-detector classic``), no learned verifier;
* ``transnetv2``: TransNetV2 over every frame (``--cut-detector transnetv2``), our decoder;
* ``content`` / ``adaptive``: PySceneDetect 0.7's ``ContentDetector`` / ``AdaptiveDetector`` through
  ``scenedetect.detect`` (its own OpenCV decoding), default settings.

Generated clips (``bench/testclips.py``, cached under ``bench/results/clips/``) have frame-exact truth. Real
clips are fetched from package registries by ``bench/real_footage.py`` and labelled in ``bench/real_cuts.json``.
A detection matches a hard cut within one frame, a fade or dissolve anywhere in its span widened by one frame;
each truth and detection match once. Detections inside a real clip's ``ignore`` ranges are not scored; those
inside its ``uncut`` ranges are counted as false transitions there. Prints P / R / F1 per clip, per class and
in total, seconds per detector and the seconds of our decode pass alone (the floor under our detectors); writes ``bench/results/cuts.json``.

    .venv/bin/python bench/cuts.py --real                 # everything (TransNetV2 dominates the time)
    .venv/bin/python bench/cuts.py --real --no-generated  # real footage only
    .venv/bin/python bench/cuts.py --quick --detectors mm2music,content
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout without an installed package
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench import real_footage, testclips  # noqa: E402
from mm2music.config import CutConfig, MediaConfig  # noqa: E402
from mm2music.media.cuts import make_detector  # noqa: E402
from mm2music.media.video import iter_chunks  # noqa: E402

ALL = ("mm2music", "classic", "transnetv2", "content", "adaptive")


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    uncut_fp: int = 0  # false transitions inside labelled uncut ranges
    seconds: float = 0.0
    frames: int = 0
    detail: list = field(default_factory=list)

    def add(self, other: Score) -> None:
        for name in ("tp", "fp", "fn", "uncut_fp", "seconds", "frames"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class Clip:
    """What the scorer needs: a file, its truth as (kind, first frame, last frame), and frame lookup."""

    name: str
    category: str
    path: Path
    n_frames: int
    truth: list[tuple[str, int, int]]
    frame_of: object  # seconds -> frame index
    ignore: list[tuple[int, int]] = field(default_factory=list)
    uncut: dict[str, tuple[int, int]] = field(default_factory=dict)


def generated(clip: testclips.GeneratedClip) -> Clip:
    truth = [(t.kind, t.start_frame, t.end_frame) for t in clip.transitions]
    return Clip(clip.name, clip.category, clip.path, clip.n_frames, truth, clip.frame_at)


def real(name: str, labels: dict) -> Clip:
    fps = labels["fps"]
    truth = [("cut", f, f) for f in labels["cuts"]] + [(kind, a, b) for a, b, kind in labels["gradual"]]
    path = real_footage.fetch(name)
    n = int(round(fps * _duration(path)))
    return Clip(name, "real", path, n, sorted(truth, key=lambda t: t[1]), lambda s: int(round(s * fps)),
                [tuple(r) for r in labels["ignore"]], {k: tuple(v) for k, v in labels["uncut"].items()})  # fmt: skip


def _duration(path: Path) -> float:
    import decord

    reader = decord.VideoReader(str(path))
    return len(reader) / reader.get_avg_fps()


def match(clip: Clip, detections: list[tuple[float, str]]) -> Score:
    """Score ``detections`` (seconds, kind) against the clip's truth, frame-accurately."""
    frames = sorted(clip.frame_of(t) for t, _ in detections)
    frames = [f for f in frames if not any(a <= f <= b for a, b in clip.ignore)]
    used = [False] * len(frames)
    score = Score()
    for kind, start, end in clip.truth:
        lo, hi = start - 1, end + 1
        centre = (start + end) / 2
        options = [i for i, f in enumerate(frames) if not used[i] and lo <= f <= hi]
        if not options:
            score.fn += 1
            score.detail.append(f"miss {kind}@{start}" + (f"-{end}" if end != start else ""))
            continue
        used[min(options, key=lambda i: abs(frames[i] - centre))] = True
        score.tp += 1
    for i, f in enumerate(frames):
        if not used[i]:
            score.fp += 1
            where = [k for k, (a, b) in clip.uncut.items() if a <= f <= b]
            score.uncut_fp += bool(where)
            score.detail.append(f"false@{f}" + (f" (uncut {where[0]})" if where else ""))
    return score


def run(name: str, clip: Clip) -> tuple[list[tuple[float, str]], float]:
    """One detector on one clip: (detections, seconds with decoding)."""
    start = time.perf_counter()
    if name in ("content", "adaptive"):
        from scenedetect import AdaptiveDetector, ContentDetector, detect

        scenes = detect(str(clip.path), ContentDetector() if name == "content" else AdaptiveDetector())
        found = [(s[0].seconds, "cut") for s in scenes[1:]]  # scenes, not cuts; [] when there is no cut
    else:
        detector = make_detector(CutConfig(detector=name))
        for chunk in iter_chunks(clip.path, MediaConfig()):
            detector.update(chunk)
        found = [(t.time, t.kind) for t in detector.finish()]
    return found, time.perf_counter() - start


def decode_only(clip: Clip) -> float:
    """Seconds for our decode pass alone (open, frame times, every frame at the detectors' size): the floor
    under every detector that uses it."""
    start = time.perf_counter()
    for _ in iter_chunks(clip.path, MediaConfig()):
        pass
    return time.perf_counter() - start


def table(title: str, rows: dict[str, dict[str, Score]], names: list[str]) -> None:
    width = max([len(r) for r in rows] + [8]) + 2
    print(f"\n{title}")
    print(f"{'':<{width}}" + "".join(f"{n:>26}" for n in names))
    print(f"{'':<{width}}" + "".join(f"{'P    R    F1    s':>26}" for _ in names))
    for row, scores in rows.items():
        cells = "".join(
            f"{s.precision:9.2f}{s.recall:5.2f}{s.f1:6.2f}{s.seconds:6.1f}" if s is not None else f"{'-':>26}"
            for s in (scores.get(n) for n in names)
        )
        print(f"{row:<{width}}{cells}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one small generated clip per class")
    parser.add_argument("--real", action="store_true", help="also the labelled real footage (fetched on first use)")
    parser.add_argument("--no-generated", action="store_true", help="skip the generated clips")
    parser.add_argument("--detectors", default=",".join(ALL), help=f"comma-separated, from {', '.join(ALL)}")
    parser.add_argument("--clips", default=str(ROOT / "bench" / "results" / "clips"), help="generated clip cache folder")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "cuts.json"), help="JSON results file")
    parser.add_argument("--verbose", action="store_true", help="list misses and false detections")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    names = [n.strip() for n in args.detectors.split(",") if n.strip()]
    unknown = [n for n in names if n not in ALL]
    if unknown:
        parser.error(f"unknown detector(s) {', '.join(unknown)}; use {', '.join(ALL)}")

    clips: list[Clip] = []
    if not args.no_generated:
        t0 = time.perf_counter()
        clips += [generated(c) for c in testclips.clip_set(args.clips, quick=args.quick)]
        print(f"{len(clips)} generated clips ready in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    if args.real:
        labels = real_footage.load_labels()["clips"]
        clips += [real(name, labels[name]) for name in labels]
    if {"transnetv2", "mm2music"} & set(names):
        from mm2music.media.cuts.transnet import TransNetV2Model

        t0 = time.perf_counter()
        TransNetV2Model.load()  # once per process, like an import: not part of any clip's time
        print(f"TransNetV2 loaded in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)

    floor: dict[str, float] = {}  # generated / real -> seconds of decoding alone
    per_clip: dict[str, dict[str, Score]] = {}
    per_class: dict[str, dict[str, Score]] = {}
    totals: dict[str, dict[str, Score]] = {"generated": {}, "real": {}}
    records = []
    for clip in clips:
        per_clip[clip.name] = {}
        for name in names:
            found, seconds = run(name, clip)
            score = match(clip, found)
            score.seconds, score.frames = seconds, clip.n_frames
            per_clip[clip.name][name] = score
            per_class.setdefault(clip.category, {}).setdefault(name, Score()).add(score)
            totals["real" if clip.category == "real" else "generated"].setdefault(name, Score()).add(score)
            records.append({"clip": clip.name, "class": clip.category, "detector": name, "p": score.precision, "r": score.recall,
                            "f1": score.f1, "tp": score.tp, "fp": score.fp, "fn": score.fn, "uncut_fp": score.uncut_fp,
                            "seconds": seconds, "frames": clip.n_frames, "detail": score.detail})  # fmt: skip
        kind = "real" if clip.category == "real" else "generated"
        floor[kind] = floor.get(kind, 0.0) + decode_only(clip)
        line = "  ".join(f"{n} {s.f1:.2f}/{s.seconds:.1f}s" for n, s in per_clip[clip.name].items())
        print(f"{clip.name}: {line}", file=sys.stderr, flush=True)
        if args.verbose:
            for n, s in per_clip[clip.name].items():
                if s.detail:
                    print(f"    {n}: {', '.join(s.detail)}", file=sys.stderr)

    table("per clip (P, R, F1, seconds with decoding)", per_clip, names)
    table("per class", per_class, names)
    table("total", {k: v for k, v in totals.items() if v}, names)
    for kind, scores in totals.items():
        for name, s in scores.items():
            extra = f", false transitions in uncut ranges {s.uncut_fp}" if kind == "real" else ""
            print(f"{kind} {name}: {s.frames} frames in {s.seconds:.1f} s ({s.frames / max(s.seconds, 1e-9):.0f} frames/s){extra}")
    for kind, seconds in floor.items():
        print(f"{kind}: our decoding alone {seconds:.1f} s (the floor under mm2music, classic and transnetv2)")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    summary = {k: {n: {"p": s.precision, "r": s.recall, "f1": s.f1, "seconds": s.seconds, "frames": s.frames, "uncut_fp": s.uncut_fp}
                   for n, s in v.items()} for k, v in totals.items()}  # fmt: skip
    summary["decode_seconds"] = floor
    out.write_text(json.dumps({"clips": records, "total": summary}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
