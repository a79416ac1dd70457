"""User-supplied corpora read from their published layouts into the cache + manifest layout.

Nothing is downloaded: point each loader at the unpacked folder.

- Lakh MIDI (``lmd_full``: ``<0-f>/<md5>.mid``; ``lmd_matched``/``lmd_aligned``:
  ``<A>/<B>/<C>/<MSD track id>/<md5>.mid``). In a matched layout a piece is an MSD track: its
  best-scoring MIDI (``match_scores.json`` when present next to the folder), else the first that reads.
- MAESTRO v2/v3 (``maestro-v3.0.0.csv`` or ``.json`` with ``canonical_composer``, ``canonical_title``,
  ``split``, ``year``, ``midi_filename``, ``audio_filename``, ``duration``): the official split is kept.
- NES-MDB MIDI as used by LakhNES (``{train,valid,test}/*.mid``, tracks ``p1``, ``p2``, ``tr``, ``no``):
  mapped to General MIDI (pulse leads, a synth bass, the noise channel on drums); the official split
  is kept.
- Bach Doodle (JSON or JSON-lines records with ``input_sequence``/``output_sequence`` NoteSequences,
  camelCase or snake_case fields): the 4-voice harmonization of each record, split by session.

Every piece is rewritten at 480 ticks per quarter; an unreadable file or record is counted as a failure
and skipped, never fatal.
"""

from __future__ import annotations

import csv
import json
import logging
import re
from collections import defaultdict
from pathlib import Path

from mm2music.errors import CorpusError
from mm2music.training.corpora.cache import (
    TICKS_PER_QUARTER,
    RunResult,
    Task,
    default_cache_root,
    run_conversion,
    safe_name,
)

log = logging.getLogger(__name__)

MIDI_SUFFIXES = (".mid", ".midi")
MSD_TRACK_ID = re.compile(r"^TR[A-Z0-9]{16}$")
MAESTRO_SPLITS = {"train": "train", "validation": "valid", "valid": "valid", "test": "test"}
# NES-MDB channels -> General MIDI programs (0-based): pulse 1 = square lead, pulse 2 = sawtooth lead,
# triangle = synth bass; the noise channel becomes drums.
NES_PROGRAMS = {"p1": 80, "p2": 81, "tr": 38}
NES_TRACK_ORDER = ("p1", "p2", "tr", "no")
CHOIR = 52


def _check_dir(root: str | Path, what: str, hint: str) -> Path:
    root = Path(root).expanduser()
    if not root.is_dir():
        raise CorpusError(f"{what} folder '{root}' does not exist; {hint}")
    return root


def _midi_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES and p.is_file())


def load_midi(path: str | Path):
    """A MIDI file as a symusic Score at 480 ticks per quarter, empty tracks dropped."""
    import symusic

    score = symusic.Score(str(path))
    if score.tpq != TICKS_PER_QUARTER:
        score = score.resample(TICKS_PER_QUARTER, min_dur=1)
    for i in reversed(range(len(score.tracks))):
        if len(score.tracks[i].notes) == 0:
            del score.tracks[i]
    return score


def convert_midi_task(task: Task):
    """Worker: the first candidate file that reads and holds notes (``payload`` = candidate paths)."""
    error: Exception | None = None
    for path in task.payload:
        try:
            score = load_midi(path)
        except Exception as exc:  # symusic raises RuntimeError/ValueError on corrupt files
            error = exc
            continue
        if any(len(t.notes) for t in score.tracks):
            return score
        error = CorpusError(f"'{Path(path).name}' has no notes")
    raise error or CorpusError("no MIDI file")


def _run(name: str, tasks: list[Task], convert, cache_root, extra: dict, enum_failures=(), **kw) -> RunResult:
    if not tasks and not enum_failures:
        raise CorpusError(f"no pieces found for corpus '{name}'; check that --path points at the unpacked corpus")
    corpus_dir = Path(cache_root or default_cache_root()) / name
    return run_conversion(corpus_dir, tasks, convert, summary_extra={"corpus": name, **extra},
                          enumeration_failures=enum_failures, **kw)


# --- Lakh MIDI ------------------------------------------------------------------------------------------


