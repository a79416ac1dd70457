#!/usr/bin/env python
"""mm2music entry point: ``python run_pipeline.py --help``. Same CLI as the ``mm2music`` console script."""

import sys

from mm2music.cli import main

if __name__ == "__main__":
    sys.exit(main())
