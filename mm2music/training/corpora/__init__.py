"""Training corpora converted to one layout: MIDI files + ``manifest.jsonl`` + ``summary.json``.

``convert_music21_corpus`` converts music21's bundled corpus; ``load_lakh``, ``load_maestro``,
``load_lakhnes`` and ``load_bachdoodle`` convert user-supplied corpora from their published layouts.
See ``data/corpora/README.md`` for the manifest format.
"""

from mm2music.training.corpora.cache import (
    RunResult,
    Task,
    default_cache_root,
    read_manifest,
    split_for,
)
from mm2music.training.corpora.midi_corpora import load_bachdoodle, load_lakh, load_lakhnes, load_maestro
from mm2music.training.corpora.music21_corpus import convert_music21_corpus, music21_cache_dir

__all__ = [
    "RunResult",
    "Task",
    "convert_music21_corpus",
    "default_cache_root",
    "load_bachdoodle",
    "load_lakh",
    "load_lakhnes",
    "load_maestro",
    "music21_cache_dir",
    "read_manifest",
    "split_for",
]
