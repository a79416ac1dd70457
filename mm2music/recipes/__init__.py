"""The commands besides scoring, as the installed CLI runs them (``mm2music train``, ``mm2music prepare-corpus``,
``revise``, ``refine``, ``studio``); ``pipelines/*.py`` run the same from the checkout."""

from __future__ import annotations

import os
import sys

from mm2music.errors import Mm2MusicError


def offline_environment() -> None:
    """Environment for the libraries underneath, set by a command before they load: never reach for a model hub,
    keep native logs down. Values the user set are kept."""
    for name, value in (("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"), ("TOKENIZERS_PARALLELISM", "false"),
                        ("OPENCV_LOG_LEVEL", "ERROR"), ("OPENCV_FFMPEG_LOGLEVEL", "-8")):
        os.environ.setdefault(name, value)


def user_error(exc: Mm2MusicError, debug: bool) -> int:
    """The CLI's error contract: one line ``error: ...`` on stderr and exit status 1 (``debug``: the traceback)."""
    if debug:
        raise exc
    print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
    return 1
