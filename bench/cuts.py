"""Benchmark: our transition detector against PySceneDetect's ContentDetector on generated clips.

Generates (or reuses) clips with known transitions under ``bench/results/clips/``, then for every clip, in
the same run:

* ours: the project's decoder (``mm2music.media.video.iter_chunks``) + ``CutDetector``;
* PySceneDetect 0.7: ``scenedetect.detect(path, ContentDetector())``, with its own decoding (OpenCV).

A detection matches a true hard cut when it lands within one frame of it, and a true fade or dissolve when
it lies within the transition's span widened by one frame each side; each truth and each detection match
at most once. Prints precision / recall / F1 per clip, per clip class and in total, the wall time of each
side (decoding included) and the speed ratio, and writes ``bench/results/cuts.json``.

    .venv/bin/python bench/cuts.py            # full set (31 clips; the first run generates them, ~2 min)
    .venv/bin/python bench/cuts.py --quick    # one clip per class
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

from mm2music.config import CutConfig, MediaConfig  # noqa: E402
from mm2music.media import testclips  # noqa: E402
from mm2music.media.cuts import CutDetector, make_detector  # noqa: E402
from mm2music.media.video import iter_chunks  # noqa: E402


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    seconds: float = 0.0
    kinds_right: int = 0  # matched gradual transitions whose kind (fade / dissolve) is right
    gradual_hits: int = 0
    detail: list = field(default_factory=list)

    def add(self, other: Score) -> None:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.seconds += other.seconds
        self.kinds_right += other.kinds_right
        self.gradual_hits += other.gradual_hits

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


def match(clip: testclips.GeneratedClip, detections: list[tuple[float, str]]) -> Score:
    """Score ``detections`` (time in seconds, kind) against the clip's truth, frame-accurately."""
    frames = sorted((clip.frame_at(t), kind) for t, kind in detections)
    used = [False] * len(frames)
    score = Score()
    for truth in clip.transitions:
        lo, hi = (truth.frame - 1, truth.frame + 1) if truth.kind == "cut" else (truth.start_frame - 1, truth.end_frame + 1)
        centre = (truth.start_frame + truth.end_frame) / 2
        options = [i for i, (f, _) in enumerate(frames) if not used[i] and lo <= f <= hi]
        if not options:
            score.fn += 1
            score.detail.append(f"miss {truth.kind}@{truth.start_frame}-{truth.end_frame}")
            continue
        best = min(options, key=lambda i: abs(frames[i][0] - centre))
        used[best] = True
        score.tp += 1
        if truth.kind != "cut":
            score.gradual_hits += 1
            score.kinds_right += frames[best][1] == truth.kind
    for i, (f, kind) in enumerate(frames):
        if not used[i]:
            score.fp += 1
            score.detail.append(f"false {kind}@{f}")
    return score


def run_ours(clip: testclips.GeneratedClip, media: MediaConfig, cuts: CutConfig) -> tuple[list[tuple[float, str]], float]:
    start = time.perf_counter()
    detector = CutDetector(cuts)
    for chunk in iter_chunks(clip.path, media):
        detector.update(chunk)
    found = detector.finish()
    return [(t.time, t.kind) for t in found], time.perf_counter() - start


def run_pyscenedetect(clip: testclips.GeneratedClip) -> tuple[list[tuple[float, str]], float]:
    from scenedetect import ContentDetector, detect

    start = time.perf_counter()
    scenes = detect(str(clip.path), ContentDetector())
    elapsed = time.perf_counter() - start
    # detect() lists scenes, not cuts, and returns [] when there is no cut at all.
    return [(s[0].seconds, "cut") for s in scenes[1:]], elapsed


def run_on_frames(clip: testclips.GeneratedClip, media: MediaConfig, repeat: int = 1) -> dict:
    """Both detectors on the same decoded frames: detection time alone (decoding excluded), best of ``repeat``."""
    chunks = list(iter_chunks(clip.path, media))
    out = {}
    for name in ("mm2music", "pyscenedetect"):
        best = float("inf")
        for _ in range(repeat):
            detector = make_detector(CutConfig(detector=name))
            start = time.perf_counter()
            for chunk in chunks:
                detector.update(chunk)
            found = detector.finish()
            best = min(best, time.perf_counter() - start)
        out[name] = (match(clip, [(t.time, t.kind) for t in found]), best)
    return out


