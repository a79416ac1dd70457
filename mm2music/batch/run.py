"""A whole batch: discover the jobs, lock the output folder, run them, keep the report up to date."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mm2music.batch.executors import EXECUTORS, _run_pool, _run_ray
from mm2music.batch.jobs import Job, discover
from mm2music.batch.records import BATCH_LOCK, REPORT_CSV, REPORT_JSON, JobRecord, atomic_write, clear_stale_writes
from mm2music.batch.worker import Settings, run_job
from mm2music.errors import ConfigError, OutputError
from mm2music.output import FolderLock


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
    """``batch_report.json`` / ``.csv``, rewritten atomically as each job finishes (one :class:`JobRecord` a job)."""

    FIELDS = ("name", "source", "status", "seconds", "seed", "out_dir", "files", "error")

    def __init__(self, out_dir: Path, jobs: list[Job], batch_input: str):
        self.out_dir, self.input = out_dir, batch_input
        self.records = [JobRecord.of(j, out_dir) for j in jobs]
        self.t0 = time.perf_counter()

    def counts(self) -> dict[str, int]:
        out = {"done": 0, "skipped": 0, "failed": 0, "pending": 0}
        for r in self.records:
            out[r.status] += 1
        return out

    def update(self, index: int, record: JobRecord) -> None:
        self.records[index] = record
        self.write()

    def write(self) -> None:
        data = {"input": self.input, "out_dir": str(self.out_dir), "seconds": round(time.perf_counter() - self.t0, 3),
                "counts": self.counts(), "jobs": [r.to_dict() for r in self.records]}
        atomic_write(self.out_dir / REPORT_JSON, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=self.FIELDS)
        writer.writeheader()
        for r in self.records:
            writer.writerow({**r.to_dict(), "files": ";".join(r.files)})
        atomic_write(self.out_dir / REPORT_CSV, buf.getvalue())


def run_batch(batch_input: str | Path, settings: Settings, workers: int = 1, progress: bool | None = None,
              on_record: Callable[[JobRecord], None] | None = None, executor: str = "local",
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
                on_record: Callable[[JobRecord], None] | None, executor: str, ray_address: str | None) -> Summary:
    from tqdm import tqdm

    for name in (REPORT_JSON, REPORT_CSV):
        clear_stale_writes(out / name)  # a batch killed while rewriting its report left a temporary file
    report = Report(out, jobs, str(batch_input))
    report.write()
    bar = tqdm(total=len(jobs), desc="batch", unit="job", disable=None if progress is None else not progress)

    def finished(index: int, record: JobRecord) -> None:
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
    failures = [(r.name, r.error or "") for r in report.records if r.status == "failed"]
    return Summary(len(jobs), counts, round(time.perf_counter() - report.t0, 3), out / REPORT_JSON, out / REPORT_CSV, failures)
