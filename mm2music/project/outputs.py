"""The project's outputs: the one writer of everything derived from the music (MIDI, the normalised WAV, stems
and MusicXML, the ducked mix muxed into the scored video, the timeline and the cue sheet), used by the full run
(:func:`mm2music.pipeline.write_music`) and by every edit of a project (:func:`mm2music.revise.write_outputs`).

It writes into a staging folder that may hold hard links to the previous version's files (a revise): every
file is unlinked before it is written (:func:`~mm2music.project.store.replace_file`), never edited in place.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from mm2music.config import Config
from mm2music.project.store import replace_file
from mm2music.types import Analysis, AudioEnvelope, Plan

CUE_SHEET, CUE_SHEET_MD = "cue_sheet.json", "cue_sheet.md"


def config_of(data: dict) -> Config:
    """The resolved :class:`Config` a project was scored with (its ``config.json``); keys this version does not
    know (a project from another mm2music) are left out rather than refused."""

    def build(cls, values):
        kwargs = {}
        for f in dataclasses.fields(cls):
            if f.name not in (values or {}):
                continue
            value = values[f.name]
            default = getattr(cls(), f.name) if dataclasses.is_dataclass(cls) else None
            kwargs[f.name] = build(type(default), value) if dataclasses.is_dataclass(default) and isinstance(value, dict) else value
        return cls(**kwargs)

    return build(Config, data if isinstance(data, dict) else {})


def write_json(path: Path, data: dict) -> None:
    replace_file(path).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def output_stem(analysis: Analysis, config: Config) -> str:
    """What stems are named after: the output folder's name (``--name``, the input's stem or a text's slug)."""
    from mm2music.output import slug

    return config.output.name or (slug(analysis.segments[0].text) if analysis.source == "text" else Path(analysis.source).stem)


