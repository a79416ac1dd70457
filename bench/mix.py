"""Benchmark: the sound of a scored film, measured on the written audio.

1. Delivery loudness: for each ``--loudness`` target, a p cue (the real text ``data/samples/funeral.txt``) and an
   ff cue (a battle prompt of our own) are scored alone, and an arc of four cues (``data/samples/story.srt``: p, p,
   ff, f) as one soundtrack; on every written WAV (soundtrack and stems): integrated loudness (pyloudnorm) and
   true peak (ffmpeg's ebur128 filter, 4x oversampled: an independent meter). Targets: a single p cue >= 8 dB
   under a single ff cue; true peak <= -1 dBTP in every file; the arc within 1 LU of the target.
2. Stereo seating: per stem of the ff and arc runs, the left/right energy balance (dB, + = left) against the seat
   the instrument was given; the mix's width (side/mid energy, dB) and left/right correlation.
3. Ducking under real speech: ``espeak-ng`` speaks ``data/samples/wedding.txt`` between two explosion-like noise
   bursts (louder than the speech, most of their energy in the 300-3,400 Hz band); the clip goes through the
   analysis (ffmpeg + Silero VAD) and the music (the ff cue's soundtrack.wav) through the mix's ducking. Per
   stretch, the music's level change (dB) under the speech and under the bursts, with the band-energy guess the
   VAD replaced for comparison; the VAD's speech time against where the speech was placed. Targets: ducked >= 6 dB
   more under speech than under the bursts, bursts ducked <= 3 dB.

    .venv/bin/python bench/mix.py [--targets ebu,stream,stream14] [--keep DIR] [--json bench/results/mix.json]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

RESULTS = ROOT / "bench" / "results"
SAMPLES = ROOT / "data" / "samples"
BATTLE = "The armies charge across the burning field, swords clash, cannons roar and the castle walls explode."
RUNS = {  # name -> CLI input flags
    "p cue (funeral.txt)": ["--text-file", str(SAMPLES / "funeral.txt")],
    "ff cue (battle)": ["--text", BATTLE],
    "arc (story.srt)": ["--captions", str(SAMPLES / "story.srt")],
}
VAD_RATE = 16000


# --- measuring written files ---------------------------------------------------------------------------------

def read(path: Path) -> tuple[np.ndarray, int]:
    import soundfile

    audio, sr = soundfile.read(str(path), dtype="float64", always_2d=True)
    return audio, sr


def lufs(audio: np.ndarray, sr: int) -> float:
    import pyloudnorm

    return float(pyloudnorm.Meter(sr).integrated_loudness(audio))


def ffmpeg_true_peak(path: Path) -> float:
    """True peak (dBTP) by ffmpeg's ebur128 filter (4x oversampling), independent of mm2music's own meter."""
    proc = subprocess.run(["ffmpeg", "-nostdin", "-v", "info", "-i", str(path), "-af", "ebur128=peak=true", "-f", "null", "-"],
                          capture_output=True, text=True)
    found = re.findall(r"True peak:\s+Peak:\s+(-?[\d.]+|-inf)", proc.stderr)
    return float(found[-1]) if found else float("nan")


def balance_db(audio: np.ndarray) -> float:
    """Left/right energy balance in dB (+ = louder on the left)."""
    e = (audio ** 2).sum(axis=0) + 1e-20
    return float(10 * math.log10(e[0] / e[1]))


def width(audio: np.ndarray) -> tuple[float, float]:
    """(side/mid energy in dB, left/right correlation) of a stereo signal."""
    mid, side = (audio[:, 0] + audio[:, 1]) / 2, (audio[:, 0] - audio[:, 1]) / 2
    corr = float(np.corrcoef(audio[:, 0], audio[:, 1])[0, 1])
    return float(10 * math.log10(((side ** 2).sum() + 1e-20) / ((mid ** 2).sum() + 1e-20))), corr


# --- 1 and 2: loudness and seating -----------------------------------------------------------------------------

def score(out: Path, name: str, flags: list[str], target: str) -> Path:
    from mm2music import cli

    with contextlib.redirect_stdout(io.StringIO()):  # the run's own summary
        code = cli.main([*flags, "--loudness", target, "--mix", "replace", "--out", str(out), "--name", name, "--overwrite", "-q",
                         "--set", "interchange.musicxml=false"])
    if code != 0:
        raise SystemExit(f"scoring {name} failed with exit code {code}")
    return out / name


def loudness_rows(out: Path, targets: list[str]) -> list[dict]:
    from mm2music.render.loudness import target_lufs

    rows = []
    for target in targets:
        for label, flags in RUNS.items():
            folder = score(out, re.sub(r"\W+", "_", f"{label}_{target}"), flags, target)
            audio, sr = read(folder / "soundtrack.wav")
            sheet = json.loads((folder / "cue_sheet.json").read_text())
            files = [folder / "soundtrack.wav", *sorted((folder / "stems").glob("*.wav"))]
            peaks = {f.name: ffmpeg_true_peak(f) for f in files}
            rows.append({"target": target, "target_lufs": target_lufs(target), "run": label, "folder": str(folder),
                         "dynamics": [c["dynamics"] for c in json.loads((folder / "plan.json").read_text())["cues"]],
                         "lufs": round(lufs(audio, sr), 2), "true_peak_max": round(max(peaks.values()), 2), "files": len(files),
                         "limiter_db": sheet.get("limiter_db"), "gain_db": sheet.get("loudness_gain_db")})
    return rows


def seating_rows(folder: Path) -> list[dict]:
    from mm2music.arrange.seating import seat

    import pretty_midi

    midi = pretty_midi.PrettyMIDI(str(folder / "soundtrack.mid"))
    pans = {}
    for inst in midi.instruments:
        cc10 = [c.value for c in inst.control_changes if c.number == 10]
        pans[inst.name] = (cc10[0] if cc10 else None, seat(inst.program, inst.is_drum).pan)
    rows = []
    for path in sorted((folder / "stems").glob("*.wav")):
        audio, _ = read(path)
        track = next((n for n in pans if path.stem.endswith(re.sub(r"[^a-z0-9]+", "-", n.lower()).strip("-"))), None)
        cc, pan = pans.get(track, (None, None))
        rows.append({"stem": path.name, "cc10": cc, "seat_pan": pan, "balance_db": round(balance_db(audio), 2)})
    audio, _ = read(folder / "soundtrack.wav")
    side_mid, corr = width(audio)
    rows.append({"stem": "soundtrack.wav (mix)", "cc10": None, "seat_pan": None, "balance_db": round(balance_db(audio), 2),
                 "side_mid_db": round(side_mid, 2), "lr_correlation": round(corr, 3)})
    return rows


# --- 3: ducking under real speech ------------------------------------------------------------------------------

def explosion(seconds: float, seed: int, rate: int = VAD_RATE) -> np.ndarray:
    """An explosion-like burst: a fast attack, an exponential decay, noise over the whole band with a low thump."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    env = np.minimum(1.0, t / 0.01) * np.exp(-t / (seconds / 4))
    thump = np.sin(2 * np.pi * (60 * t - 10 * t ** 2)) * np.exp(-t / 0.4)
    x = (rng.standard_normal(len(t)) + 1.5 * thump) * env
    return (0.9 * x / np.abs(x).max()).astype(np.float32)


