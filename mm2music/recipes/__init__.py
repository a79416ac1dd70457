"""The commands besides scoring, as the installed CLI runs them (``mm2music train``, ``mm2music prepare-corpus``,
``revise``, ``refine``, ``studio``); ``pipelines/*.py`` run the same from the checkout."""

from __future__ import annotations

import sys

from mm2music.errors import Mm2MusicError


def user_error(exc: Mm2MusicError, debug: bool) -> int:
    """The CLI's error contract: one line ``error: ...`` on stderr and exit status 1 (``debug``: the traceback)."""
    if debug:
        raise exc
    print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
    return 1
