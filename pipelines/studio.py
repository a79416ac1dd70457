"""The studio: a local web page to score a film, see the plan on a timeline, play the result and edit it.

The command lives in the package (``mm2music.recipes.studio``) so that an installed ``mm2music studio`` has it;
this script keeps ``python pipelines/studio.py ...`` working from the checkout.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mm2music.recipes.studio import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
