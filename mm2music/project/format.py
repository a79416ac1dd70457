"""The output folder is the project: what is stored there to rebuild and edit the score without the video's
analysis running again (``revise``, ``refine``, ``--lock``).

Layout of ``out/<name>/`` (besides the files a run always writes)::

    project.json      format version, the checkpoint (path + sha256), the run's seed and hits, whether the
                      music opens like a tune, the project version (one more per revise) and one entry per cue:
                      {"file": "cues/01.json", "seed", "locked", "pinned": {setting: value}}
    cues/NN.json      cue N (1-based): the plan's cue at full precision and the decoder's output for it, as
                      ``compose.CueMusic`` holds it: tokens, notes [start, end, pitch, velocity] in ticks from the
                      cue start, length_ticks, candidates, score, report; and the per-cue seed
    render/music.npy  the music before loudness normalisation, float32 (samples, 2): a revise re-renders only
                      the changed span into it
    history/NNN/      earlier versions (every file of the folder as it was), newest last: ``revise --undo``

Everything else (plan.json, cue sheet, MIDI, WAV, timeline, scored video) is derived from these and the
analysis. Files are replaced by building the next version in a staging folder beside the project and swapping
it into place under the project's lock (:mod:`mm2music.project.store`): a failed or killed step leaves the
previous version as it was.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np

from mm2music.arrange.compose import CueMusic
from mm2music.arrange.theme import Theme
from mm2music.arrange.orchestrate import NoteEvent
from mm2music.project.store import ProjectError, carry_history, replace_file
from mm2music.types import Analysis, AudioEnvelope, Cue, Emotion, Plan, Scene, TextSegment, Transition, VideoInfo

log = logging.getLogger(__name__)

FORMAT = 1
PROJECT_FILE = "project.json"
MIX_FILE = "render/music.npy"


# --- (de)serialisation ----------------------------------------------------------------------------------


def cue_to_json(cue: Cue) -> dict:
    """A cue at full precision (plan.json rounds for people; the project must rebuild the exact tempo map)."""
    out = asdict(cue)
    out["instruments"], out["merged"] = list(cue.instruments), list(cue.merged)
    return out


def cue_from_json(data: dict, where: str) -> Cue:
    """A Cue from its JSON; a missing or unknown field, or an invalid value, is a one-line ProjectError."""
    names = {f.name for f in fields(Cue)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ProjectError(f"{where}: unknown cue field {unknown[0]!r}; valid fields are {', '.join(sorted(names))}")
    try:
        return Cue(**{**data, **{k: tuple(data.get(k, ())) for k in ("instruments", "merged", "catches", "bar_intensity")},
                      "silences": tuple(tuple(s) for s in data.get("silences", ()))})
    except (TypeError, ValueError) as exc:
        raise ProjectError(f"{where}: {' '.join(str(exc).split())}; fix the value or run `revise --undo`") from None


def music_to_json(music: CueMusic, seed: int) -> dict:
    return {"cue": cue_to_json(music.cue), "seed": seed, "tokens": list(music.tokens),
            "notes": [[n.start, n.end, n.pitch, n.velocity] for n in music.notes], "length_ticks": music.length_ticks,
            "candidates": music.candidates, "score": music.score, "report": music.report,
            "theme": music.theme.to_json() if music.theme is not None else None}


def music_from_json(data: dict, where: str) -> tuple[CueMusic, int]:
    """The music of one cue (``cues/NN.json``, a variation or a refine preview); a damaged one is a one-line error."""
    if not isinstance(data, dict) or not isinstance(data.get("cue"), dict):
        raise ProjectError(f"cannot read {where}: it is not a cue's music (no 'cue' object); write it again or run `revise --undo`")
    try:
        return _music_from_json(data, where)
    except (KeyError, TypeError, ValueError) as exc:
        raise ProjectError(f"cannot read {where}: {' '.join(str(exc).split())}; write it again or run `revise --undo`") from None


def _music_from_json(data: dict, where: str) -> tuple[CueMusic, int]:
    cue = cue_from_json(data["cue"], where)
    notes = [NoteEvent(*n) for n in data["notes"]]
    theme = Theme.from_json(data["theme"]) if data.get("theme") else None
    return CueMusic(cue, [int(t) for t in data["tokens"]], notes, int(data["length_ticks"]), int(data["candidates"]),
                    float(data["score"]), dict(data["report"]), theme), int(data["seed"])


def analysis_from_json(data: dict) -> Analysis:
    """The Analysis a run wrote to ``analysis.json`` (the audio envelope is re-read from the source when needed)."""
    scenes = tuple(Scene(i, s["start"], s["end"]) for i, s in enumerate(data["scenes"]))
    emotions = []
    for s in data["scenes"]:
        if "valence" in s:
            total = sum(s["emotions"].values()) or 1.0
            emotions.append(Emotion(s["valence"], s["arousal"], {k: v / total for k, v in s["emotions"].items()},
                                    s["confidence"], tuple(s.get("sources", ()))))
    transitions = tuple(Transition(**t) for t in data.get("transitions", ()))
    segments = tuple(TextSegment(**s) for s in data.get("segments", ()))
    video = VideoInfo(**data["video"]) if data.get("video") else None
    return Analysis(source=data["source"], kind=data["kind"], duration=data["duration"], scenes=scenes,
                    transitions=transitions, segments=segments, video=video, warnings=tuple(data.get("warnings", ())),
                    emotions=tuple(emotions))


def checkpoint_hash(path: str | Path) -> str:
    """sha256 of a checkpoint's weights and configuration (what makes its music reproducible)."""
    h = hashlib.sha256()
    for name in ("model.safetensors", "config.json", "tokenizer.json"):
        f = Path(path) / name
        if f.is_file():
            with f.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
    return h.hexdigest()


