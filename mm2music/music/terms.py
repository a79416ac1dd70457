"""What the training data allows: each collection of music21's corpus with what its own files say of their use.

Film-makers ask of every music model what its music may be used for. music21 ships its corpus "with the
permission of the encoders ... some encodings included in the corpus may not be used for commercial uses or have
other restrictions" (``music21/corpus/license.txt``). What each collection's folder says, read from the files
themselves (no legal advice; the encoders' own words decide):

* ``essen``: ``essenFolksong/license.txt`` — the project's director "has given permission for non-commercial
  distribution and use of these files in music21".
* ``palestrina``: every Humdrum ``.krn`` file carries its own copyright line and licence reference.
* ``bach``, ``beethoven``, ``monteverdi``, ``josquin``, ``trecento``, ...: encodings (Humdrum conversions and
  MusicXML) of which a share carry copyright lines of their encoders; the compositions are centuries old.
* ``oneill``, ``ryan``, ``aird``, ``nottingham``, ``miscFolk``: tunes from 19th-century publications,
  transcribed by volunteers; their files state no licence.

A checkpoint records the collections it was trained on in ``training_data.json`` (written by
``pipelines/train.py --export``); the pipeline copies the summary into ``project.json`` and the cue sheet.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Terms:
    source: str  # manifest source name (mm2music.training.corpora.music21_corpus)
    commercial: str  # "no" (the terms forbid it) | "unclear" (copyright lines or licence references to read) | "not stated"
    says: str  # what the collection's files say, briefly


COLLECTIONS: dict[str, Terms] = {t.source: t for t in (
    Terms("essen", "no", "essenFolksong/license.txt: permission for non-commercial distribution and use only"),
    Terms("palestrina", "unclear", "Humdrum encodings, each with its own copyright line and licence reference"),
    Terms("bach", "unclear", "Humdrum-derived encodings; some carry their encoders' copyright lines"),
    Terms("beethoven", "unclear", "encodings of which some carry copyright lines"),
    Terms("monteverdi", "unclear", "encodings of which some carry copyright lines"),
    Terms("josquin", "unclear", "encodings with copyright lines"),
    Terms("trecento", "unclear", "encodings of which some carry copyright lines"),
    Terms("mozart", "unclear", "encodings of which some carry copyright lines"),
    Terms("oneill", "not stated", "O'Neill's Music of Ireland (1903) transcribed by volunteers; no licence in the files"),
    Terms("ryan", "not stated", "Ryan's Mammoth Collection (1883) transcribed by volunteers; no licence in the files"),
    Terms("aird", "not stated", "Aird's Airs (1782-1803) transcribed by volunteers; no licence in the files"),
    Terms("nottingham", "not stated", "the Nottingham folk-tune dataset; no licence in the files"),
)}
OTHER = "music21 corpus/license.txt: distributed with the encoders' permission; some encodings may not be used commercially"
# the collections whose files neither forbid commercial use nor carry copyright lines: the opt-in open model
OPEN_SOURCES = tuple(s for s, t in COLLECTIONS.items() if t.commercial == "not stated")
RECORD = "training_data.json"


def terms_of(source: str) -> Terms:
    return COLLECTIONS.get(source, Terms(source, "unclear", OTHER))


def training_record(sources: list[str] | None, pieces_by_source: dict[str, int] | None = None,
                    families: dict[str, int] | None = None) -> dict:
    """The record a checkpoint keeps of its training data: every collection, its pieces and its terms, and a
    one-line summary of what the model's training data allows. ``sources`` None or empty: the whole corpus
    (every source in ``pieces_by_source``, or every known collection). ``families``: train pieces per
    instrument family of the condition prefix (what a ``Family_*`` condition was learned from)."""
    names = sorted(sources or (pieces_by_source or {}) or COLLECTIONS)
    rows = [{"source": s, "pieces": (pieces_by_source or {}).get(s), "commercial": terms_of(s).commercial,
             "terms": terms_of(s).says} for s in names]
    barred = [r["source"] for r in rows if r["commercial"] == "no"]
    unclear = [r["source"] for r in rows if r["commercial"] == "unclear"]
    if barred:
        summary = (f"trained on collections whose terms allow non-commercial use only ({', '.join(barred)})"
                   + (f" and on encodings with their own copyright lines ({', '.join(unclear)})" if unclear else "")
                   + ": check these terms before any commercial use")
    elif unclear:
        summary = f"trained on encodings with their own copyright lines ({', '.join(unclear)}): read them before commercial use"
    else:
        summary = "trained only on collections whose files state no licence (19th-century tune books transcribed by volunteers)"
    return {"collections": rows, "summary": summary, **({"families": dict(families)} if families else {})}


def write_training_record(out_dir: str | Path, sources: list[str] | None, pieces_by_source: dict[str, int] | None = None,
                          families: dict[str, int] | None = None) -> Path:
    path = Path(out_dir) / RECORD
    path.write_text(json.dumps(training_record(sources, pieces_by_source, families), indent=1) + "\n")
    return path


def checkpoint_training_data(checkpoint_dir: str | Path) -> dict:
    """The checkpoint's record (:func:`training_record`), or a summary that says it is not recorded."""
    path = Path(checkpoint_dir) / RECORD
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {"collections": [], "summary": f"not recorded: '{path}' is missing; ask whoever trained this checkpoint"}