def lakh_tasks(root: str | Path) -> list[Task]:
    """Pieces of an ``lmd_full`` (one per file) or ``lmd_matched``/``lmd_aligned`` (one per track) tree."""
    root = _check_dir(root, "Lakh MIDI", "pass --path to the unpacked lmd_full or lmd_matched folder")
    by_track: dict[str, list[Path]] = defaultdict(list)
    tasks: list[Task] = []
    for path in _midi_files(root):
        track = path.parent.name
        if MSD_TRACK_ID.match(track):
            by_track[track].append(path)
        else:
            md5 = path.stem
            tasks.append(Task(id=f"lakh/{md5}", relpath=f"midi/{safe_name(md5[:1])}/{safe_name(md5)}.mid",
                              source="lmd_full", payload=(str(path),), meta={"md5": md5}))
    scores = _lakh_match_scores(root) if by_track else {}
    for track, paths in sorted(by_track.items()):
        best = scores.get(track, {})
        paths = sorted(paths, key=lambda p: (-best.get(p.stem, 0.0), p.name))
        tasks.append(Task(id=f"lakh/{track}", relpath=f"midi/{track[2]}/{track[3]}/{track[4]}/{track}.mid",
                          source="lmd_matched", payload=tuple(str(p) for p in paths),
                          meta={"msd_id": track, "md5": paths[0].stem}))
    return tasks


def _lakh_match_scores(root: Path) -> dict[str, dict[str, float]]:
    for candidate in (root / "match_scores.json", root.parent / "match_scores.json"):
        if candidate.is_file():
            try:
                return json.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                log.warning("ignoring unreadable %s: %s", candidate, exc)
    return {}


def load_lakh(path: str | Path, *, cache_root=None, **kw) -> RunResult:
    """Convert a Lakh MIDI tree into ``<cache root>/lakh/``."""
    return _run("lakh", lakh_tasks(path), convert_midi_task, cache_root, {"root": str(path)}, **kw)


# --- MAESTRO --------------------------------------------------------------------------------------------


def _maestro_metadata(root: Path) -> tuple[Path, list[dict]]:
    files = sorted(root.glob("maestro-v*.csv")) or sorted(root.glob("maestro-v*.json"))
    if not files:
        raise CorpusError(f"no maestro-v*.csv or maestro-v*.json in '{root}'; pass --path to the unpacked "
                          "maestro-v3.0.0 folder (the one holding the metadata file and the year folders)")
    meta = files[-1]  # the newest version when several are present
    if meta.suffix == ".csv":
        with meta.open(newline="", encoding="utf-8") as f:
            return meta, list(csv.DictReader(f))
    data = json.loads(meta.read_text(encoding="utf-8"))
    if isinstance(data, list):  # v2: a list of records
        return meta, data
    # v3: pandas' column orientation, {column: {row index: value}}
    index = sorted(next(iter(data.values())).keys(), key=lambda k: int(k) if str(k).isdigit() else k)
    return meta, [{col: data[col].get(i) for col in data} for i in index]


def maestro_tasks(root: str | Path) -> tuple[list[Task], list[dict], str]:
    """(tasks, rows that point at a missing file, metadata file stem)."""
    root = _check_dir(root, "MAESTRO", "pass --path to the unpacked maestro-v3.0.0 folder")
    meta_path, rows = _maestro_metadata(root)
    tasks, missing = [], []
    for row in rows:
        name = str(row.get("midi_filename") or "")
        piece_id = "maestro/" + re.sub(r"\.midi?$", "", name, flags=re.I)
        path = root / name
        if not name or not path.is_file():
            missing.append({"id": piece_id, "error": f"missing file: '{name}' listed in {meta_path.name}"})
            continue
        split = MAESTRO_SPLITS.get(str(row.get("split", "")).strip().lower())
        meta = {k: row.get(k) for k in ("canonical_composer", "canonical_title", "year", "duration")
                if row.get(k) not in (None, "")}
        stem = re.sub(r"\.midi?$", "", name, flags=re.I)
        tasks.append(Task(id=piece_id, relpath=f"midi/{'/'.join(safe_name(p) for p in stem.split('/'))}.mid",
                          source="maestro", payload=(str(path),), split=split, meta=meta))
    return tasks, missing, meta_path.stem


def load_maestro(path: str | Path, *, cache_root=None, **kw) -> RunResult:
    """Convert MAESTRO into ``<cache root>/<metadata stem, e.g. maestro-v3.0.0>/`` with its official split."""
    tasks, missing, name = maestro_tasks(path)
    return _run(name, tasks, convert_midi_task, cache_root, {"root": str(path)}, enum_failures=missing, **kw)


