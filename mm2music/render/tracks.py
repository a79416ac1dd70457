"""The soundtrack rendered once, track by track, to disk: the mix is the sum of the tracks, the stems are the tracks.

:class:`TrackRenderer` runs FluidSynth on two threads fed each cue as soon as the decoder has chosen it (while
the decoder writes the next cue). Each instrument track of ``soundtrack.mid`` gets a synth of its own, seated and in
the hall (:func:`~mm2music.arrange.seating.part_controls`); what it renders goes to a :class:`TrackFile` in the
staging folder, only where the track sounds (a synth whose voices have ended and whose reverb tail has died
away renders nothing: :class:`~mm2music.render.synth.Synthesizer`). The mix is then summed from the tracks a
block at a time into the project's stored music and measured on the way (BS.1770 loudness of the whole and of
each cue's stretch, the loudest sample), so nothing the length of the film is ever held in memory, and the stems
(:mod:`~mm2music.render.stems`) add up to the mix by construction. Without stems at the mix's rate (``none``,
``48k24``), one synth renders every track (one channel each) into a single file.
"""

from __future__ import annotations

import bisect
import logging
import shutil
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mm2music.config import RenderConfig

log = logging.getLogger(__name__)

BLOCK = 1 << 20  # samples summed, measured, gained and written at a time (~24 s at 44.1 kHz, 8 MB of float32 stereo)
TRACKS_DIR = ".tracks"  # in the staging folder, removed once the stems are written


class TrackFile:
    """One track's audio on disk: float32 stereo pieces appended as they are rendered, each at its first
    sample; :meth:`read` gives any window back, zeros where nothing was written (the track was silent)."""

    def __init__(self, path: Path):
        self.path = path
        self._file = open(path, "w+b")
        self._spans: list[list[int]] = []  # [first sample, samples, byte offset in the file], in time order
        self._starts: list[int] = []  # their first samples
        self._size = 0

    def write(self, start: int, audio: np.ndarray) -> None:
        data = np.ascontiguousarray(audio, np.float32)
        if self._spans and self._spans[-1][0] + self._spans[-1][1] == start:
            self._spans[-1][1] += len(data)  # continues the last span (written right after it)
        else:
            self._spans.append([start, len(data), self._size])
            self._starts.append(start)
        self._file.seek(self._size)
        self._file.write(data.tobytes())
        self._size += data.nbytes

    def read(self, a: int, b: int) -> np.ndarray:
        """float32 ``(b - a, 2)``: samples ``a`` to ``b``."""
        out = np.zeros((max(0, b - a), 2), np.float32)
        self.add_into(out, a)
        return out

    def add_into(self, out: np.ndarray, a: int) -> bool:
        """Add the samples from ``a`` on to ``out`` (float32 ``(m, 2)``); False where the track is silent there
        (nothing read)."""
        b, found = a + len(out), False
        first = max(0, bisect.bisect_right(self._starts, a) - 1)
        for start, n, offset in self._spans[first:bisect.bisect_left(self._starts, b)]:
            lo, hi = max(a, start), min(b, start + n)
            if lo >= hi:
                continue
            self._file.seek(offset + (lo - start) * 8)
            out[lo - a:hi - a] += np.frombuffer(self._file.read((hi - lo) * 8), np.float32).reshape(-1, 2)
            found = True
        return found

    def sounds(self, a: int, b: int) -> bool:
        """Whether anything was written for samples ``a`` to ``b``."""
        i = bisect.bisect_left(self._starts, b) - 1
        return i >= 0 and self._spans[i][0] + self._spans[i][1] > a

    def close(self) -> None:
        self._file.close()
        self.path.unlink(missing_ok=True)


@dataclass
class Track:
    """An instrument track of the soundtrack (a MIDI track of ``soundtrack.mid``) and its rendered audio."""

    name: str
    program: int
    is_drum: bool
    audio: TrackFile
    synth: object = None


@dataclass
class Rendered:
    """What :meth:`TrackRenderer.finish` did: the mix's measurements (:class:`~mm2music.render.loudness.Measured`),
    its tracks (the stems' audio; empty when one synth rendered the mix) and the seconds FluidSynth computed."""

    measured: object
    tracks: list[Track] = field(default_factory=list)
    synthesised_s: float = 0.0


