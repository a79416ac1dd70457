"""Benchmark: tempo continuity of the plan across cuts (issue 5: "tempo jumps between neighbouring scenes stay
small unless the plan asks for a contrast").

Plans the music (``--analyze-only``: no decoder needed) for the cut benchmark's generated clips (the same
set as ``bench/cuts.py``, cached under ``bench/results/clips``) and the e2e clip when it exists, and measures,
over every pair of neighbouring cues that the plan does not mark as a contrast (an arousal jump below
``plan.contrast_arousal`` and an energy jump below ``plan.contrast_energy``): the tempo change at the cut (from the tempo the earlier cue ends on to the tempo
the later one starts with), how many of those changes are spread over a bar (a ramp in the earlier cue's last
bar), and the size of the per-beat steps inside those ramps. Cue lengths are whole bars, so a short scene can
force a big change whatever the planner does; the worst pairs are listed.

    .venv/bin/python bench/tempo.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from mm2music.config import load_config  # noqa: E402
from bench import testclips  # noqa: E402
from mm2music.pipeline import Inputs, run  # noqa: E402


def pct(x: float) -> float:
    return 100 * (math.exp(x) - 1)


def is_contrast(a, b, plan) -> bool:
    """The planner's contrast between neighbouring cues: an arousal jump of ``plan.contrast_arousal`` or a jump
    of musical energy (the film table's, :func:`film_profile`) of ``plan.contrast_energy``."""
    from mm2music.graph.cues import film_profile

    energy = [film_profile(c.emotions, c.arousal)[1] for c in (a, b)]
    return abs(b.arousal - a.arousal) >= plan.contrast_arousal or abs(energy[1] - energy[0]) >= plan.contrast_energy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one small clip per class")
    parser.add_argument("--clips", default=str(ROOT / "bench" / "results" / "clips"), help="clip cache folder")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "tempo.json"), help="JSON results file")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    videos = [c.path for c in testclips.clip_set(args.clips, quick=args.quick)]
    e2e = ROOT / "bench" / "results" / "e2e_60s_480p.mp4"
    if e2e.exists() and not args.quick:
        videos.append(e2e)
    changes, steps, worst = [], [], []
    n_ramps = 0
    scratch = ROOT / "bench" / "results" / "tempo_out"
    for video in videos:
        config = load_config(None, [f"output.out_dir={scratch}", "output.overwrite=true"])
        cues = run(Inputs(video=str(video)), config, analyze_only=True, progress=False).plan.cues
        for a, b in zip(cues, cues[1:]):
            if is_contrast(a, b, config.plan):
                continue
            change = abs(math.log(b.tempo_bpm / (a.ramp_to_bpm or a.tempo_bpm)))
            changes.append(change)
            worst.append((change, Path(video).name, a.index + 1, a.bars, b.bars))
            if a.ramp_to_bpm:
                n_ramps += 1
                m = a.tempo_map()
                steps += [abs(math.log(y / x)) for (_, x), (_, y) in zip(m, m[1:])]
    c, s = np.array(changes), np.array(steps)
    result = {
        "clips": len(videos), "pairs": len(c), "ramped": n_ramps,
        "change_at_cut_pct": {"mean": pct(c.mean()) if len(c) else 0.0, "median": pct(np.median(c)) if len(c) else 0.0,
                              "max": pct(c.max()) if len(c) else 0.0, "share_over_5pct": float(np.mean(c > math.log(1.05))) if len(c) else 0.0},
        "ramp_step_pct": {"mean": pct(s.mean()) if len(s) else 0.0, "max": pct(s.max()) if len(s) else 0.0},
        "worst": [{"change_pct": round(pct(w[0]), 1), "clip": w[1], "cue": w[2], "bars": [w[3], w[4]]} for w in sorted(worst, reverse=True)[:5]],
        "wall_s": time.perf_counter() - t0,
    }
    cc, rs = result["change_at_cut_pct"], result["ramp_step_pct"]
    print(f"tempo continuity: {result['clips']} clips, {result['pairs']} neighbouring cues without a planned contrast")
    print(f"  tempo change at the cut: mean {cc['mean']:.1f}%, median {cc['median']:.1f}%, max {cc['max']:.1f}%, over 5%: {100 * cc['share_over_5pct']:.0f}% of cuts")
    print(f"  spread over a bar: {n_ramps} cuts; per-beat steps inside those bars: mean {rs['mean']:.1f}%, max {rs['max']:.1f}%")
    for w in result["worst"]:
        print(f"  worst: {w['change_pct']:5.1f}% after cue {w['cue']} of {w['clip']} (bars {w['bars'][0]} -> {w['bars'][1]})")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wall time {result['wall_s']:.0f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
