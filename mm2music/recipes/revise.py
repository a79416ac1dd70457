"""Revise a scored project: write one cue again and keep the others, variations to pick from, undo.

    run_pipeline.py revise out/clip --cue 3 [--seed S] [--key K] [--tempo BPM] [--instruments LIST] [--intensity X]
    run_pipeline.py revise out/clip --cue 3 --variations 4      # variations/cue03/v1..v4 (.wav preview, .mid, .json)
    run_pipeline.py revise out/clip --cue 3 --pick 2            # keep variation 2
    run_pipeline.py revise out/clip                             # apply the edits made by hand to plan.json
    run_pipeline.py revise out/clip --undo                      # restore the previous version (history/)
    run_pipeline.py revise out/clip --history                   # the versions kept and their sizes

Only the revised cue's notes change in soundtrack.mid; the audio is re-rendered over that cue (and its release
into the next) and spliced in. Exit 0 on success, 1 with ``error: ...`` on a user error (nothing changed).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from mm2music.errors import Mm2MusicError
from mm2music.recipes import user_error
from mm2music.vocab import CUE_TEMPO, FAMILIES


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="run_pipeline.py revise", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("project", type=Path, help="a scored output folder, e.g. out/clip")
    p.add_argument("--cue", type=int, metavar="N", help="the cue to write again (1-based, as in cue_sheet.md)")
    p.add_argument("--seed", type=int, help="seed (default: a new one); the cue a full run with --seed S would write")
    p.add_argument("--key", metavar="KEY", help="e.g. 'D minor', 'F# major', Bb, Em")
    p.add_argument("--tempo", type=float, metavar="BPM", help=f"tempo ({CUE_TEMPO[0]:g}-{CUE_TEMPO[1]:g}); the cue keeps filling its span with whole bars")
    p.add_argument("--instruments", metavar="LIST", help=f"instrument families, melody first, e.g. strings,piano ({', '.join(FAMILIES)})")
    p.add_argument("--intensity", type=float, metavar="X", help="0 (calm) .. 1 (intense): dynamics and note density")
    p.add_argument("--new-theme", action="store_true", help="write the cue a new theme (by default it keeps and restates its own)")
    p.add_argument("--propagate", action="store_true", help="the later cues that restate this cue's theme restate the revised one")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--variations", type=int, metavar="K", help="write K alternatives side by side instead (variations/cueNN/)")
    what.add_argument("--pick", type=int, metavar="J", help="keep variation J of --cue")
    what.add_argument("--undo", action="store_true", help="restore the previous version from history/")
    what.add_argument("--history", action="store_true", help="list the versions kept in history/ and the space they take")
    p.add_argument("--debug", action="store_true", help="tracebacks and debug logs")
    p.add_argument("-q", "--quiet", action="store_true", help="only errors")
    return p.parse_args(argv)


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def print_history(folder: Path) -> None:
    """The current version and those in history/, newest first, with the bytes each holds (and holds alone)."""
    from mm2music.project import load_project, locked, version_sizes

    with locked(folder):
        load_project(folder)  # a one-line error for a folder that is not a project
        sizes, on_disk = version_sizes(folder)
    for i, v in enumerate(sizes):
        where = "current" if i == 0 else f"history/{v.path.name}"
        print(f"{where:<12} version {v.version if v.version is not None else '?':>3}  {_mb(v.bytes):>10}  "
              f"({_mb(v.own_bytes)} its own; the rest shared with other versions)")
    print(f"{len(sizes) - 1} earlier version{'s' if len(sizes) != 2 else ''} kept; {_mb(on_disk)} on disk in all")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.ERROR if args.quiet else logging.WARNING,
                        format="%(levelname)s: %(message)s")
    from mm2music import project, revise

    try:
        if args.history:
            print_history(args.project)
            return 0
        if args.undo:
            left = project.undo(args.project)
            print(f"restored the previous version of {args.project} ({left} earlier version{'s' if left != 1 else ''} left in history/)")
            return 0
        if (args.variations is not None or args.pick is not None) and args.cue is None:
            raise Mm2MusicError("--variations and --pick need --cue N")
        settings = revise.settings_from_args(args.key, args.tempo, args.instruments, args.intensity)
        if args.pick is not None:
            r = revise.pick(args.project, args.cue, args.pick)
            print(f"kept variation {args.pick} of cue {args.cue} in {r.folder} (version {r.version}, {r.seconds:.1f} s)")
            return 0
        if args.variations is not None:
            r = revise.variations(args.project, args.cue, args.variations, settings, args.seed)
            print(f"wrote {len(r.variations)} variations of cue {args.cue} in {r.seconds:.1f} s (the score is unchanged):")
            for path in r.variations:
                print(f"  {path} (+ {path.with_suffix('.mid').name}); keep one with --cue {args.cue} --pick {path.stem[1:]}")
            return 0
        r = revise.revise(args.project, args.cue, settings, args.seed, args.new_theme, args.propagate)
    except Mm2MusicError as exc:
        return user_error(exc, args.debug)
    except KeyboardInterrupt:
        print("error: interrupted; the project was not changed", file=sys.stderr)
        return 130
    cues = ", ".join(str(c) for c in r.cues)
    print(f"revised cue{'s' if len(r.cues) > 1 else ''} {cues} of {r.folder} in {r.seconds:.1f} s (version {r.version}; "
          f"the previous one is in history/, `--undo` restores it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