def speak(text: str, path: Path) -> np.ndarray:
    """``text`` spoken by espeak-ng, mono at 16 kHz, leading and trailing silence cut."""
    subprocess.run(["espeak-ng", "-w", str(path), text], check=True, capture_output=True)
    pcm = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-ac", "1", "-ar", str(VAD_RATE), "-f", "f32le", "-"],
                         capture_output=True, check=True).stdout
    x = np.frombuffer(pcm, "<f4")
    loud = np.flatnonzero(np.abs(x) > 0.01)
    x = x[loud[0]:loud[-1] + 1]
    return (0.5 * x / np.abs(x).max()).astype(np.float32)


def dialogue_clip(folder: Path, text: str) -> tuple[Path, dict[str, list[tuple[float, float]]]]:
    """A WAV: silence, a burst, silence, ``text`` spoken, silence, a burst, silence; with where each part lies."""
    import soundfile

    gap = np.zeros(VAD_RATE, np.float32)
    speech = speak(text, folder / "speech_raw.wav")
    parts, spans, t = [], {"speech": [], "burst": [], "quiet": []}, 0.0
    for kind, x in (("quiet", gap), ("burst", explosion(2.5, 1)), ("quiet", gap), ("speech", speech), ("quiet", gap),
                    ("burst", explosion(2.0, 2)), ("quiet", gap)):
        spans[kind].append((t, t + len(x) / VAD_RATE))
        parts.append(x)
        t += len(x) / VAD_RATE
    path = folder / "dialogue.wav"
    soundfile.write(str(path), np.concatenate(parts), VAD_RATE, subtype="PCM_16")
    return path, spans


