"""music21's bundled corpus (~15,000 works) converted to MIDI by walking each parsed score ourselves.

music21's own MIDI writer is avoided on purpose: it starts a pickup bar at time 0 (every later bar
line shifts), writes out repeats, writes one time signature per part and uses 10,080 ticks per quarter.
Here the written notes are kept as written (no repeat expansion), ties are merged, the pickup is padded
so that bar lines stay on the downbeat grid, the time signatures come from the first part only, and the
file is written at 480 ticks per quarter.
"""

from __future__ import annotations

import logging
from pathlib import Path

from mm2music.training.corpora.cache import TICKS_PER_QUARTER, Task, default_cache_root, run_conversion, safe_name

log = logging.getLogger(__name__)

SKIPPED_FORMATS = ("rntxt",)  # Roman-numeral analyses, not scores
# First path component of a corpus file -> source name in the manifest.
SOURCE_NAMES = {
    "essenFolksong": "essen",
    "oneills1850": "oneill",
    "ryansMammoth": "ryan",
    "airdsAirs": "aird",
    "nottingham-dataset": "nottingham",
    "schumann_robert": "schumann",
    "schumann_clara": "clara_schumann",
}
VOCAL_SOURCES = {"bach", "palestrina", "josquin", "monteverdi", "trecento", "ciconia", "luca", "lusitano"}
FIDDLE_SOURCES = {"oneill", "ryan", "aird", "nottingham"}
# Quarter notes per minute when a score has no metronome mark.
DEFAULT_QPM = {"bach": 80.0, "essen": 100.0, **{s: 110.0 for s in FIDDLE_SOURCES},
               **{s: 120.0 for s in VOCAL_SOURCES - {"bach"}}}
FALLBACK_QPM = 100.0
CHOIR, PIANO, VIOLIN, FLUTE = 52, 0, 40, 73  # General MIDI programs (0-based)
# Part/instrument name keywords -> General MIDI program; checked in order, instruments before voices.
_NAME_PROGRAMS = (
    ("piano", 0), ("harpsichord", 6), ("organ", 19), ("guitar", 24), ("lute", 24), ("harp", 46),
    ("violoncello", 42), ("cello", 42), ("contrabass", 43), ("double bass", 43), ("viola", 41),
    ("violin", 40), ("flute", 73), ("recorder", 74), ("oboe", 68), ("clarinet", 71), ("bassoon", 70),
    ("horn", 60), ("trumpet", 56), ("trombone", 57),
    ("soprano", CHOIR), ("alto", CHOIR), ("tenor", CHOIR), ("bass", CHOIR), ("voice", CHOIR),
    ("vox", CHOIR), ("cantus", CHOIR), ("altus", CHOIR), ("superius", CHOIR), ("quintus", CHOIR),
    ("sextus", CHOIR), ("canto", CHOIR), ("choir", CHOIR),
)
DEFAULT_VELOCITY = 80


def music21_version() -> str:
    import music21

    return str(music21.__version__)


def music21_cache_dir(cache_root: str | Path | None = None) -> Path:
    """``<cache root>/music21-<music21 version>``: a new music21 release gets a fresh conversion."""
    return Path(cache_root or default_cache_root()) / f"music21-{music21_version()}"


def source_name(source_path: str) -> str:
    top = source_path.split("/", 1)[0]
    return SOURCE_NAMES.get(top, top)


def music21_tasks() -> list[Task]:
    """One task per work of the bundled corpus: every tune of a multi-tune abc file is its own piece."""
    from music21 import corpus

    core = corpus.corpora.CoreCorpus()
    root = _corpus_root()
    tasks: list[Task] = []
    bundle = core.metadataBundle
    # iterating the bundle itself goes through __getitem__, which copies every entry per step (18 s)
    entries = list(getattr(bundle, "_metadataEntries", {}).values()) or list(bundle)
    rels = [str(e.sourcePath).replace("\\", "/") for e in entries]
    seen_files = set(rels)
    # a multi-tune file is listed once per tune and once as a whole (an opus): keep the tunes only
    numbered = {rel for rel, e in zip(rels, entries) if e.number not in (None, "")}
    for rel, entry in zip(rels, entries):
        if rel.rsplit(".", 1)[-1] in SKIPPED_FORMATS or (entry.number in (None, "") and rel in numbered):
            continue
        tasks.append(_task(rel, entry.number, _title(entry)))
    # files the metadata bundle does not list: one piece each
    for path in core.getPaths():
        rel = Path(path).relative_to(root).as_posix()
        if rel not in seen_files and rel.rsplit(".", 1)[-1] not in SKIPPED_FORMATS:
            tasks.append(_task(rel, None, None))
    return tasks


