"""``soundtrack.musicxml`` written in a process of its own, beside the run rather than inside it.

music21 is pure Python: on a thread of the run it holds the interpreter's lock for its whole export (about a
second for a minute of film), while the timeline figure, the editor's timeline and the stems wait their turn for
it and a core stays idle. A :class:`MusicXmlProcess` is a Python process started once (the run starts it while
the video decodes; see :mod:`mm2music.preload`) that imports music21 and then writes each score it is sent
(:func:`~mm2music.arrange.musicxml.write_musicxml`, the same function, so the same file) on the machine's other
core. The score goes to it pickled over a pipe (its notes, a few hundred kB for an hour of film) and it answers
when the file is written; it ends when the run's process does (its input closes). Where it cannot be started or
fails, the score is written in the run's own process, as before, so an error is raised where it always was.
"""

from __future__ import annotations

import atexit
import logging
import os
import pickle
import struct
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger(__name__)

READY = "ready"
RESTART_RSS_KB = 1 << 20  # a worker that grew past 1 GiB (a feature-length score) ends after its answer


def _send(stream, obj) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("<Q", len(data)) + data)
    stream.flush()


def _receive(stream):
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError("the MusicXML process closed its pipe")
    (n,) = struct.unpack("<Q", head)
    data = stream.read(n)
    if len(data) < n:
        raise EOFError("the MusicXML process closed its pipe mid-message")
    return pickle.loads(data)


class MusicXmlProcess:
    """The worker process, started on :meth:`start` (or the first :meth:`write`), shared by the threads of the
    run's process (one score at a time)."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._ready = False

    def start(self) -> None:
        """Start the worker, if it is not running (returns at once: it imports music21 on its own)."""
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

    def write(self, music: Sequence, path: Path, title: str, hits: Sequence[float]) -> bool:
        """Have the worker write the MusicXML of ``music`` to ``path``; False where it could not (nothing to
        rely on then: write it in this process)."""
        with self._lock:
            try:
                self._start()
                if not self._ready:
                    if _receive(self._proc.stdout) != READY:
                        raise EOFError("the MusicXML process did not start")
                    self._ready = True
                _send(self._proc.stdin, (list(music), str(path), title, list(hits)))
                failed, done = _receive(self._proc.stdout)
            except (OSError, EOFError, pickle.PickleError, AttributeError, TypeError) as exc:
                log.debug("MusicXML process unavailable (%s): writing the score in this process", exc)
                self._stop()
                return False
            if done:  # it ended after this score, to give its memory back
                self._proc.wait()
                self._proc = None
            if failed:
                log.debug("MusicXML process failed (%s): writing the score in this process", failed)
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


_PROCESS = MusicXmlProcess()
atexit.register(_PROCESS.close, wait=False)  # the run's process does not wait for the worker's own exit


def start() -> None:
    """Start the process's MusicXML worker ahead of the first score (what :mod:`mm2music.preload` does)."""
    _PROCESS.start()


def write_musicxml_apart(music: Sequence, path: Path, title: str = "Soundtrack", hits: Sequence[float] = ()) -> Path:
    """:func:`~mm2music.arrange.musicxml.write_musicxml` in the worker process, or here where it cannot."""
    if not _PROCESS.write(music, path, title, hits):
        from mm2music.arrange.musicxml import write_musicxml

        write_musicxml(music, path, title, hits)
    return Path(path)


def _serve() -> None:
    """The worker: import music21, say so, then write each score sent until the input closes."""
    import gc
    import resource

    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # anything a library prints goes to stderr, not the pipe
    inp = sys.stdin.buffer
    from mm2music.arrange.musicxml import write_musicxml
    import music21.musicxml.m21ToXml  # noqa: F401 - imported before the first score

    gc.freeze()  # the libraries' objects: out of the collector's walks
    _send(out, READY)
    while True:
        try:
            music, path, title, hits = _receive(inp)
        except EOFError:
            return
        try:
            write_musicxml(music, Path(path), title, hits)
            failed = None
        except Exception as exc:  # noqa: BLE001 - reported; the run writes the score itself and raises it there
            failed = f"{type(exc).__name__}: {exc}"
        done = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss > RESTART_RSS_KB
        _send(out, (failed, done))
        if done:
            return


if __name__ == "__main__":
    _serve()
