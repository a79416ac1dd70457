"""Stems for the mixer: ``stems/<name>_<track>.wav``, one per instrument track of ``soundtrack.mid``.

In a full run the stems are the tracks the mix was summed from (:mod:`~mm2music.render.tracks`: each track
rendered once, by a FluidSynth of its own, seated and in the same hall), scaled by the gain that the delivery
loudness gave the mix (:func:`write_track_stems`): they start together, are as long as the video and add up to
``soundtrack.wav`` before ducking, up to each file's 16-bit rounding. Where the mix was not summed from its tracks
(an edit of a project splices re-rendered spans into the stored music; ``48k24`` renders them at 48 kHz and
writes 24-bit PCM for post-production), :func:`write_stems` renders each track again from the same per-cue parts
(:func:`timed_parts`), a synth per stem that synthesises only where its track sounds. Every stem is a Broadcast
WAV spotted at the film's start timecode, written a block at a time.
"""

from __future__ import annotations

import logging
import re
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from mm2music.config import RenderConfig
from mm2music.errors import ConfigError

log = logging.getLogger(__name__)

STEMS_DIR = "stems"
# --stems-format -> (sample rate or None for the soundtrack's, soundfile subtype)
STEM_FORMATS = {"default": (None, "PCM_16"), "48k24": (48000, "PCM_24")}
STREAM_BLOCK_S = 30  # seconds rendered and written at a time


def timed_parts(i: int, music, cues: Sequence, timings: Sequence, hits: Sequence[float]) -> Iterator[tuple]:
    """The parts of cue ``i`` with their notes in seconds: ``(part, [(start s, end s, pitch, velocity)])``.
    The one place both the mix and the stems get their notes from."""
    from mm2music.arrange.score import cue_parts, hit_ticks
    from mm2music.arrange.timing import TICKS_PER_QUARTER

    cue = music.cue
    for part in cue_parts(music, hit_ticks(i, cues, timings, hits), last=i == len(cues) - 1):
        yield part, [(cue.seconds_at(n.start / TICKS_PER_QUARTER), cue.seconds_at(n.end / TICKS_PER_QUARTER), n.pitch, n.velocity)
                     for n in part.notes]


def timed_controls(part, cue) -> list[tuple[float, int, int]]:
    """The part's controller changes (phrase swells, vibrato, pedal) in seconds: ``(time s, controller, value)``."""
    from mm2music.arrange.timing import TICKS_PER_QUARTER

    return [(cue.seconds_at(t / TICKS_PER_QUARTER), number, value) for t, number, value in part.controls]


def stem_slug(track: str) -> str:
    """'Melody - Acoustic Grand Piano' -> 'melody-acoustic-grand-piano'."""
    return re.sub(r"[^a-z0-9]+", "-", track.lower()).strip("-") or "track"


def stem_tracks(music: Sequence, hits: Sequence[float]) -> list[tuple[str, int, bool, list]]:
    """``(track name, program, is_drum, [(expression, notes in seconds, controls in seconds) per cue])`` per MIDI track, in
    ``soundtrack.mid``'s order (pitched tracks by first appearance, percussion last)."""
    from mm2music.arrange.timing import layout

    cues = [m.cue for m in music]
    timings = layout(cues)
    tracks: dict[tuple[str, int, bool], list] = {}
    for i, m in enumerate(music):
        for part, notes in timed_parts(i, m, cues, timings, hits):
            tracks.setdefault((part.name, part.program, part.is_drum), []).append((part.expression, notes, timed_controls(part, m.cue)))
    ordered = sorted(tracks.items(), key=lambda kv: kv[0][2])
    return [(name, program, is_drum, notes) for (name, program, is_drum), notes in ordered]


def gain_block(gain, a: int, b: int, rate: int, mix_rate: int) -> float | np.ndarray:
    """The mix's gain (a number or a :class:`~mm2music.render.loudness.GainCurve`) for samples ``a`` to ``b`` of
    a stem at ``rate`` (the curve is at ``mix_rate``, interpolated): a number, or a ``(b - a, 1)`` column."""
    if np.isscalar(gain):
        return float(gain)
    g = gain.resampled(a, b, rate, mix_rate)
    return g if np.isscalar(g) else g[:, None]


def stem_paths(tracks: Sequence[str], folder: Path, name: str) -> list[Path]:
    """``folder/<name>_<slug>.wav`` for each track name (two tracks that slug alike keep apart)."""
    paths, used = [], set()
    for track in tracks:
        slug = stem_slug(track)
        while slug in used:
            slug += "-2"
        used.add(slug)
        paths.append(folder / f"{name}_{slug}.wav")
    return paths


def _stem_writer(path: Path, sr: int, subtype: str, name: str, start_s: float):
    """A Broadcast WAV spotted at the film's start timecode, written a block at a time."""
    from mm2music.interchange.bwf import BroadcastWavWriter

    return BroadcastWavWriter(path, sr, 2, subtype, round(start_s * sr), f"{name}: stem {path.stem.removeprefix(name + '_')}",
                              reference=path.stem[:32])