def _write_json(path: Path, data: dict) -> None:
    replace_file(path).write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


# --- the project ------------------------------------------------------------------------------------------


@dataclass
class CueEntry:
    """One cue of the project: its music, the seed that wrote it, and what the user fixed about it."""

    music: CueMusic
    seed: int
    locked: bool = False
    pinned: dict = field(default_factory=dict)  # settings set by revise/refine: {"key": "D minor", "tempo": 96.0, ...}


@dataclass
class Project:
    folder: Path
    config: dict  # the resolved configuration of the run (config.json)
    analysis: Analysis
    cues: list[CueEntry]
    checkpoint: dict  # {"path": str | None, "sha256": str}
    seed: int
    hits: list[float]
    version: int = 1
    notes: tuple[str, ...] = ()  # the plan's remarks

    @property
    def plan(self) -> Plan:
        return Plan(tuple(e.music.cue for e in self.cues), self.analysis.duration, self.notes)

    @property
    def music(self) -> list[CueMusic]:
        return [e.music for e in self.cues]

    def cue_index(self, number: int, flag: str = "--cue") -> int:
        """0-based index of cue ``number`` (1-based, as the cue sheet counts); a one-line error naming ``flag``
        if out of range."""
        if not 1 <= number <= len(self.cues):
            raise ProjectError(f"{flag} {number} does not exist; {self.folder.name} has cues 1-{len(self.cues)} (see its cue_sheet.md)")
        return number - 1

    def samples(self, sample_rate: int) -> int:
        """Samples of the whole soundtrack at ``sample_rate`` (the stored mix has as many)."""
        return int(round(self.analysis.duration * sample_rate))

    def fps(self) -> float:
        return self.analysis.video.fps if self.analysis.video else 25.0

    def audio_envelope(self) -> AudioEnvelope | None:
        """The source's audio envelope (for ducking), read again from the source: no video decoding
        (read on a thread if :meth:`prefetch_envelope` started it)."""
        future = getattr(self, "_envelope", None)
        return future.result() if future is not None else self._read_envelope()

    def prefetch_envelope(self, pool) -> None:
        """Start reading the audio envelope on ``pool`` (an executor) while the cue is composed."""
        self._envelope = pool.submit(self._read_envelope)

    def _read_envelope(self) -> AudioEnvelope | None:
        from mm2music.media.audio import read_audio_envelope

        if self.analysis.kind != "video" or not self.analysis.video or not self.analysis.video.has_audio:
            return None
        media = self.config.get("media", {})
        return read_audio_envelope(self.analysis.source, media.get("audio_sample_rate", 16000), media.get("audio_hop_s", 0.05))

    def to_json(self) -> dict:
        return {"format": FORMAT, "kind": "mm2music-project", "version": self.version, "checkpoint": self.checkpoint,
                "seed": self.seed, "hits": self.hits, "notes": list(self.notes),
                "cues": [{"file": cue_file(i), "seed": e.seed, "locked": e.locked, "pinned": e.pinned}
                         for i, e in enumerate(self.cues)]}

    def write(self, folder: Path, changed: set[int] | None = None) -> None:
        """Write project.json and the cue files (only those in ``changed``, if given) into ``folder``."""
        for i, e in enumerate(self.cues):
            if changed is None or i in changed:
                _write_json(folder / cue_file(i), music_to_json(e.music, e.seed))
        _write_json(folder / PROJECT_FILE, self.to_json())


