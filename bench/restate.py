"""Benchmark: does a decoder fine-tuned on the structured set (mm2music/training/structured.py) restate a theme better
than the rules, and does it still model real tunes? Two checkpoints side by side, in one run:

(a) **held-out NLL**: nats per music token of each checkpoint on the first window of every real VALID piece of the
    converted corpus (as training's valid metric), and the candidate's difference with a 95% bootstrap interval over
    pieces (it must not get worse beyond that noise);
(b) **the restatement target**: for VALID tunes (never trained on, not even as a statement), the restatement task the
    structured set poses (the tune's first 8 bars stated in its own cue, restated in a later cue under random new
    conditions, :func:`mm2music.training.structured.restatement_task`), restated by the rules
    (``music.restate=rules``) and by each decoder (``music.restate=model``: primed by the statement, under the later
    cue's conditions, best of ``--candidates`` among those that keep 6 of the first 8 intervals, the rules
    otherwise). Measured on the laid-out melodies (``bench/melody_features.py``, as ``bench/melody.py`` measures a
    written score): of the first 8 intervals, how many match the statement's in scale steps (target >= 6), how many
    of mode, tempo, register, instrument, rhythm differ (target >= 2); how often the decoder's own samples keep the
    tune (6 of 8) and how often it falls back to the rules;
(c) **realism of the restated segments**: ``bench/melody.py``'s two-sample test (8-bar melody segments; logistic
    regression and random forest, grouped CV, classes balanced) of each method's restatements against real TEST
    tunes of the corpus (lower is more like real tunes; the statements as laid out are measured beside them).

    .venv/bin/python bench/restate.py --candidate runs/music21-structured-5/checkpoints/best --tasks 40
    .venv/bin/python bench/restate.py --candidate DIR --tasks 20 --candidates 4      # a quicker look

The decoders sample as the pipeline does (int8, one thread). Columns: the median of the first 8 intervals shared in
scale steps, the share with >= 6, the median of differences, the share meeting both targets, the share the decoder
restated itself (not the rules' fallback), its samples that kept the tune, the median over tasks of its best sample's
shared intervals ("best of N"), then the two-sample accuracies against real tunes and the real-vs-real control.
Results go to bench/results/restate.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from bench import melody_features as mf  # noqa: E402

log = logging.getLogger("bench.restate")
RESULTS = ROOT / "bench" / "results"
TARGET_STEPS, TARGET_DIFFS = 6, 2


# --- (a) held-out NLL ------------------------------------------------------------------------------------------


def piece_nll(model, tokenizer, data, split: str = "valid", limit: int = 256) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(piece ids, summed NLL, target tokens) of the first window of each piece of ``split`` (as training's valid
    metric: untransposed, the condition prefix in front)."""
    import dataclasses

    import torch

    from mm2music.training.dataset import IGNORE, WindowDataset, load_rows

    rows = load_rows(dataclasses.replace(data, max_pieces=0), split)[:limit]
    ds = WindowDataset(rows, tokenizer, data, progress=False)
    batches = ds.eval_batches(model.config.block_size, 16, limit)
    sums, counts = [], []
    with torch.no_grad():
        for x, y in batches:
            logits, _ = model(x)
            nll = torch.nn.functional.cross_entropy(logits.float().transpose(1, 2), y, ignore_index=IGNORE, reduction="none")
            sums.extend(nll.sum(1).tolist())
            counts.extend((y != IGNORE).sum(1).tolist())
    return [p.id for p in ds.pieces[:len(sums)]], np.array(sums), np.array(counts, np.float64)


def nll_comparison(base: tuple, cand: tuple, seed: int, resamples: int = 2000) -> dict:
    """Per-token NLL of both and the candidate's difference, with a 95% bootstrap interval over pieces."""
    ids_b, s_b, n_b = base
    ids_c, s_c, n_c = cand
    assert ids_b == ids_c and np.array_equal(n_b, n_c)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(s_b), size=(resamples, len(s_b)))
    diff = (s_c[idx].sum(1) - s_b[idx].sum(1)) / n_b[idx].sum(1)
    return {"pieces": len(ids_b), "tokens": int(n_b.sum()), "baseline": float(s_b.sum() / n_b.sum()),
            "candidate": float(s_c.sum() / n_c.sum()), "difference": float((s_c.sum() - s_b.sum()) / n_b.sum()),
            "ci95": [float(np.quantile(diff, 0.025)), float(np.quantile(diff, 0.975))]}


# --- (b) restatements -----------------------------------------------------------------------------------------


