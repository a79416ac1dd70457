"""Benchmark: what stems and MusicXML cost, and how exactly the stems add up to the mix (issue 15).

Scores the embedded sample (shipped checkpoint, model loaded once before timing) with and without the exports,
alternating, and reports the wall time of each whole run and of the ``stems+musicxml`` stage; then times
``write_stems`` (default and 48k24) and ``write_musicxml`` alone on the same music, and compares the sum of the
default stems with ``soundtrack.wav`` (which is never ducked). Timings move with the machine's load: compare
the figures of one run.

    .venv/bin/python bench/exports.py [--repeats 2]
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    import soundfile

    from mm2music import pipeline
    from mm2music.arrange.compose import compose
    from mm2music.arrange.musicxml import write_musicxml
    from mm2music.config import load_config
    from mm2music.media.sample import make_sample_video
    from mm2music.render.stems import write_stems

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args()
    out = Path(tempfile.mkdtemp(prefix="mm2music-exports-"))
    video = str(make_sample_video())
    pipeline.load_music_model(None)
    runs: dict[str, list[tuple[float, float]]] = {"without": [], "with": []}
    result = None
    for _ in range(args.repeats):
        for label, over in (("without", ["interchange.stems_format=none", "interchange.musicxml=false"]), ("with", [])):
            cfg = load_config(None, [f"output.out_dir={out}", "output.overwrite=true", f"output.name={label}", *over])
            t0 = time.perf_counter()
            r = pipeline.run(pipeline.Inputs(video=video), cfg, progress=False)
            stages = r.timings.stages
            runs[label].append((time.perf_counter() - t0, stages.get("stems", 0.0) + stages.get("musicxml", 0.0)))
            result = r if label == "with" else result
    for label, times in runs.items():
        print(f"{label:>8} exports: run {', '.join(f'{t:.2f}' for t, _ in times)} s; stems + musicxml stages "
              f"{', '.join(f'{s:.2f}' for _, s in times)} s")
    cfg = load_config(None)
    model, tokenizer = pipeline.load_music_model(None)
    music = compose(result.plan.cues, model, tokenizer, cfg.music, cfg.seed, opening=False)
    for fmt in ("default", "48k24"):
        (out / fmt).mkdir()
        t0 = time.perf_counter()
        stems = write_stems(music, [], result.analysis.duration, cfg.render, fmt, 1.0, out / fmt, "x")
        print(f"write_stems {fmt}: {len(stems)} stems in {time.perf_counter() - t0:.2f} s")
    t0 = time.perf_counter()
    write_musicxml(music, out / "x.musicxml")
    print(f"write_musicxml: {time.perf_counter() - t0:.2f} s")
    mix, _ = soundfile.read(str(out / "with" / "soundtrack.wav"))
    total = sum(soundfile.read(f)[0] for f in glob.glob(str(out / "with" / "stems" / "*.wav")))
    diff = np.abs(total - mix).max(axis=1)
    rel = 20 * np.log10(np.sqrt(np.mean((total - mix) ** 2)) / np.sqrt(np.mean(mix ** 2)))
    print(f"sum of stems - mix: {rel:.1f} dB below the mix; max {diff.max():.4f}; samples over 8/32768: "
          f"{int((diff > 8 / 32768).sum())} of {len(diff)}")
    print(f"outputs in {out}")


if __name__ == "__main__":
    main()
