"""The schedulers: local worker processes (a dying worker fails only its own job) and Ray tasks."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

from mm2music.batch.jobs import Job
from mm2music.batch.records import JobRecord
from mm2music.batch.worker import Settings, _init_worker, one_line, run_job
from mm2music.errors import ConfigError

log = logging.getLogger(__name__)

EXECUTORS = ("local", "ray")


def _run_pool(jobs: list[Job], settings: Settings, workers: int, finished: Callable[[int, JobRecord], None],
              task: Callable[[Job, Settings], JobRecord] = run_job) -> None:
    """At most ``2 * workers`` jobs in flight, so memory stays bounded however many jobs there are. A worker that
    dies (killed, out of memory, a crash in native code) breaks the pool: the jobs it held are then re-run one
    at a time in a fresh process each, so only a job that kills its own worker again fails (as under Ray)."""
    todo = list(range(len(jobs)))
    while todo:
        caught, todo = _pool_pass(jobs, todo, settings, workers, finished, task)
        for index in caught:
            again, _ = _pool_pass(jobs, [index], settings, 1, finished, task)
            if again:
                finished(index, JobRecord.of(jobs[index], settings.out_dir, status="failed",
                                             error="its worker process died (killed, out of memory or crashed) twice; "
                                                   "run it alone with --debug to see why"))


def _pool_pass(jobs: list[Job], todo: list[int], settings: Settings, workers: int, finished: Callable[[int, JobRecord], None],
               task: Callable[[Job, Settings], JobRecord]) -> tuple[list[int], list[int]]:
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


def _ray_job(job: Job, settings: Settings) -> JobRecord:
    """A Ray task: the first call in a Ray worker process sets it up (the music model stays loaded there)."""
    global _RAY_WORKER_READY
    if not _RAY_WORKER_READY:
        _init_worker(settings, logging.WARNING)
        _RAY_WORKER_READY = True
    return run_job(job, settings)


def _run_ray(jobs: list[Job], settings: Settings, workers: int, finished: Callable[[int, JobRecord], None],
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
                    record = JobRecord.of(jobs[index], settings.out_dir, status="failed",
                                          error=f"Ray task failed: {one_line(exc).splitlines()[0][:300]}")
                finished(index, record)
    finally:
        if started:
            ray.shutdown()
