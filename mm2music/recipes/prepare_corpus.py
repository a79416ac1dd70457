"""Convert a training corpus into the MIDI cache + manifest layout (resumable: re-run to continue).

    mm2music prepare-corpus --corpus music21 [--sources oneill ryan aird nottingham] [--workers 2] [--limit N]
    mm2music prepare-corpus --corpus lakh|maestro|lakhnes|bachdoodle --path DIR

Output: ``<cache dir>/<corpus>/`` with ``midi/``, ``manifest.jsonl``, ``failures.jsonl`` and
``summary.json`` (see data/corpora/README.md). Exit 0 on success, 1 with ``error: ...`` on a user error.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from mm2music.errors import Mm2MusicError
from mm2music.recipes import user_error

CORPORA = ("music21", "lakh", "maestro", "lakhnes", "bachdoodle")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="mm2music prepare-corpus", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--corpus", required=True, choices=CORPORA, help="which corpus to convert")
    p.add_argument("--path", type=Path, default=None, help="root of a user-supplied corpus (not for music21)")
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="cache root (default: <user cache>/mm2music/corpora, or $MM2MUSIC_CORPUS_CACHE)")
    p.add_argument("--workers", type=int, default=2, help="worker processes")
    p.add_argument("--sources", nargs="+", default=None, metavar="SOURCE",
                   help="convert only these collections (manifest 'source' names, e.g. oneill ryan aird nottingham "
                        "for music21); a later run without --sources converts the rest")
    p.add_argument("--limit", type=int, default=None, help="convert at most this many pieces in this run")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per piece before it counts as failed")
    p.add_argument("--retry-failures", action="store_true", help="retry the pieces that failed before")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--debug", action="store_true", help="debug logging and tracebacks")
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> dict:
    from mm2music.training import corpora

    common = dict(cache_root=args.cache_dir, workers=args.workers, limit=args.limit, timeout_s=args.timeout,
                  retry_failures=args.retry_failures, progress=not args.no_progress, sources=args.sources)
    if args.corpus == "music21":
        if args.path is not None:
            raise Mm2MusicError("--path is not used with --corpus music21 (its corpus ships inside music21); drop it")
        result = corpora.convert_music21_corpus(**common)
    else:
        if args.path is None:
            raise Mm2MusicError(f"--corpus {args.corpus} needs --path DIR pointing at the downloaded corpus")
        loader = getattr(corpora, f"load_{args.corpus}")
        result = loader(args.path, **common)
    return {
        "corpus_dir": str(result.corpus_dir),
        "converted": result.converted,
        "failed": result.failed,
        "skipped": result.skipped,
        **({"sources": args.sources, "not_selected": result.not_selected} if args.sources else {}),
        "pieces": result.total_pieces,
        "failures": result.total_failures,
        "elapsed_s": round(result.elapsed_s, 1),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        report = run(args)
    except Mm2MusicError as exc:
        return user_error(exc, args.debug)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
