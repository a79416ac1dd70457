"""Train the music decoder, resume a run, or export a run's best checkpoint.

    mm2music train --config train/music21 [--set key=value ...]     (a shipped config, or a YAML path)
    mm2music train --resume runs/music21-20261122-034500
    torchrun --nproc_per_node 2 pipelines/train.py --config configs/train/debug.yaml
    mm2music train --export runs/music21-20261122-034500 [--to checkpoints/music21]

A run writes everything into its own folder under ``runs_dir`` (see mm2music/training/train.py). Exit 0 on
success, 1 with ``error: ...`` on a user error, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from mm2music.errors import Mm2MusicError
from mm2music.recipes import offline_environment, user_error


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="mm2music train", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--config", help="training config: a YAML path, or a shipped one by name (train/music21, train/debug)")
    what.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue a run from its last checkpoint")
    what.add_argument("--export", type=Path, metavar="RUN_DIR", help="copy a run's best checkpoint and write its model card")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key, e.g. steps=100")
    p.add_argument("--run-dir", type=Path, default=None, help="run folder (default: <runs_dir>/<name>-<UTC time>)")
    p.add_argument("--to", type=Path, default=Path("checkpoints/music21"), help="export destination")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--debug", action="store_true", help="debug logging and tracebacks")
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> Path:
    from mm2music.training.train import export_run, load_train_config, read_run_config, train

    if args.export:
        return export_run(args.export, args.to)
    if args.resume:
        if args.set:
            raise Mm2MusicError("--set cannot change a run that is resumed (the result must equal the uninterrupted run); start a new run instead")
        return train(read_run_config(args.resume), run_dir=args.resume, resume=True, progress=not args.no_progress)
    return train(load_train_config(args.config, args.set), run_dir=args.run_dir, progress=not args.no_progress)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rank = int(os.environ.get("RANK", "0"))
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO if rank == 0 else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    offline_environment()
    try:
        out = run(args)
    except Mm2MusicError as exc:
        return user_error(exc, args.debug)
    if rank == 0:
        print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
