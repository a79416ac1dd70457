"""``soundtrack.musicxml``: the score for a composer to open in MuseScore or Sibelius and orchestrate further.

Written with music21 from the same orchestrated parts as ``soundtrack.mid``: one part per pitched track
(percussion stays in the MIDI), the key and time signature of every cue, a metronome mark at every tempo of
the tempo map (a ramp is one mark a beat) and a rehearsal mark numbered like the cue at each cue's first bar.
Onsets and lengths are rounded to the nearest sixteenth or eighth-note triplet (1/12 of a quarter); notes that
start together in a part become a chord, held until the next onset at most, so each part reads as one voice.
"""

from __future__ import annotations

import functools
import gc
import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

from mm2music.arrange.compose import CueMusic
from mm2music.arrange.score import cue_parts, hit_ticks
from mm2music.arrange.timing import TICKS_PER_QUARTER, layout
from mm2music.key import Key

log = logging.getLogger(__name__)

GRID = 12  # positions per quarter note: sixteenths (3) and eighth-note triplets (4)
COLLECT_AFTER_NOTES = 2000  # a part with more notes is collected once exported (a long film's; ~20 ms a collection)


def music21_key(key: Key):
    """Our key as a ``music21.key.Key`` (music21 writes flats as '-': 'E-')."""
    return _key_class()(key.tonic[0] + key.tonic[1:].replace("b", "-"), key.mode)


@functools.cache
def _key_class():
    """``music21.key.Key`` whose scale is built once per key signature and mode: making the notation asks each
    key signature of each part for its scale, and music21 builds and realises a new one every time (a quarter of
    the export's time)."""
    from music21 import key as m21key

    class CachedKey(m21key.Key):
        def getScale(self, mode="major"):
            return _scale(self.sharps, mode)

    return CachedKey


@functools.cache
def _scale(sharps: int, mode: str):
    from music21 import key as m21key

    return m21key.KeySignature(sharps).getScale(mode)


def _quarters(tick: int) -> Fraction:
    return Fraction(round(tick * GRID / TICKS_PER_QUARTER), GRID)


def _tracks(music: Sequence[CueMusic], timings: Sequence,
            hits: Sequence[float]) -> dict[tuple[str, int], list[tuple[int, int, int, int]]]:
    """(name, program) -> (start, end, pitch, velocity) ticks of every pitched track (percussion stays in the MIDI);
    ``timings``: the cues' :func:`~mm2music.arrange.timing.layout`."""
    cues = [m.cue for m in music]
    tracks: dict[tuple[str, int], list[tuple[int, int, int, int]]] = {}
    for i, (m, t) in enumerate(zip(music, timings)):
        for part in cue_parts(m, hit_ticks(i, cues, timings, hits), last=i == len(music) - 1):
            if not part.is_drum:
                tracks.setdefault((part.name, part.program), []).extend(
                    (t.start_tick + n.start, t.start_tick + n.end, n.pitch, n.velocity) for n in part.notes)
    return tracks


def _marks(cue, timing) -> tuple[Fraction, Fraction | None, list[tuple[Fraction, float]]]:
    """Where a cue's marks go (quarters from the score's start): its first bar, its last bar where that is of
    another meter (``odd_bar``, where the planner makes one; else None), and each tempo of its tempo map with
    its quarter-note rate."""
    at = _quarters(timing.start_tick)
    odd_at = at + Fraction(sum(cue.bar_quarters()[:-1])).limit_denominator(GRID) if getattr(cue, "odd_bar", "") else None
    return at, odd_at, [(at + Fraction(quarters).limit_denominator(GRID), qpm) for quarters, qpm in cue.tempo_map()]


