"""Convert a training corpus into the MIDI cache + manifest layout (resumable: re-run to continue).

The command lives in the package (``mm2music.recipes.prepare_corpus``) so that an installed ``mm2music prepare-corpus`` has it;
this script keeps ``python pipelines/prepare_corpus.py ...`` (and ``torchrun pipelines/prepare_corpus.py``) working from the checkout.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mm2music.recipes.prepare_corpus import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
