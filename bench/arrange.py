"""Benchmark: does the arrangement sound orchestrated? Planned families heard, registers, breath, action writing.

Runs the pipeline through the library (the shipped checkpoint, the CLI's default config) on prompts written here
and on the real texts in ``data/samples`` (``funeral.txt``, ``wedding.txt``, captions ``story.srt``), and measures
the **written** ``soundtrack.mid``; ``plan.json`` gives only each cue's span and planned instrument families, and
``cue_sheet.json`` the spotting decisions. One more run plays ``story.srt`` with speech spans (as a voice activity
detector would report them) over its second and third captions, to measure ``--spotting auto`` against ``full``.

Figures per input and seed:

- ``families``: share of (cue, planned family) pairs with a note of that family sounding in the cue's span (the
  family of a track is read from its General MIDI program: :data:`GM_FAMILY`; drums are "percussion"); cues the
  cue sheet says are left unscored or thinned under dialogue are not counted;
- ``bass_low``: at every pitched onset where a ``Bass`` track sounds, is its note the lowest sounding one (ties count);
- ``mel_top``: share of the notes of ``Melody`` tracks with no higher note of another track sounding at their onset,
  in cues where the melody lies high enough to be on top; where it lies low on purpose (its mean under A3),
  ``low``: the share of its notes with no note of another track struck with them within an octave above;
- ``low_m2``: pairs of notes sounding together, both below C3 (MIDI 48), a minor second or ninth apart (1 or 13);
- ``breath8``: share of 8-bar windows (sliding by a bar) in which every melody track rests at least one beat at once;
- ``thin``: share of cues with a moment of >= 0.5 s where at most half of the cue's tracks sound;
- ``gap_s``: the longest span (s) in which nothing sounds, inside the music (between its first and last note);
- ``nps``: notes per second (all tracks); ``dis``: share of the time (two or more pitched notes sounding) whose
  sounding notes hold a minor second / major seventh / minor ninth or a tritone; ``bpm``: time-weighted tempo.

Summary lines: chase vs battle notes/s (target >= 0.8x) and dissonance vs the wedding, dread's tempo and dissonance.

    .venv/bin/python bench/arrange.py                         # every input at seeds 0 and 1 (~6 min on 2 cores)
    .venv/bin/python bench/arrange.py --seeds 1 --only 'chase|battle|wedding'
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

from bench import film_features as ff  # noqa: E402

SAMPLES = ROOT / "data" / "samples"
LOW_C3 = 48
LOW_MELODY = 57  # a cue's melody with a mean pitch under A3 lies low on purpose (the accompaniment may sit above)


@dataclass(frozen=True)
class Input:
    id: str
    text: str | None = None
    text_file: str | None = None
    captions: str | None = None
    speech: tuple[tuple[float, float], ...] = ()  # seconds of dialogue (what a VAD would report)
    spotting: str | None = None  # None: the default


# Scenes a film-maker might type (written here, fixed so runs compare).
PROMPTS = (
    Input("battle", "Two armies clash on the muddy battlefield; swords ring, horses charge and cannons thunder."),
    Input("chase", "The creature chases her through the dark forest; she runs screaming, branches tearing at her face."),
    Input("wedding", "A wedding party dances in a sunlit garden, guests laughing and cheering as the couple kisses."),
    Input("dread", "Something waits in the dark cellar; a slow creak on the stairs, a cold breath, a shape that should not be there."),
    Input("funeral", "A funeral in the rain: mourners in black lower the coffin into the grave in silence."),
    Input("love", "Two lovers hold each other by the fireplace, whispering tenderly as snow falls outside."),
    Input("comedy", "A clumsy waiter slips on a banana peel and juggles a tower of plates across the busy cafe, everyone laughs."),
    Input("forest", "Sunlight falls through the leaves of an enchanted forest; fireflies and tiny bells everywhere."),
)
REAL = (
    Input("funeral.txt", text_file=str(SAMPLES / "funeral.txt")),
    Input("wedding.txt", text_file=str(SAMPLES / "wedding.txt")),
    Input("story.srt", captions=str(SAMPLES / "story.srt")),
)
DIALOGUE = ((5.2, 6.4), (6.8, 9.3), (10.1, 12.0), (12.3, 13.9))  # speech over story.srt's 2nd and 3rd captions
SPOTTED = (Input("story.srt+speech", captions=str(SAMPLES / "story.srt"), speech=DIALOGUE),
           Input("story.srt+speech/full", captions=str(SAMPLES / "story.srt"), speech=DIALOGUE, spotting="full"))

GM_FAMILY = [(0, 8, "piano"), (8, 16, "mallets"), (16, 24, "organ"), (24, 38, "guitar"), (38, 40, "synth"),
             (40, 46, "strings"), (46, 47, "harp"), (47, 48, "percussion"), (48, 52, "strings"), (52, 56, "choir"),
             (56, 64, "brass"), (64, 80, "woodwinds"), (80, 104, "synth"), (104, 128, "other")]


def family_of(track: ff.Track) -> str:
    if track.is_drum:
        return "percussion"
    return next(f for lo, hi, f in GM_FAMILY if lo <= track.program < hi)


# --- figures on the written MIDI ----------------------------------------------------------------------


def sounding_at(m: ff.Music, t: float, mask: np.ndarray) -> np.ndarray:
    return np.flatnonzero(mask & (m.start_s <= t + 1e-4) & (m.end_s > t + 1e-4))


def families_heard(m: ff.Music, cues: list[dict], spotted: set[int] = frozenset()) -> tuple[int, int, list[str]]:
    """(heard, planned, missing 'cue:family') over every cue's planned families, except the cues in ``spotted``
    (left unscored or scored thinly under dialogue on purpose)."""
    fam = np.array([family_of(t) for t in m.tracks])
    heard = planned = 0
    missing = []
    for i, c in enumerate(cues):
        if i in spotted:
            continue
        inside = (m.start_s < c["end"] - 1e-3) & (m.end_s > c["start"] + 1e-3)
        present = set(fam[m.track[inside]].tolist()) if inside.any() else set()
        for f in c["instruments"]:
            planned += 1
            heard += f in present
            if f not in present:
                missing.append(f"{i + 1}:{f}")
    return heard, planned, missing


def role_tracks(m: ff.Music, role: str) -> np.ndarray:
    return np.array([t.name.lower().startswith(role) for t in m.tracks], bool)


def bass_lowest(m: ff.Music) -> tuple[int, int]:
    """(onsets where a bass note is the lowest sounding, pitched onsets where a bass note sounds)."""
    pitched = m.pitched
    is_bass = role_tracks(m, "bass")[m.track]
    good = total = 0
    for t in np.unique(np.round(m.start_s[pitched], 4)):
        s = sounding_at(m, t, pitched)
        b = s[is_bass[s]]
        if len(b):
            total += 1
            good += m.pitch[b].min() <= m.pitch[s].min()
    return good, total


def melody_top(m: ff.Music, cues: list[dict]) -> tuple[int, int, int, int]:
    """(melody notes with no higher note of another track sounding at their onset, melody notes; of the notes
    of cues whose melody lies low on purpose (mean under A3, MIDI 57), those with no other note struck with them
    within an octave above, and their count). The low ones are not counted in the first two."""
    pitched = m.pitched
    is_mel = role_tracks(m, "melody")[m.track] & pitched
    good = total = low_ok = low = 0
    for c in cues:
        mine = np.flatnonzero(is_mel & (m.start_s >= c["start"] - 1e-3) & (m.start_s < c["end"] - 1e-3))
        lies_low = len(mine) and m.pitch[mine].mean() < LOW_MELODY
        for i in mine:
            s = sounding_at(m, m.start_s[i], pitched)
            others = s[~is_mel[s]]
            if lies_low:
                struck = others[np.abs(m.start_s[others] - m.start_s[i]) < 0.03]
                low += 1
                low_ok += not np.any((m.pitch[struck] > m.pitch[i]) & (m.pitch[struck] <= m.pitch[i] + 12))
            else:
                total += 1
                good += not len(others) or m.pitch[others].max() <= m.pitch[i]
    return good, total, low_ok, low


def low_minor_seconds(m: ff.Music) -> int:
    """Pairs of notes sounding together, both below C3, a minor second or minor ninth apart."""
    low = np.flatnonzero(m.pitched & (m.pitch < LOW_C3))
    count = 0
    for a_i, a in enumerate(low):
        for b in low[a_i + 1:]:
            if m.start_s[b] >= m.end_s[a] - 1e-4 and m.start_s[a] >= m.end_s[b] - 1e-4:
                continue
            overlap = min(m.end_s[a], m.end_s[b]) - max(m.start_s[a], m.start_s[b])
            count += overlap > 1e-3 and abs(int(m.pitch[a]) - int(m.pitch[b])) in (1, 13)
    return count


def _spans(starts: np.ndarray, ends: np.ndarray) -> list[tuple[float, float]]:
    """Union of intervals, sorted."""
    out: list[list[float]] = []
    for a, b in sorted(zip(starts.tolist(), ends.tolist())):
        if out and a <= out[-1][1] + 1e-6:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def breath_windows(m: ff.Music) -> tuple[int, int]:
    """(8-bar windows where the melody rests a beat, windows): bars from the MIDI's downbeats (sliding by one
    bar); a beat = a quarter note at the local tempo; windows of pieces shorter than 8 bars: the whole piece."""
    mel = role_tracks(m, "melody")[m.track]
    sounding = _spans(m.start_q[mel], m.end_q[mel])
    db = m.downbeats_q
    n_bars = len(db) - 1
    windows = [(db[i], db[i + 8]) for i in range(n_bars - 7)] or [(db[0], db[-1])]
    ok = 0
    for lo, hi in windows:
        inside = [(max(a, lo), min(b, hi)) for a, b in sounding if b > lo and a < hi]
        edges = [lo] + [x for span in inside for x in span] + [hi]
        gaps = [edges[k + 1] - edges[k] for k in range(0, len(edges), 2)]
        ok += max(gaps) >= 1.0 - 1e-3
    return ok, len(windows)


def thin_moments(m: ff.Music, cues: list[dict], min_s: float = 0.5) -> tuple[int, int]:
    """(cues with >= ``min_s`` s where at most half their tracks sound, cues with any track)."""
    ok = total = 0
    for c in cues:
        inside = (m.start_s < c["end"] - 1e-3) & (m.end_s > c["start"] + 1e-3)
        tracks = np.unique(m.track[inside])
        if not len(tracks):
            continue
        total += 1
        grid = np.arange(c["start"], c["end"], 0.02)
        counts = np.array([len(np.unique(m.track[inside & (m.start_s <= t) & (m.end_s > t)])) for t in grid])
        thin = counts <= len(tracks) / 2
        run = best = 0
        for x in thin:
            run = run + 1 if x else 0
            best = max(best, run)
        ok += best * 0.02 >= min_s - 1e-6
    return ok, total


def longest_gap(m: ff.Music) -> float:
    spans = _spans(m.start_s, m.end_s)
    return max((b[0] - a[1] for a, b in zip(spans[:-1], spans[1:])), default=0.0)


def dissonance(m: ff.Music, step_s: float = 0.05) -> float:
    """Share of the time (a 50 ms grid, where two or more pitched notes sound) whose sounding notes hold an
    interval of 1, 11 or 6 semitones mod 12 (time, not onsets: a roll's many strokes do not weigh more)."""
    pitched = m.pitched
    hits = total = 0
    for t in np.arange(0.0, m.duration_s, step_s):
        p = m.pitch[sounding_at(m, t, pitched)]
        if len(p) < 2:
            continue
        d = np.abs(p[:, None] - p[None, :]) % 12
        total += 1
        hits += bool(np.isin(d, (1, 6, 11)).any())
    return hits / max(total, 1)


def figures(m: ff.Music, plan: dict, spotted: set[int] = frozenset()) -> dict:
    cues = plan["cues"]
    heard, planned, missing = families_heard(m, cues, spotted)
    bl, bt = bass_lowest(m)
    mt, mn, lo_ok, lo_n = melody_top(m, cues)
    br, bw = breath_windows(m)
    th, tc = thin_moments(m, cues)
    return {"families": heard / max(planned, 1), "missing": missing, "bass_low": bl / max(bt, 1), "bass_onsets": int(bt),
            "mel_top": mt / max(mn, 1), "mel_notes": int(mn), "low_mel_ok": lo_ok / max(lo_n, 1), "low_mel_notes": int(lo_n), "low_m2": int(low_minor_seconds(m)), "breath8": br / max(bw, 1),
            "thin": th / max(tc, 1), "gap_s": longest_gap(m), "nps": len(m.start_s) / max(m.duration_s, 1e-9),
            "dis": dissonance(m), "bpm": ff.mean_tempo(m)}


# --- running ----------------------------------------------------------------------------------------------


def run_one(item: Input, seed: int, out_dir: Path, duration: float) -> dict:
    import pretty_midi

    from mm2music import pipeline
    from mm2music.config import load_config

    name = re.sub(r"[^a-z0-9]+", "_", f"{item.id}_s{seed}".lower())
    overrides = [f"output.out_dir={out_dir}", f"output.name={name}", f"seed={seed}", f"text.duration={duration}",
                 "interchange.stems_format=none", "interchange.musicxml=false"]
    overrides += [f"plan.spotting={item.spotting}"] if item.spotting else []
    config = load_config(None, overrides)
    original = pipeline.analyze

    def analyze(*args, **kw):  # what the voice activity detector would add to the analysis
        analysis = original(*args, **kw)
        analysis.extra["speech"] = [list(s) for s in item.speech]
        return analysis

    pipeline.analyze = analyze
    try:
        result = pipeline.run(pipeline.Inputs(text=item.text, text_file=item.text_file, captions=item.captions), config,
                              progress=False)
    finally:
        pipeline.analyze = original
    folder = Path(result.out_dir)
    m = ff.music_from_pretty_midi(pretty_midi.PrettyMIDI(str(folder / "soundtrack.mid")))
    plan = json.loads((folder / "plan.json").read_text())
    sheet = json.loads((folder / "cue_sheet.json").read_text())
    spotted = {i for i, c in enumerate(sheet["cues"]) if (c.get("spotting") or {}).get("decision") in ("tacet", "thin")}
    rec = {"id": item.id, "seed": seed, **figures(m, plan, spotted)}
    rec["figure"] = ",".join(sorted({c["figure"] for c in plan["cues"]}))
    rec["spotting"] = [c.get("spotting") for c in sheet["cues"] if c.get("spotting")]
    return rec


def print_header() -> None:
    print(f"{'input':22} {'seed':>4} {'bpm':>5} {'figure':14} {'famil':>5} {'bass':>6} {'top':>5} {'low':>5} {'lowm2':>5} {'brth8':>5} {'thin':>5} {'gap_s':>5} {'nps':>5} {'dis':>5}  missing / spotting")


def print_rows(rows: list[dict]) -> None:
    for r in rows:
        extra = " ".join(r["missing"]) + (" " + "; ".join(str(s) for s in r["spotting"]) if r["spotting"] else "")
        print(f"{r['id']:22} {r['seed']:>4} {r['bpm']:5.0f} {r['figure'][:14]:14} {r['families']:5.0%} {r['bass_low']:6.1%} "
              f"{(format(r['mel_top'], '5.0%') if r['mel_notes'] else '    -')} {(format(r['low_mel_ok'], '5.0%') if r['low_mel_notes'] else '    -')} {r['low_m2']:5d} {r['breath8']:5.0%} {r['thin']:5.0%} {r['gap_s']:5.2f} {r['nps']:5.1f} "
              f"{r['dis']:5.0%}  {extra}")


def summary(rows: list[dict]) -> list[str]:
    def mean(key: str, pattern: str) -> float:
        vals = [r[key] for r in rows if re.fullmatch(pattern, r["id"])]
        return float(np.mean(vals)) if vals else float("nan")

    def pooled(key: str, n_key: str) -> float:
        good = sum(r[key] * r[n_key] for r in rows)
        return good / max(sum(r[n_key] for r in rows), 1)

    lines = [f"families heard: {np.mean([r['families'] for r in rows]):.1%} of planned (worst run {min(r['families'] for r in rows):.0%})",
             f"bass lowest: {pooled('bass_low', 'bass_onsets'):.2%} of onsets (worst run {min(r['bass_low'] for r in rows):.1%})",
             f"melody on top: {pooled('mel_top', 'mel_notes'):.1%} of melody notes (worst run {min((r['mel_top'] for r in rows if r['mel_notes']), default=1.0):.0%}); "
             f"melody low on purpose in {sum(r['low_mel_notes'] > 0 for r in rows)} runs ({sum(r['low_mel_notes'] for r in rows)} notes): "
             f"nothing struck within an octave above {pooled('low_mel_ok', 'low_mel_notes'):.1%}",
             f"low minor 2nds/9ths below C3: {sum(r['low_m2'] for r in rows)}",
             f"melody rests a beat in every 8 bars: {np.mean([r['breath8'] for r in rows]):.1%} of windows (worst run {min(r['breath8'] for r in rows):.0%})",
             f"cues with >= 0.5 s at most half the parts: {np.mean([r['thin'] for r in rows]):.1%} (worst run {min(r['thin'] for r in rows):.0%})"]
    chase, battle, wedding = mean("nps", "chase"), mean("nps", "battle"), mean("dis", "wedding")
    lines.append(f"chase {chase:.1f} notes/s = {chase / battle:.2f}x the battle's {battle:.1f} (target >= 0.8x); "
                 f"dissonance chase {mean('dis', 'chase'):.0%} vs wedding {wedding:.0%}, battle {mean('dis', 'battle'):.0%}; "
                 f"tempo chase {mean('bpm', 'chase'):.0f} / battle {mean('bpm', 'battle'):.0f} BPM")
    lines.append(f"dread {mean('bpm', 'dread'):.0f} BPM, {mean('nps', 'dread'):.1f} notes/s, dissonance {mean('dis', 'dread'):.0%}")
    lines.append(f"silence asked (funeral prompt, funeral.txt): longest silence {mean('gap_s', 'funeral'):.1f} s / {mean('gap_s', 'funeral.txt'):.1f} s")
    spotted = [r for r in rows if r["id"].startswith("story.srt+speech")]
    for r in spotted:
        lines.append(f"{r['id']}: {r['nps']:.1f} notes/s, longest silence {r['gap_s']:.1f} s; " + ("; ".join(s["reason"] for s in r["spotting"]) or "every cue scored"))
    return lines


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--only", default="", help="regular expression on input ids")
    p.add_argument("--duration", type=float, default=30.0, help="seconds of music for a plain text")
    p.add_argument("--json", default=str(ROOT / "bench" / "results" / "arrange.json"))
    a = p.parse_args(argv)
    import logging

    logging.basicConfig(level=logging.WARNING)
    print("$ " + shlex.join([".venv/bin/python", "bench/arrange.py", *(argv if argv is not None else sys.argv[1:])]))
    inputs = [i for i in PROMPTS + REAL + SPOTTED if re.search(a.only, i.id)]
    rows = []
    print_header()
    with tempfile.TemporaryDirectory() as tmp:
        for item in inputs:
            for seed in range(a.seeds if not item.speech else 1):
                rows.append(run_one(item, seed, Path(tmp), a.duration))
                print_rows(rows[-1:])
    print()
    for line in summary(rows):
        print(line)
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps(rows, indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