def cue_file(i: int) -> str:
    return f"cues/{i + 1:02d}.json"


def is_project(folder: Path) -> bool:
    return (Path(folder) / PROJECT_FILE).is_file()


def _damaged(folder: Path, what: str) -> ProjectError:
    return ProjectError(f"the project '{folder}' is damaged ({' '.join(what.split())}); restore it with `revise {folder} --undo` "
                        "or score it again")


@dataclass(frozen=True)
class ProjectIndex:
    """``project.json`` read and checked: what a listing shows without reading every cue."""

    version: int
    cues: tuple[dict, ...]  # {"file", "seed", "locked", "pinned"}
    checkpoint: dict
    seed: int
    hits: tuple[float, ...]
    notes: tuple[str, ...]


def _field(data: dict, key: str, kind, default=None):
    value = data.get(key, default)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"{key} is {value!r}")
    return value


def read_index(folder: str | Path) -> ProjectIndex:
    """Read and check ``project.json``; a folder that is not a project, another format or a damaged file is a
    one-line ProjectError."""
    folder = Path(folder)
    path = folder / PROJECT_FILE
    if not path.is_file():
        hint = "score it first (run_pipeline.py --video ...)" if not folder.exists() else "it was written without music (--analyze-only) or by an older mm2music; score it again"
        raise ProjectError(f"'{folder}' is not an mm2music project (no {PROJECT_FILE}); {hint}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise _damaged(folder, f"{PROJECT_FILE}: {exc}") from None
    if not isinstance(data, dict):
        raise _damaged(folder, f"{PROJECT_FILE} holds {type(data).__name__}, not an object")
    if data.get("format") != FORMAT:
        raise ProjectError(f"'{folder}' has project format {data.get('format')!r}; this mm2music reads format {FORMAT}: score it again")
    try:
        cues = _field(data, "cues", list)
        for i, item in enumerate(cues):
            if not isinstance(item, dict) or item.get("file") != cue_file(i):
                raise ValueError(f"cue entry {i + 1} is {item!r}, not {{'file': {cue_file(i)!r}, ...}}")
            _field(item, "seed", int)
            _field(item, "pinned", dict, {})
        if not cues:
            raise ValueError("it has no cues")
        hits = _field(data, "hits", list)
        if not all(isinstance(h, (int, float)) and not isinstance(h, bool) for h in hits):
            raise ValueError(f"hits is {hits!r}")
        notes = _field(data, "notes", list, [])
        return ProjectIndex(_field(data, "version", int, 1), tuple(cues), _field(data, "checkpoint", dict), _field(data, "seed", int),
                            tuple(float(h) for h in hits), tuple(str(n) for n in notes))
    except ValueError as exc:
        raise _damaged(folder, f"{PROJECT_FILE}: {exc}") from None


def load_project(folder: str | Path) -> Project:
    """Read a project folder; a folder that is not one (or is from another format, or damaged) is a one-line error."""
    folder = Path(folder)
    index = read_index(folder)
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        analysis = analysis_from_json(json.loads((folder / "analysis.json").read_text(encoding="utf-8")))
        if not isinstance(config, dict):
            raise TypeError(f"config.json holds {type(config).__name__}, not an object")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise _damaged(folder, str(exc)) from None
    cues = []
    for item in index.cues:
        where = str(folder / item["file"])
        try:
            data = json.loads((folder / item["file"]).read_text(encoding="utf-8"))
            music, seed = music_from_json(data, where)
        except ProjectError:
            raise
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ProjectError(f"cannot read {where}: {' '.join(str(exc).split())}; restore it with `revise {folder} --undo`") from None
        cues.append(CueEntry(music, seed, bool(item.get("locked")), dict(item.get("pinned", {}))))
    return Project(folder, config, analysis, cues, index.checkpoint, index.seed, list(index.hits), index.version,
                   index.notes)


def new_project(staging: Path, analysis: Analysis, plan: Plan, config, music: list[CueMusic], seeds: list[int],
                raw_audio: np.ndarray | None, locked: set[int] = frozenset(), pinned: dict[int, dict] | None = None,
                previous: Path | None = None) -> Project:
    """Write the project files of a full run into ``staging`` (the pipeline calls this after the music);
    ``previous``: the folder this run replaces; if it is a project, it becomes the newest version in history."""
    from mm2music.music.checkpoint import DEFAULT_CHECKPOINT
    from mm2music.music.terms import checkpoint_training_data

    ckpt = config.music.checkpoint or str(DEFAULT_CHECKPOINT)
    pinned = pinned or {}
    entries = [CueEntry(m, s, i in locked, dict(pinned.get(i, {}))) for i, (m, s) in enumerate(zip(music, seeds))]
    project = Project(staging, config.to_dict(), analysis, entries,
                      {"path": config.music.checkpoint, "sha256": checkpoint_hash(ckpt),
                       "training_data": checkpoint_training_data(ckpt)["summary"]}, config.seed,
                      sorted(config.plan.hits or []), 1, tuple(plan.notes))
    project.write(staging)
    if previous is not None and is_project(previous):  # a re-run of a project keeps its history: undo goes back
        carry_history(previous, staging, config.output.keep_versions)
    if raw_audio is not None:
        save_mix(staging, raw_audio)
    return project


def save_mix(folder: Path, audio: np.ndarray) -> None:
    np.save(replace_file(folder / MIX_FILE), np.ascontiguousarray(audio, dtype=np.float32))


def save_mix_blocks(folder: Path, n: int, blocks) -> Path:
    """The stored music written a block at a time: ``n`` samples of float32 stereo from ``blocks`` (an iterable of
    ``(m, 2)`` arrays), the same ``.npy`` file as :func:`save_mix` writes; returns its path."""
    path = replace_file(folder / MIX_FILE)
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)), "fortran_order": False,
                                                 "shape": (n, 2)})
        written = 0
        for block in blocks:
            f.write(np.ascontiguousarray(block, np.float32).tobytes())
            written += len(block)
    if written != n:
        raise ValueError(f"the stored music got {written} samples where {n} were announced")
    return path


