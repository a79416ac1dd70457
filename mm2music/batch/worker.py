"""Running one batch job, in this process, a spawned worker or a Ray task: never raises for the job's own failure."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from mm2music.batch.jobs import Job, derived_seed
from mm2music.batch.records import COMPLETE, JobRecord, fingerprint, made_by_batch, verify_complete, write_complete
from mm2music.config import Config, load_config
from mm2music.errors import Mm2MusicError, OutputError
from mm2music.output import clear_leftovers

log = logging.getLogger(__name__)


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


def run_job(job: Job, settings: Settings) -> JobRecord:
    """Run (or skip) one job; never raises for the job's own failures. Returns the job's report record."""
    from mm2music import pipeline

    t0 = time.perf_counter()
    folder = Path(settings.out_dir) / job.name
    record = JobRecord.of(job, settings.out_dir, status="failed", seconds=0.0, error=job.error)
    if job.error:
        return record
    try:
        config = job_config(job, settings)
        record.seed = config.seed
        fp = fingerprint(job, config, settings.analyze_only)
        files = verify_complete(folder, fp)
        if files is not None:
            record.status, record.files = "skipped", files
            clear_leftovers(folder)  # a batch killed just after publishing it may have left its lock beside it
        elif os.path.lexists(folder) and not made_by_batch(folder):
            raise OutputError(f"output folder '{folder}' exists and was not made by a batch (it has no {COMPLETE}); "
                              "move it away, or give the job another name")
        else:
            inputs = pipeline.Inputs(video=job.video, text=job.text, text_file=job.text_file, captions=job.captions)
            sealed: list[str] = []
            pipeline.run(inputs, config, analyze_only=settings.analyze_only, progress=False,
                         replaceable=made_by_batch, seal=lambda staging: sealed.extend(write_complete(staging, fp)))
            record.status, record.files = "done", sealed
    except Exception as exc:  # noqa: BLE001 - a job's failure, whatever it is, must not stop the batch
        log.debug("job %s failed", job.name, exc_info=True)
        record.error = one_line(exc)
    record.seconds = round(time.perf_counter() - t0, 3)
    return record


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