# --- LakhNES / NES-MDB ----------------------------------------------------------------------------------


def lakhnes_tasks(root: str | Path) -> list[Task]:
    """One piece per NES-MDB MIDI file; the split is the folder name (train/valid/test) when it is one."""
    root = _check_dir(root, "NES-MDB MIDI", "pass --path to the unpacked nesmdb_midi folder")
    tasks = []
    for path in _midi_files(root):
        rel = path.relative_to(root).with_suffix("")
        split = next((s for s in ("train", "valid", "test") if s in rel.parts[:-1]), None)
        tasks.append(Task(id=f"lakhnes/{rel.as_posix()}",
                          relpath=f"midi/{'/'.join(safe_name(p) for p in rel.parts)}.mid",
                          source="nesmdb", payload=(str(path),), split=split))
    return tasks


def nes_noise_drum(pitch: int) -> int:
    """NES noise period (NES-MDB stores 1-16 as the note number) -> a GM drum: hats, snare, kick."""
    if pitch <= 5:
        return 42  # closed hi-hat: short periods, bright hiss
    return 38 if pitch <= 11 else 36  # snare, then bass drum for the longest periods


def convert_nes_task(task: Task):
    """Worker: an NES-MDB MIDI file with its four channels mapped to General MIDI."""
    score = load_midi(task.payload[0])
    names = [t.name.strip().lower() for t in score.tracks]
    by_order = len(score.tracks) == 4 and not set(names) & set(NES_TRACK_ORDER)
    for i, track in enumerate(score.tracks):
        channel = NES_TRACK_ORDER[i] if by_order else names[i]
        if channel in NES_PROGRAMS:
            track.program, track.is_drum = NES_PROGRAMS[channel], False
        elif channel == "no":
            track.is_drum, track.program = True, 0
            for note in track.notes:
                note.pitch = nes_noise_drum(note.pitch)
        track.name = channel.upper() if channel in NES_TRACK_ORDER else track.name
        for note in track.notes:
            note.velocity = max(int(note.velocity), 1)
    if not any(len(t.notes) for t in score.tracks):
        raise CorpusError("no notes")
    return score


def load_lakhnes(path: str | Path, *, cache_root=None, **kw) -> RunResult:
    """Convert NES-MDB MIDI (LakhNES's fine-tuning set) into ``<cache root>/lakhnes/``."""
    return _run("lakhnes", lakhnes_tasks(path), convert_nes_task, cache_root, {"root": str(path)}, **kw)


# --- Bach Doodle ----------------------------------------------------------------------------------------


def _get(d: dict, snake: str, default=None):
    """A NoteSequence field in snake_case or camelCase (protobuf JSON omits zero values: default)."""
    if snake in d:
        return d[snake]
    camel = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), snake)
    return d.get(camel, default)


def _json_records(path: Path) -> tuple[list, int]:
    """(records, corrupt lines) of a JSON array / object file or a JSON-lines file."""
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = None
    if isinstance(data, list):
        return data, 0
    if isinstance(data, dict):
        if "notes" in data or "input_sequence" in data or "inputSequence" in data:
            return [data], 0
        lists = [v for v in data.values() if isinstance(v, list)]
        return (lists[0] if lists else []), 0
    records, bad = [], 0
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            bad += 1
    return records, bad


def _doodle_sequence(record: dict) -> dict | None:
    """The harmonization (output) NoteSequence of a record, else its input melody, else the record."""
    for key in ("output_sequence", "input_sequence"):
        seq = _get(record, key)
        if isinstance(seq, list):
            seq = next((s for s in seq if isinstance(s, dict) and s.get("notes")), None)
        if isinstance(seq, dict) and seq.get("notes"):
            return seq
    return record if record.get("notes") else None


