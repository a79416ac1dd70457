"""Revising one cue vs scoring the film again (issue 13), on the embedded sample (or --video).

Scores the clip (a fresh ``run_pipeline.py`` process, as a user runs it), then revises one cue in a fresh
``run_pipeline.py revise`` process, alternately ``--repeats`` times, and prints both wall times; then the same
in one warm process (``pipeline.run`` vs ``revise.revise``: no imports, model loaded); then checks
what the revise kept: the other cues' MIDI notes (identical), the music before normalisation outside the
re-rendered span (identical), and the written WAV there (equal up to the new loudness gain and 16-bit
rounding); and how each cue's span, re-rendered with the music it has, sounds beside the full render (mel band
energies, dB).

    python bench/revise.py [--video clip.mp4 | --seconds 60] [--cue 3] [--repeats 3] [--checkpoint DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mm2music.project import load_mix  # noqa: E402
from mm2music.render.synth import read_wav  # noqa: E402
from mm2music.revise import CROSSFADE_S, TAIL_S  # noqa: E402


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def notes(folder: Path) -> list[list[tuple]]:
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(str(folder / "soundtrack.mid"))
    cues = json.loads((folder / "plan.json").read_text())["cues"]
    out: list[list[tuple]] = [[] for _ in cues]
    for inst in midi.instruments:
        for n in inst.notes:
            i = max(k for k, c in enumerate(cues) if n.start >= c["start"] - 1e-3)  # tick -> s rounding: ~0.01 ms
            out[i].append((inst.program, inst.is_drum, round(n.start, 5), round(n.end, 5), n.pitch, n.velocity))
    return [sorted(x) for x in out]


def in_process(args, out: Path) -> tuple[list[float], list[float]]:
    """(full scoring s, revise s) ``args.repeats`` times each in this process, after one warm-up run."""
    from mm2music import pipeline, revise
    from mm2music.config import load_config
    from mm2music.media.sample import make_sample_video

    video = args.video or str(make_sample_video())
    full, rev = [], []
    for r in range(args.repeats + 1):
        sets = [f"output.out_dir={out}", "output.name=bench", "output.overwrite=true", f"seed={r}"]
        sets += [f"music.checkpoint={args.checkpoint}"] if args.checkpoint else []
        config = load_config(None, sets)
        t0 = time.perf_counter()
        result = pipeline.run(pipeline.Inputs(video=video), config, progress=False)
        t1 = time.perf_counter()
        revise.revise(result.out_dir, args.cue)
        if r:  # the first round warms up imports, model and soundfont
            full.append(t1 - t0)
            rev.append(time.perf_counter() - t1)
    return full, rev


def span_fidelity(folder: Path) -> list[float]:
    """How a revised span sounds beside the full render: each cue's span re-rendered with the music the film was
    rendered with (:func:`mm2music.revise.render_span`), against the stored music there, as the mean absolute
    difference of mel band energies (dB; 40 bands, 100 ms frames, bands within 60 dB of the loudest) inside the
    cue. 0 is the full render itself; the reverb's modulation, which a fresh synth starts anew, keeps it above."""
    import librosa

    from mm2music.project import load_project
    from mm2music.revise import _render_config, render_span

    project = load_project(folder)
    config = _render_config(project)
    mix, sr = load_mix(folder, mmap=True), config.sample_rate
    out = []
    for i in range(len(project.music)):
        a, seg = render_span(project.music, i, project.hits, len(mix), config)
        ref = np.asarray(mix[a:a + len(seg)])
        c0, c1 = round(project.music[i].cue.start * sr) - a, min(len(seg), round(project.music[i].cue.end * sr) - a)
        bands = [librosa.power_to_db(librosa.feature.melspectrogram(y=x[c0:c1].mean(axis=1), sr=sr, n_fft=4096, hop_length=sr // 10,
                                                                    n_mels=40) + 1e-10, top_db=None) for x in (seg, ref)]
        audible = bands[1] > bands[1].max() - 60
        out.append(float(np.abs(bands[0] - bands[1])[audible].mean()) if audible.any() else 0.0)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--video", help="clip to score (default: the embedded sample)")
    p.add_argument("--seconds", type=float, help="score bench/e2e.py's generated clip of this length instead")
    p.add_argument("--cue", type=int, default=3)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--checkpoint", help="decoder checkpoint (default: the shipped one)")
    args = p.parse_args()
    if args.seconds:
        from bench.e2e import make_clip

        args.video = str(make_clip(args.seconds))
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        score = [py, "run_pipeline.py", "--out", tmp, "--name", "bench", "--overwrite", "-q"]
        score += ["--video", args.video] if args.video else ["--sample"]
        score += ["--checkpoint", args.checkpoint] if args.checkpoint else []
        folder = Path(tmp) / "bench"
        full, rev = [], []
        fidelity = None
        for r in range(args.repeats):
            full.append(timed(score + ["--seed", str(r)]))
            before_notes, before_mix, before_wav = notes(folder), load_mix(folder), read_wav(folder / "soundtrack.wav")
            fidelity = fidelity or span_fidelity(folder)
            rev.append(timed([py, "run_pipeline.py", "revise", str(folder), "--cue", str(args.cue), "-q"]))
        after_notes, mix, wav = notes(folder), load_mix(folder), read_wav(folder / "soundtrack.wav")
        warm_full, warm_rev = in_process(args, Path(tmp) / "warm")
        cues = json.loads((folder / "plan.json").read_text())["cues"]
        c = cues[args.cue - 1]
        sr = 44100
        a, b = round((c["start"] - CROSSFADE_S) * sr), round((c["end"] + TAIL_S) * sr)
        kept = [i + 1 for i in range(len(cues)) if i != args.cue - 1 and after_notes[i] == before_notes[i]]
        outside = np.concatenate([np.arange(0, max(a, 0)), np.arange(min(b, len(mix)), len(mix))])
        same_mix = bool(np.array_equal(mix[outside], before_mix[outside]))
        gain = float(np.sum(np.abs(wav[outside])) / max(np.sum(np.abs(before_wav[outside])), 1e-12))
        wav_err = float(np.max(np.abs(wav[outside] - before_wav[outside] * gain))) if len(outside) else 0.0
    print(f"{'sample' if not args.video else args.video}: {len(cues)} cues, revising cue {args.cue} "
          f"({c['start']:.2f}-{c['end']:.2f} s), {args.repeats} repeats, fresh processes")
    print(f"full scoring  {np.median(full):6.2f} s (median; {', '.join(f'{t:.2f}' for t in full)})")
    print(f"revise 1 cue  {np.median(rev):6.2f} s (median; {', '.join(f'{t:.2f}' for t in rev)})  "
          f"= {np.median(rev) / np.median(full):.2f} x full")
    print(f"in one warm process: full scoring {np.median(warm_full):.2f} s, revise 1 cue {np.median(warm_rev):.2f} s "
          f"= {np.median(warm_rev) / np.median(warm_full):.2f} x full")
    print(f"kept cues with identical MIDI notes: {kept} of {[i + 1 for i in range(len(cues)) if i != args.cue - 1]}")
    print(f"music before normalisation identical outside {max(a, 0) / sr:.2f}-{min(b, len(mix)) / sr:.2f} s: {same_mix}; "
          f"written WAV there = old x {gain:.4f} (loudness re-normalised) within {wav_err * 32768:.1f} LSB")
    print(f"a span re-rendered with the same music against the full render: mel band energies within {np.mean(fidelity):.2f} dB "
          f"on average (per cue: {', '.join(f'{d:.2f}' for d in fidelity)})")


if __name__ == "__main__":
    main()
