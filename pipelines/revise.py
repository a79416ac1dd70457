"""Revise a scored project: write one cue again and keep the others, variations to pick from, undo.

The command lives in the package (``mm2music.recipes.revise``) so that an installed ``mm2music revise`` has it;
this script keeps ``python pipelines/revise.py ...`` working from the checkout.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mm2music.recipes.revise import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
