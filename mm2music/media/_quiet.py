"""Silence the C libraries underneath (the ffmpeg inside decord, OpenCV): they write to fd 2 directly."""

from __future__ import annotations

import contextlib
import os
import sys
import threading

_lock = threading.Lock()


@contextlib.contextmanager
def quiet_stderr():
    """Redirect the process's file descriptor 2 to /dev/null for the duration of the block.

    Python-level ``sys.stderr`` writes are flushed first so nothing of ours is lost or reordered. Set
    ``MM2MUSIC_NATIVE_LOGS=1`` to see the native logs when debugging.
    """
    if os.environ.get("MM2MUSIC_NATIVE_LOGS"):
        yield
        return
    with _lock:
        try:
            sys.stderr.flush()
        except (AttributeError, ValueError):
            pass
        try:
            saved = os.dup(2)
        except OSError:  # no fd 2 (embedded interpreters): nothing to silence
            yield
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)
