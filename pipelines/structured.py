"""Write the structured set of restated themes (train tunes only) that a training config mixes in.

    python pipelines/structured.py --config configs/train/music21-structured.yaml [--pairs 2] [--out DIR]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mm2music.training.structured import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
