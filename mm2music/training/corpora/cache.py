"""The corpus cache: MIDI files, a manifest and a summary per corpus, filled by a resumable parallel run.

Layout of one corpus directory (``<user cache>/mm2music/corpora/<corpus>/``)::

    midi/...            one MIDI file per piece (480 ticks per quarter), written atomically
    manifest.jsonl      one JSON row per converted piece (see :func:`make_row`)
    failures.jsonl      one JSON row per piece that could not be converted: {"id", "error"}
    summary.json        counts per source and split, failures, total notes, versions

A run converts only the pieces that are neither in the manifest (with their file present) nor in the
failures list, so an interrupted run resumes where it stopped and a finished one converts nothing.
Splits are fixed by a hash of the piece id (never by window), unless the corpus publishes its own.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing as mp
import os
import signal
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from mm2music.errors import CorpusError
from mm2music.music.attributes import extract_attributes

log = logging.getLogger(__name__)

TICKS_PER_QUARTER = 480
MANIFEST = "manifest.jsonl"
FAILURES = "failures.jsonl"
SUMMARY = "summary.json"
SPLITS = ("train", "valid", "test")
SPLIT_PERCENT = (94, 3, 3)  # train / valid / test, by hash of the piece id
DEFAULT_TIMEOUT_S = 60.0  # a piece taking longer than this to convert is recorded as a failure


def default_cache_root() -> Path:
    """``<platformdirs user cache>/mm2music/corpora``; ``MM2MUSIC_CORPUS_CACHE`` overrides it."""
    env = os.environ.get("MM2MUSIC_CORPUS_CACHE")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("mm2music")) / "corpora"


def split_for(key: str) -> str:
    """'train', 'valid' or 'test' from a stable hash of ``key`` (a piece id): ~94/3/3."""
    bucket = int(hashlib.sha1(key.encode("utf-8")).hexdigest()[:8], 16) % 100
    if bucket < SPLIT_PERCENT[0]:
        return "train"
    return "valid" if bucket < SPLIT_PERCENT[0] + SPLIT_PERCENT[1] else "test"


def safe_name(text: str) -> str:
    """A path component made of letters, digits and ``._-`` only."""
    out = "".join(c if c.isalnum() or c in "._-" else "_" for c in text)
    return out.strip(".") or "_"


@dataclass(frozen=True)
class Task:
    """One piece to convert. ``payload`` is what the corpus's convert function needs (picklable)."""

    id: str  # stable piece id, e.g. 'music21/bach/bwv66.6.mxl'
    relpath: str  # MIDI path relative to the corpus directory
    source: str  # sub-collection: 'bach', 'essen', 'lmd_full', ...
    payload: tuple
    split: str | None = None  # the corpus's official split; None: by hash of split_key or id
    split_key: str | None = None  # hash this instead of the id (to keep related pieces in one split)
    meta: dict = field(default_factory=dict)  # extra manifest fields (title, composer, ...)


@dataclass
class RunResult:
    """What a conversion run did."""

    corpus_dir: Path
    converted: int = 0  # pieces converted in this run
    failed: int = 0  # pieces that failed in this run
    skipped: int = 0  # pieces already done (or failed) in an earlier run
    not_selected: int = 0  # pieces of the sources left out of this run (``sources``)
    total_pieces: int = 0  # rows in the manifest after the run
    total_failures: int = 0  # rows in the failures list after the run
    elapsed_s: float = 0.0
    summary: dict = field(default_factory=dict)