def bachdoodle_tasks(root: str | Path) -> tuple[list[Task], list[dict]]:
    """(tasks, failures) from every ``*.json*`` file under ``root`` (a file path works too)."""
    root = Path(root).expanduser()
    if root.is_file():
        files = [root]
    else:
        root = _check_dir(root, "Bach Doodle", "pass --path to the folder holding the dataset's JSON files")
        files = sorted(p for p in root.rglob("*") if p.is_file() and ".json" in p.name.lower())
    tasks, failures = [], []
    for f in files:
        try:
            records, bad = _json_records(f)
        except OSError as exc:
            failures.append({"id": f"bachdoodle/{f.name}", "error": f"OSError: {exc}"})
            continue
        failures += [{"id": f"bachdoodle/{f.name}#corrupt{i}", "error": "corrupt JSON line"} for i in range(bad)]
        for i, rec in enumerate(records):
            fallback = f"{safe_name(f.name)}-{i}"
            if not isinstance(rec, dict):
                failures.append({"id": f"bachdoodle/{fallback}", "error": "record is not a JSON object"})
                continue
            session = str(_get(rec, "session_id", "") or "")
            request = str(_get(rec, "request_id", "") or "")
            key = safe_name(f"{session}-{request}") if (session or request) else fallback
            piece_id = f"bachdoodle/{key}"
            seq = _doodle_sequence(rec)
            if seq is None:
                failures.append({"id": piece_id, "error": "no notes: neither output_sequence nor input_sequence"})
                continue
            meta = {k: v for k in ("country", "feedback", "composition_time", "loops_listened")
                    if (v := _get(rec, k)) not in (None, "")}
            tasks.append(Task(id=piece_id, relpath=f"midi/{key[:2]}/{key}.mid", source="bachdoodle",
                              payload=(seq,), split_key=f"bachdoodle/session/{session or key}", meta=meta))
    return tasks, failures


def note_sequence_to_score(seq: dict, default_program: int = CHOIR):
    """A NoteSequence dict (seconds, or quantized steps) as a symusic Score at 480 ticks per quarter."""
    import symusic

    tempos = _get(seq, "tempos") or []
    qpm = float(_get(tempos[0], "qpm", 120.0) if tempos else _get(seq, "qpm", 120.0) or 120.0)
    steps_per_quarter = _get(_get(seq, "quantization_info", {}) or {}, "steps_per_quarter")
    score = symusic.Score(TICKS_PER_QUARTER)
    score.tempos.append(symusic.Tempo(0, qpm))
    for ts in _get(seq, "time_signatures") or [{}]:
        t = _seconds_to_tick(float(_get(ts, "time", 0.0)), qpm)
        score.time_signatures.append(symusic.TimeSignature(t, int(_get(ts, "numerator", 4)),
                                                           int(_get(ts, "denominator", 4))))
    tracks: dict[tuple, object] = {}
    for n in seq.get("notes", []):
        timed = _get(n, "start_time") is not None or _get(n, "end_time") is not None
        if not timed and steps_per_quarter and _get(n, "quantized_end_step") is not None:
            t0 = round(float(_get(n, "quantized_start_step", 0)) / steps_per_quarter * TICKS_PER_QUARTER)
            t1 = round(float(_get(n, "quantized_end_step", 0)) / steps_per_quarter * TICKS_PER_QUARTER)
        else:
            t0 = _seconds_to_tick(float(_get(n, "start_time", 0.0)), qpm)
            t1 = _seconds_to_tick(float(_get(n, "end_time", 0.0)), qpm)
        pitch = int(_get(n, "pitch", 0))
        if t1 <= t0 or not 0 <= pitch <= 127:
            continue
        drum = bool(_get(n, "is_drum", False))
        program = int(_get(n, "program", default_program))
        key = (int(_get(n, "instrument", 0)), program, drum)
        if key not in tracks:
            tracks[key] = symusic.Track(name=f"voice {key[0]}", program=program, is_drum=drum)
        velocity = int(_get(n, "velocity", 0) or 80)
        tracks[key].notes.append(symusic.Note(t0, t1 - t0, pitch, min(max(velocity, 1), 127)))
    for key in sorted(tracks):
        score.tracks.append(tracks[key])
    return score


def _seconds_to_tick(seconds: float, qpm: float) -> int:
    return round(seconds * qpm / 60.0 * TICKS_PER_QUARTER)


def convert_doodle_task(task: Task):
    return note_sequence_to_score(task.payload[0])


def load_bachdoodle(path: str | Path, *, cache_root=None, **kw) -> RunResult:
    """Convert Bach Doodle JSON records into ``<cache root>/bachdoodle/`` (split by session)."""
    tasks, failures = bachdoodle_tasks(path)
    return _run("bachdoodle", tasks, convert_doodle_task, cache_root, {"root": str(path)},
                enum_failures=failures, **kw)