def line_of(notes, meter_q: float, bars: int, program: int) -> mf.Line:
    """A :class:`mf.Line` of NoteEvents (ticks at 480 per quarter) in bars of ``meter_q`` quarters."""
    from mm2music.arrange.timing import TICKS_PER_QUARTER as TPQ

    rows = [(n.start / TPQ, n.end / TPQ, n.pitch) for n in sorted(notes, key=lambda n: n.start)]
    line = mf.line_from_rows(rows, np.arange(bars + 1) * meter_q)
    line.program = np.full(len(line), program, np.int64)
    return line


def restatement_measures(statement: mf.Line, restated: mf.Line, task) -> dict:
    """bench/melody.py's restatement measures of one restatement against its statement."""
    first, later = task.first, task.later
    steps_a = mf.scale_steps(statement.pitch, mf.tonic_pc(first.key), first.mode)
    steps_b = mf.scale_steps(restated.pitch, mf.tonic_pc(later.key), later.mode)
    differs = {"mode": first.mode != later.mode, "tempo": abs(first.tempo_bpm - later.tempo_bpm) > 2.0,
               "register": mf.register_differs(statement, restated),
               "instrument": mf.main_program(statement) != mf.main_program(restated),
               "rhythm": mf.rhythm_differs(statement, restated)}
    return {"steps": mf.matching_intervals(steps_a, steps_b), "semitones": mf.matching_intervals(statement.pitch, restated.pitch),
            "differs": [k for k, v in differs.items() if v], "n_differs": int(sum(differs.values()))}


def tasks_of(tokenizer, data, split: str, n: int, seed: int) -> list:
    """Restatement tasks (:func:`~mm2music.training.structured.restatement_task`) of the first ``n`` tunes of ``split``
    that carry one, each with its own random stream."""
    import dataclasses

    from mm2music.training.dataset import load_rows, resolve_corpus_dir, tokenize_rows
    from mm2music.training.structured import piece_seed, restatement_task

    rows = load_rows(dataclasses.replace(data, max_pieces=0), split)
    paths = tokenize_rows(rows, resolve_corpus_dir(data), tokenizer, 1, data.max_tokens_per_piece, progress=False)
    out = []
    for r in rows:
        if r["id"] not in paths:
            continue
        a = r["attributes"]
        task = restatement_task(tokenizer, r["id"], np.load(paths[r["id"]]).astype(np.int64), a.get("time_signature") or "4/4",
                                float(a.get("tempo_bpm") or 100.0), np.random.default_rng([seed, piece_seed(r["id"])]))
        if task is not None:
            out.append(task)
        if len(out) >= n:
            break
    return out


def restate_all(tasks, decoders: dict, candidates: int, seed: int) -> dict:
    """Each method's restatement of every task: {method: [{"notes", "report"} ...]}, plus the statements."""
    from mm2music.arrange.compose import restate_with_model
    from mm2music.arrange.theme import cue_melody
    from mm2music.config import MusicConfig

    config = MusicConfig(theme_candidates=candidates)
    out: dict[str, list] = {"statement": [], "rules": [], **{name: [] for name in decoders}}
    for k, t in enumerate(tasks):
        out["statement"].append({"notes": cue_melody(t.theme, t.first, "state", False, None), "report": {}})
        rules = cue_melody(t.theme, t.later, t.transform, False, t.first)
        out["rules"].append({"notes": rules, "report": {"restated_by": "rules"}})
        for name, (model, tokenizer) in decoders.items():
            body, report = restate_with_model(t.theme, [int(i) for i in t.statement], t.later, t.first, t.transform, model,
                                              tokenizer, config, seed + k, rules)
            out[name].append({"notes": cue_melody(t.theme, t.later, t.transform, False, t.first, body=body) if body else rules,
                              "report": report})
        log.info("task %d/%d (%s, %s) restated", k + 1, len(tasks), t.piece, t.transform)
    return out


# --- (c) realism ------------------------------------------------------------------------------------------------


