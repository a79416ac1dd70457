"""``soundtrack.musicxml`` and ``timeline.png`` written in a process of its own, beside the run rather than inside it.

music21 and matplotlib are pure Python where it counts: on a thread of the run, music21 holds the interpreter's
lock for its whole export (about a second for a minute of film) and matplotlib for its drawing (~0.4 s), while
the render, the editor's timeline and the stems wait their turn for it; importing matplotlib cost a fresh run
~0.6 s more of it while the video decoded. A :class:`WriterProcess` is a Python process started once (the run
starts it while the video decodes; see :mod:`mm2music.preload`) that imports both and then runs each job it is
sent (:data:`JOBS`: :func:`~mm2music.arrange.musicxml.write_musicxml` and
:func:`~mm2music.graph.export.write_timeline`, the same functions, so the same files) on the machine's other
core. A job's arguments go to it pickled over a pipe (a score's notes: a few hundred kB for an hour of film) and
it answers when the file is written; it ends when the run's process does (its input closes). Where it cannot be
started or fails, the job runs in the run's own process, as before, so an error is raised where it always was.
"""

from __future__ import annotations

import atexit
import importlib
import logging
import os
import pickle
import struct
import subprocess
import sys
import threading
from pathlib import Path

log = logging.getLogger(__name__)

READY = "ready"
# what the worker runs: job name -> (module, function); each writes a file and returns nothing
JOBS = {
    "musicxml": ("mm2music.arrange.musicxml", "write_musicxml"),
    "timeline": ("mm2music.graph.export", "write_timeline"),
}
PRELOAD = ("music21.musicxml.m21ToXml", "matplotlib.backends.backend_agg")  # imported before the first job
RESTART_RSS_KB = 1 << 20  # a worker that grew past 1 GiB (a feature-length score) ends after its answer


def _send(stream, obj) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("<Q", len(data)) + data)
    stream.flush()


def _receive(stream):
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError("the writer process closed its pipe")
    (n,) = struct.unpack("<Q", head)
    data = stream.read(n)
    if len(data) < n:
        raise EOFError("the writer process closed its pipe mid-message")
    return pickle.loads(data)


def _job(name: str):
    module, function = JOBS[name]
    return getattr(importlib.import_module(module), function)


class WriterProcess:
    """The worker process, started on :meth:`start` (or the first :meth:`run`), shared by the threads of the
    run's process (one job at a time)."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._ready = False

    def start(self) -> None:
        """Start the worker, if it is not running (returns at once: it imports its libraries on its own)."""
        with self._lock:
            self._start()

    def _start(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            return
        package_root = str(Path(__file__).resolve().parents[2])  # this copy of mm2music, whatever is installed
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([package_root, *filter(None, [os.environ.get("PYTHONPATH")])])}
        self._proc = subprocess.Popen([sys.executable, "-m", __name__], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                                      close_fds=True)
        self._ready = False

    def run(self, job: str, *args) -> bool:
        """Have the worker run ``JOBS[job](*args)``; False where it could not (nothing to rely on then: run it in
        this process)."""
        with self._lock:
            try:
                self._start()
                if not self._ready:
                    if _receive(self._proc.stdout) != READY:
                        raise EOFError("the writer process did not start")
                    self._ready = True
                _send(self._proc.stdin, (job, args))
                failed, done = _receive(self._proc.stdout)
            except (OSError, EOFError, pickle.PickleError, AttributeError, TypeError) as exc:
                log.debug("writer process unavailable (%s): %s in this process", exc, job)
                self._stop()
                return False
            if done:  # it ended after this job, to give its memory back
                self._proc.wait()
                self._proc = None
            if failed:
                log.debug("writer process failed (%s): %s in this process", failed, job)
                return False
            return True

    def _stop(self) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait()
            self._proc = None

    def close(self, wait: bool = True) -> None:
        """End the worker: its input closes and it exits (``wait``: this returns once it has)."""
        with self._lock:
            if self._proc is not None:
                try:
                    self._proc.stdin.close()
                    if wait:
                        self._proc.wait(timeout=30)
                except (OSError, subprocess.TimeoutExpired):
                    self._stop()
                self._proc = None


_PROCESS = WriterProcess()
atexit.register(_PROCESS.close, wait=False)  # the run's process does not wait for the worker's own exit


def start() -> None:
    """Start the process's writer ahead of the first job (what :mod:`mm2music.preload` does)."""
    _PROCESS.start()


def run_apart(job: str, *args) -> None:
    """``JOBS[job](*args)`` in the worker process, or here where it cannot."""
    if not _PROCESS.run(job, *args):
        _job(job)(*args)


def _serve() -> None:
    """The worker: import the jobs' libraries, say so, then run each job sent until the input closes."""
    import gc
    import resource

    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # anything a library prints goes to stderr, not the pipe
    inp = sys.stdin.buffer
    for name in JOBS:
        _job(name)
    for module in PRELOAD:
        importlib.import_module(module)

    gc.freeze()  # the libraries' objects: out of the collector's walks
    _send(out, READY)
    while True:
        try:
            job, args = _receive(inp)
        except EOFError:
            return
        try:
            _job(job)(*args)
            failed = None
        except Exception as exc:  # noqa: BLE001 - reported; the run runs the job itself and raises it there
            failed = f"{type(exc).__name__}: {exc}"
        done = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss > RESTART_RSS_KB
        _send(out, (failed, done))
        if done:
            return


if __name__ == "__main__":
    _serve()