def row(name: str, ours: Score, theirs: Score, width: int) -> str:
    return (
        f"{name:<{width}} {ours.precision:5.2f} {ours.recall:5.2f} {ours.f1:5.2f} {ours.seconds:7.2f}s   "
        f"{theirs.precision:5.2f} {theirs.recall:5.2f} {theirs.f1:5.2f} {theirs.seconds:7.2f}s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one small clip per class")
    parser.add_argument("--clips", default=str(ROOT / "bench" / "results" / "clips"), help="clip cache folder")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "cuts.json"), help="JSON results file")
    parser.add_argument("--verbose", action="store_true", help="list misses and false detections")
    parser.add_argument("--repeat", type=int, default=1, help="time each side this many times, keep the best")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("pyscenedetect").setLevel(logging.WARNING)

    t0 = time.perf_counter()
    clips = testclips.clip_set(args.clips, quick=args.quick)
    print(f"{len(clips)} clips ready in {time.perf_counter() - t0:.1f} s ({args.clips})", file=sys.stderr, flush=True)

    media, cuts = MediaConfig(), CutConfig()
    width = max(len(c.name) for c in clips) + 2
    header = f"{'clip':<{width}} {'ours: P':>7} {'R':>5} {'F1':>5} {'time':>8}    {'PySD: P':>7} {'R':>5} {'F1':>5} {'time':>8}"
    print(header)
    per_class: dict[str, tuple[Score, Score]] = {}
    same_frames: dict[str, Score] = {}  # detection alone, both detectors on our decoded frames
    records = []
    for clip in clips:
        t_ours = t_pysd = float("inf")
        for _ in range(args.repeat):  # interleaved, best of N: the machine is shared
            found, seconds = run_ours(clip, media, cuts)
            t_ours = min(t_ours, seconds)
            found_pysd, seconds = run_pyscenedetect(clip)
            t_pysd = min(t_pysd, seconds)
        ours = match(clip, found)
        ours.seconds = t_ours
        theirs = match(clip, found_pysd)
        theirs.seconds = t_pysd
        print(row(clip.name, ours, theirs, width))
        if args.verbose and (ours.detail or theirs.detail):
            print(f"{'':<{width}} ours: {', '.join(ours.detail) or '-'} | PySD: {', '.join(theirs.detail) or '-'}")
        same = run_on_frames(clip, media, args.repeat)
        for name, (score, seconds) in same.items():
            score.seconds = seconds
            same_frames.setdefault(name, Score()).add(score)
        a, b = per_class.setdefault(clip.category, (Score(), Score()))
        a.add(ours)
        b.add(theirs)
        records.append({
            "clip": clip.name, "class": clip.category, "size": f"{clip.width}x{clip.height}", "fps": clip.fps,
            "codec": clip.codec, "frames": clip.n_frames, "truth": len(clip.transitions),
            "ours": {"p": ours.precision, "r": ours.recall, "f1": ours.f1, "seconds": t_ours, "detail": ours.detail},
            "pyscenedetect": {"p": theirs.precision, "r": theirs.recall, "f1": theirs.f1, "seconds": t_pysd, "detail": theirs.detail},
        })  # fmt: skip

    print("\nper class")
    print(header.replace("clip", "class", 1))
    total_ours, total_theirs = Score(), Score()
    for name, (a, b) in sorted(per_class.items()):
        print(row(name, a, b, width))
        total_ours.add(a)
        total_theirs.add(b)
    print(row("TOTAL", total_ours, total_theirs, width))
    ratio = total_theirs.seconds / max(total_ours.seconds, 1e-9)
    frames = sum(c.n_frames for c in clips)
    print(f"\n{frames} frames, decoding included: ours {total_ours.seconds:.2f} s ({frames / total_ours.seconds:.0f} fps), "
          f"PySceneDetect {total_theirs.seconds:.2f} s ({frames / total_theirs.seconds:.0f} fps); "
          f"speed ratio (PySceneDetect time / ours) {ratio:.2f}")  # fmt: skip
    a, b = same_frames["mm2music"], same_frames["pyscenedetect"]
    detect_ratio = b.seconds / max(a.seconds, 1e-9)
    print(f"detection alone, same decoded {media.frame_short_side}-px frames: ours {a.seconds:.2f} s (F1 {a.f1:.2f}), "
          f"ContentDetector {b.seconds:.2f} s (F1 {b.f1:.2f}); speed ratio {detect_ratio:.2f}")  # fmt: skip
    if total_ours.gradual_hits:
        print(f"gradual transitions found by ours with the right kind: {total_ours.kinds_right}/{total_ours.gradual_hits}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    summary = {
        "clips": records,
        "classes": {k: {"ours_f1": a.f1, "pyscenedetect_f1": b.f1, "ours_s": a.seconds, "pyscenedetect_s": b.seconds} for k, (a, b) in per_class.items()},
        "total": {"ours_f1": total_ours.f1, "pyscenedetect_f1": total_theirs.f1, "ours_s": total_ours.seconds,
                  "pyscenedetect_s": total_theirs.seconds, "speed_ratio": ratio, "frames": frames,
                  "detect_only": {"ours_s": a.seconds, "ours_f1": a.f1, "contentdetector_s": b.seconds,
                                  "contentdetector_f1": b.f1, "speed_ratio": detect_ratio}},
    }  # fmt: skip
    out.write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