def band_guess(envelope, n: int, sr: int, depth_db: float) -> np.ndarray:
    """The ducking this replaced, for comparison: speech-band level over (loudest 10% - 10 dB), no VAD."""
    from dataclasses import replace

    from mm2music.render.mix import duck_gain

    speech = envelope.speech_db.astype(np.float64)
    active = speech > max(-45.0, float(np.percentile(speech, 90)) - 10.0)
    edges = np.flatnonzero(np.diff(np.r_[0, active.astype(int), 0]))
    spans = tuple((a * envelope.hop_s, b * envelope.hop_s) for a, b in zip(edges[::2], edges[1::2]))
    return duck_gain(replace(envelope, speech=spans), n, sr, depth_db)


def ducking(music_wav: Path, folder: Path) -> dict:
    from mm2music.config import RenderConfig
    from mm2music.media.audio import read_audio_envelope
    from mm2music.render.mix import duck_gain

    text = " ".join((SAMPLES / "wedding.txt").read_text().split())
    clip, spans = dialogue_clip(folder, text)
    t0 = time.perf_counter()
    envelope = read_audio_envelope(clip)
    analysis_s = time.perf_counter() - t0
    music, sr = read(music_wav)
    duration = envelope.duration
    music = music[:int(duration * sr)]
    depth = RenderConfig().duck_db
    out = {"clip_s": round(duration, 2), "analysis_s": round(analysis_s, 2), "depth_db": depth, "vad_spans": envelope.speech}
    truth = np.zeros(int(duration * 100), bool)
    for a, b in spans["speech"]:
        truth[int(a * 100):int(b * 100)] = True
    found = np.zeros_like(truth)
    for a, b in envelope.speech:
        found[int(a * 100):int(b * 100)] = True
    out["vad_recall"] = round(float((found & truth).sum() / truth.sum()), 3)
    out["vad_precision"] = round(float((found & truth).sum() / max(1, found.sum())), 3)
    for method, gain in (("vad", duck_gain(envelope, len(music), sr, depth)), ("band guess", band_guess(envelope, len(music), sr, depth))):
        ducked = music * gain[:, None]
        for kind in ("speech", "burst"):
            levels = []
            for a, b in spans[kind]:
                lo, hi = int((a + 0.3) * sr), int((b - 0.1) * sr)  # past the attack: the level the mixer holds
                levels.append(10 * math.log10((ducked[lo:hi] ** 2).sum() / (music[lo:hi] ** 2).sum()))
            out[f"{method} {kind} dB"] = round(float(np.mean(levels)), 2)
    return out