def load_mix(folder: Path, mmap: bool = False, samples: int | None = None) -> np.ndarray:
    """The stored music before normalisation (``mmap``: mapped read-only, e.g. to read its length); ``samples``:
    the length it must have (a damaged or foreign file is a one-line error)."""
    path = folder / MIX_FILE
    if not path.is_file():
        raise ProjectError(f"'{path}' is missing; the project cannot be re-rendered piecewise: score it again")
    fix = f"restore it with `revise {folder} --undo` or score the project again"
    try:
        mix = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise ProjectError(f"'{path}' is not the project's stored music ({' '.join(str(exc).split())}); {fix}") from None
    if not isinstance(mix, np.ndarray) or mix.ndim != 2 or mix.shape[1] != 2 or mix.dtype != np.float32:
        raise ProjectError(f"'{path}' is not the project's stored music (float32 stereo expected, found "
                           f"{getattr(mix, 'dtype', type(mix).__name__)} {getattr(mix, 'shape', '')}); {fix}")
    if samples is not None and abs(len(mix) - samples) > 1:
        raise ProjectError(f"'{path}' holds {len(mix)} samples where the project's {samples} were expected; {fix}")
    return mix


def with_pinned(cue: Cue, **changes) -> Cue:
    """``cue`` with ``changes``; a field the Cue does not have (e.g. ``intensity`` before the planner has it)
    is dropped here and kept in the project's ``pinned`` settings."""
    names = {f.name for f in fields(Cue)}
    return replace(cue, **{k: v for k, v in changes.items() if k in names})
