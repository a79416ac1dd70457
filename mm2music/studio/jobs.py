"""Background jobs of the studio: one worker thread runs them in order (the machine's cores go to one score
at a time), at most one job per project is queued or running, and each job keeps the messages it reported so
that a page can follow it over server-sent events (and catch up after a reload)."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from mm2music.errors import Mm2MusicError

log = logging.getLogger(__name__)


class Busy(Mm2MusicError):
    """A project already has a job queued or running."""


@dataclass
class Job:
    id: int
    project: str
    kind: str  # "score", "rescore", "revise", "variations", "pick", "undo", "lock", "refine-round", ...
    state: str = "queued"  # queued -> running -> done | failed
    messages: list[str] = field(default_factory=list)
    error: str | None = None  # the one-line message the CLI would print after "error: "
    result: dict = field(default_factory=dict)
    started: float = field(default_factory=time.time)
    seconds: float | None = None

    def to_json(self) -> dict:
        return {"id": self.id, "project": self.project, "kind": self.kind, "state": self.state, "messages": self.messages,
                "error": self.error, "result": self.result, "seconds": self.seconds}


class JobRunner:
    """Runs ``fn(report)`` jobs on one worker thread; ``report(text)`` appends a progress message."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="studio-job")
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._ids = itertools.count(1)
        self.jobs: dict[int, Job] = {}

    def active(self, project: str) -> Job | None:
        with self._lock:
            return next((j for j in self.jobs.values() if j.project == project and j.state in ("queued", "running")), None)

    def submit(self, project: str, kind: str, fn: Callable[[Callable[[str], None]], dict | None],
               on_done: Callable[[Job], None] | None = None) -> Job:
        with self._lock:
            busy = next((j for j in self.jobs.values() if j.project == project and j.state in ("queued", "running")), None)
            if busy is not None:
                raise Busy(f"project '{project}' is busy with a {busy.kind} job (#{busy.id}); wait for it to finish")
            job = Job(next(self._ids), project, kind)
            self.jobs[job.id] = job
        self._pool.submit(self._run, job, fn, on_done)
        return job

    def _say(self, job: Job, text: str) -> None:
        with self._changed:
            job.messages.append(text)
            self._changed.notify_all()

    def _run(self, job: Job, fn, on_done) -> None:
        t0 = time.perf_counter()
        self._set(job, state="running")
        try:
            result = fn(lambda text: self._say(job, text)) or {}
            self._set(job, state="done", result=result)
        except Mm2MusicError as exc:
            self._set(job, state="failed", error=" ".join(str(exc).split()))
        except Exception as exc:  # a bug, not a user error: keep the server up and say so
            log.exception("studio job %s (%s on %s) failed", job.id, job.kind, job.project)
            self._set(job, state="failed", error=f"internal error ({type(exc).__name__}: {' '.join(str(exc).split())}); see the server's log")
        finally:
            with self._changed:
                job.seconds = round(time.perf_counter() - t0, 2)
                self._changed.notify_all()
            if on_done is not None:
                on_done(job)

    def _set(self, job: Job, **changes) -> None:
        with self._changed:
            for k, v in changes.items():
                setattr(job, k, v)
            self._changed.notify_all()

    def wait(self, job: Job, seen: int, timeout: float) -> tuple[list[str], bool]:
        """Messages after the first ``seen`` and whether the job is over; blocks up to ``timeout`` s for news."""
        with self._changed:
            over = lambda: job.state in ("done", "failed") and job.seconds is not None  # noqa: E731
            if len(job.messages) <= seen and not over():
                self._changed.wait(timeout)
            return job.messages[seen:], over()

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
