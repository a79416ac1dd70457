"""Benchmark: batch throughput (clips a minute) and peak memory for 1 and N local workers (and Ray), and the per-job
overhead of the batch runner beyond the single-clip run.

Generates (or reuses) ``--clips`` short two-shot clips with a tone under ``bench/results/batch_clips/``, then
runs ``run_pipeline.py --batch`` on them in a fresh output folder per worker count, as a user would (a
subprocess: process start-up and model loading count). Peak memory is the largest sum of the resident set
sizes of the batch process and its workers, sampled every 0.1 s from /proc (Linux). The per-job overhead is
the mean job wall time in ``batch_report.json`` (workers=1) minus the mean ``pipeline.run`` time of the same
clips run here in-process after a warm-up (fingerprints, hashing, markers and reports are the difference).
Writes ``bench/results/batch.json``.

    .venv/bin/python bench/batch.py                      # 20 clips, full scoring, workers 1 and 2
    .venv/bin/python bench/batch.py --ray 2              # also a local Ray with 2 CPUs (pip install ray)
    .venv/bin/python bench/batch.py --analyze-only       # the analysis only (no music model)
    .venv/bin/python bench/batch.py --clips 4 --workers 1 --checkpoint DIR
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("HF_HUB_OFFLINE", "1")

RESULTS = ROOT / "bench" / "results"


def make_clips(folder: Path, n: int, seconds: float = 4.0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    sources = ["testsrc2", "mandelbrot", "rgbtestsrc", "smptebars", "testsrc"]
    clips = []
    for i in range(n):
        path = folder / f"clip{i:03d}.mp4"
        if not path.exists():
            a, b = sources[i % len(sources)], sources[(i + 2) % len(sources)]
            half = seconds / 2
            subprocess.run(["ffmpeg", "-nostdin", "-y", "-v", "error", "-f", "lavfi", "-t", str(half), "-i", f"{a}=s=160x90:r=25",
                            "-f", "lavfi", "-t", str(half), "-i", f"{b}=s=160x90:r=25", "-f", "lavfi", "-t", str(seconds),
                            "-i", f"sine=f={220 + 20 * i}", "-filter_complex",
                            "[0:v]format=yuv420p,setsar=1[a];[1:v]format=yuv420p,setsar=1[b];[a][b]concat=n=2:v=1[v]",
                            "-map", "[v]", "-map", "2:a", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                            "-c:a", "aac", "-shortest", str(path)], check=True)
        clips.append(path)
    return clips


def _tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and all its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
            rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        total += rss.get(p, 0)
        stack += children.get(p, [])
    return total


def run_batch(clips_dir: Path, out: Path, workers: int, extra: list[str], executor: str = "local") -> dict:
    cmd = [sys.executable, str(ROOT / "run_pipeline.py"), "--batch", str(clips_dir), "--out", str(out),
           "--workers", str(workers), "--executor", executor, "-q", *extra]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]

    def sample() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], _tree_rss(proc.pid))
            time.sleep(0.1)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - t0
    thread.join()
    report = json.loads((out / "batch_report.json").read_text())
    return {"executor": executor, "workers": workers, "wall_s": round(wall, 2), "clips": len(report["jobs"]), "counts": report["counts"],
            "clips_per_min": round(60 * len(report["jobs"]) / wall, 2), "peak_rss_mib": round(peak[0] / 2**20, 1),
            "job_seconds": {j["name"]: j["seconds"] for j in report["jobs"]}, "exit": proc.returncode,
            "summary": stdout.strip().splitlines()[-1:] or stderr.strip().splitlines()[-1:]}


def single_clip_times(clips: list[Path], extra: list[str], analyze_only: bool) -> dict[str, float]:
    """``pipeline.run`` wall time per clip, in this process, after a warm-up run (models loaded).

    The caller leaves out the batch's first clip: that job pays the lazy model loads in-process."""
    import torch

    from mm2music import cli  # noqa: F401  (sets the library environment)
    from mm2music.config import load_config
    from mm2music.pipeline import Inputs, run

    torch.set_num_threads(1)  # as a batch worker does
    overrides = []
    flags = dict(zip(extra[::2], extra[1::2]))
    if "--checkpoint" in flags:
        overrides.append(f"music.checkpoint={flags['--checkpoint']}")
    times = {}
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(flags.get("--config"), [*overrides, f"output.out_dir={tmp}", "output.overwrite=true"])
        run(Inputs(video=str(clips[0])), config, analyze_only=analyze_only, progress=False)  # warm-up
        for clip in clips:
            t0 = time.perf_counter()
            run(Inputs(video=str(clip)), config, analyze_only=analyze_only, progress=False)
            times[clip.stem] = time.perf_counter() - t0
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--ray", type=int, nargs="*", default=[], metavar="N",
                        help="also run on a local Ray with N CPUs (each N given; needs Ray installed)")
    parser.add_argument("--analyze-only", action="store_true")
    parser.add_argument("--checkpoint", metavar="DIR", help="music checkpoint (default: the shipped one)")
    parser.add_argument("--config", default=None, help="config name or path passed to every run")
    parser.add_argument("--single", type=int, default=3, help="clips timed in-process for the per-job overhead")
    args = parser.parse_args()

    clips_dir = RESULTS / "batch_clips"
    clips = make_clips(clips_dir, args.clips)
    for stale in clips_dir.glob("clip*.mp4"):
        if stale not in clips:
            stale.unlink()
    extra = (["--analyze-only"] if args.analyze_only else []) + (["--checkpoint", args.checkpoint] if args.checkpoint else []) \
        + (["--config", args.config] if args.config else [])
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for executor, n in [("local", n) for n in args.workers] + [("ray", n) for n in args.ray]:
            out = Path(tmp) / f"{executor}{n}"
            result = run_batch(clips_dir, out, n, extra, executor)
            runs.append(result)
            print(f"{executor} workers {n}: {result['clips']} clips in {result['wall_s']:.1f} s = {result['clips_per_min']:.1f} clips/min, "
                  f"peak RSS {result['peak_rss_mib']:.0f} MiB, {result['counts']}", flush=True)
            shutil.rmtree(out, ignore_errors=True)
    single = single_clip_times(clips[1 : 1 + args.single], extra, args.analyze_only)  # job 1 pays the lazy loads
    one = next((r for r in runs if r["workers"] == 1 and r["executor"] == "local"), None)
    overhead = None
    if one:
        diffs = [one["job_seconds"][name] - t for name, t in single.items() if name in one["job_seconds"]]
        overhead = round(sum(diffs) / len(diffs), 3) if diffs else None
        print(f"per-job overhead (workers 1 job time - in-process pipeline.run, mean of {len(diffs)}): {overhead:+.3f} s "
              f"(pipeline.run {sum(single.values()) / len(single):.2f} s a clip)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = {"clips": args.clips, "analyze_only": args.analyze_only, "cpus": os.cpu_count(), "runs": runs,
            "single_clip_s": {k: round(v, 3) for k, v in single.items()}, "per_job_overhead_s": overhead}
    (RESULTS / "batch.json").write_text(json.dumps(data, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
