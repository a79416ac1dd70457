"""Refine a cue with a slider that learns what you like (sequential line search, Koyama et al. 2017).

    run_pipeline.py refine out/clip --cue 2 [--rounds 5] [--previews 5]
    run_pipeline.py refine out/clip --cue 2 --rounds 3 --pick 4,2,5     # the picks given up front (no prompt)

Each round writes previews of the cue at points along one slider through its settings (valence, intensity,
tempo, register) to out/clip/refine/cue02/roundRR/p1.wav .. pK.wav (p1 = the best so far) and asks for the best
one. After the last round the best point's music goes into the score (the previous version goes to history/,
`revise --undo` restores it). Running it again continues the same search. Exit 1 with ``error: ...`` on a
user error.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from mm2music.errors import Mm2MusicError
from mm2music.recipes import user_error


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="run_pipeline.py refine", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("project", type=Path, help="a scored output folder, e.g. out/clip")
    p.add_argument("--cue", type=int, metavar="N", help="the cue to refine (1-based; may be left out when there is one cue)")
    p.add_argument("--rounds", type=int, default=5, metavar="R", help="sliders to show")
    p.add_argument("--previews", type=int, default=5, metavar="K", help="points previewed along each slider")
    p.add_argument("--pick", metavar="J,J,...", help="the pick of each round, given up front instead of asked on stdin")
    p.add_argument("--seed", type=int, help="seed of the previews' music (default: the cue's own)")
    p.add_argument("--debug", action="store_true", help="tracebacks and debug logs")
    p.add_argument("-q", "--quiet", action="store_true", help="only errors")
    return p.parse_args(argv)


def ask(n: int) -> int | None:
    """Read a pick 1..n from stdin (enter = 1, the current best; q or end of input = stop)."""
    while True:
        print(f"best preview 1-{n} [enter = 1, the current best; q = stop]: ", end="", flush=True)
        line = sys.stdin.readline()
        if not line or line.strip().lower() == "q":
            return None
        if not line.strip():
            return 1
        if line.strip().isdigit() and 1 <= int(line) <= n:
            return int(line)
        print(f"give a number from 1 to {n}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.ERROR if args.quiet else logging.WARNING,
                        format="%(levelname)s: %(message)s")
    from mm2music.project import load_project, locked
    from mm2music.refine.session import RefineSession
    from mm2music.refine.space import AXES
    from mm2music.revise import parse_cue_list

    try:
        with locked(args.project):  # one writer: refine's rounds and its pick go into the project
            cue = args.cue
            if cue is None:
                n = len(load_project(args.project).cues)
                if n != 1:
                    raise Mm2MusicError(f"{args.project} has {n} cues; pass --cue N (1-{n}) to choose the one to refine")
                cue = 1
            if args.rounds < 1:
                raise Mm2MusicError(f"--rounds {args.rounds} must be at least 1")
            picks = parse_cue_list(args.pick, "--pick") if args.pick else None
            session = RefineSession(args.project, cue, args.previews, args.seed)
            done = 0
            for r in range(args.rounds):
                if picks is not None and r >= len(picks):
                    break
                previews = session.next_round()
                print(f"round {session.engine.rounds + 1}: cue {cue} along one slider ({previews[0].wav.parent}):")
                for k, p in enumerate(previews, 1):
                    print(f"  {k}. {p.wav.name}  {p.settings}" + ("  (the best so far)" if k == 1 else ""))
                choice = picks[r] if picks is not None else ask(len(previews))
                if choice is None:
                    break
                session.choose(choice, previews)
                done += 1
            if not done:
                print("no pick made; the score is unchanged")
                return 0
            x, _ = session.best()
            revision = session.apply()
    except Mm2MusicError as exc:
        return user_error(exc, args.debug)
    except KeyboardInterrupt:
        print("error: interrupted; the score is unchanged (the picks so far are kept in refine/)", file=sys.stderr)
        return 130
    print(f"kept the best of {session.engine.rounds} round(s) for cue {cue} ({', '.join(f'{a} {v:.2f}' for a, v in zip(AXES, x))}) "
          f"in {revision.folder} (version {revision.version}; `revise --undo` restores the previous one)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