def read_jsonl(path: Path) -> list[dict]:
    """Rows of a JSON-lines file; a corrupt line (an interrupted write) is skipped with a warning."""
    rows = []
    if not path.exists():
        return rows
    with path.open(encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                log.warning("skipping corrupt line %d of %s", i, path)
    return rows


def read_manifest(corpus_dir: str | Path, split: str | None = None) -> list[dict]:
    """The manifest rows of a converted corpus directory, optionally of one split only."""
    path = Path(corpus_dir) / MANIFEST
    if not path.exists():
        raise CorpusError(f"no manifest at '{path}'; run `python pipelines/prepare_corpus.py` to convert the corpus")
    if split is not None and split not in SPLITS:
        raise CorpusError(f"split {split!r} is not one of {SPLITS}")
    rows = read_jsonl(path)
    return rows if split is None else [r for r in rows if r["split"] == split]


def write_midi_atomic(score, path: Path) -> None:
    """Write a symusic Score to ``path`` via a temporary file and a rename (never a half-written file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    score.dump_midi(str(tmp))
    os.replace(tmp, path)


def _write_json_atomic(obj, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def make_row(task: Task, attributes: dict, split: str) -> dict:
    """A manifest row: id, path (relative to the corpus dir), corpus, source, split, attributes, meta."""
    return {
        "id": task.id,
        "path": task.relpath,
        "corpus": task.id.split("/", 1)[0],
        "source": task.source,
        "split": split,
        "attributes": attributes,
        **({"meta": task.meta} if task.meta else {}),
    }


class _Timeout(Exception):
    pass


def _on_alarm(signum, frame):
    raise _Timeout()


def _run_task(args) -> tuple[str, dict]:
    """Worker: convert one piece, write its MIDI, measure it. Never raises: failures come back as rows."""
    convert, task, corpus_dir, timeout_s = args
    use_alarm = timeout_s and hasattr(signal, "SIGALRM")
    if use_alarm:
        old = signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        score = convert(task)
        n_notes = sum(len(t.notes) for t in score.tracks)
        if n_notes == 0:
            raise CorpusError("no notes")
        attrs = extract_attributes(score).to_dict()
        write_midi_atomic(score, Path(corpus_dir) / task.relpath)
        split = task.split or split_for(task.split_key or task.id)
        return "ok", make_row(task, attrs, split)
    except _Timeout:
        return "fail", {"id": task.id, "error": f"timeout: took more than {timeout_s:g} s"}
    except Exception as exc:  # any failure of one piece is recorded and skipped, never fatal
        msg = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        log.debug("piece %s failed: %s", task.id, traceback.format_exc())
        return "fail", {"id": task.id, "error": msg}
    finally:
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)


def _order_key(task: Task) -> str:
    # a fixed pseudo-random order, so that a partly converted corpus samples every source evenly
    return hashlib.sha1(task.id.encode("utf-8")).hexdigest()


def summarize(rows: list[dict], failures: list[dict], extra: dict | None = None) -> dict:
    """Counts per source and split, notes, failures (by error kind) of a manifest."""
    by_kind = Counter(f.get("error", "").split(":", 1)[0] for f in failures)
    return {
        "pieces": len(rows),
        "failures": len(failures),
        "failures_by_kind": dict(by_kind.most_common()),
        "pieces_by_source": dict(sorted(Counter(r["source"] for r in rows).items())),
        "pieces_by_split": dict(sorted(Counter(r["split"] for r in rows).items())),
        "total_notes": int(sum(r["attributes"]["n_notes"] for r in rows)),
        "ticks_per_quarter": TICKS_PER_QUARTER,
        **(extra or {}),
    }


def run_conversion(
    corpus_dir: str | Path,
    tasks: Iterable[Task],
    convert: Callable[[Task], object],
    *,
    workers: int = 2,
    limit: int | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    retry_failures: bool = False,
    summary_extra: dict | None = None,
    progress: bool = True,
    enumeration_failures: Iterable[dict] = (),
    sources: Iterable[str] | None = None,
) -> RunResult:
    """Convert every task not done yet, in ``workers`` processes, appending to the manifest as it goes.

    ``convert(task)`` returns a symusic ``Score`` (module-level function: it is sent to worker
    processes). ``limit`` caps the number of pieces converted in this run. ``enumeration_failures`` are
    pieces that failed before conversion (unreadable index rows, ...): recorded like conversion failures.
    ``sources`` (manifest ``source`` names) converts only the pieces of those sources; the pieces of the others
    already converted stay in the manifest, so that a later run without ``sources`` adds the rest.
    """
    from tqdm import tqdm

    start = time.monotonic()
    tasks = list(tasks)
    if sources is not None:  # checked before anything is written
        sources = list(sources)
        select_sources(tasks, sources)
    corpus_dir = Path(corpus_dir)
    corpus_dir.mkdir(parents=True, exist_ok=True)
    manifest_path, failures_path = corpus_dir / MANIFEST, corpus_dir / FAILURES
    rows = {r["id"]: r for r in read_jsonl(manifest_path) if (corpus_dir / r["path"]).exists()}
    failures = {f["id"]: f for f in read_jsonl(failures_path)}
    if retry_failures:
        failures = {}
        _rewrite_jsonl(failures_path, [])
    enumeration_failures = list(enumeration_failures)
    for f in enumeration_failures:
        if f["id"] not in failures:
            failures[f["id"]] = f
            _append_jsonl(failures_path, f)

    ids = [t.id for t in tasks]
    if len(set(ids)) != len(ids):
        dup = len(ids) - len(set(ids))
        log.warning("%d duplicate piece ids; converting the first of each", dup)
        seen: set[str] = set()
        tasks = [t for t in tasks if not (t.id in seen or seen.add(t.id))]
    known = {t.id for t in tasks} | {f["id"] for f in enumeration_failures}
    stale = [k for k in rows if k not in known]
    if stale:  # pieces an earlier version of the corpus listed: drop their rows and files
        log.info("%s: dropping %d pieces that are no longer in the corpus", corpus_dir, len(stale))
        for k in stale:
            (corpus_dir / rows.pop(k)["path"]).unlink(missing_ok=True)
        _rewrite_jsonl(manifest_path, [rows[k] for k in sorted(rows)])
    failures = {k: f for k, f in failures.items() if k in known}
    selected = tasks if sources is None else select_sources(tasks, sources)
    todo = sorted((t for t in selected if t.id not in rows and t.id not in failures), key=_order_key)
    result = RunResult(corpus_dir=corpus_dir, skipped=len(selected) - len(todo),
                       not_selected=len(tasks) - len(selected))
    if limit is not None:
        todo = todo[:limit]
    log.info("%s: %d pieces to convert, %d already done or failed", corpus_dir, len(todo), result.skipped)

    args = [(convert, t, str(corpus_dir), timeout_s) for t in todo]
    bar = tqdm(total=len(todo), desc=corpus_dir.name, unit="piece", disable=not progress, mininterval=2.0,
               file=sys.stderr, dynamic_ncols=True)
    with manifest_path.open("a", encoding="utf-8") as mf, failures_path.open("a", encoding="utf-8") as ff:
        for status, row in _imap(args, workers):
            if status == "ok":
                rows[row["id"]] = row
                mf.write(json.dumps(row, sort_keys=True) + "\n")
                mf.flush()
                result.converted += 1
            else:
                failures[row["id"]] = row
                ff.write(json.dumps(row, sort_keys=True) + "\n")
                ff.flush()
                result.failed += 1
                log.debug("failed: %s: %s", row["id"], row["error"])
            bar.update(1)
            bar.set_postfix(failed=result.failed, refresh=False)
    bar.close()

    # rewrite both lists sorted and deduplicated: a finished corpus is byte-identical however it was run
    _rewrite_jsonl(manifest_path, [rows[k] for k in sorted(rows)])
    _rewrite_jsonl(failures_path, [failures[k] for k in sorted(failures)])
    result.total_pieces, result.total_failures = len(rows), len(failures)
    result.elapsed_s = time.monotonic() - start
    result.summary = summarize(list(rows.values()), list(failures.values()), summary_extra)
    _write_json_atomic(result.summary, corpus_dir / SUMMARY)
    log.info("%s: converted %d, failed %d, skipped %d (manifest: %d pieces, %d failures) in %.0f s",
             corpus_dir, result.converted, result.failed, result.skipped, result.total_pieces,
             result.total_failures, result.elapsed_s)
    return result


def select_sources(tasks: list[Task], sources: Iterable[str]) -> list[Task]:
    """The tasks of the named sources; an unknown name is a :class:`CorpusError` that lists the known ones."""
    import difflib

    wanted = list(dict.fromkeys(sources))
    known = sorted({t.source for t in tasks})
    unknown = [s for s in wanted if s not in known]
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, known, n=1)
            hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise CorpusError(f"unknown source {', '.join(hints)}; this corpus has: {', '.join(known)}")
    if not wanted:
        raise CorpusError(f"no source named; name at least one of: {', '.join(known)}")
    keep = set(wanted)
    return [t for t in tasks if t.source in keep]


def _imap(args: list, workers: int):
    if workers <= 1 or len(args) <= 1:
        yield from map(_run_task, args)
        return
    with mp.get_context("fork").Pool(workers, maxtasksperchild=200) as pool:
        yield from pool.imap_unordered(_run_task, args, chunksize=4)


def _append_jsonl(path: Path, row: dict) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(row, sort_keys=True) + "\n")


def _rewrite_jsonl(path: Path, rows: list[dict]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, sort_keys=True) + "\n")
    os.replace(tmp, path)