# --- report ------------------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", default="ebu,stream,stream14", help="comma-separated --loudness values")
    parser.add_argument("--keep", metavar="DIR", help="write the runs here and keep them (default: a temporary folder)")
    parser.add_argument("--json", default=str(RESULTS / "mix.json"))
    args = parser.parse_args(argv)
    if not shutil.which("espeak-ng"):
        raise SystemExit("error: espeak-ng is missing; install it (bash scripts/setup.sh does it)")
    out = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="mm2music-mix-"))
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    rows = loudness_rows(out, targets)
    from mm2music.render.synth import default_soundfont

    print(f"soundfont: {default_soundfont()}")
    print("\n1. delivery loudness (integrated LUFS by pyloudnorm, true peak by ffmpeg ebur128 over the soundtrack and every stem)")
    print(f"  {'target':<9} {'run':<22} {'dynamics':<14} {'LUFS':>7} {'max dBTP':>9} {'files':>5} {'gain dB':>8} {'limiter dB':>10}")
    for r in rows:
        print(f"  {r['target']:<9} {r['run']:<22} {','.join(r['dynamics']):<14} {r['lufs']:7.2f} {r['true_peak_max']:9.2f} "
              f"{r['files']:>5} {r['gain_db']:8.2f} {r['limiter_db']:10.2f}")
    verdicts = []
    for target in targets:
        by = {r["run"]: r for r in rows if r["target"] == target}
        gap = by["ff cue (battle)"]["lufs"] - by["p cue (funeral.txt)"]["lufs"]
        arc = by["arc (story.srt)"]["lufs"] - by["arc (story.srt)"]["target_lufs"]
        peak = max(r["true_peak_max"] for r in by.values())
        verdicts += [(f"{target}: p cue {gap:.2f} dB under the ff cue", gap >= 8.0),
                     (f"{target}: true peak {peak:.2f} dBTP at most over {sum(r['files'] for r in by.values())} files", peak <= -1.0),
                     (f"{target}: the arc {arc:+.2f} LU from the target", abs(arc) <= 1.0)]
    stream = next((t for t in targets if t == "stream"), targets[0])
    seating = {}
    for label in ("ff cue (battle)", "arc (story.srt)"):
        folder = Path(next(r["folder"] for r in rows if r["run"] == label and r["target"] == stream))
        seating[label] = seating_rows(folder)
        print(f"\n2. seating, {label} at {stream}: left/right energy per stem (dB, + = left) against the seat (pan -1 left .. +1 right)")
        for r in seating[label]:
            extra = f"  side/mid {r['side_mid_db']:.2f} dB, L/R correlation {r['lr_correlation']:.3f}" if "side_mid_db" in r else ""
            seat = f"{r['seat_pan']:+.2f} (CC10 {r['cc10']})" if r["seat_pan"] is not None else ""
            print(f"  {r['stem']:<52} {seat:<18} {r['balance_db']:+7.2f}{extra}")
        placed = [r for r in seating[label] if r["seat_pan"] is not None and abs(r["seat_pan"]) >= 0.25]
        agree = sum((r["balance_db"] > 1.0) == (r["seat_pan"] < 0) for r in placed if abs(r["balance_db"]) > 1.0)
        seated = [r for r in seating[label] if r["seat_pan"] is not None]
        corr = float(np.corrcoef([r["seat_pan"] for r in seated], [-r["balance_db"] for r in seated])[0, 1])
        print(f"  seat pan vs measured balance: correlation {corr:.3f}")
        verdicts.append((f"seating, {label}: {agree} of {len(placed)} stems seated off-centre (|pan| >= 0.25) lean over 1 dB to "
                         f"their side; seat vs balance correlation {corr:.2f}", agree == len(placed) and corr > 0.8))
        mix = seating[label][-1]
        verdicts.append((f"seating, {label}: the mix is stereo (side/mid {mix['side_mid_db']:.1f} dB, correlation {mix['lr_correlation']:.2f})",
                         mix["side_mid_db"] > -30 and mix["lr_correlation"] < 0.999))
    ff = Path(next(r["folder"] for r in rows if r["run"] == "ff cue (battle)" and r["target"] == stream))
    duck = ducking(ff / "soundtrack.wav", out)
    print(f"\n3. ducking ({duck['clip_s']} s clip: espeak-ng reading wedding.txt between two explosion-like bursts; analysis "
          f"incl. Silero VAD {duck['analysis_s']} s; depth {duck['depth_db']} dB)")
    print(f"  VAD speech time: recall {duck['vad_recall']:.3f}, precision {duck['vad_precision']:.3f}; spans "
          + ", ".join(f"{a:.2f}-{b:.2f}" for a, b in duck["vad_spans"]))
    for method in ("vad", "band guess"):
        print(f"  {method:<11} music under speech {duck[f'{method} speech dB']:+6.2f} dB, under the bursts {duck[f'{method} burst dB']:+6.2f} dB")
    more = duck["vad burst dB"] - duck["vad speech dB"]
    verdicts += [(f"ducking: {more:.2f} dB more under speech than under the bursts", more >= 6.0),
                 (f"ducking: the bursts ducked {-duck['vad burst dB']:.2f} dB", -duck["vad burst dB"] <= 3.0)]
    print("\ntargets:")
    for text, ok in verdicts:
        print(f"  [{'met' if ok else 'MISSED'}] {text}")
    print(f"\n{time.perf_counter() - t0:.0f} s; runs in {out}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"loudness": rows, "seating": seating, "ducking": duck,
                                           "targets": [{"what": t, "met": ok} for t, ok in verdicts]}, indent=1, default=str) + "\n")
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)
    return 0 if all(ok for _, ok in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
