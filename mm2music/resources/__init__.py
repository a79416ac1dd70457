"""Files shipped with the package, found through :mod:`importlib.resources` (installed or in the checkout).

``configs/`` (the YAML configs, ``train/`` among them), ``music21/`` (the shipped music checkpoint),
``music21-open/`` (the opt-in one trained on the unrestricted collections) and ``samples/`` (sample texts and
captions). In the repository they are links to ``configs/``, ``checkpoints/music21/``,
``checkpoints/music21-open/`` and ``data/samples/`` at its root; building a wheel (``pip install .``) copies the
files they point to into the package, so an installed ``mm2music`` runs from any folder.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def resource_path(*parts: str) -> Path:
    """The shipped file or folder ``parts`` as a path (wheels install unzipped, so this is a real path)."""
    return Path(str(files(__name__).joinpath(*parts)))
