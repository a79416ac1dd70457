"""Train the music decoder, resume a run, or export a run's best checkpoint.

The command lives in the package (``mm2music.recipes.train``) so that an installed ``mm2music train`` has it;
this script keeps ``python pipelines/train.py ...`` (and ``torchrun pipelines/train.py``) working from the checkout.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mm2music.recipes.train import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
