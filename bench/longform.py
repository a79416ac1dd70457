"""Benchmark: a whole film from a fresh process, stage by stage: time and peak memory at 15, 30 and 90 minutes.

Generates (once, cached in ``bench/results/longform``) a 320x180 25 fps H.264 film of the asked length with a
shot every ``--shot-s`` seconds on average (textured, moving, each its own palette: ``bench/testclips.py``), a
pink-noise sound track, SRT captions (a line every ~7 s, spoken by a recurring cast of six) and a hit point
every ~75 s. Each length is then scored by a fresh process (``run_pipeline.py``'s path: config, checks,
``pipeline.run``), which reports the wall time of every stage and the peak resident memory of the process tree
(itself and its ffmpeg children, sampled every 0.1 s) while that stage ran. Printed per length: the stages, the
total wall time from process start, the real-time factor (wall / film length), the peak, and at the end the
ratio of each length's wall time to the shortest one's (linear = the ratio of lengths).

    .venv/bin/python bench/longform.py                      # 15 and 30 minutes
    .venv/bin/python bench/longform.py --minutes 15 30 90   # the issue's three lengths
    .venv/bin/python bench/longform.py --minutes 90 --tile 30   # 90 minutes: the 30-minute film three times
    .venv/bin/python bench/longform.py --minutes 90 --tile 30 --compose-only   # up to the rendering stages
    .venv/bin/python bench/longform.py --minutes 2 --set interchange.stems_format=none   # a quick look
    .venv/bin/python bench/longform.py --minutes 15 --kill-after 200   # kill -9 at 200 s, then the same command resumes
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
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

RESULTS = ROOT / "bench" / "results" / "longform"
CAST = ["ANNA", "TOMAS", "MIRA", "THE DOCTOR", "JONAH", "ELSA"]
LINES = [
    "We have to leave before the storm reaches the harbour.", "I kept every letter you never answered.",
    "Run! They are right behind us!", "It is quiet here. I could stay forever.", "Nobody survived the fire.",
    "Happy birthday, my love.", "Did you hear that? Something is in the house.", "We won. We actually won!",
    "Tell me the truth for once.", "The light over the fields this morning was golden.",
    "I am so tired of pretending.", "Dance with me, just this once.",
]


def make_film(minutes: float, shot_s: float, seed: int = 7, tile: float | None = None) -> tuple[Path, Path, list[float]]:
    """The film, its captions and its hit points (cached by length, shot length and seed). ``tile``: a film whose
    length is a whole multiple of ``tile`` minutes is that film played again and again (joined without
    re-encoding, the captions shifted), which takes seconds where drawing 90 minutes of frames takes an hour."""
    import numpy as np

    from bench import testclips

    seconds = minutes * 60
    rng = np.random.default_rng(seed)
    hits = sorted(round(float(t), 2) for t in np.arange(40.0, seconds - 20, 75.0) + rng.uniform(-10, 10, len(np.arange(40.0, seconds - 20, 75.0))))
    if tile and minutes > tile and (minutes / tile).is_integer():
        return (*tiled_film(minutes, tile, shot_s, seed), hits)
    tag = f"film_{minutes:g}min_{shot_s:g}s_{seed}"
    film, srt = RESULTS / f"{tag}.mp4", RESULTS / f"{tag}.srt"
    if not film.exists():
        RESULTS.mkdir(parents=True, exist_ok=True)
        shots = max(2, round(seconds / shot_s))
        clip = testclips.hard_cuts(RESULTS / "clips", name=tag, size=(320, 180), fps=25.0, shots=shots, shot_s=shot_s,
                                   similar=False, seed=seed)
        tmp = film.with_suffix(".tmp.mp4")
        subprocess.run(["ffmpeg", "-nostdin", "-y", "-v", "error", "-i", str(clip.path), "-f", "lavfi", "-i",
                        f"anoisesrc=c=pink:a=0.05:d={seconds}:r=44100", "-map", "0:v", "-map", "1:a", "-c:v", "copy",
                        "-c:a", "aac", "-b:a", "64k", "-shortest", str(tmp)], check=True)
        tmp.rename(film)
        clip.path.unlink()
    if not srt.exists():
        blocks, t, n = [], 2.0, 1
        while t < seconds - 4:
            who, line = CAST[int(rng.integers(len(CAST)))], LINES[int(rng.integers(len(LINES)))]
            end = t + float(rng.uniform(2.0, 4.0))
            blocks.append(f"{n}\n{_srt_time(t)} --> {_srt_time(end)}\n{who}: {line}\n")
            t, n = end + float(rng.uniform(2.0, 6.0)), n + 1
        srt.write_text("\n".join(blocks), encoding="utf-8")
    return film, srt, hits


def tiled_film(minutes: float, tile: float, shot_s: float, seed: int) -> tuple[Path, Path]:
    """The ``tile``-minute film repeated up to ``minutes`` (ffmpeg's concat demuxer, streams copied) and its
    captions repeated at each start (see :func:`make_film`)."""
    import srt as srtlib

    base, base_srt, _ = make_film(tile, shot_s, seed)
    times = round(minutes / tile)
    tag = f"film_{minutes:g}min_{shot_s:g}s_{seed}_tiled{tile:g}"
    film, captions = RESULTS / f"{tag}.mp4", RESULTS / f"{tag}.srt"
    if not film.exists():
        listing = RESULTS / f"{tag}.txt"
        listing.write_text("".join(f"file '{base.name}'\n" for _ in range(times)))
        tmp = film.with_suffix(".tmp.mp4")
        subprocess.run(["ffmpeg", "-nostdin", "-y", "-v", "error", "-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy",
                        str(tmp)], check=True)
        tmp.rename(film)
        listing.unlink()
    if not captions.exists():
        from datetime import timedelta

        blocks = list(srtlib.parse(base_srt.read_text(encoding="utf-8")))
        out = [srtlib.Subtitle(0, b.start + timedelta(minutes=k * tile), b.end + timedelta(minutes=k * tile), b.content)
               for k in range(times) for b in blocks]
        captions.write_text(srtlib.compose(out), encoding="utf-8")
    return film, captions


def _srt_time(t: float) -> str:
    ms = round(t * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


# --- the child: one fresh process scoring one film --------------------------------------------------------


def _tree_rss(pid: int) -> dict[str, int]:
    """Resident bytes of ``pid`` and all its descendants (from /proc), by command name."""
    children: dict[int, list[int]] = {}
    rss: dict[int, tuple[str, int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                comm, rest = fh.read().split(" (", 1)[1].rsplit(")", 1)
            fields = rest.split()
            children.setdefault(int(fields[1]), []).append(int(entry))
            rss[int(entry)] = (comm, int(fields[21]) * os.sysconf("SC_PAGE_SIZE"))
        except (OSError, IndexError, ValueError):
            continue
    by_name: dict[str, int] = {}
    todo = [pid]
    while todo:
        p = todo.pop()
        comm, size = rss.get(p, ("?", 0))
        by_name[comm] = by_name.get(comm, 0) + size
        todo.extend(children.get(p, []))
    return by_name


def child(args: argparse.Namespace) -> None:
    t_process = float(os.environ.get("LONGFORM_T0", time.time()))
    stage = {"name": "imports"}
    peaks: dict[str, int] = {}
    at_peak: dict[str, int] = {}  # the tree at the highest peak, by process name
    done = threading.Event()

    def sample() -> None:
        pid = os.getpid()
        while not done.wait(0.1):
            tree = _tree_rss(pid)
            rss = sum(tree.values())
            name = stage["name"]
            peaks[name] = max(peaks.get(name, 0), rss)
            if rss >= max(peaks.values()):
                at_peak.clear()
                at_peak.update(tree, stage=name)

    threading.Thread(target=sample, daemon=True).start()

    def listen(what: str) -> None:
        if not what.startswith("composed cue"):
            stage["name"] = what

    from mm2music.checks import check_settings
    from mm2music.config import load_config
    from mm2music.pipeline import Inputs, run

    config = load_config(None, [f"plan.hits={','.join(map(str, args.hits))}", f"output.out_dir={args.out}", "output.overwrite=true",
                                *args.set])
    config = check_settings(config)
    stage["name"] = "load model"
    if args.compose_only:
        result = compose_only(Inputs(video=args.film, captions=args.captions), config, listen)
    else:
        result = run(Inputs(video=args.film, captions=args.captions), config, analyze_only=args.analyze_only, progress=not args.quiet,
                     on_progress=listen)
    wall = time.time() - t_process
    done.set()
    print(json.dumps({"wall_s": wall, "duration_s": result.analysis.duration, "stages": result.timings.stages,
                      "themes": themes(result.plan, args.captions),
                      "peak_mb": {k: v / 2**20 for k, v in peaks.items()},
                      "at_peak": {k: v if k == "stage" else round(v / 2**20) for k, v in at_peak.items()}, "scenes": len(result.analysis.scenes),
                      "cues": len(result.plan.cues), "files": result.files, "resumed": result.resumed}))


def compose_only(inputs, config, listen):
    """The analysis, the plan and the decoder's music for every cue, nothing rendered or written (what a film costs
    up to the rendering stages): a :class:`~mm2music.pipeline.Result` without files."""
    from types import SimpleNamespace

    from mm2music.arrange.compose import compose
    from mm2music.graph.plan import plan_music
    from mm2music.graph.spotting import spot
    from mm2music.pipeline import CONCEPT_COORDS, Timings, analyze, load_music_model

    timings = Timings(listener=listen)
    with timings.stage("load model"):
        model, tokenizer = load_music_model(config.music.checkpoint, config.music.quantize)
    analysis = analyze(inputs, config, timings, progress=False)
    with timings.stage("graph+plan"):
        plan, _ = plan_music(analysis.scenes, analysis.emotions, CONCEPT_COORDS, config.plan, analysis.transitions, analysis.duration,
                             seed=config.seed, captions=analysis.segments)
        plan = spot(plan, analysis.segments, analysis.audio.speech if analysis.audio else (), config.plan.spotting)
    with timings.stage("generate"):
        music = compose(plan.cues, model, tokenizer, config.music, config.seed)
    written = sum(1 for m in music if m.tokens)  # cues whose theme the decoder wrote (the others restate one)
    return SimpleNamespace(analysis=analysis, plan=plan, timings=timings, files={"themes_written": written}, resumed={})


def themes(plan, captions: str) -> dict:
    """How the plan's themes spread over the film: distinct themes, the share of cues restating one (the decoder
    writes only a theme's first cue), the leitmotifs, and for each leitmotif's character the share of the cues
    where they speak at least half of the named speaking time that carry their letter (1.0: all of them)."""
    from mm2music.graph.motifs import scene_speakers
    from mm2music.media.text import read_captions

    letters = [c.theme for c in plan.cues]
    spoken = scene_speakers(plan.cues, read_captions(captions))
    motifs = [n for n in plan.notes if "the leitmotif of " in n]
    letter_of = {n.split("the leitmotif of ")[1].split(" (")[0].upper(): n.split()[1].rstrip(":") for n in motifs}
    own: dict[str, list[bool]] = {}
    for letter, counts in zip(letters, spoken):
        for name, seconds in counts.items():
            if name in letter_of and seconds >= 0.5 * sum(counts.values()):
                own.setdefault(name, []).append(letter == letter_of[name])
    return {"distinct": len(set(letters)), "cues": len(letters), "restating": 1 - len(set(letters)) / len(letters),
            "leitmotifs": motifs, "own_letter": {k: round(sum(v) / len(v), 3) for k, v in own.items()},
            "own_cues": {k: len(v) for k, v in own.items()}}


# --- the parent -----------------------------------------------------------------------------------------


def score(minutes: float, args: argparse.Namespace) -> dict:
    film, srt, hits = make_film(minutes, args.shot_s, tile=args.tile)
    with tempfile.TemporaryDirectory(prefix="longform-") as out:
        cmd = [sys.executable, __file__, "--_child", "--film", str(film), "--captions", str(srt), "--out", out,
               "--hits", *map(str, hits), *(f"--set={s}" for s in args.set), *(["--quiet"] if args.quiet else []),
               *(["--analyze-only"] if args.analyze_only else []), *(["--compose-only"] if args.compose_only else [])]
        killed = None
        if args.kill_after:  # kill -9 the first run, then time the same command
            first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
            try:
                first.wait(args.kill_after)
                sys.exit(f"error: the {minutes:g}-minute run finished before --kill-after {args.kill_after:g} s; give a shorter time")
            except subprocess.TimeoutExpired:
                first.kill()
                first.wait()
            kept = next(Path(out).glob(".*.resume"), None)
            killed = {"after_s": args.kill_after, "cues_kept": len(list((kept / "cues").glob("*.json"))) if kept else 0,
                      "analysis_kept": bool(kept and (kept / "analysis.json").exists())}
        env = {**os.environ, "LONGFORM_T0": str(time.time())}
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
        if proc.returncode != 0:
            sys.exit(f"error: scoring the {minutes:g}-minute film failed:\n{proc.stderr[-3000:]}")
        report = json.loads(proc.stdout.strip().splitlines()[-1])
        report["disk_mb"] = sum(p.stat().st_size for p in Path(out).rglob("*") if p.is_file()) / 2**20
    report.update(minutes=minutes, hits=len(hits), rtf=report["wall_s"] / report["duration_s"],
                  peak_total_mb=max(report["peak_mb"].values()), killed=killed)
    return report


def show(r: dict) -> None:
    print(f"\n{r['minutes']:g} min film: {r['scenes']} scenes, {r['cues']} cues, {r['hits']} hits; wall {r['wall_s']:.1f} s from process "
          f"start, RTF {r['rtf']:.3f}, peak {r['peak_total_mb']:.0f} MB, output {r['disk_mb']:.0f} MB")
    print(f"  at the peak: {r['at_peak']}")
    if "themes_written" in r["files"]:
        print(f"  composed only: the decoder wrote {r['files']['themes_written']} themes")
    th = r["themes"]
    print(f"  themes: {th['distinct']} for {th['cues']} cues ({100 * th['restating']:.0f}% of the cues restate one); "
          f"{len(th['leitmotifs'])} leitmotifs; share of each character's own cues in their letter: {th['own_letter']} (cues: {th['own_cues']})")
    if r.get("killed"):
        k = r["killed"]
        print(f"  the first run was killed after {k['after_s']:g} s (analysis kept: {k['analysis_kept']}, {k['cues_kept']} cues kept); "
              f"this run resumed {r['resumed']}")
    print(f"  {'stage':<22} {'seconds':>8} {'RTF':>7} {'peak MB':>8}")
    for name, sec in r["stages"].items():
        print(f"  {name:<22} {sec:8.1f} {sec / r['duration_s']:7.4f} {r['peak_mb'].get(name, 0):8.0f}")
    rest = {k: v for k, v in r["peak_mb"].items() if k not in r["stages"]}
    for name, mb in rest.items():
        print(f"  {name:<22} {'':>8} {'':>7} {mb:8.0f}")


DISK_GB_PER_MINUTE = 0.45  # what a scored minute holds at the run's peak: outputs (9.7 GB at 30 min) + track files (~3.5 GB)


def check_disk(minutes: float) -> None:
    """Refuse a run the temporary folder's disk cannot hold (it would fail near the end and fill the disk)."""
    need, free = DISK_GB_PER_MINUTE * minutes, shutil.disk_usage(tempfile.gettempdir()).free / 2**30
    if free < need * 1.1:
        sys.exit(f"error: the {minutes:g}-minute run needs ~{need:.0f} GB of disk in {tempfile.gettempdir()}, {free:.0f} GB are free; "
                 "free some, or point TMPDIR at a larger disk")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, nargs="+", default=[15, 30], help="film lengths to score")
    parser.add_argument("--shot-s", type=float, default=6.0, help="average shot length, seconds")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override for the runs")
    parser.add_argument("--json", metavar="PATH", help="write the reports here")
    parser.add_argument("--quiet", action="store_true", help="no progress bars from the runs")
    parser.add_argument("--tile", type=float, metavar="MIN", help="a length that is a multiple of MIN minutes: that film repeated (quick to make)")
    parser.add_argument("--compose-only", action="store_true", help="analysis, plan and composing only (nothing rendered or written)")
    parser.add_argument("--analyze-only", action="store_true", help="analysis and plan only (no music): its time and memory")
    parser.add_argument("--kill-after", type=float, metavar="S", help="kill -9 each run after S seconds, then time the same command (resume)")
    parser.add_argument("--_child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--film", help=argparse.SUPPRESS)
    parser.add_argument("--captions", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--hits", type=float, nargs="*", default=[], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._child:
        return child(args)
    print("$ " + shlex.join([Path(sys.executable).name, *sys.argv]))
    print(f"{os.cpu_count()} CPUs; films 320x180 25 fps, a shot every ~{args.shot_s:g} s, captions, a hit every ~75 s")
    # a kill (SIGTERM, SIGHUP) unwinds like Ctrl-C: the run is stopped and its temporary folder (tens of GB) removed
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit("error: stopped; the run's temporary folder was removed"))
    reports = []
    for minutes in args.minutes:
        if not (args.analyze_only or args.compose_only):
            check_disk(minutes)
        reports.append(score(minutes, args))
        show(reports[-1])
    base = reports[0]
    for r in reports[1:]:
        print(f"{r['minutes']:g} min / {base['minutes']:g} min: wall x{r['wall_s'] / base['wall_s']:.2f} "
              f"(length x{r['minutes'] / base['minutes']:.2f}), peak x{r['peak_total_mb'] / base['peak_total_mb']:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(reports, indent=2))


if __name__ == "__main__":
    main()