def _part(k: int, name: str, program: int, notes: list[tuple[int, int, int, int]], cues: Sequence, timings: Sequence):
    """The ``music21.stream.Part`` of one track: its instrument, every cue's meter and key, its notes; the top part
    (``k == 0``) also carries the score's directions (rehearsal marks, metronome marks)."""
    from music21 import chord, expressions, instrument, meter, note, pitch, stream, tempo

    part = stream.Part()
    inst = instrument.instrumentFromMidiProgram(program)
    inst.partName = name
    part.partName = name
    part.insert(0, inst)
    previous_meter = previous_key = None
    for i, (cue, t) in enumerate(zip(cues, timings)):
        at, odd_at, tempi = _marks(cue, t)
        if cue.meter != previous_meter:
            part.insert(at, meter.TimeSignature(cue.meter))
            previous_meter = cue.meter
        if odd_at is not None:
            part.insert(odd_at, meter.TimeSignature(cue.odd_bar))
            previous_meter = cue.odd_bar
        key = Key.of(cue.key, cue.mode)
        if key != previous_key:
            part.insert(at, music21_key(key))
            previous_key = key
        if k == 0:  # directions for the whole score sit on the top part
            part.insert(at, expressions.RehearsalMark(str(i + 1)))
            for offset, qpm in tempi:
                part.insert(offset, tempo.MetronomeMark(number=round(qpm, 1)))
    _insert_notes(part, notes, note, chord, pitch)
    return part


def build_musicxml_score(music: Sequence[CueMusic], title: str = "Soundtrack", hits: Sequence[float] = ()):
    """A ``music21.stream.Score`` of the pitched tracks of the soundtrack (see the module docstring)."""
    from music21 import metadata, stream

    cues = [m.cue for m in music]
    timings = layout(cues)
    score = stream.Score()
    score.metadata = metadata.Metadata(title=title)
    for k, ((name, program), notes) in enumerate(_tracks(music, timings, hits).items()):
        score.insert(0, _part(k, name, program, notes, cues, timings))
    return score


def _insert_notes(part, notes: list[tuple[int, int, int, int]], note, chord, m21pitch) -> None:
    """Group ``notes`` by rounded onset into notes and chords, each held until the next onset at most. Chords
    are built from pitches spelled like single notes (music21 would otherwise search every enharmonic spelling
    of each chord, a third of the export's time)."""
    by_onset: dict[Fraction, list[tuple[Fraction, int, int]]] = {}
    for start, end, pitch, velocity in notes:
        on = _quarters(start)
        by_onset.setdefault(on, []).append((max(_quarters(end), on + Fraction(1, GRID)), pitch, velocity))
    onsets = sorted(by_onset)
    for j, on in enumerate(onsets):
        group = by_onset[on]
        end = max(e for e, _, _ in group)
        if j + 1 < len(onsets):
            end = min(end, onsets[j + 1])
        pitches = sorted({p for _, p, _ in group})
        element = note.Note(pitches[0]) if len(pitches) == 1 else chord.Chord([m21pitch.Pitch(p) for p in pitches])
        element.quarterLength = end - on
        element.volume.velocity = max(v for _, _, v in group)
        part.insert(on, element)


_FULL_COLLECTIONS = threading.Lock()
_exporting = 0  # exports running (on any thread)
_saved_threshold: tuple[int, int, int] | None = None


@contextmanager
def _rare_full_collections(every: int = 100) -> Iterator[None]:
    """Python's cyclic garbage collector less often over its oldest generation while music21 works. music21
    makes a handful of objects with reference cycles per note (sites, weak references, derivations), so full
    collections come often, and each walks every object alive: the score's and the rest of the run's (the
    decoder, the plan, the libraries), a cost that grows with the score times all that. Measured on an 8-minute
    score beside 3 M other live objects: 7.0 -> 6.0 CPU seconds. Young objects are collected as usual; the
    oldest generation waits ``every`` times as long. Process-wide (the collector is), counted so that exports on
    several threads restore the setting once, when the last one ends."""
    global _exporting, _saved_threshold
    with _FULL_COLLECTIONS:
        if _exporting == 0:
            _saved_threshold = gc.get_threshold()
            g0, g1, g2 = _saved_threshold
            gc.set_threshold(g0, g1, g2 * every)
        _exporting += 1
    try:
        yield
    finally:
        with _FULL_COLLECTIONS:
            _exporting -= 1
            if _exporting == 0 and _saved_threshold is not None:
                gc.set_threshold(*_saved_threshold)


