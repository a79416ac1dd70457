"""Batch scoring (issue 6): a folder or a CSV/JSONL manifest of clips and texts, one output folder per job.

Jobs are resumable and failure-isolated. A job counts as complete only when its folder holds
``.complete.json``, written last, with the job's input fingerprint and the sha256 of every output file;
a re-run verifies it and skips the job, or redoes the job. The record is written into the job's staging folder
before that folder takes its name, so a folder without one was not made by a batch and is never replaced (the
job fails instead). The single-clip pipeline stages its output and locks each job's folder, and one batch at a
time writes to an output folder, so a batch killed mid-way leaves no half-written folder and two runs never
overwrite each other. Seeds are given per row
or derived from the job's inputs, never from its position or timing.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import re
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path

from mm2music.config import Config, load_config
from mm2music.errors import ConfigError, Mm2MusicError, OutputError
from mm2music.output import FolderLock, user_umask

log = logging.getLogger(__name__)

VIDEO_EXTS = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v"}
TEXT_EXTS = {".txt"}
CAPTION_EXTS = {".srt", ".vtt"}
COMPLETE = ".complete.json"
REPORT_JSON = "batch_report.json"
REPORT_CSV = "batch_report.csv"
BATCH_LOCK = ".batch.lock"
FORMAT_VERSION = 1

# manifest column -> config key (the same keys the single-clip flags map to)
ROW_KEYS = {
    "duration": "text.duration",
    "key": "plan.key",
    "tempo": "plan.tempo",
    "instruments": "plan.instruments",
    "meter": "plan.meter",
    "hits": "plan.hits",
    "mix": "render.mix",
    "encoder": "encoder.backend",
    "cut_detector": "cuts.detector",
    "sample_fps": "media.sample_fps",
}
INPUT_COLUMNS = ("video", "text", "text_file", "captions")
COLUMNS = (*INPUT_COLUMNS, "seed", "name", "set", *ROW_KEYS)


@dataclass(frozen=True)
class Job:
    """One clip or text to score. ``error`` is set for a row refused before running (bad name, bad row)."""

    name: str
    source: str  # where the job came from, for the report: a file name or 'manifest.csv:3'
    video: str | None = None
    text: str | None = None
    text_file: str | None = None
    captions: str | None = None
    overrides: tuple[str, ...] = ()
    seed: int | None = None
    error: str | None = None

    @property
    def paths(self) -> list[str]:
        return [p for p in (self.video, self.text_file, self.captions) if p]


# --- discovering jobs -----------------------------------------------------------------------------------


def discover(path: str | Path) -> list[Job]:
    """Jobs from a folder of media or from a ``.csv`` / ``.jsonl`` manifest, in input order, named uniquely."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"batch input '{path}' does not exist; pass a folder of clips or a .csv/.jsonl manifest")
    if path.is_dir():
        jobs = folder_jobs(path)
    elif path.suffix.lower() == ".csv":
        jobs = manifest_jobs(path, _csv_rows(path))
    elif path.suffix.lower() in (".jsonl", ".ndjson"):
        jobs = manifest_jobs(path, _jsonl_rows(path))
    else:
        raise ConfigError(f"batch input '{path}' is neither a folder nor a .csv/.jsonl manifest; pass one of those")
    if not jobs:
        raise ConfigError(f"batch input '{path}' holds no jobs; expected videos ({', '.join(sorted(VIDEO_EXTS))}), "
                          ".txt or .srt/.vtt files, or manifest rows")
    return unique_names(jobs)


