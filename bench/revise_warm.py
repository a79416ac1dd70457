"""Warm-process time of one revise on a scored project: the seconds of a second revise (cue 2) in one process,
after a first one (cue 3) loaded the model. Run it from two checkouts alternately to compare them at one load.

    python bench/revise_warm.py out/sample
"""

import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mm2music import revise  # noqa: E402


def main(src: Path) -> float:
    folder = Path(tempfile.mkdtemp()) / src.name
    shutil.copytree(src, folder)
    revise.revise(folder, 3)
    t0 = time.perf_counter()
    revise.revise(folder, 2)
    return time.perf_counter() - t0


if __name__ == "__main__":
    print(f"{main(Path(sys.argv[1])):.2f}")