def _held_until(notes: list[tuple[int, int, int, int]]) -> Fraction:
    """Where a track's last note ends as :func:`_insert_notes` writes it (in quarters)."""
    onsets = sorted({_quarters(start) for start, _, _, _ in notes})
    last = onsets[-1] if onsets else Fraction(0)
    return max((max(_quarters(end), _quarters(start) + Fraction(1, GRID)) for start, end, _, _ in notes if _quarters(start) == last),
               default=Fraction(0))


def _midi_channel(inst, used: list[int]) -> None:
    """Give ``inst`` the MIDI channel a whole-score export would (the first one free in ``used``, the parts before
    it, percussion's skipped); ``used`` takes it."""
    from music21.exceptions21 import InstrumentException

    if inst is None:
        return
    if inst.midiChannel is None or inst.midiChannel in used:
        try:
            inst.autoAssignMidiChannel(usedChannels=used)
        except InstrumentException as exc:  # more parts than channels: as music21 does, with a warning
            log.warning("MusicXML: %s", exc)
    used.append(inst.midiChannel)


def _direction_offsets(cues: Sequence, timings: Sequence) -> list[Fraction]:
    """The offsets (quarters) where :func:`_part` places meters, keys and directions (:func:`_marks`)."""
    out = []
    for cue, t in zip(cues, timings):
        at, odd_at, tempi = _marks(cue, t)
        out += [at, *([odd_at] if odd_at is not None else []), *(offset for offset, _ in tempi)]
    return out


def write_musicxml(music: Sequence[CueMusic], path: Path, title: str = "Soundtrack", hits: Sequence[float] = ()) -> Path:
    """Write the score of :func:`build_musicxml_score` to ``path`` (MusicXML 4, uncompressed), one part at a time:
    each part is made into notation and exported on its own, then freed, and the parts' elements are joined into
    one document (the same file as the whole score exported at once, but for music21's random part ids: a long
    film's score never holds more than one part's notation). What ``score.write("musicxml")`` does, on the score
    itself rather than on a deep copy of it (the score is ours; the copy was a fifth of the export's time)."""
    from music21 import metadata, stream
    from music21.musicxml.m21ToXml import ScoreExporter

    cues = [m.cue for m in music]
    timings = layout(cues)
    with _rare_full_collections():
        tracks = _tracks(music, timings, hits)
        # the whole score's end (its highest time): the last note of any part, or a direction placed after it
        end = max([_held_until(notes) for notes in tracks.values()] + _direction_offsets(cues, timings), default=Fraction(0))
        document, channels = None, []
        for k, ((name, program), notes) in enumerate(tracks.items()):
            score = stream.Score()
            score.metadata = metadata.Metadata(title=title)
            part = _part(k, name, program, notes, cues, timings)
            _midi_channel(part.getInstrument(returnDefault=False), channels)
            score.insert(0, part)
            # GeneralObjectExporter's steps: gaps filled with hidden rests up to the end of the whole score, the
            # notation made (measures, ties, beams, accidentals), the part split at complex durations and exported
            score.makeRests(refStreamOrTimeRange=[0.0, float(end)], fillGaps=True, inPlace=True, hideRests=True,
                            timeRangeFromBarDuration=True)
            score.makeNotation(inPlace=True)
            exporter = ScoreExporter(score, makeNotation=True)
            root = exporter.parse()
            if document is None:  # the first part's document (its header: title, encoding) takes the others'
                document, part_list = exporter, root.find("part-list")
            else:
                part_list.extend(root.find("part-list"))
                document.addDividerComment(f"Part {k + 1}")
                document.xmlRoot.append(root.find("part"))
            del score, part, exporter, root
            if len(notes) > COLLECT_AFTER_NOTES:  # its notation is cycles of music21 objects: freed now, not at the next full collection
                gc.collect()
        if document is None:
            document = ScoreExporter(stream.Score())
            document.parse()
        data = document.asBytes()
    Path(path).write_bytes(data)
    return path