def folder_jobs(folder: Path) -> list[Job]:
    """One job per video (with the same-stem caption file attached), per text, per caption file left over."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    captions = {p.stem: p for p in files if p.suffix.lower() in CAPTION_EXTS}
    jobs, used = [], set()
    for p in files:
        ext = p.suffix.lower()
        if ext in VIDEO_EXTS:
            cap = captions.get(p.stem)
            if cap is not None:
                used.add(cap)
            jobs.append(Job(name=clean_stem(p.stem), source=p.name, video=str(p), captions=str(cap) if cap else None))
        elif ext in TEXT_EXTS:
            jobs.append(Job(name=clean_stem(p.stem), source=p.name, text_file=str(p)))
    jobs += [Job(name=clean_stem(p.stem), source=p.name, captions=str(p)) for p in captions.values() if p not in used]
    return jobs


def _csv_rows(path: Path) -> Iterator[tuple[int, dict]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            for i, row in enumerate(csv.DictReader(f), start=2):  # line 1 is the header
                if None in row:
                    raise ConfigError(f"{path.name}:{i} has more cells than the header; quote cells that hold commas")
                yield i, {k.strip(): v for k, v in row.items() if k is not None and v is not None and v.strip() != ""}
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"cannot read manifest {path}: {exc}; save it as UTF-8 CSV with a header row") from None


def _jsonl_rows(path: Path) -> Iterator[tuple[int, dict]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read manifest {path}: {exc}; save it as UTF-8 JSON Lines") from None
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path.name}:{i} is not valid JSON ({exc.msg}); write one JSON object per line") from None
        if not isinstance(row, dict):
            raise ConfigError(f"{path.name}:{i} must be a JSON object, not {type(row).__name__}")
        yield i, {k: v for k, v in row.items() if v is not None and v != ""}


def manifest_jobs(manifest: Path, rows) -> list[Job]:
    """Rows -> jobs; paths relative to the manifest's folder. An unknown column fails the whole manifest."""
    import difflib

    base = manifest.resolve().parent
    jobs = []
    for line, row in rows:
        unknown = [k for k in row if k not in COLUMNS]
        if unknown:
            close = difflib.get_close_matches(unknown[0], COLUMNS, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f"; valid columns: {', '.join(COLUMNS)}"
            raise ConfigError(f"{manifest.name}:{line}: unknown column '{unknown[0]}'{hint}")
        jobs.append(_row_job(manifest.name, line, row, base))
    return jobs


def _row_job(manifest: str, line: int, row: dict, base: Path) -> Job:
    source = f"{manifest}:{line}"
    paths = {k: str((base / str(row[k])).resolve()) for k in ("video", "text_file", "captions") if k in row}
    text = str(row["text"]) if "text" in row else None
    stem = next((Path(paths[k]).stem for k in ("video", "captions", "text_file") if k in paths), None)
    auto = clean_stem(stem) if stem else _slug(text or "")
    overrides = [f"{ROW_KEYS[k]}={_cell(row[k])}" for k in ROW_KEYS if k in row]
    sets = row.get("set", [])
    sets = [s for s in re.split(r"[;\n]", sets) if s.strip()] if isinstance(sets, str) else list(sets)
    overrides += [str(s).strip() for s in sets]
    job = Job(name=auto, source=source, text=text, overrides=tuple(overrides), **paths)
    try:
        seed = int(row["seed"]) if "seed" in row else None
    except (TypeError, ValueError):
        return _refused(job, f"{source}: seed {row['seed']!r} is not an integer")
    job = replace(job, seed=seed)
    if "name" in row:
        try:
            job = replace(job, name=checked_name(str(row["name"])))
        except OutputError as exc:
            return _refused(job, f"{source}: {exc}")
    return job


def _refused(job: Job, error: str) -> Job:
    return replace(job, error=error)


def _cell(value) -> str:
    return ",".join(str(v) for v in value) if isinstance(value, list) else str(value)


def _slug(text: str) -> str:
    from mm2music.pipeline import slug

    return slug(text)


def clean_stem(stem: str) -> str:
    """A file stem as a folder name: anything but letters, digits, '.', '-', '_' becomes '-'."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-.")
    return name[:80] or "job"


def checked_name(name: str) -> str:
    """A manifest's ``name``: refused (not rewritten) if it could escape the output folder or hide in it."""
    if os.path.isabs(name) or "/" in name or "\\" in name or ".." in name or name.strip().startswith(".") or "\0" in name:
        raise OutputError(f"job name {name!r} could escape or hide in the output folder; use a plain name with letters, "
                          "digits, '-' or '_'")
    if name.strip() in (REPORT_JSON, REPORT_CSV):
        raise OutputError(f"job name {name!r} is the batch report's own file; choose another name")
    return clean_stem(name.strip())


def unique_names(jobs: list[Job]) -> list[Job]:
    """``clip``, ``clip-2``, ``clip-3``... in input order (case-insensitively distinct, for macOS/Windows)."""
    taken = {REPORT_JSON.lower(), REPORT_CSV.lower()}  # a clip 'batch_report.json.mp4' must not become the report
    out = []
    for job in jobs:
        name, n = job.name, 1
        while name.lower() in taken:
            n += 1
            name = f"{job.name}-{n}"
        taken.add(name.lower())
        out.append(replace(job, name=name))
    return out


# --- seeds, fingerprints, completion markers ------------------------------------------------------------


def derived_seed(job: Job, base_seed: int) -> int:
    """The row's seed, or crc32 of the job's inputs (file names + sizes, or the text) mixed with the base seed."""
    if job.seed is not None:
        return job.seed
    parts = [f"{Path(p).name}:{_size(p)}" for p in job.paths]
    if job.text is not None:
        parts.append(job.text)
    return zlib.crc32(f"{base_seed}|{'|'.join(parts)}".encode()) & 0x7FFFFFFF


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return -1


def fingerprint(job: Job, config: Config, analyze_only: bool) -> dict:
    """What the job's output depends on: its inputs (path, size, mtime), the resolved config (seed included), the
    package version and, when it writes music, the checkpoint's content and the soundfont. A model retrained in
    place, a new release or another soundfont changes it, so a resumed batch redoes the job."""
    from mm2music import __version__

    inputs = {}
    for p in job.paths:
        try:
            st = os.stat(p)
            inputs[p] = [st.st_size, st.st_mtime_ns]
        except OSError:
            inputs[p] = None
    resolved = config.to_dict()
    resolved.pop("output", None)  # where it goes does not change what it is
    data = {"inputs": inputs, "text": job.text, "config": resolved, "analyze_only": analyze_only, "version": __version__}
    if not analyze_only:
        data["checkpoint"] = checkpoint_digest(config.music.checkpoint)
        data["soundfont"] = _stat_key(config.render.soundfont or "/usr/share/sounds/sf2/FluidR3_GM.sf2")
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
    return {"sha256": digest, **data}


_DIGESTS: dict[tuple, str] = {}


def checkpoint_digest(checkpoint: str | None) -> str | None:
    """sha256 over the checkpoint folder's files (weights, config, tokenizer), cached per process by their
    size and mtime; ``None`` if there is none (the job then fails on its own)."""
    from mm2music.music.checkpoint import DEFAULT_CHECKPOINT

    folder = Path(checkpoint) if checkpoint else DEFAULT_CHECKPOINT
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")) if folder.is_dir() else [folder]
    key = tuple((str(p), *_stat_key(p)) for p in files)
    if key not in _DIGESTS:
        h = hashlib.sha256()
        for p in files:
            try:
                h.update(p.name.encode() + b"\0" + sha256_file(p).encode())
            except OSError:
                return None
        _DIGESTS[key] = h.hexdigest()
    return _DIGESTS[key]


def _stat_key(path: str | Path) -> tuple[int, int]:
    try:
        st = os.stat(path)
        return st.st_size, st.st_mtime_ns
    except OSError:
        return -1, -1


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_complete(folder: Path, fp: dict) -> list[str]:
    """Hash every output file and write ``.complete.json`` last (atomically); return the files' relative paths."""
    files = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.name != COMPLETE:
            files[str(p.relative_to(folder))] = {"size": p.stat().st_size, "sha256": sha256_file(p)}
    atomic_write(folder / COMPLETE, json.dumps({"version": FORMAT_VERSION, "fingerprint": fp["sha256"], "files": files}, indent=1))
    return list(files)


def verify_complete(folder: Path, fp: dict) -> list[str] | None:
    """The output files if ``folder`` holds this job's complete, intact output; ``None`` if it must be redone."""
    try:
        marker = json.loads((folder / COMPLETE).read_text(encoding="utf-8"))
        if marker.get("version") != FORMAT_VERSION or marker.get("fingerprint") != fp["sha256"]:
            return None
        for rel, meta in marker["files"].items():
            p = folder / rel
            if p.stat().st_size != meta["size"] or sha256_file(p) != meta["sha256"]:
                return None
        return list(marker["files"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~user_umask())  # mkstemp makes it private; the user's umask decides
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- running one job ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """What every job shares: the config name/path, the batch-wide overrides, the output folder."""

    out_dir: str
    config: str | None = None
    overrides: tuple[str, ...] = ()
    analyze_only: bool = False


def job_config(job: Job, settings: Settings) -> Config:
    base = load_config(settings.config, [*settings.overrides, *job.overrides])
    seed = derived_seed(job, base.seed)
    return load_config(settings.config, [*settings.overrides, *job.overrides, f"seed={seed}",
                                         f"output.out_dir={settings.out_dir}", f"output.name={job.name}", "output.overwrite=false"])


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if isinstance(exc, Mm2MusicError) else f"{type(exc).__name__}: {text}"


def run_job(job: Job, settings: Settings) -> dict:
    """Run (or skip) one job; never raises for the job's own failures. Returns the job's report record."""
    from mm2music import pipeline

    t0 = time.perf_counter()
    folder = Path(settings.out_dir) / job.name
    record = {"name": job.name, "source": job.source, "status": "failed", "seconds": 0.0, "seed": job.seed,
              "out_dir": str(folder), "files": [], "error": job.error}
    if job.error:
        return record
    try:
        config = job_config(job, settings)
        record["seed"] = config.seed
        fp = fingerprint(job, config, settings.analyze_only)
        files = verify_complete(folder, fp)
        if files is not None:
            record.update(status="skipped", files=files)
        elif os.path.lexists(folder) and not made_by_batch(folder):
            raise OutputError(f"output folder '{folder}' exists and was not made by a batch (it has no {COMPLETE}); "
                              "move it away, or give the job another name")
        else:
            inputs = pipeline.Inputs(video=job.video, text=job.text, text_file=job.text_file, captions=job.captions)
            sealed: list[str] = []
            pipeline.run(inputs, config, analyze_only=settings.analyze_only, progress=False,
                                  replaceable=made_by_batch, seal=lambda staging: sealed.extend(write_complete(staging, fp)))
            record.update(status="done", files=sealed)
    except Exception as exc:  # noqa: BLE001 - a job's failure, whatever it is, must not stop the batch
        log.debug("job %s failed", job.name, exc_info=True)
        record["error"] = one_line(exc)
    record["seconds"] = round(time.perf_counter() - t0, 3)
    return record


def made_by_batch(folder: Path) -> bool:
    """Whether ``folder`` is a batch job's output (it holds a completion record, written into the staging folder
    before it took its name): only such folders are ever replaced by a batch."""
    try:
        marker = json.loads((folder / COMPLETE).read_text(encoding="utf-8"))
        return isinstance(marker, dict) and "fingerprint" in marker and isinstance(marker.get("files"), dict)
    except (OSError, ValueError):
        return False


def _init_worker(settings: Settings, log_level: int) -> None:
    """Once per worker process: one torch thread, quiet logs, the music model loaded up front."""
    logging.basicConfig(level=log_level, format="%(levelname)s: %(message)s")
    import torch

    torch.set_num_threads(1)
    if not settings.analyze_only:
        try:
            from mm2music.pipeline import load_music_model

            music = load_config(settings.config, list(settings.overrides)).music
            load_music_model(music.checkpoint, music.quantize)
        except Mm2MusicError:
            pass  # each job reports it


# --- the batch ------------------------------------------------------------------------------------------


@dataclass
class Summary:
    jobs: int
    counts: dict[str, int]
    seconds: float
    report_json: Path
    report_csv: Path
    failures: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.counts.get("failed", 0) == 0


class Report:
    """``batch_report.json`` / ``.csv``, rewritten atomically as each job finishes (records are small dicts)."""

    FIELDS = ("name", "source", "status", "seconds", "seed", "out_dir", "files", "error")

    def __init__(self, out_dir: Path, jobs: list[Job], batch_input: str):
        self.out_dir, self.input = out_dir, batch_input
        self.records: list[dict] = [{"name": j.name, "source": j.source, "status": "pending", "seconds": None, "seed": j.seed,
                                     "out_dir": str(out_dir / j.name), "files": [], "error": None} for j in jobs]
        self.t0 = time.perf_counter()

    def counts(self) -> dict[str, int]:
        out = {"done": 0, "skipped": 0, "failed": 0, "pending": 0}
        for r in self.records:
            out[r["status"]] += 1
        return out

    def update(self, index: int, record: dict) -> None:
        self.records[index] = record
        self.write()

    def write(self) -> None:
        data = {"input": self.input, "out_dir": str(self.out_dir), "seconds": round(time.perf_counter() - self.t0, 3),
                "counts": self.counts(), "jobs": self.records}
        atomic_write(self.out_dir / REPORT_JSON, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        import io

        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=self.FIELDS)
        writer.writeheader()
        for r in self.records:
            writer.writerow({**r, "files": ";".join(r["files"])})
        atomic_write(self.out_dir / REPORT_CSV, buf.getvalue())


EXECUTORS = ("local", "ray")


def run_batch(batch_input: str | Path, settings: Settings, workers: int = 1, progress: bool | None = None,
              on_record: Callable[[dict], None] | None = None, executor: str = "local",
              ray_address: str | None = None) -> Summary:
    """Run every job of ``batch_input``: in this process (``workers`` 1), in ``workers`` spawned processes, or as
    Ray tasks (``executor='ray'``: a local Ray with ``workers`` CPUs, or the cluster at ``ray_address``). One batch
    at a time writes to an output folder (``.batch.lock``); a second fails with a line naming the first."""
    if workers < 1:
        raise ConfigError(f"--workers {workers} must be at least 1")
    if executor not in EXECUTORS:
        raise ConfigError(f"executor {executor!r} is not one of {', '.join(EXECUTORS)}")
    jobs = discover(batch_input)
    out = Path(settings.out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(f"output path '{out}' is a file, not a folder; pass --out with a folder") from None
    except OSError as exc:
        raise OutputError(f"cannot create output folder '{out}': {exc.strerror}; pass --out with a writable folder") from None
    with FolderLock(out / BATCH_LOCK, f"batch folder '{out}'", "wait for that batch to finish or pass another --out"):
        return _run_locked(jobs, out, batch_input, settings, workers, progress, on_record, executor, ray_address)


def _run_locked(jobs: list[Job], out: Path, batch_input: str | Path, settings: Settings, workers: int, progress: bool | None,
                on_record: Callable[[dict], None] | None, executor: str, ray_address: str | None) -> Summary:
    from tqdm import tqdm

    report = Report(out, jobs, str(batch_input))
    report.write()
    bar = tqdm(total=len(jobs), desc="batch", unit="job", disable=None if progress is None else not progress)

    def finished(index: int, record: dict) -> None:
        report.update(index, record)
        c = report.counts()
        bar.set_postfix(done=c["done"], skipped=c["skipped"], failed=c["failed"], left=c["pending"], refresh=False)
        bar.update(1)
        if on_record:
            on_record(record)

    try:
        if executor == "ray":
            _run_ray(jobs, settings, workers, finished, ray_address)
        elif workers == 1:
            for i, job in enumerate(jobs):
                finished(i, run_job(job, settings))
        else:
            _run_pool(jobs, settings, workers, finished)
    finally:
        bar.close()
    counts = report.counts()
    failures = [(r["name"], r["error"] or "") for r in report.records if r["status"] == "failed"]
    return Summary(len(jobs), counts, round(time.perf_counter() - report.t0, 3), out / REPORT_JSON, out / REPORT_CSV, failures)


def _run_pool(jobs: list[Job], settings: Settings, workers: int, finished: Callable[[int, dict], None],
              task: Callable[[Job, Settings], dict] = run_job) -> None:
    """At most ``2 * workers`` jobs in flight, so memory stays bounded however many jobs there are. A worker that
    dies (killed, out of memory, a crash in native code) breaks the pool: the jobs it held are then re-run one
    at a time in a fresh process each, so only a job that kills its own worker again fails (as under Ray)."""
    todo = list(range(len(jobs)))
    while todo:
        caught, todo = _pool_pass(jobs, todo, settings, workers, finished, task)
        for index in caught:
            again, _ = _pool_pass(jobs, [index], settings, 1, finished, task)
            if again:
                job = jobs[index]
                finished(index, {"name": job.name, "source": job.source, "status": "failed", "seconds": None, "seed": job.seed,
                                 "out_dir": str(Path(settings.out_dir) / job.name), "files": [],
                                 "error": "its worker process died (killed, out of memory or crashed) twice; run it alone "
                                          "with --debug to see why"})


def _pool_pass(jobs: list[Job], todo: list[int], settings: Settings, workers: int, finished: Callable[[int, dict], None],
               task: Callable[[Job, Settings], dict]) -> tuple[list[int], list[int]]:
    """Run ``todo`` in one process pool; if a worker dies, return (the jobs in flight then, the jobs not started)."""
    import multiprocessing as mp
    from concurrent.futures.process import BrokenProcessPool

    ctx = mp.get_context("spawn")
    level = logging.getLogger().getEffectiveLevel()
    pending = iter(todo)
    caught: list[int] = []
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(settings, level)) as pool:
        inflight: dict[Future, int] = {}

        def fill() -> None:
            while len(inflight) < 2 * workers:
                nxt = next(pending, None)
                if nxt is None:
                    return
                inflight[pool.submit(task, jobs[nxt], settings)] = nxt

        fill()
        while inflight:
            done, _ = wait(inflight, return_when=FIRST_COMPLETED)
            for fut in done:
                index = inflight.pop(fut)
                try:
                    record = fut.result()
                except BrokenProcessPool:
                    caught.append(index)
                    continue
                finished(index, record)
            if caught:
                caught += list(inflight.values())
                log.warning("a batch worker process died; re-running the %d job(s) it may have held one at a time", len(caught))
                return sorted(set(caught)), list(pending)
            fill()
    return [], []


# --- Ray ------------------------------------------------------------------------------------------------

_RAY_WORKER_READY = False


def _ray_job(job: Job, settings: Settings) -> dict:
    """A Ray task: the first call in a Ray worker process sets it up (the music model stays loaded there)."""
    global _RAY_WORKER_READY
    if not _RAY_WORKER_READY:
        _init_worker(settings, logging.WARNING)
        _RAY_WORKER_READY = True
    return run_job(job, settings)


def _run_ray(jobs: list[Job], settings: Settings, workers: int, finished: Callable[[int, dict], None],
             address: str | None) -> None:
    """The same jobs as Ray tasks (one CPU each), at most ``2 * workers`` in flight. Outputs go to
    ``settings.out_dir``, which on a cluster must be a folder every node sees (a shared file system)."""
    try:
        import ray
    except ImportError:
        raise ConfigError("--executor ray needs Ray; install it with: pip install 'ray>=2.9' (or drop --executor ray)") from None
    started = not ray.is_initialized()
    if started:
        try:
            if address:
                ray.init(address=address, log_to_driver=False)
            else:
                ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ConfigError(f"cannot start or reach Ray at {address or 'local'}: {one_line(exc)}; "
                              "check --ray-address (e.g. ray://head:10001 or auto)") from None
    task = ray.remote(num_cpus=1, max_retries=0)(_ray_job)
    pending = iter(enumerate(jobs))
    inflight: dict = {}
    try:
        while True:
            while len(inflight) < 2 * workers and (nxt := next(pending, None)) is not None:
                inflight[task.remote(nxt[1], settings)] = nxt[0]
            if not inflight:
                break
            done, _ = ray.wait(list(inflight), num_returns=1)
            for ref in done:
                index = inflight.pop(ref)
                try:
                    record = ray.get(ref)
                except ray.exceptions.RayError as exc:  # the worker died: this job fails, the batch goes on
                    job = jobs[index]
                    record = {"name": job.name, "source": job.source, "status": "failed", "seconds": None, "seed": job.seed,
                              "out_dir": str(Path(settings.out_dir) / job.name), "files": [],
                              "error": f"Ray task failed: {one_line(exc).splitlines()[0][:300]}"}
                finished(index, record)
    finally:
        if started:
            ray.shutdown()
