"""Benchmark: end-to-end real-time factor of scoring a 60 s 480p clip, stage by stage.

Generates (once) a 60-second 854x480 25 fps H.264 clip with ten shots and an audio track, then runs the
whole pipeline on it with the default encoders and the shipped decoder, and prints wall time per stage,
the real-time factor (wall time / clip duration) per stage and in total, and where the time goes.
Model loading is reported apart (a batch run loads once per worker; the decoder loads on a thread while the video
decodes, so "load model" is what the run still waited for after the analysis), and so is the wall time of the
command a film-maker runs (``run_pipeline.py --video clip``: a fresh process, imports and loading included).
The plan's new themes are written two at a time (a decoder thread each) and FluidSynth renders each cue on its
own thread as soon as its theme is there, so "generate" overlaps some of the rendering and "render" is what is
left after the last cue (its audio, the gain, the WAV); the mux, the stems and the MusicXML are written each on
a thread beside the timeline (their stage times overlap).

One run moves by 10-20% from the next on this machine, so the warm and the fresh-process figures are the median
of ``--repeat`` and ``--processes`` runs. The fresh processes run with Python's default of caching compiled
modules (``PYTHONDONTWRITEBYTECODE`` is dropped from their environment, where a sandbox sets it: a film-maker's
Python compiles mm2music's ~115 modules once, not on every run).

    .venv/bin/python bench/e2e.py [--seconds 60] [--checkpoint DIR] [--repeat 3] [--processes 3] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from mm2music.config import load_config  # noqa: E402
from bench import testclips  # noqa: E402
from mm2music.pipeline import Inputs, run  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def make_clip(seconds: float) -> Path:
    out = RESULTS / f"e2e_{int(seconds)}s_480p.mp4"
    if out.exists():
        return out
    shots = max(2, int(round(seconds / 6)))
    clip = testclips.hard_cuts(RESULTS / "clips", name=f"e2e_{int(seconds)}", size=(854, 480), fps=25.0, shots=shots,
                               shot_s=seconds / shots, similar=False, seed=11)
    subprocess.run(["ffmpeg", "-nostdin", "-y", "-v", "error", "-i", str(clip.path), "-f", "lavfi", "-i",
                    f"anoisesrc=c=pink:a=0.05:d={seconds}:r=44100", "-map", "0:v", "-map", "1:a", "-c:v", "copy",
                    "-c:a", "aac", "-shortest", str(out)], check=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--repeat", type=int, default=3, help="runs after a warm-up run (models loaded); the median is reported")
    parser.add_argument("--processes", type=int, default=3, help="fresh processes timed (the command a film-maker runs); the median is reported")
    parser.add_argument("--json", default=str(RESULTS / "e2e.json"))
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="config override, e.g. --set music.theme_candidates=2 (also passed to the CLI run)")
    parser.add_argument("--no-process", dest="process", action="store_false", help="skip timing the CLI in a fresh process")
    args = parser.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    clip = make_clip(args.seconds)
    overrides = ([] if args.checkpoint is None else [f"music.checkpoint={args.checkpoint}"]) + args.overrides
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat + 1):
            config = load_config(None, overrides + [f"output.out_dir={tmp}", f"output.name=run{i}"])
            t0 = time.perf_counter()
            result = run(Inputs(video=str(clip)), config, progress=False)
            wall = time.perf_counter() - t0
            runs.append((wall, dict(result.timings.stages), result))
            shutil.rmtree(result.out_dir)
    duration = runs[-1][2].analysis.duration
    cold_wall, cold_stages, _ = runs[0]
    measured = runs[1:] or runs[:1]
    stages: dict[str, float] = {}
    for _, st, _ in measured:
        for k, v in st.items():
            stages[k] = stages.get(k, 0.0) + v / len(measured)
    wall = statistics.median(w for w, _, _ in measured)
    print(f"clip: {clip.name}, {duration:.1f} s, {len(runs[-1][2].analysis.cuts)} cuts; {len(measured)} warm run(s) after a cold one")
    print(f"{'stage':<22}{'seconds':>9}{'RTF':>8}{'share':>8}")
    for k, v in sorted(stages.items(), key=lambda kv: -kv[1]):
        print(f"{k:<22}{v:9.2f}{v / duration:8.3f}{v / wall:8.1%}")
    print(f"{'total (warm, median)':<22}{wall:9.2f}{wall / duration:8.3f}  (runs: {', '.join(f'{w:.2f}' for w, _, _ in measured)} s)")
    print(f"{'total (cold, loads)':<22}{cold_wall:9.2f}{cold_wall / duration:8.3f}  (waited for model loading {cold_stages.get('load model', 0) + cold_stages.get('encoders', 0):.2f} s)")
    process_wall, process_walls = None, []
    if args.process:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [sys.executable, str(ROOT / "run_pipeline.py"), "--video", str(clip), "--out", tmp, "--quiet", "--overwrite"]
            if args.checkpoint:
                cmd += ["--checkpoint", args.checkpoint]
            for item in args.overrides:
                cmd += ["--set", item]
            for _ in range(max(1, args.processes)):
                t0 = time.perf_counter()
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
                process_walls.append(time.perf_counter() - t0)
        process_wall = statistics.median(process_walls)
        print(f"{'run_pipeline.py':<22}{process_wall:9.2f}{process_wall / duration:8.3f}  (fresh process, median: imports, loading, "
              f"scoring; runs: {', '.join(f'{w:.2f}' for w in process_walls)} s)")
    Path(args.json).write_text(json.dumps({"clip": str(clip), "duration": duration, "warm_wall_s": wall, "rtf": wall / duration,
                                           "warm_walls_s": [w for w, _, _ in measured], "cold_wall_s": cold_wall,
                                           "process_wall_s": process_wall, "process_walls_s": process_walls, "stages_s": stages},
                                          indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
