"""Resume a run that was killed: its finished stages are kept beside the output folder until it publishes.

A long score (a feature takes many minutes) writes, as it goes, into ``<out>/.<name>.resume/``:

    key.json        what the work depends on: the inputs (path, size, modification time), the resolved
                    settings that shape the music (not where it is written) and the checkpoint file's identity
    analysis.json   the whole analysis at full precision (scenes, cuts, emotions, the video's metadata); the
    audio.npz       source's audio envelope beside it (plain arrays, read without pickle)
    cues/NN.json    each cue as soon as the decoder has written it (the project's cue format)

The same command run again finds the folder under the run's output lock, checks the key, and skips the
analysis and every cue whose planned cue is unchanged (the plan is recomputed: it is fast and deterministic).
Anything that differs (another input, another setting) starts afresh. The folder is removed when the run
succeeds (just before its output is published) or fails with a user error or a failed write (which leave nothing
behind); a kill, an interrupt or a crash keeps it. Files are written to a temporary name and renamed, so a kill never leaves half a file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import numpy as np

from mm2music.errors import Mm2MusicError
from mm2music.types import Analysis, AudioEnvelope, Cue, Emotion, Scene, TextSegment, Transition, VideoInfo

log = logging.getLogger(__name__)

FORMAT = 1
NOT_MUSIC = ("output",)  # config sections that only say where the result goes


def resume_folder(final: Path) -> Path:
    return final.with_name(f".{final.name}.resume")


def _file_id(path: str | None) -> dict | None:
    if not path:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return {"path": str(path)}
    return {"path": str(Path(path).resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def run_key(inputs, config) -> str:
    """A digest of everything the analysis and the music depend on."""
    from mm2music.music.checkpoint import DEFAULT_CHECKPOINT

    settings = {k: v for k, v in config.to_dict().items() if k not in NOT_MUSIC}
    checkpoint = Path(config.music.checkpoint) if config.music.checkpoint else DEFAULT_CHECKPOINT
    ckpt = [_file_id(str(p)) for p in sorted(checkpoint.glob("*"))] if checkpoint.is_dir() else _file_id(str(checkpoint))
    data = {"format": FORMAT, "video": _file_id(inputs.video), "captions": _file_id(inputs.captions),
            "text_file": _file_id(inputs.text_file), "text": inputs.text, "settings": settings, "checkpoint": ckpt,
            "cuts_from": _file_id(config.interchange.cuts_from)}
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


def _atomic_json(path: Path, data: dict) -> None:
    _atomic_write(path, lambda tmp: tmp.write_text(json.dumps(data), encoding="utf-8"))


class Resume:
    """The resume folder of one output (use while holding the output's lock)."""

    def __init__(self, final: Path, key: str):
        self.folder = resume_folder(final)
        self.key = key
        self.reused: dict[str, int] = {"analysis": 0, "cues": 0}
        found = self._read(self.folder / "key.json")
        self._ready = found is not None and found.get("key") == key
        if self._ready:
            log.info("resuming the run kept in %s", self.folder.name)
        elif self.folder.exists():
            log.info("%s was left by a run with other inputs or settings: starting afresh", self.folder.name)
            shutil.rmtree(self.folder, ignore_errors=True)

    def _open(self) -> None:
        """Made on the first thing kept: a run that fails before then leaves nothing behind."""
        if not self._ready:
            (self.folder / "cues").mkdir(parents=True, exist_ok=True)
            _atomic_json(self.folder / "key.json", {"format": FORMAT, "key": self.key})
            self._ready = True

    @staticmethod
    def _read(path: Path) -> dict | None:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    # --- the analysis ---------------------------------------------------------------------------------

    def save_analysis(self, analysis: Analysis) -> None:
        self._open()
        if analysis.audio is not None:
            a = analysis.audio
            _atomic_write(self.folder / "audio.npz", lambda tmp: np.savez(open(tmp, "wb"), rms_db=a.rms_db, speech_db=a.speech_db))
        data = {"source": analysis.source, "kind": analysis.kind, "duration": analysis.duration,
                "scenes": [asdict(s) for s in analysis.scenes], "transitions": [asdict(t) for t in analysis.transitions],
                "segments": [asdict(s) for s in analysis.segments], "video": asdict(analysis.video) if analysis.video else None,
                "audio": None if analysis.audio is None else {"sample_rate": analysis.audio.sample_rate, "hop_s": analysis.audio.hop_s,
                                                               "duration": analysis.audio.duration, "loudness_lufs": analysis.audio.loudness_lufs},
                "warnings": list(analysis.warnings), "emotions": [asdict(e) for e in analysis.emotions], "extra": analysis.extra}
        _atomic_json(self.folder / "analysis.json", data)

    def analysis(self) -> Analysis | None:
        """The analysis a killed run finished, or None."""
        data = self._read(self.folder / "analysis.json") if self._ready else None
        if data is None:
            return None
        audio = None
        if data["audio"] is not None:
            try:
                with np.load(self.folder / "audio.npz", allow_pickle=False) as arrays:
                    audio = AudioEnvelope(rms_db=arrays["rms_db"], speech_db=arrays["speech_db"], **data["audio"])
            except (OSError, ValueError, KeyError):
                return None
        self.reused["analysis"] = 1
        return Analysis(source=data["source"], kind=data["kind"], duration=data["duration"],
                        scenes=tuple(Scene(**s) for s in data["scenes"]), transitions=tuple(Transition(**t) for t in data["transitions"]),
                        segments=tuple(TextSegment(**s) for s in data["segments"]),
                        video=VideoInfo(**data["video"]) if data["video"] else None, audio=audio, warnings=tuple(data["warnings"]),
                        emotions=tuple(Emotion(**{**e, "sources": tuple(e["sources"])}) for e in data["emotions"]), extra=data["extra"])

    # --- the cues --------------------------------------------------------------------------------------

    def save_cue(self, i: int, music, seed: int) -> None:
        from mm2music.project import music_to_json

        self._open()
        _atomic_json(self.folder / "cues" / f"{i + 1:02d}.json", music_to_json(music, seed))

    def cues(self, planned: Sequence[Cue]) -> dict:
        """Cue index -> the music a killed run wrote for exactly this planned cue."""
        from mm2music.project import cue_to_json, music_from_json

        found: dict = {}
        for i, cue in enumerate(planned if self._ready else ()):
            data = self._read(self.folder / "cues" / f"{i + 1:02d}.json")
            if data is None or data.get("cue") != json.loads(json.dumps(cue_to_json(cue))):
                continue
            found[i] = music_from_json(data, f"{self.folder.name}/cues/{i + 1:02d}.json")[0]
        self.reused["cues"] = len(found)
        if found:
            log.info("resumed %d of %d cues from %s", len(found), len(planned), self.folder.name)
        return found

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


@contextmanager
def resumable(final: Path, key: str) -> Iterator[Resume]:
    """The resume folder of ``final`` for the block: removed when the block succeeds or raises a user error
    (:class:`~mm2music.errors.Mm2MusicError`, or an ``OSError`` such as a full disk: nothing is left behind), kept
    on an interrupt, a kill or a crash for the same command."""
    resume = Resume(final, key)
    try:
        yield resume
    except (Mm2MusicError, OSError):
        resume.discard()
        raise
    resume.discard()