@dataclass
class SoundtrackWriter:
    """Writes the outputs of ``music`` into ``staging`` in three steps, so that the full run can overlap them with
    its rendering: :meth:`score` (MIDI; the sync report; the MusicXML and the timeline figure then start in the
    writer process, :mod:`~mm2music.project.writer_process`), :meth:`audio` (the normalised WAV) and :meth:`rest`
    (the stems, the scored video and the editor's timeline; the cue sheet's content). A context manager: leaving
    it waits for what the writer process still writes into ``staging``, so nothing is written there after a
    failure has removed it."""

    staging: Path
    analysis: Analysis
    plan: Plan
    music: Sequence
    config: Config
    hits: Sequence[float]
    timings: object | None = None  # anything with ``stage(name)`` (pipeline.Timings)
    files: dict = field(default_factory=dict)
    sync: dict | None = None
    _score: object = None
    _source: object = None  # the music before normalisation, read a block at a time (mm2music.render.loudness sources)
    tracks: Sequence = ()  # the tracks the mix was summed from (mm2music.render.tracks.Track): the default stems
    progress: bool | None = None  # progress bars (None: when stderr is a terminal)
    start: object = None  # the film's start timecode (mm2music.interchange.timecode), set by score()
    _delivery: object = None  # mm2music.render.loudness.Delivery
    _gain: object = 1.0  # the delivery's gain: a number or a GainCurve (the stems take the same)
    _apart: Future | None = None  # the files the writer process writes (started by score())

    def __enter__(self) -> SoundtrackWriter:
        return self

    def __exit__(self, *exc) -> None:
        if self._apart is not None:
            wait([self._apart])  # its error, if any, was raised by rest(), or the run is failing already

    def _stage(self, name: str):
        return self.timings.stage(name) if self.timings is not None else nullcontext()

    @property
    def fps(self) -> float:
        return self.analysis.video.fps if self.analysis.video else 25.0

    def score(self) -> dict:
        """``soundtrack.mid`` and its sync report (cuts and hits on bar lines, measured on the file)."""
        from mm2music.arrange.score import build_score, piano_roll
        from mm2music.arrange.timing import score_sync
        from mm2music.interchange.timecode import film_start, write_midi_offset
        from mm2music.preload import in_background

        with self._stage("arrange"):
            midi = replace_file(self.staging / "soundtrack.mid")
            self._score = build_score(self.music, self.fps, self.analysis.cuts, self.hits)
            self._score.dump_midi(str(midi))
            self.sync = score_sync(midi, self.plan.cues, self.analysis.cuts, self.hits)
            self.start = film_start(self.analysis.extra, self.config.interchange.start_tc, self.fps)
            write_midi_offset(midi, self.start)
        self.files["midi"] = midi.name
        self._apart = in_background(self._write_apart, piano_roll(self._score), name="writer-process")
        return self.sync

    def audio(self, raw, measured=None) -> None:
        """The delivery of ``raw`` (the music before normalisation: an array, or a block source such as the
        project's stored music, :class:`~mm2music.render.loudness.NpySource`): the gain that puts it at the
        delivery loudness, each cue at its planned dynamic, true peak <= -1 dBTP (a look-ahead limiter if need be),
        computed a block at a time. ``measured``: what a :class:`~mm2music.render.loudness.MixMeter` found on it
        while it was written (a :class:`~mm2music.render.loudness.Measured`), else it is measured here.
        ``soundtrack.wav``, the scored video and the stems all take that gain: :meth:`rest` writes them side by side."""
        from mm2music.render.loudness import ArraySource, cue_levels, plan_delivery, target_lufs

        r = self.config.render
        levels = cue_levels([m.cue for m in self.music])
        self._source = source = raw if hasattr(raw, "read") else ArraySource(raw)
        self._delivery = plan_delivery(source, r.sample_rate, target_lufs(r.loudness), levels, measured=measured)
        self._gain = self._delivery.gain

    def _wav(self) -> None:
        """``soundtrack.wav``: the music at the delivery's gain, 16-bit, with its Broadcast WAV timecode when the
        editor's timeline is written (a DAW spots it at the film's start)."""
        from mm2music.render.loudness import write_delivered

        r = self.config.render
        bext = None
        if self.config.interchange.timeline and self.start is not None:
            from mm2music.interchange.deliver import mix_bext

            bext = mix_bext(self.start, output_stem(self.analysis, self.config), r.sample_rate)
        self._delivery = write_delivered(self._source, self._delivery, replace_file(self.staging / "soundtrack.wav"), r.sample_rate,
                                         bext=bext)

    def rest(self, envelope: AudioEnvelope | None) -> dict:
        """The scored video (the music ducked under ``envelope``, the source's speech, when the mix keeps it) and
        the stems on threads, ``soundtrack.wav`` and then the editor's timeline meanwhile, and what the writer
        process wrote; returns the cue sheet's content."""
        from mm2music.arrange.cuesheet import cue_sheet
        from mm2music.music.checkpoint import DEFAULT_CHECKPOINT
        from mm2music.music.terms import checkpoint_training_data

        analysis, r = self.analysis, self.config.render
        # the scored video (ffmpeg's AAC encoder, the longest single job, fed the delivered music as it is computed)
        # and the stems each on a thread of their own, started in that order; soundtrack.wav and then the editor's
        # timeline (once the stems it lists are written) meanwhile
        self.files["audio"] = "soundtrack.wav"  # listed before the scored video
        with ThreadPoolExecutor(2) as jobs:
            muxing = jobs.submit(self._mux, envelope) if analysis.kind == "video" and analysis.video is not None else None
            stems = jobs.submit(self._stems)
            self._wav()
            extra: dict = self._delivery.summary()  # the loudness after the limiter, where it acted, is measured on the WAV
            extra["training_data"] = checkpoint_training_data(self.config.music.checkpoint or DEFAULT_CHECKPOINT)["summary"]
            stem_files = stems.result()
            timeline = self._timeline(self._scored_name() if muxing is not None else None) if self.config.interchange.timeline else {}
            if muxing is not None:
                extra.update(muxing.result())
            self.files.update({**stem_files, **self._apart.result(), **timeline})  # in the order the summary lists them
        extra["mix"] = r.mix if analysis.kind == "video" else None
        extra["start_timecode"] = self.start.to_json()
        self.files["cue_sheet"] = CUE_SHEET
        return cue_sheet(self.plan, self.music, analysis.cuts, self.hits, self.sync, self.fps, extra, timecode=self.start.at)

    def _timeline(self, picture: str | None) -> dict:
        """Broadcast WAV timecode, ``cues/NN.wav`` and the editor's timeline (``picture``: the scored video's name);
        returns the files written."""
        from mm2music.interchange.deliver import CUES_DIR, deliver as deliver_timeline
        from mm2music.interchange.timeline import FORMATS

        # those of the previous version are hard links shared with history/: new files, never written through
        for old in [*(self.staging / CUES_DIR).glob("*.wav"), *(self.staging / name for _, name in FORMATS.values())]:
            old.unlink(missing_ok=True)
        with self._stage("timeline"):
            return deliver_timeline(self.staging, self.plan.cues, self.hits, self.analysis.duration, self.start,
                                    output_stem(self.analysis, self.config), picture, self.progress)

    def _scored_name(self) -> str:
        return f"{Path(self.analysis.source).stem}_scored.mp4"

    def _mux(self, envelope: AudioEnvelope | None) -> dict:
        """``<stem>_scored.mp4``: the music, ducked under ``envelope`` (the source's speech) when the mix keeps the
        source's sound, muxed with the video; returns what the cue sheet says of it. The music goes to ffmpeg a
        block at a time as the delivery makes it (the samples ``soundtrack.wav`` holds, ducked where there is speech),
        so the encoder does not wait for that file."""
        from mm2music.render.mux import mux, verify_muxed

        analysis, r = self.analysis, self.config.render
        extra = {}
        with self._stage("mux"):
            keep = r.mix == "keep" and envelope is not None
            music, ducked = self._delivered(envelope if keep and envelope.speech else None)
            scored = replace_file(self.staging / self._scored_name())
            mux(Path(analysis.source), music, scored, analysis.video.codec, analysis.video.timestamps, keep, analysis.video.has_audio,
                analysis.duration, r.sample_rate)
            if keep:
                extra["ducked_fraction"] = ducked()
            extra["muxed"] = verify_muxed(scored, analysis.duration)
        self.files["video"] = scored.name
        return extra

    def _delivered(self, envelope: AudioEnvelope | None, block: int = 1 << 17):
        """The delivered music as 16-bit stereo blocks (~3 s each, so that ffmpeg encodes while the next is made),
        ducked under the speech of ``envelope`` when one is given, and a function that gives, once they have all
        been taken, the share of the time ducked by at least half the depth."""
        from mm2music.render.loudness import gained
        from mm2music.render.mix import Ducking, ducked_fraction
        from mm2music.render.synth import pcm16

        sr, depth, n = self.config.render.sample_rate, self.config.render.duck_db, self._source.n
        ducking, ducked = (Ducking(envelope, sr, n / sr, depth) if envelope is not None else None), 0
        delivery = self._delivery  # as planned (the WAV's writer measures the loudness after the limiter meanwhile)

        def blocks():
            nonlocal ducked
            for a in range(0, n, block):
                music = gained(self._source, delivery, a, a + block)  # as soundtrack.wav holds it
                if ducking is not None:
                    duck = ducking.block(a, min(n, a + block))
                    ducked += ducked_fraction(duck, depth) * len(duck)
                    music = music * duck[:, None]
                yield pcm16(music)

        return blocks(), lambda: round(ducked / n, 3) if n else 0.0

    def _stems(self) -> dict:
        """The stems, scaled by the mix's normalisation gain, as configured; those of a previous version are
        removed first (a track may have gone, and their files are history's links). The default format comes
        from the tracks the mix was summed from, when there are any; otherwise each track is rendered again."""
        from mm2music.render.stems import write_stems, write_track_stems

        shutil.rmtree(self.staging / "stems", ignore_errors=True)
        fmt = self.config.interchange.stems_format
        if fmt == "none":
            return {}
        name = output_stem(self.analysis, self.config)
        with self._stage("stems"):
            if self.tracks and fmt == "default":
                stems = write_track_stems(self.tracks, self._gain, self.config.render.sample_rate, self._source.n, self.staging, name,
                                          start_s=self.start.seconds, progress=self.progress)
            else:
                stems = write_stems(self.music, self.hits, self.analysis.duration, self.config.render, fmt, self._gain,
                                    self.staging, name, start_s=self.start.seconds)
        return {"stems": f"stems/ ({len(stems)} stems)"}

    def _write_apart(self, roll: list) -> dict:
        """The timeline figure (with the piano roll ``roll``) and ``soundtrack.musicxml`` as configured (those of a
        previous version removed first), written by the writer process; returns the files listed."""
        from mm2music.project.writer_process import run_apart

        analysis = dataclasses.replace(self.analysis, audio=None, extra={})  # what the figure reads, not the envelope
        run_apart("timeline", replace_file(self.staging / "timeline.png"), analysis, self.plan, roll)
        (self.staging / "soundtrack.musicxml").unlink(missing_ok=True)
        if not self.config.interchange.musicxml:
            return {}
        with self._stage("musicxml"):
            run_apart("musicxml", list(self.music), self.staging / "soundtrack.musicxml", Path(self.analysis.source).stem, list(self.hits))
        return {"musicxml": "soundtrack.musicxml"}


def write_cue_sheet(staging: Path, sheet: dict, analysis: Analysis, project=None) -> None:
    """``cue_sheet.json`` / ``.md``; with ``project``, each cue's seed, lock and pinned settings and the project's
    version are added (JSON fields, and Markdown lines for the locked or pinned cues)."""
    from mm2music.arrange.cuesheet import cue_sheet_markdown

    lines = []
    if project is not None:
        for n, (item, entry) in enumerate(zip(sheet["cues"], project.cues), 1):
            item.update(seed=entry.seed, locked=entry.locked, pinned=entry.pinned)
            if entry.pinned or entry.locked:
                what = ", ".join(f"{k} {', '.join(v) if isinstance(v, list) else v}" for k, v in entry.pinned.items())
                lines.append(f"- cue {n}: " + ("locked" + ("; " if what else "") if entry.locked else "") + (f"pinned {what}" if what else ""))
        sheet["project_version"] = project.version
    write_json(staging / CUE_SHEET, sheet)
    md = cue_sheet_markdown(sheet, Path(analysis.source).name)
    if lines:
        md += "\nSettings kept by revise / refine / --lock:\n" + "\n".join(lines) + "\n"
    replace_file(staging / CUE_SHEET_MD).write_text(md, encoding="utf-8")