def _run(jobs: list, render, workers: int, sr: int, subtype: str, progress: bool | None) -> list[str]:
    from tqdm import tqdm

    bar = tqdm(total=len(jobs), desc="stems", unit="stem", disable=None if progress is None else not progress, leave=False)
    with ThreadPoolExecutor(workers) as pool:  # FluidSynth and NumPy work outside the GIL: two stems at a time
        written = [(bar.update(1), path)[1] for path in pool.map(render, jobs)]
    bar.close()
    log.info("wrote %d stems at %d Hz (%s)", len(written), sr, subtype)
    return written


def write_track_stems(tracks: Sequence, gain, sample_rate: int, n: int, out_dir: Path, name: str, workers: int = 2,
                      start_s: float = 0.0, progress: bool | None = None) -> list[str]:
    """Write the stems of the default format from the tracks the mix was summed from
    (:class:`~mm2music.render.tracks.Track`, each read back from its file a block at a time) scaled by the
    mix's ``gain``: they add up to the mix exactly (up to each file's 16-bit rounding); returns their paths
    relative to ``out_dir``."""
    from mm2music.render.tracks import BLOCK

    rate, subtype = STEM_FORMATS["default"]
    folder = out_dir / STEMS_DIR
    folder.mkdir(exist_ok=True)

    silence = np.zeros((BLOCK, 2), "<i2")

    def write(job) -> str:
        path, track = job
        with _stem_writer(path, sample_rate, subtype, name, start_s) as out:
            for a in range(0, n, BLOCK):
                b = min(n, a + BLOCK)
                if not track.audio.sounds(a, b):  # most of a film, for most tracks
                    out.write(silence[:b - a])
                    continue
                piece = track.audio.read(a, b) * gain_block(gain, a, b, sample_rate, sample_rate)
                # rounded to 16 bits here, in float32 (the writer's own conversion goes through float64)
                out.write(np.rint(np.clip(piece, -1.0, 1.0) * np.float32(32767.0)).astype("<i2"))
        return f"{STEMS_DIR}/{path.name}"

    return _run(list(zip(stem_paths([t.name for t in tracks], folder, name), tracks)), write, workers, sample_rate, subtype, progress)


def write_stems(music: Sequence, hits: Sequence[float], duration: float, config: RenderConfig, fmt: str,
                gain, out_dir: Path, name: str, workers: int = 2, start_s: float = 0.0,
                progress: bool | None = None) -> list[str]:
    """Render and write one stem per track into ``out_dir/stems/``; returns their paths relative to ``out_dir``.
    ``gain``: the linear gain the delivery loudness applied to the mix (a number, or its
    :class:`~mm2music.render.loudness.GainCurve` where the peak limiter acted); ``start_s``: the film's start
    timecode (seconds since 00:00:00:00), the stems' Broadcast WAV TimeReference; ``progress``: a bar on stderr
    (None: when it is a terminal). Each stem has a synth of its own that renders only where its track sounds."""
    from mm2music.arrange.seating import seat
    from mm2music.render.synth import Synthesizer

    if fmt not in STEM_FORMATS:
        raise ConfigError(f"stems format {fmt!r} is not one of {[*STEM_FORMATS, 'none']}; pass --stems-format 48k24 or default")
    rate, subtype = STEM_FORMATS[fmt]
    sr = rate or config.sample_rate
    n = int(round(duration * sr))
    block = STREAM_BLOCK_S * sr
    folder = out_dir / STEMS_DIR
    folder.mkdir(exist_ok=True)
    tracks = stem_tracks(music, hits)
    jobs = [(path, program, is_drum, notes) for path, (_, program, is_drum, notes) in zip(stem_paths([t[0] for t in tracks], folder, name), tracks)]

    def render(job) -> str:
        path, program, is_drum, notes = job
        place = seat(program, is_drum)
        synth = Synthesizer(n, config.soundfont, sr, fade_s=0.03, measure=False, presets=[(128, 0) if is_drum else (0, program)])
        try:
            for expression, cue_notes, controls in notes:
                synth.add(cue_notes, program, is_drum, expression=expression, pan=place.pan_cc, reverb=place.reverb_cc,
                          controls=controls)
            with _stem_writer(path, sr, subtype, name, start_s) as out:
                done = 0
                for end in range(0, n + block, block):
                    synth.render_until(min(end, n) / sr)
                    chunk = synth.take()
                    out.write(chunk * gain_block(gain, done, done + len(chunk), sr, config.sample_rate))  # clipped as written
                    done += len(chunk)
        finally:
            synth.close()
        return f"{STEMS_DIR}/{path.name}"

    return _run(jobs, render, workers, sr, subtype, progress)
