"""What a finished score hands to the editor and the mixer, once the audio is written: the Broadcast WAV timecode
``soundtrack.wav`` is written with (:func:`mix_bext`; the stems are written with theirs), one WAV per cue
(``cues/NN.wav``) and the timeline files.

Each cue's WAV is the mix between the frames where its clip starts and ends on the timeline (the cue's start and
end rounded to the picture's frames), read back from ``soundtrack.wav`` one cue at a time: laid end to end, the
clips play the soundtrack sample for sample, and no whole-film array is held.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from mm2music.interchange.bwf import BroadcastWavWriter
from mm2music.interchange.timecode import StartTimecode
from mm2music.interchange.timeline import CueClip, build_timeline, write_timelines
from mm2music.types import Cue

log = logging.getLogger(__name__)

CUES_DIR = "cues"


def cue_file(i: int) -> str:
    """``cues/NN.wav`` of cue ``i`` (0-based), beside the project's ``cues/NN.json``."""
    return f"{CUES_DIR}/{i + 1:02d}.wav"


def _markers(cue: Cue, hits: Sequence[float]) -> tuple[tuple[float, str, str], ...]:
    marks = [(h, f"hit {h:.2f} s", "RED") for h in hits if cue.start <= h < cue.end]
    marks += [(c, f"caught cut {c:.2f} s", "YELLOW") for c in cue.catches]
    return tuple(sorted(marks))


def write_cue_wavs(folder: Path, cues: Sequence[Cue], start: StartTimecode, title: str, progress: bool | None = None) -> list[str]:
    """``cues/NN.wav``: the mix of each cue's frames, as Broadcast WAV at its timecode."""
    import soundfile
    from tqdm import tqdm

    mix = folder / "soundtrack.wav"
    info = soundfile.info(str(mix))
    sr = info.samplerate
    (folder / CUES_DIR).mkdir(exist_ok=True)
    written = []
    with soundfile.SoundFile(str(mix)) as src:
        for i, cue in enumerate(tqdm(cues, desc="cue WAVs", unit="cue", disable=None if progress is None else not progress, leave=False)):
            first, last = start.frame_at(cue.start) - start.frame, start.frame_at(cue.end) - start.frame
            a, b = round(first / start.rate * sr), min(info.frames, round(last / start.rate * sr))
            src.seek(min(a, info.frames))
            audio = src.read(max(0, b - a), dtype="int16" if info.subtype == "PCM_16" else "float32", always_2d=True)
            with BroadcastWavWriter(folder / cue_file(i), sr, info.channels, info.subtype, start.samples(sr, first / start.rate),
                                    f"{title}: cue {i + 1} ({cue.key} {cue.mode}, {cue.tempo_bpm:.1f} BPM)",
                                    reference=f"{title}-cue{i + 1:02d}"[:32]) as out:
                out.write(audio)
            written.append(cue_file(i))
    return written


def mix_bext(start: StartTimecode, title: str, sample_rate: int) -> dict:
    """The ``bext`` chunk of ``soundtrack.wav`` (keyword arguments of :func:`~mm2music.interchange.bwf.bext_chunk`):
    its TimeReference is the film's start."""
    return {"time_reference": start.samples(sample_rate), "description": f"{title}: music mix from {start}",
            "reference": f"{title}-mix"[:32]}


def deliver(folder: Path, cues: Sequence[Cue], hits: Sequence[float], duration: float, start: StartTimecode, title: str,
            picture: str | None = None, progress: bool | None = None) -> dict[str, str]:
    """``cues/NN.wav`` and the timelines (``soundtrack.wav`` was written with its timecode, :func:`mix_bext`, and
    the stems with theirs); returns the files written for the run's summary (``{what: name}``)."""
    files = write_cue_wavs(folder, cues, start, title, progress)
    stems = [(p.stem.removeprefix(f"{title}_"), f"stems/{p.name}") for p in sorted((folder / "stems").glob("*.wav"))]
    clips = [CueClip(f"{title} cue {i + 1}", c.start, c.end, f, _markers(c, hits),
                     {"cue": i + 1, "key": f"{c.key} {c.mode}", "tempo_bpm": round(c.tempo_bpm, 3), "theme": c.theme})
             for i, (c, f) in enumerate(zip(cues, files))]
    timeline = build_timeline(title, clips, start, duration, stems, picture)
    written = write_timelines(timeline, folder)
    log.info("timeline from %s: %d cue clips, %d stem tracks, %s", start, len(clips), len(stems), ", ".join(written.values()))
    return {"timeline": written["otio"], "cue_wavs": f"{CUES_DIR}/ ({len(files)} cue WAVs)",
            **{f"timeline_{k}": v for k, v in written.items() if k != "otio"}}
