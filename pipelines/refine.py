"""Refine a cue with a slider: sequential line search on a preference Gaussian process.

The command lives in the package (``mm2music.recipes.refine``) so that an installed ``mm2music refine`` has it;
this script keeps ``python pipelines/refine.py ...`` working from the checkout.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mm2music.recipes.refine import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
