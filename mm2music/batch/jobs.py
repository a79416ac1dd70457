"""Batch jobs: discovered from a folder of media or a CSV/JSONL manifest, named uniquely, seeded from their inputs."""

from __future__ import annotations

import csv
import json
import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from mm2music.batch.records import REPORT_CSV, REPORT_JSON
from mm2music.errors import ConfigError, OutputError

VIDEO_EXTS = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v"}
TEXT_EXTS = {".txt"}
CAPTION_EXTS = {".srt", ".vtt"}

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


# --- seeds ---------------------------------------------------------------------------------------------


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
