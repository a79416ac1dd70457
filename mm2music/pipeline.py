"""The pipeline: the only module that imports every stage.

Stages hand each other objects; writing artifacts to disk happens here, at the end, into a staging folder
that is renamed into place only when complete (no partial output is ever left behind).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from mm2music.checks import MAX_CAPTION_SCENES, check_duration, check_hits, check_settings
from mm2music.config import Config
from mm2music.emotion import CONCEPTS, VisualEmotionConsumer, scene_emotions
from mm2music.errors import MediaError
from mm2music.graph.export import write_graph, write_timeline
from mm2music.graph.plan import plan_music
from mm2music.graph.spotting import spot
from mm2music.interchange.timecode import start_timecode
from mm2music.media.audio import read_audio_envelope
from mm2music.media.cuts import make_detector
from mm2music.media.editlist import EditListCuts, read_edit_list, with_edit_list
from mm2music.media.sampling import FrameSampler
from mm2music.media.text import read_captions, read_text_file, text_segment
from mm2music.media.video import VideoSource
from mm2music.output import claimed_output, safe_name, slug
from mm2music.preload import Preload, in_background
from mm2music.resume import Resume, resumable, run_key
from mm2music.types import Analysis, Plan, Scene, TextSegment, scenes_from_transitions

log = logging.getLogger(__name__)

CONCEPT_COORDS = {c.name: (c.valence, c.arousal) for c in CONCEPTS}  # emotion vocabulary -> circumplex


@dataclass(frozen=True)
class Inputs:
    """What the user asked to score: a video, a text, captions, or a video with captions."""

    video: str | None = None
    text: str | None = None
    text_file: str | None = None
    captions: str | None = None

    def __post_init__(self) -> None:
        if self.text is not None and self.text_file is not None:
            raise MediaError("give either --text or --text-file, not both")
        if (self.text is not None or self.text_file is not None) and self.video is not None:
            raise MediaError("give --text/--text-file or --video, not both; use --captions to add words to a video")
        if not any((self.video, self.text is not None, self.text_file, self.captions)):
            raise MediaError("nothing to score; give --video, --text, --text-file or --captions")


@dataclass
class Timings:
    """Wall time per stage, seconds."""

    stages: dict[str, float] = field(default_factory=dict)
    listener: Callable[[str], None] | None = None  # told each stage's name as it starts (the studio's progress)

    def report(self, what: str) -> None:
        if self.listener is not None:
            self.listener(what)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self.report(name)
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.stages[name] = self.stages.get(name, 0.0) + time.perf_counter() - t0


# --- analysis -----------------------------------------------------------------------------------------


def analyze_video(path: str | Path, config: Config, timings: Timings | None = None, progress: bool | None = None,
                  captions: str | None = None, check: Callable[[], None] | None = None) -> Analysis:
    """Decode ``path`` once (cuts detected and frames encoded on the way), read its audio envelope, and
    read the emotion of every scene (fusing ``captions`` when given). ``check`` is called between chunks (it
    raises to stop the decoding: the decoder failed to load meanwhile)."""
    timings = timings or Timings()
    with timings.stage("open"):
        source = VideoSource(path, config.media)
        check_duration(source.info.duration, f"video '{source.path.name}'")
        check_hits(config.plan.hits, source.info.duration, f"video '{source.path.name}'")
        segments = read_captions(captions) if captions else []
        start, start_from = start_timecode(config.interchange.start_tc, source.info.fps, source.path)
    edit = None
    if config.interchange.cuts_from:  # the editor's cuts, read before any decoding: no detection
        edit = read_edit_list(config.interchange.cuts_from, config.interchange.edl_rate, source.info.fps, source.info.duration,
                              start.seconds)
    with timings.stage("encoders"):
        visual = VisualEmotionConsumer(config)
    detector = EditListCuts(edit) if edit else make_detector(config.cuts)
    sampler = FrameSampler(config.media.sample_fps, visual)
    consumers = [detector, sampler]
    info = source.info
    bar = tqdm(total=info.n_frames, desc=f"decode {source.path.name}", unit="frame", disable=None if progress is None else not progress, leave=False)
    # the sound track (its own ffmpeg, and the speech detector in torch, off the interpreter's lock) is read on a
    # thread while the picture decodes: the two decoders rarely keep both cores busy by themselves (a daemon: a
    # picture that fails to decode, or a Ctrl-C, does not wait for the sound)
    audio_job = in_background(read_audio_envelope, source.path, config.media.audio_sample_rate, config.media.audio_hop_s) if info.has_audio else None
    with timings.stage("decode+cuts+encode"):
        for chunk in source.chunks():
            for consumer in consumers:
                consumer.update(chunk)
            bar.update(len(chunk))
            if check is not None:
                check()
        transitions = detector.finish()
    bar.close()
    info = source.info  # refreshed if the file decoded short
    with timings.stage("audio"):  # what is left of it
        audio = audio_job.result() if audio_job is not None else None
    duration = info.duration
    check_duration(duration, f"video '{source.path.name}' (as decoded)")
    transitions = [t for t in transitions if 0 < t.time < duration]
    scenes = scenes_from_transitions(transitions, duration)
    warnings = tuple(source.warnings)
    late = [s for s in segments if s.start >= duration]
    if late:
        warnings += (f"{len(late)} caption block(s) start after the video ends ({duration:.2f} s) and are ignored",)
    segments = [s for s in segments if s.start < duration]
    with timings.stage("emotion"):
        track = visual.track()
        emotions = scene_emotions(scenes, track, segments, audio, config)
    return Analysis(
        source=str(source.path),
        kind="video",
        duration=duration,
        scenes=scenes,
        transitions=tuple(transitions),
        segments=tuple(segments),
        video=info,
        audio=audio,
        warnings=warnings,
        emotions=tuple(emotions),
        extra={"sampled_frames": len(sampler.times), "cut_detector": "edit list" if edit else config.cuts.detector,
               "encoder": track.encoder, **({"cuts_from": edit.to_json()} if edit else {}),
               "start_timecode": {**start.to_json(), "from": start_from}},
    )


def caption_scenes(segments: list[TextSegment], duration: float, max_scenes: int = MAX_CAPTION_SCENES) -> tuple[Scene, ...]:
    """One scene per caption block, stretched over the gaps so that scenes tile ``[0, duration]``. Past
    ``max_scenes`` blocks (a film's subtitles), consecutive blocks are grouped into scenes of at least
    ``duration / max_scenes`` seconds, so that what follows (emotion fusion, the concept graph) stays near-linear."""
    shortest = duration / max_scenes if len(segments) > max_scenes else 0.0
    bounds = [0.0]
    for s in segments[1:]:
        if s.start - bounds[-1] >= shortest and duration - s.start >= shortest:
            bounds.append(s.start)
    bounds.append(duration)
    scenes, index = [], 0
    for a, b in zip(bounds[:-1], bounds[1:]):
        if b > a:
            scenes.append(Scene(index, a, b))
            index += 1
    return tuple(scenes)


def analyze_text(inputs: Inputs, config: Config, timings: Timings | None = None) -> Analysis:
    """Plain text -> one segment of ``config.text.duration`` s; captions -> one segment per block."""
    timings = timings or Timings()
    analysis = _text_analysis(inputs, config)
    if config.interchange.cuts_from:  # a temp-track timeline: the edit's shots and length
        analysis = with_edit_list(analysis, read_edit_list(config.interchange.cuts_from, config.interchange.edl_rate))
        check_duration(analysis.duration, f"the edit list '{Path(config.interchange.cuts_from).name}'")
    with timings.stage("emotion"):
        emotions = scene_emotions(analysis.scenes, None, analysis.segments, None, config)
    rate = analysis.extra.get("cuts_from", {}).get("rate") or config.interchange.edl_rate or 25.0  # no picture: the edit's rate
    start, start_from = start_timecode(config.interchange.start_tc, rate)
    extra = {**analysis.extra, "start_timecode": {**start.to_json(), "from": start_from}}
    return Analysis(**{**analysis.__dict__, "emotions": tuple(emotions), "extra": extra})


def _text_analysis(inputs: Inputs, config: Config) -> Analysis:
    if inputs.captions:
        segments = read_captions(inputs.captions)
        duration = max(s.end for s in segments)
        check_duration(duration, f"captions '{Path(inputs.captions).name}'")
        return Analysis(source=str(inputs.captions), kind="captions", duration=duration,
                        scenes=caption_scenes(segments, duration), segments=tuple(segments))
    if inputs.text_file is not None:
        segment = text_segment(read_text_file(inputs.text_file), f"--text-file {inputs.text_file}")
        source = str(inputs.text_file)
    else:
        segment = text_segment(inputs.text or "", "--text")
        source = "text"
    duration = config.text.duration
    check_duration(duration, "--duration")
    return Analysis(source=source, kind="text", duration=duration, scenes=(Scene(0, 0.0, duration),),
                    segments=(TextSegment(segment.text, 0.0, duration),))


def analyze(inputs: Inputs, config: Config, timings: Timings | None = None, progress: bool | None = None,
            check: Callable[[], None] | None = None) -> Analysis:
    if inputs.video:
        return analyze_video(inputs.video, config, timings, progress, captions=inputs.captions, check=check)
    return analyze_text(inputs, config, timings)


# --- output -------------------------------------------------------------------------------------------


def output_name(inputs: Inputs, config: Config) -> str:
    if config.output.name:
        return safe_name(config.output.name)
    if inputs.video:
        return safe_name(Path(inputs.video).stem)
    if inputs.captions:
        return safe_name(Path(inputs.captions).stem)
    if inputs.text_file:
        return safe_name(Path(inputs.text_file).stem)
    return slug(inputs.text or "")


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


@dataclass
class Result:
    out_dir: Path
    analysis: Analysis
    plan: Plan
    timings: Timings
    files: dict[str, str] = field(default_factory=dict)
    sync: dict | None = None
    resumed: dict = field(default_factory=dict)  # what came from a killed run: {"analysis": 0/1, "cues": count}


# --- music ------------------------------------------------------------------------------------------

def load_music_model(checkpoint: str | None, quantize: str = "int8"):
    """The decoder ready to sample and its tokenizer (:func:`mm2music.music.checkpoint.load_music_model`: once
    per process, again when the checkpoint's files change); imported when music is written, not before."""
    from mm2music.music.checkpoint import load_music_model as load

    return load(checkpoint, quantize)


def write_music(analysis: Analysis, plan: Plan, config: Config, staging: Path, timings: Timings, progress: bool | None,
                locked: dict | None = None, previous: Path | None = None, resume: Resume | None = None,
                preload: Preload | None = None) -> tuple[dict, dict]:
    """Compose, write ``soundtrack.mid`` / ``soundtrack.wav`` (and the scored video, stems, timeline, cue sheet:
    :class:`~mm2music.project.outputs.SoundtrackWriter`, which every edit of the project uses too) and the project
    files; return (files, sync). ``locked``: cue index -> the project's entry of a cue kept as it is (``--lock``);
    ``previous``: the folder being replaced (its project goes to history); ``resume``: where each composed cue is
    kept until the run publishes, and the cues a killed run finished come from; ``preload``: the decoder loading
    since the run began (else it is loaded here)."""
    from mm2music.arrange.compose import compose, cue_seed
    from mm2music.project import MIX_FILE, new_project
    from mm2music.project.format import save_mix_blocks
    from mm2music.project.outputs import SoundtrackWriter, write_cue_sheet
    from mm2music.render.loudness import NpySource, cue_levels
    from mm2music.render.synth import find_soundfont
    from mm2music.render.tracks import TrackRenderer

    find_soundfont(config.render.soundfont)  # fail before the slow part
    with timings.stage("load model"):  # what is left of it: the preload began with the run
        model, tokenizer = preload.model() if preload is not None else load_music_model(config.music.checkpoint, config.music.quantize)
    hits = sorted(config.plan.hits or [])
    n = int(round(analysis.duration * config.render.sample_rate))
    bar = tqdm(total=len(plan.cues), desc="compose", unit="cue", disable=None if progress is None else not progress, leave=False)
    fixed = {**(resume.cues(plan.cues) if resume is not None else {}), **{i: e.music for i, e in (locked or {}).items()}}
    order = iter(range(len(plan.cues)))

    def composed(m) -> None:
        i = next(order)
        if resume is not None and i not in fixed:  # kept before anything else: a kill from here on loses nothing
            resume.save_cue(i, m, cue_seed(config.seed, m.cue))
        bar.update(1)
        renderer.composed(m)
        timings.report(f"composed cue {i + 1}/{len(plan.cues)}")

    # each track rendered once, to disk, as each cue is composed: the mix is their sum, the default stems are them
    per_track = config.interchange.stems_format == "default"
    with TrackRenderer(plan.cues, hits, n, config.render, staging, per_track) as renderer:
        try:
            with timings.stage("generate"):
                music = compose(plan.cues, model, tokenizer, config.music, config.seed, progress=composed, fixed=fixed)
            bar.close()
            with SoundtrackWriter(staging, analysis, plan, music, config, hits, timings, progress=progress) as writer:
                sync = writer.score()  # while the synth threads finish the last cues
                with timings.stage("render"):
                    # the sum is the project's stored music (for piecewise re-rendering), measured as it is written
                    rendered = renderer.finish(lambda length, blocks: save_mix_blocks(staging, length, blocks),
                                               cue_levels([m.cue for m in music]))
                    writer.tracks = rendered.tracks
                    writer.audio(NpySource(staging / MIX_FILE), rendered.measured)
                sheet = writer.rest(analysis.audio)
        finally:
            renderer.cleanup()
    # --- the project: what revise / refine / --lock need to rebuild and edit the score ---
    locked = locked or {}
    project = new_project(staging, analysis, plan, config, music,
                          [locked[i].seed if i in locked else cue_seed(config.seed, c) for i, c in enumerate(plan.cues)], None,
                          locked=set(locked), pinned={i: e.pinned for i, e in locked.items()}, previous=previous)
    write_cue_sheet(staging, sheet, analysis, project if locked else None)
    return writer.files, sync


def run(inputs: Inputs, config: Config, analyze_only: bool = False, progress: bool | None = None,
        replaceable: Callable[[Path], bool] | None = None, seal: Callable[[Path], None] | None = None,
        lock: Sequence[int] = (), on_progress: Callable[[str], None] | None = None) -> Result:
    """Analyse the inputs, plan the music on the concept graph and write the results to ``<out>/<name>/``:
    ``analysis.json``, ``plan.json``, ``concept_graph.graphml`` (+ node-link ``concept_graph.json``),
    ``timeline.png`` and the resolved ``config.json``; unless ``analyze_only``, also the music:
    ``soundtrack.mid``, ``soundtrack.wav``, ``cue_sheet.json`` / ``.md`` and, for a video,
    ``<stem>_scored.mp4``. The output folder is claimed first (see :func:`~mm2music.output.claimed_output`:
    locked, checked, staged, published atomically); ``replaceable`` and ``seal`` are passed on to it.
    ``lock``: cue numbers (1-based) of the existing project in ``<out>/<name>/`` kept as they are while the
    rest is written again. ``on_progress``: told the name of each stage as it starts, and each cue composed."""
    config = check_settings(config, music=not analyze_only)  # every value checked before the slow work
    final = Path(config.output.out_dir) / output_name(inputs, config)
    timings = Timings(listener=on_progress)
    # the decoder loads (and the writers' libraries import) while the video decodes; a checkpoint that fails to
    # load stops the decoding at the next chunk (its config was read by check_settings, before any of this)
    preload = None if analyze_only else Preload(config.music.checkpoint, config.music.quantize, writers=True,
                                                     soundfont=config.render.soundfont)
    check = preload.check if preload is not None else None
    files: dict[str, str] = {}
    sync = None
    # what a killed run of this command finished; kept until the output is published
    with claimed_output(final, config.output.overwrite, replaceable, seal) as staging, resumable(final, run_key(inputs, config)) as resume:
        analysis = resume.analysis()
        if analysis is None:
            analysis = analyze(inputs, config, timings, progress, check)
            resume.save_analysis(analysis)
        if check is not None:
            check()
        check_hits(config.plan.hits, analysis.duration)
        with timings.stage("graph+plan"):
            plan, graph = plan_music(analysis.scenes, analysis.emotions, CONCEPT_COORDS, config.plan, analysis.transitions, analysis.duration,
                                     seed=config.seed, captions=analysis.segments)
            speech = analysis.audio.speech if analysis.audio is not None else analysis.extra.get("speech", ())  # the VAD's spans
            plan = spot(plan, analysis.segments, speech, config.plan.spotting)
        locked: dict = {}
        if lock:  # --- project (issue 13): the locked cues come from the project being replaced ---
            from mm2music.revise import apply_locks

            plan, locked = apply_locks(final, plan, lock)
        with timings.stage("write"):
            write_json(staging / "analysis.json", analysis.to_json())
            write_json(staging / "plan.json", plan.to_json())
            write_graph(graph, staging / "concept_graph.graphml", staging / "concept_graph.json")
            if analyze_only:  # with music, write_music draws it with the piano roll
                write_timeline(staging / "timeline.png", analysis, plan)
            write_json(staging / "config.json", config.to_dict())
        if not analyze_only:
            files, sync = write_music(analysis, plan, config, staging, timings, progress, locked, final, resume, preload)
    return Result(final, analysis, plan, timings, files, sync, resumed=dict(resume.reused))
