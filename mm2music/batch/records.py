"""What a batch remembers: one :class:`JobRecord` per job (the report's rows), each job's input fingerprint and the
completion record (``.complete.json``) that proves a folder holds that job's complete, intact output."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mm2music.config import Config
from mm2music.output import user_umask

if TYPE_CHECKING:
    from mm2music.batch.jobs import Job

COMPLETE = ".complete.json"
REPORT_JSON = "batch_report.json"
REPORT_CSV = "batch_report.csv"
BATCH_LOCK = ".batch.lock"
FORMAT_VERSION = 1
STATUSES = ("pending", "done", "skipped", "failed")


@dataclass
class JobRecord:
    """One job's row in the batch report. ``status``: pending, done, skipped (complete and intact from an earlier
    run) or failed (``error`` says why, on one line); ``seconds`` is the job's wall time, ``files`` its outputs."""

    name: str
    source: str
    status: str = "pending"
    seconds: float | None = None
    seed: int | None = None
    out_dir: str = ""
    files: list[str] = field(default_factory=list)
    error: str | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"job status {self.status!r} is not one of {', '.join(STATUSES)}")

    @classmethod
    def of(cls, job: Job, out_dir: str | Path, **values) -> JobRecord:
        return cls(name=job.name, source=job.source, seed=job.seed, out_dir=str(Path(out_dir) / job.name), **values)

    def to_dict(self) -> dict:
        return asdict(self)


def fingerprint(job: Job, config: Config, analyze_only: bool) -> dict:
    """What the job's output depends on: its inputs (path, size, mtime), the resolved config (seed included), the
    package version and, when it writes music, the checkpoint's content and the soundfont. A model retrained in
    place, a new release or another soundfont changes it, so a resumed batch redoes the job."""
    from mm2music import __version__
    from mm2music.render.synth import DEFAULT_SOUNDFONT

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
        data["soundfont"] = _stat_key(config.render.soundfont or DEFAULT_SOUNDFONT)
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


def clear_stale_writes(path: Path) -> None:
    """Remove the temporary files a killed :func:`atomic_write` of ``path`` left beside it (call with its lock held)."""
    for p in path.parent.glob(f".{glob.escape(path.name)}.*"):
        p.unlink(missing_ok=True)


def made_by_batch(folder: Path) -> bool:
    """Whether ``folder`` is a batch job's output (it holds a completion record, written into the staging folder
    before it took its name): only such folders are ever replaced by a batch."""
    try:
        marker = json.loads((folder / COMPLETE).read_text(encoding="utf-8"))
        return isinstance(marker, dict) and "fingerprint" in marker and isinstance(marker.get("files"), dict)
    except (OSError, ValueError):
        return False
