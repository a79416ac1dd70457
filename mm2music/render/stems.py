"""Stems for the mixer: ``stems/<name>_<track>.wav``, one per instrument track of ``soundtrack.mid``.

Each stem is rendered by its own in-process FluidSynth (which adds the soundfont the process keeps loaded, in
about a millisecond: no stem loads or parses it again) from the same per-cue parts the mix is rendered from
(:func:`timed_parts`), seated and in the same hall, over the whole length of the soundtrack, and scaled by the gain
that the delivery loudness gave the mix. So the stems start together, are as long as the video and, at the
soundtrack's rate, add up to ``soundtrack.wav`` before ducking (FluidSynth is linear and renders in float; what is
left is each file's 16-bit rounding). Silence is rendered too, not skipped: FluidSynth's reverb and chorus are
modulated, and a stem agrees with the mix only if its synth has run as long. ``48k24`` renders them at 48 kHz and
writes 24-bit PCM for post-production: time-aligned with the soundtrack, and adding up to the same mix rendered at
48 kHz.
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


def stem_gain(gain: float | np.ndarray, n: int, rate: int, mix_rate: int) -> float | np.ndarray:
    """The mix's gain for a stem of ``n`` samples at ``rate``: a number as it is; a per-sample curve at
    ``mix_rate`` (where the peak limiter acted) as an ``(n, 1)`` column, interpolated to ``rate``."""
    if np.isscalar(gain):
        return float(gain)
    curve = np.asarray(gain, np.float32)
    if rate != mix_rate or len(curve) != n:
        curve = np.interp(np.arange(n) * (mix_rate / rate), np.arange(len(curve)), curve).astype(np.float32)
    return curve[:, None]


def write_stems(music: Sequence, hits: Sequence[float], duration: float, config: RenderConfig, fmt: str,
                gain: float | np.ndarray, out_dir: Path, name: str, workers: int = 2, start_s: float = 0.0,
                progress: bool | None = None) -> list[str]:
    """Render and write one stem per track into ``out_dir/stems/``; returns their paths relative to ``out_dir``.
    ``gain``: the linear gain the delivery loudness applied to the mix (a number, or its per-sample curve at
    the soundtrack's rate where the peak limiter acted); ``start_s``: the film's start timecode (seconds since
    00:00:00:00), the stems' Broadcast WAV TimeReference; ``progress``: a bar on stderr (None: when it is a
    terminal)."""
    from tqdm import tqdm

    from mm2music.arrange.seating import seat
    from mm2music.interchange.bwf import BroadcastWavWriter
    from mm2music.render.synth import Synthesizer

    if fmt not in STEM_FORMATS:
        raise ConfigError(f"stems format {fmt!r} is not one of {[*STEM_FORMATS, 'none']}; pass --stems-format 48k24 or default")
    rate, subtype = STEM_FORMATS[fmt]
    sr = rate or config.sample_rate
    n = int(round(duration * sr))
    scale = stem_gain(gain, n, sr, config.sample_rate)
    block = STREAM_BLOCK_S * sr
    folder = out_dir / STEMS_DIR
    folder.mkdir(exist_ok=True)
    jobs, used = [], set()
    for track, program, is_drum, notes in stem_tracks(music, hits):
        slug = stem_slug(track)
        while slug in used:  # two tracks that slug alike keep apart
            slug += "-2"
        used.add(slug)
        jobs.append((folder / f"{name}_{slug}.wav", program, is_drum, notes))

    def render(job) -> str:
        path, program, is_drum, notes = job
        place = seat(program, is_drum)
        # a synth of its own (the soundfont is the process's, added in ~1 ms): it has run exactly as long as the mix's
        # when it reaches any note, so the two sound alike to the sample (FluidSynth's reverb is modulated)
        synth = Synthesizer(n, config.soundfont, sr, fade_s=0.03, measure=False)
        for expression, cue_notes, controls in notes:
            synth.add(cue_notes, program, is_drum, expression=expression, pan=place.pan_cc, reverb=place.reverb_cc,
                      controls=controls)
        try:
            # a Broadcast WAV spotted at the film's start timecode, written a block at a time: memory does not grow with the film
            with BroadcastWavWriter(path, sr, 2, subtype, round(start_s * sr), f"{name}: stem {path.stem.removeprefix(name + '_')}",
                                    reference=path.stem[:32]) as out:
                done = 0
                for end in range(0, n + block, block):
                    synth.render_until(min(end, n) / sr)
                    chunk = synth.take()
                    part = scale if np.isscalar(scale) else scale[done:done + len(chunk)]
                    out.write(chunk * part)  # clipped at full scale as it is written
                    done += len(chunk)
        finally:
            synth.close()
        return f"{STEMS_DIR}/{path.name}"

    bar = tqdm(total=len(jobs), desc="stems", unit="stem", disable=None if progress is None else not progress, leave=False)
    with ThreadPoolExecutor(workers) as pool:  # FluidSynth renders outside the GIL: two stems at a time
        written = [(bar.update(1), path)[1] for path in pool.map(render, jobs)]
    bar.close()
    log.info("wrote %d stems at %d Hz (%s)", len(written), sr, subtype)
    return written