def _task(rel: str, number, title: str | None) -> Task:
    number = None if number in (None, "") else str(number)
    piece_id = f"music21/{rel}" + (f"#{number}" if number else "")
    relpath = f"midi/{rel}" + (f"/{safe_name(number)}.mid" if number else ".mid")
    return Task(id=piece_id, relpath=relpath, source=source_name(rel), payload=(rel, number),
                meta={"title": title} if title else {})


def _title(entry) -> str | None:
    try:
        title = entry.metadata.title
    except AttributeError:  # a few entries have no metadata; the title is only informative
        return None
    return str(title) if title else None


def _corpus_root() -> Path:
    from music21 import common

    return Path(common.getCorpusFilePath())


def convert_music21_task(task: Task):
    """Worker: parse one work from the corpus and return it as a symusic Score."""
    from music21 import converter, stream

    rel, number = task.payload
    parsed = converter.parse(_corpus_root() / rel, number=number, forceSource=True, storePickle=False)
    if isinstance(parsed, stream.Opus):
        scores = list(parsed.scores)
        if not scores:
            raise ValueError("the file holds an empty opus")
        parsed = scores[0]
    return score_to_symusic(parsed, default_qpm=DEFAULT_QPM.get(task.source, FALLBACK_QPM),
                            default_program=_default_program(task.source))


def _default_program(source: str) -> int:
    if source in VOCAL_SOURCES:
        return CHOIR
    if source in FIDDLE_SOURCES:
        return VIOLIN
    if source == "essen":
        return FLUTE
    return PIANO


def score_to_symusic(score, *, default_qpm: float = FALLBACK_QPM, default_program: int = PIANO):
    """A music21 Score (or Part) as a symusic Score at 480 ticks per quarter, notes as written.

    One track per part; the time signatures (with changes) of the first part only; tempo from the
    metronome marks, else ``default_qpm``; the pickup padded so that downbeats fall on bar lines.
    """
    import symusic
    from music21 import meter, tempo

    parts = list(score.parts) if hasattr(score, "parts") and len(score.parts) else [score]
    shift = pickup_padding(parts[0])
    out = symusic.Score(TICKS_PER_QUARTER)

    def tick(offset: float) -> int:
        # a time signature or tempo at 0 stays at 0; everything later moves with the padded pickup
        return round((float(offset) + (shift if offset > 0 else 0.0)) * TICKS_PER_QUARTER)

    last = None
    for ts in parts[0].recurse().getElementsByClass(meter.TimeSignature):
        offset = _offset_in(ts, parts[0])
        if offset is None:
            continue
        t = tick(offset)
        sig = (ts.numerator, ts.denominator)
        if sig != last and (not out.time_signatures or t > out.time_signatures[-1].time):
            out.time_signatures.append(symusic.TimeSignature(t, *sig))
            last = sig
    if not out.time_signatures:
        out.time_signatures.append(symusic.TimeSignature(0, 4, 4))

    tempos: dict[int, float] = {}
    for mm in score.recurse().getElementsByClass(tempo.MetronomeMark):
        qpm, offset = mm.getQuarterBPM(), _offset_in(mm, score)
        if qpm and qpm > 0 and offset is not None:
            tempos.setdefault(tick(offset), float(qpm))
    if 0 not in tempos:
        first = tempos[min(tempos)] if tempos else default_qpm
        tempos[0] = first
    for t in sorted(tempos):
        out.tempos.append(symusic.Tempo(t, tempos[t]))

    for part in parts:
        track = symusic.Track(name=_part_name(part), program=guess_program(part, default_program), is_drum=False)
        for start, dur, pitch, vel in part_notes(part):
            t0 = round((start + shift) * TICKS_PER_QUARTER)
            t1 = round((start + dur + shift) * TICKS_PER_QUARTER)
            track.notes.append(symusic.Note(t0, max(t1 - t0, 1), pitch, vel))
        if len(track.notes):
            out.tracks.append(track)
    return out