class TrackRenderer:
    """FluidSynth on two threads, fed each cue (:meth:`composed`) as soon as the decoder has chosen it; each
    track renders to its :class:`TrackFile` in ``staging/.tracks``. :meth:`finish` renders the rest and sums the
    tracks into the project's stored music (``write_mix(n, blocks)``). ``per_track``: one synth per track (the
    stems at the mix's rate come for free); otherwise one synth for the whole mix. A context manager: leaving
    it closes the synths; :meth:`cleanup` removes the track files."""

    def __init__(self, cues: Sequence, hits: Sequence[float], n_samples: int, config: RenderConfig, staging: Path,
                 per_track: bool = True, threads: int = 2):
        from mm2music.arrange.timing import layout
        from mm2music.render.synth import find_soundfont, keep_loaded

        self.cues, self.hits, self.timings = cues, hits, layout(cues)
        self.n, self.config, self.per_track = n_samples, config, per_track
        self.folder = staging / TRACKS_DIR
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        self.tracks: dict[tuple, Track] = {}
        self._thread_of: dict[tuple, int] = {}
        self._threads = [ThreadPoolExecutor(1, thread_name_prefix=f"synth{k}") for k in range(threads if per_track else 1)]
        self._jobs: list = []
        self._count = 0
        self._threads[0].submit(keep_loaded, find_soundfont(config.soundfont))  # the soundfont loads while the decoder starts

    def _track(self, part) -> tuple[Track, int]:
        """The track a part plays on (made on first use) and the thread that renders it."""
        key = (part.name, part.program, part.is_drum) if self.per_track else ("mix", 0, False)
        if key not in self.tracks:
            self.tracks[key] = Track(*key, TrackFile(self.folder / f"{len(self.tracks):03d}.f32"))
            self._thread_of[key] = (len(self.tracks) - 1) % len(self._threads)
        return self.tracks[key], self._thread_of[key]

    def _synth(self, track: Track):
        """The track's synth, made on the thread that renders it (the soundfont is the process's, added in ~1 ms)."""
        from mm2music.render.synth import Synthesizer

        if track.synth is None:
            presets = [(128, 0) if track.is_drum else (0, track.program)] if self.per_track else None
            track.synth = Synthesizer(self.n, self.config.soundfont, self.config.sample_rate, fade_s=0.03, measure=False,
                                      sink=track.audio.write, presets=presets)
        return track.synth

    def _render(self, i: int, music) -> None:
        """Queue cue ``i``'s notes on the threads of their tracks, each rendering up to the cue's end."""
        from mm2music.arrange.seating import part_controls
        from mm2music.render.stems import timed_controls, timed_parts

        work: dict[int, list] = {}
        for part, notes in timed_parts(i, music, self.cues, self.timings, self.hits):
            track, thread = self._track(part)
            work.setdefault(thread, []).append((track, part, notes))
        end = music.cue.end

        def render(items) -> None:
            for track, part, notes in items:
                self._synth(track).add(notes, part.program, part.is_drum, track=part.name, controls=timed_controls(part, music.cue),
                                **part_controls(part))
            for track in {id(t): t for t, _, _ in items}.values():
                track.synth.render_until(end)

        for thread, items in work.items():
            self._jobs.append(self._threads[thread].submit(render, items))

    def composed(self, music) -> None:
        """Queue the next cue (cues arrive in order)."""
        self._render(self._count, music)
        self._count += 1

    def finish(self, write_mix, levels: Sequence = ()) -> Rendered:
        """Render every track to the end, then sum them a block at a time into ``write_mix(n, blocks)`` (the
        project's stored music) while measuring the mix (:class:`~mm2music.render.loudness.MixMeter` over ``levels``)."""
        from mm2music.render.loudness import MixMeter

        t0 = time.perf_counter()
        for job in self._jobs:
            job.result()  # an error on a synth thread surfaces here
        tracks = list(self.tracks.values())
        ends = [self._threads[self._thread_of[key]].submit(lambda t=t: self._synth(t).finish()) for key, t in self.tracks.items()]
        for job in ends:
            job.result()
        t1 = time.perf_counter()
        synthesised = sum(t.synth.synthesised for t in tracks) / self.config.sample_rate
        for t in tracks:  # done: their voices and buffers (~11 MB a synth) are not kept through the stems and the mux
            t.synth.close()
            t.synth = None
        meter = MixMeter(self.config.sample_rate, levels)

        def blocks():
            for a in range(0, self.n, BLOCK):
                b = min(self.n, a + BLOCK)
                mix = np.zeros((b - a, 2), np.float32)
                for t in tracks:
                    t.audio.add_into(mix, a)
                meter.add(a, mix)
                yield mix

        write_mix(self.n, blocks())
        log.info("rendered %d tracks (FluidSynth ran %.1f s of %.1f s of track time), %.2f s after the last cue; "
                 "summed and measured in %.2f s", len(tracks), synthesised, len(tracks) * self.n / self.config.sample_rate,
                 t1 - t0, time.perf_counter() - t1)
        # the tracks in soundtrack.mid's order: pitched tracks by first appearance, percussion last
        return Rendered(meter.result(), sorted(tracks, key=lambda t: t.is_drum) if self.per_track else [], synthesised)

    def cleanup(self) -> None:
        """Remove the track files (the stems have been written from them)."""
        for t in self.tracks.values():
            t.audio.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> TrackRenderer:
        return self

    def __exit__(self, *exc) -> None:
        for pool in self._threads:
            pool.shutdown(wait=True)
        for t in self.tracks.values():
            if t.synth is not None:
                t.synth.close()
        if exc[0] is not None:
            self.cleanup()
