"""Benchmark: how the MusicXML export and the editor's timeline files scale with the length of the score.

Composes the cues of the 60 s end-to-end clip once (``bench/e2e.py``'s clip, the shipped decoder), then repeats
that music back to back to make scores of each asked length (cues shifted in time, nothing recomposed) and times,
for each length, ``write_musicxml`` (wall and CPU seconds: the CPU time moves less with other processes' load) and
the timeline files (OTIO, FCP XML, EDL, AAF: ``build_timeline`` +
``write_timelines``, without the WAVs). Each measurement runs in a fresh process; with ``--compare ROOT`` the
same music is also exported by the code of another checkout (e.g. ``/work/main``), alternating, so both see the
same machine load. Linear scaling: seconds per minute of score stays flat as the length grows.

    .venv/bin/python bench/longscore.py [--minutes 1 4 16] [--compare /work/main] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

# run in a fresh process with the checkout to time first on sys.path: times one export of the pickled music
CHILD = r"""
import dataclasses, json, pickle, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
music, minutes = pickle.load(open(sys.argv[2], "rb")), float(sys.argv[3])
from mm2music.arrange.musicxml import write_musicxml
from mm2music.interchange.timecode import start_timecode
from mm2music.interchange.timeline import CueClip, build_timeline, write_timelines
span = music[-1].cue.end
tiled = []
for r in range(max(1, round(minutes * 60 / span))):
    for m in music:
        c = m.cue
        cue = dataclasses.replace(c, index=len(tiled), start=c.start + r * span, end=c.end + r * span,
                                  catches=tuple(x + r * span for x in c.catches),
                                  silences=tuple((a + r * span, b + r * span) for a, b in c.silences))
        tiled.append(dataclasses.replace(m, cue=cue))
out = {"cues": len(tiled), "minutes": tiled[-1].cue.end / 60}
with tempfile.TemporaryDirectory() as tmp:
    t, c = time.perf_counter(), time.process_time()
    write_musicxml(tiled, Path(tmp) / "score.musicxml")
    out["musicxml_s"], out["musicxml_cpu_s"] = time.perf_counter() - t, time.process_time() - c
    start, _ = start_timecode(None, 25.0)
    t = time.perf_counter()
    clips = [CueClip(f"cue {i + 1}", m.cue.start, m.cue.end, f"cues/{i + 1:02d}.wav", (), {"cue": i + 1}) for i, m in enumerate(tiled)]
    write_timelines(build_timeline("bench", clips, start, tiled[-1].cue.end, [], None), Path(tmp))
    out["timeline_s"] = time.perf_counter() - t
print(json.dumps(out))
"""


def compose_clip_music() -> list:
    from bench.e2e import make_clip
    from mm2music.arrange.compose import compose
    from mm2music.config import load_config
    from mm2music.graph.plan import plan_music
    from mm2music.pipeline import CONCEPT_COORDS, Inputs, analyze, load_music_model

    config = load_config(None, [])
    analysis = analyze(Inputs(video=str(make_clip(60.0))), config, progress=False)
    plan, _ = plan_music(analysis.scenes, analysis.emotions, CONCEPT_COORDS, config.plan, analysis.transitions,
                         analysis.duration, seed=config.seed, captions=analysis.segments)
    model, tokenizer = load_music_model(config.music.checkpoint, config.music.quantize)
    return compose(plan.cues, model, tokenizer, config.music, config.seed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 4.0, 16.0])
    parser.add_argument("--compare", metavar="ROOT", help="another checkout whose export to time alongside")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", default=str(ROOT / "bench" / "results" / "longscore.json"))
    args = parser.parse_args(argv)
    roots = [str(ROOT)] + ([str(Path(args.compare).resolve())] if args.compare else [])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        music_file = Path(tmp) / "music.pkl"
        music_file.write_bytes(pickle.dumps(compose_clip_music()))
        print(f"{'checkout':<28}{'minutes':>8}{'cues':>6}{'musicxml s':>12}{'s/min':>7}{'cpu s':>8}{'s/min':>7}{'timeline s':>12}{'s/min':>7}")
        for minutes in args.minutes:
            for _ in range(args.repeat):
                for root in roots:
                    done = subprocess.run([sys.executable, "-c", CHILD, root, str(music_file), str(minutes)], check=True,
                                          capture_output=True, text=True)
                    r = {"root": root, **json.loads(done.stdout.strip().splitlines()[-1])}
                    rows.append(r)
                    print(f"{root:<28}{r['minutes']:8.1f}{r['cues']:6d}{r['musicxml_s']:12.2f}{r['musicxml_s'] / r['minutes']:7.2f}"
                          f"{r['musicxml_cpu_s']:8.2f}{r['musicxml_cpu_s'] / r['minutes']:7.2f}"
                          f"{r['timeline_s']:12.2f}{r['timeline_s'] / r['minutes']:7.2f}", flush=True)
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"rows": rows, "loadavg": load}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