def _offset_in(element, container) -> float | None:
    """Offset of ``element`` from the start of ``container``, None if music21 cannot place it."""
    from music21 import sites

    try:
        return float(element.getOffsetInHierarchy(container))
    except sites.SitesException:
        return None


def pickup_padding(part) -> float:
    """Quarter notes to add before a pickup so that the first full bar starts on a downbeat.

    music21 marks a pickup with the first measure's ``paddingLeft``; an unmarked first measure shorter
    than its bar (common in abc files) is treated the same way.
    """
    from music21 import stream

    measures = part.getElementsByClass(stream.Measure)
    if len(measures) < 2:
        return 0.0
    m1 = measures[0]
    if m1.paddingLeft:
        return float(m1.paddingLeft)
    try:
        bar = float(m1.barDuration.quarterLength)
    except Exception:  # no time signature in context
        return 0.0
    actual = float(measures[1].offset - m1.offset)
    return bar - actual if 0 < actual < bar else 0.0


def part_notes(part) -> list[tuple[float, float, int, int]]:
    """(start, duration, MIDI pitch, velocity) of the part's sounding notes, in quarter notes, ties merged.

    Grace notes (no duration), chord symbols and unpitched notes are left out; the notes of a chord
    are separate notes.
    """
    from music21 import harmony

    done: list[list] = []
    open_notes: dict[int, list] = {}  # MIDI pitch -> [start, end, pitch, velocity] of a tie in progress
    for el in part.flatten().notes:
        if isinstance(el, harmony.ChordSymbol) or not hasattr(el, "pitches"):
            continue
        ql = float(el.quarterLength)
        if ql <= 0:
            continue
        start = float(el.offset)
        vel = el.volume.velocity if el.volume.velocity else DEFAULT_VELOCITY
        subs = [el] if not el.isChord else list(el)
        for sub, p in zip(subs, el.pitches):
            midi = int(p.midi)
            tie = getattr(sub, "tie", None) or (el.tie if el.isChord else None)
            cur = open_notes.get(midi)
            if cur is not None and abs(cur[1] - start) < 1e-6:
                cur[1] = start + ql  # continuation of a tie
            else:
                if cur is not None:
                    done.append(cur)
                cur = [start, start + ql, midi, int(vel)]
            if tie is not None and tie.type in ("start", "continue"):
                open_notes[midi] = cur
            else:
                open_notes.pop(midi, None)
                done.append(cur)
    done.extend(open_notes.values())
    done.sort(key=lambda n: (n[0], n[2]))
    return [(s, e - s, min(max(p, 0), 127), min(max(v, 1), 127)) for s, e, p, v in done]


def guess_program(part, default: int) -> int:
    """General MIDI program of a part: its instrument's own, else from its name, else ``default``."""
    from music21 import instrument

    inst = part.getInstrument(returnDefault=False)
    if inst is not None and inst.midiProgram is not None:
        return int(inst.midiProgram)
    names = " ".join(str(x) for x in (part.partName, getattr(inst, "instrumentName", None),
                                      getattr(inst, "partName", None)) if x).lower()
    for keyword, program in _NAME_PROGRAMS:
        if keyword in names:
            return program
    if isinstance(inst, instrument.Vocalist):
        return CHOIR
    return default


def _part_name(part) -> str:
    inst = part.getInstrument(returnDefault=False)
    return str(part.partName or getattr(inst, "instrumentName", None) or "")[:64]


def convert_music21_corpus(
    *,
    cache_root: str | Path | None = None,
    workers: int = 2,
    limit: int | None = None,
    timeout_s: float = 60.0,
    retry_failures: bool = False,
    progress: bool = True,
    sources: list[str] | None = None,
):
    """Convert music21's bundled corpus into ``<cache root>/music21-<version>/`` (resumable).

    ``sources`` (manifest source names: 'oneill', 'essen', 'bach', ...) converts only those collections; a later
    run without it converts the rest.
    """
    corpus_dir = music21_cache_dir(cache_root)
    tasks = music21_tasks()
    log.info("music21 %s corpus: %d works", music21_version(), len(tasks))
    return run_conversion(corpus_dir, tasks, convert_music21_task, workers=workers, limit=limit,
                          timeout_s=timeout_s, retry_failures=retry_failures, progress=progress,
                          sources=sources, summary_extra={"corpus": "music21", "music21_version": music21_version()})