def real_segments(data, split: str, seed: int) -> tuple[list[dict], list[str]]:
    """8-bar segment features of the real tunes of ``split`` (their MIDI as converted), grouped by tune."""
    import dataclasses

    import symusic

    from mm2music.training.dataset import load_rows, resolve_corpus_dir

    feats, groups = [], []
    for r in load_rows(dataclasses.replace(data, max_pieces=0), split):
        score = symusic.Score(str(resolve_corpus_dir(data) / r["path"])).resample(480)
        notes = [n for t in score.tracks if not t.is_drum for n in t.notes]
        if len(notes) < 12 or not score.time_signatures:
            continue
        ts = score.time_signatures[0]
        bar_q = ts.numerator * 4.0 / ts.denominator
        end = max(n.time + n.duration for n in notes) / 480
        line = mf.line_from_rows([(n.time / 480, (n.time + n.duration) / 480, n.pitch) for n in notes],
                                 np.arange(int(end // bar_q) + 2) * bar_q)
        for w in mf.segments(line, 8):
            feats.append(mf.segment_features(w))
            groups.append(r["id"])
    return feats, groups


def segments_of(notes_by_task: list, tasks, which: str) -> tuple[list[dict], list[str]]:
    feats, groups = [], []
    for entry, t in zip(notes_by_task, tasks):
        cue = t.first if which == "statement" else t.later
        line = line_of(entry["notes"], cue.beats_per_bar, cue.bars, 0)
        for w in mf.segments(line, 8):
            feats.append(mf.segment_features(w))
            groups.append(t.piece)
    return feats, groups


# --- run ----------------------------------------------------------------------------------------------------------


def run(a: argparse.Namespace) -> dict:
    import torch

    from mm2music.arrange.compose import melody_family
    from mm2music.music.checkpoint import load_checkpoint, load_music_model
    from mm2music.training.dataset import DataConfig
    from mm2music.training.structured import FAMILY_PROGRAM

    from bench.melody import two_sample

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    data = DataConfig(corpus_dir=a.corpus_dir, key_window_bars=8)
    paths = {"baseline": a.baseline, "candidate": a.candidate}
    res: dict = {"command": "python bench/restate.py " + shlex.join(sys.argv[1:]), "checkpoints": paths}

    # (a) held-out NLL, fp32 as trained
    nll = {}
    for name, path in paths.items():
        model, tokenizer, _ = load_checkpoint(path)
        nll[name] = piece_nll(model, tokenizer, data, "valid", a.nll_pieces)
    res["nll"] = nll_comparison(nll["baseline"], nll["candidate"], a.seed)
    log.info("NLL done (%.0f s)", time.perf_counter() - t0)

    # (b) restatements of VALID tunes by the rules and by each decoder, sampled as the pipeline samples (int8)
    decoders = {name: load_music_model(path, "int8") for name, path in paths.items()}
    tokenizer = decoders["baseline"][1]
    tasks = tasks_of(tokenizer, data, "valid", a.tasks, a.seed)
    restated = restate_all(tasks, decoders, a.candidates, a.seed)
    methods = {}
    for method, entries in restated.items():
        if method == "statement":
            continue
        rows = []
        for entry, stated, t in zip(entries, restated["statement"], tasks):
            st = line_of(stated["notes"], t.first.beats_per_bar, t.first.bars,
                         FAMILY_PROGRAM[melody_family(t.first)])
            re = line_of(entry["notes"], t.later.beats_per_bar, t.later.bars, FAMILY_PROGRAM[melody_family(t.later)])
            rows.append({"piece": t.piece, "transform": t.transform, **restatement_measures(st, re, t), **entry["report"]})
        steps = np.array([r["steps"] for r in rows])
        diffs = np.array([r["n_differs"] for r in rows])
        rep = {"restatements": len(rows), "steps_median": float(np.median(steps)), "steps_mean": float(steps.mean()),
               "target_share": float(np.mean((steps >= TARGET_STEPS) & (diffs >= TARGET_DIFFS))),
               "steps_ok_share": float(np.mean(steps >= TARGET_STEPS)), "diffs_median": float(np.median(diffs)),
               "register_differs": float(np.mean(["register" in r["differs"] for r in rows])),
               "rhythm_differs": float(np.mean(["rhythm" in r["differs"] for r in rows]))}
        if method != "rules":
            rep["by_model_share"] = float(np.mean([r.get("restated_by") == "model" for r in rows]))
            rep["samples_keeping_tune"] = float(sum(r.get("restate_kept", 0) for r in rows) / max(1, sum(r.get("restate_candidates", 0) for r in rows)))
            rep["most_shared_median"] = float(np.median([r.get("restate_most_shared", 0) for r in rows]))
        methods[method] = {"summary": rep, "rows": rows}
    log.info("restatements done (%.0f s)", time.perf_counter() - t0)

    # (c) realism of the restated segments against real TEST tunes
    real, real_groups = real_segments(data, "test", a.seed)
    for method in ["statement", "rules", *paths]:
        feats, groups = segments_of(restated[method], tasks, method)
        result = two_sample(feats, groups, real, real_groups, a.seed)
        summary = {"segments": len(feats), "real_segments": len(real),
                   "logreg": (result["ours_vs_real"] or {}).get("logreg", {}).get("accuracy"),
                   "forest": (result["ours_vs_real"] or {}).get("forest", {}).get("accuracy"),
                   "control_logreg": (result["real_vs_real"] or {}).get("logreg", {}).get("accuracy"),
                   "control_forest": (result["real_vs_real"] or {}).get("forest", {}).get("accuracy"),
                   "top_features": [f["feature"] for f in result.get("top_features", [])[:4]]}
        methods.setdefault(method, {})["realism"] = summary
    res["methods"] = methods
    res["tasks"] = len(tasks)
    res["transforms"] = {tr: sum(t.transform == tr for t in tasks) for tr in sorted({t.transform for t in tasks})}
    res["seconds"] = round(time.perf_counter() - t0, 1)
    return res


def verdict(res: dict) -> tuple[bool, list[str]]:
    """Whether the candidate measurably wins: (a) its NLL no worse beyond the bootstrap interval (the interval's lower
    end <= 0), (b) its restatements meet the target at least as often as the rules' and the baseline decoder's and
    more of them are its own (not the rules' fallback) than the baseline's, (c) its restated segments no easier to
    tell from real tunes than the rules' (the better of the two classifiers' accuracy lower)."""
    m, nll = res["methods"], res["nll"]
    why = []
    a_ok = nll["ci95"][0] <= 0.0
    why.append(f"(a) NLL {nll['candidate']:.4f} vs {nll['baseline']:.4f} (difference {nll['difference']:+.4f}, 95% CI "
               f"[{nll['ci95'][0]:+.4f}, {nll['ci95'][1]:+.4f}]): {'not worse' if a_ok else 'worse'}")
    c, b, r = (m[k]["summary"] for k in ("candidate", "baseline", "rules"))
    b_ok = c["target_share"] >= max(b["target_share"], r["target_share"]) and c["by_model_share"] > b["by_model_share"]
    why.append(f"(b) target met {c['target_share']:.0%} (baseline decoder {b['target_share']:.0%}, rules {r['target_share']:.0%}); "
               f"restated by the decoder itself {c['by_model_share']:.0%} vs {b['by_model_share']:.0%}: {'wins' if b_ok else 'does not win'}")

    def acc(k: str) -> float:
        x = m[k]["realism"]
        return max((v for v in (x["logreg"], x["forest"]) if v is not None), default=float("nan"))

    c_ok = acc("candidate") < acc("rules")
    why.append(f"(c) told from real tunes {acc('candidate'):.1%} (rules {acc('rules'):.1%}, baseline decoder {acc('baseline'):.1%}): "
               f"{'more real' if c_ok else 'not more real'}")
    return a_ok and b_ok and c_ok, why


def print_report(res: dict) -> None:
    print(f"# {res['command']}")
    print(f"checkpoints: baseline {res['checkpoints']['baseline']}, candidate {res['checkpoints']['candidate']}; "
          f"{res['tasks']} restatement tasks of valid tunes {res['transforms']}; {res['seconds']:.0f} s")
    n = res["nll"]
    print(f"(a) valid NLL per music token, {n['pieces']} pieces / {n['tokens']} tokens: baseline {n['baseline']:.4f}, "
          f"candidate {n['candidate']:.4f}, difference {n['difference']:+.4f} [95% CI {n['ci95'][0]:+.4f}, {n['ci95'][1]:+.4f}]")
    print(f"{'method':<10} {'steps med':>9} {'>=6/8':>6} {'diffs med':>9} {'target':>7} {'by model':>8} {'samples ok':>10} "
          f"{'best of N':>9} {'logreg':>7} {'forest':>7} {'control':>8}")
    for k, v in res["methods"].items():
        s, r = v.get("summary", {}), v["realism"]

        def f(x, fmt):
            return format(x, fmt) if isinstance(x, (int, float)) else "-"
        control = max(x for x in (r["control_logreg"], r["control_forest"]) if x is not None) if r["control_logreg"] is not None else None
        print(f"{k:<10} {f(s.get('steps_median'), '9.1f')} {f(s.get('steps_ok_share'), '6.0%')} {f(s.get('diffs_median'), '9.1f')} "
              f"{f(s.get('target_share'), '7.0%')} {f(s.get('by_model_share'), '8.0%')} {f(s.get('samples_keeping_tune'), '10.0%')} "
              f"{f(s.get('most_shared_median'), '9.1f')} {f(r['logreg'], '7.1%')} {f(r['forest'], '7.1%')} {f(control, '8.1%')}")
    ok, why = verdict(res)
    for line in why:
        print(line)
    print(f"verdict: the candidate {'WINS' if ok else 'does NOT win'}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--baseline", default=str(ROOT / "checkpoints" / "music21"), help="the current default decoder")
    p.add_argument("--candidate", required=True, help="the fine-tuned decoder (a checkpoint folder)")
    p.add_argument("--corpus-dir", default="", help="the converted corpus (default: music21's in the user cache)")
    p.add_argument("--tasks", type=int, default=60, help="valid tunes restated")
    p.add_argument("--candidates", type=int, default=6, help="samples per restatement (music.theme_candidates)")
    p.add_argument("--nll-pieces", type=int, default=256, help="valid pieces for the NLL")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=str(RESULTS / "restate.json"))
    p.add_argument("-v", "--verbose", action="store_true")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO if a.verbose else logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    res = run(a)
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps(res, indent=1, default=str))
    print_report(res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
