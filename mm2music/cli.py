"""Command line: argparse -> config -> pipeline. The only place that prints for the user.

Exit codes: 0 success, 1 a user error (one line ``error: ...`` on stderr; ``--debug`` shows the
traceback), 2 a usage error (argparse).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from mm2music.errors import Mm2MusicError
from mm2music.recipes import offline_environment

log = logging.getLogger("mm2music")

# flag -> config key; the help text shows the config default
FLAG_KEYS = {
    "out": "output.out_dir",
    "name": "output.name",
    "overwrite": "output.overwrite",
    "cut_detector": "cuts.detector",
    "sample_fps": "media.sample_fps",
    "duration": "text.duration",
    "seed": "seed",
    "encoder": "encoder.backend",
    "clip_model": "encoder.clip_model",
    "clip_weights": "encoder.clip_weights",
    "key": "plan.key",
    "tempo": "plan.tempo",
    "instruments": "plan.instruments",
    "meter": "plan.meter",
    "hits": "plan.hits",
    "spotting": "plan.spotting",
    "checkpoint": "music.checkpoint",
    "soundfont": "render.soundfont",
    "loudness": "render.loudness",
    "mix": "render.mix",
    "cuts_from": "interchange.cuts_from",
    "edl_rate": "interchange.edl_rate",
    "stems_format": "interchange.stems_format",
    "start_tc": "interchange.start_tc",
}


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults in the help; the epilog's list of subcommands kept as written."""


def _loudness(value: str) -> str:
    """argparse type of --loudness: a name of the delivery targets or a number of LUFS."""
    from mm2music.render.loudness import target_lufs

    try:
        target_lufs(value)
    except Mm2MusicError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--loudness ")) from None
    return value


def build_parser() -> argparse.ArgumentParser:
    from mm2music.config import Config
    from mm2music.vocab import DETECTORS, ENCODERS, FAMILIES, METERS, MIXES, STEM_FORMATS
    from mm2music.graph.spotting import SPOTTING
    from mm2music.render.loudness import LOUDNESS_HELP, LOUDNESS_TARGETS

    defaults = Config()
    parser = argparse.ArgumentParser(
        prog="mm2music",
        description="Score a video, a text or captions with original music. With no input, the embedded sample video is used.",
        formatter_class=_HelpFormatter,
        epilog="subcommands (each has its own --help):\n" + "\n".join(f"  {name:<16} {what}" for name, (_, what) in SUBCOMMANDS.items()),
    )
    src = parser.add_argument_group("input")
    src.add_argument("--video", metavar="PATH", help="video to score (MP4, MOV, MKV, WebM, AVI)")
    src.add_argument("--text", metavar="TEXT", help="a caption or paragraph to turn into a theme")
    src.add_argument("--text-file", metavar="PATH", help="UTF-8 text file to turn into a theme")
    src.add_argument("--captions", metavar="PATH", help="SRT or WebVTT captions, alone or with --video")
    src.add_argument("--sample", action="store_true", help="use the embedded sample video (the default when no input is given)")
    # --- batch (issue 6) ---
    src.add_argument("--batch", metavar="PATH", help="score many clips: a folder of videos/.txt/.srt/.vtt, or a CSV/JSONL "
                     "manifest (one job per row); one folder per job under --out, with batch_report.json/.csv; re-running resumes")
    src.add_argument("--workers", type=int, default=1, metavar="N", help="with --batch: jobs run in N processes (1 = in this process)")
    src.add_argument("--executor", choices=["local", "ray"], default="local",
                     help="with --batch: run jobs in local processes, or as Ray tasks (local Ray with --workers CPUs, or --ray-address)")
    src.add_argument("--ray-address", metavar="ADDR", help="with --executor ray: a Ray cluster (e.g. ray://head:10001 or auto); "
                     "--out must be a folder every node sees")
    # --- end batch ---
    run = parser.add_argument_group("run")
    run.add_argument("--analyze-only", action="store_true", help="stop after the analysis (scenes, cuts)")
    run.add_argument("--out", metavar="DIR", default=defaults.output.out_dir, help="output folder")
    run.add_argument("--name", metavar="NAME", help="output subfolder name (default: the video's stem or a slug of the text)")
    run.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    run.add_argument("--cuts-from", metavar="EDIT", help="the editor's cut list instead of detection: a CMX 3600 .edl, "
                     "an OpenTimelineIO .otio or Final Cut Pro .xml/.fcpxml (also gives a text/caption score its shots)")
    run.add_argument("--start-tc", metavar="HH:MM:SS:FF", help="timecode of the film's first frame (default: the video's "
                     "timecode tag, else 00:00:00:00); HH:MM:SS;FF for drop-frame at 29.97 fps")
    run.add_argument("--edl-rate", type=float, metavar="FPS", help="frame rate of an EDL's timecodes (default: the video's)")
    run.add_argument("--lock", metavar="N,M", help="with --overwrite on a scored project: keep cues N,M (1-based) as they are "
                     "while the rest is written again (the previous version goes to history/; see `revise --help`)")
    run.add_argument("--cut-detector", choices=DETECTORS, default=defaults.cuts.detector, help="scene-cut detector")
    run.add_argument("--sample-fps", type=float, default=defaults.media.sample_fps, metavar="FPS", help="frames per second sampled for the encoders")
    run.add_argument("--duration", type=float, default=defaults.text.duration, metavar="SECONDS", help="length of the music for a plain text")
    run.add_argument("--seed", type=int, default=defaults.seed, help="random seed (same inputs + seed = same output)")
    enc = parser.add_argument_group("encoders (nothing is downloaded: CLIP weights come from a local file or cache)")
    enc.add_argument("--encoder", choices=ENCODERS, default=defaults.encoder.backend,
                     help="frame encoder: CLIP when its weights are found (auto), or the built-in visual affect features")
    enc.add_argument("--clip-model", default=defaults.encoder.clip_model, metavar="NAME", help="open_clip architecture of --clip-weights")
    enc.add_argument("--clip-weights", metavar="PATH", help="local CLIP weights file (.safetensors/.bin/.pt) for --clip-model")
    music = parser.add_argument_group("music (override the plan; the rest of the plan adapts)")
    music.add_argument("--key", metavar="KEY", help="e.g. 'D minor', 'F# major', Bb, Em")
    music.add_argument("--tempo", type=float, metavar="BPM", help="tempo in quarter notes per minute")
    music.add_argument("--instruments", metavar="LIST", help=f"instrument families, melody first, e.g. strings,piano ({', '.join(FAMILIES)})")
    music.add_argument("--meter", choices=METERS, help="time signature")
    music.add_argument("--hits", metavar="SECONDS", help="comma-separated moments (s) that get a downbeat and an accent, e.g. 12.5,31.0")
    music.add_argument("--spotting", choices=SPOTTING, default=defaults.plan.spotting,
                       help="auto: silence where the words ask for it, dialogue-dense scenes unscored or thin (reason in the "
                       "cue sheet); full: music throughout")
    music.add_argument("--checkpoint", metavar="DIR", help="music decoder checkpoint folder, or a shipped one by name: music21 (the default) or music21-open "
                                                        "(trained only on collections whose files restrict nothing; see the README)")
    out = parser.add_argument_group("audio and video")
    out.add_argument("--soundfont", metavar="SF2", help="General MIDI soundfont, .sf2 or .sf3 (default: MuseScore General, "
                     "/usr/share/sounds/sf2/MuseScore_General_Full.sf2 or /usr/share/sounds/sf3/MuseScore_General.sf3, "
                     "else /usr/share/sounds/sf2/FluidR3_GM.sf2)")
    out.add_argument("--loudness", type=_loudness, default=defaults.render.loudness, metavar="{%s,LUFS}" % ",".join(LOUDNESS_TARGETS),
                     help=f"delivery loudness of the whole soundtrack, true peak <= -1 dBTP: {LOUDNESS_HELP} or a number of LUFS; "
                     "a cue between mf and f meets it, softer and louder cues keep their distance (p 11 dB under ff)")
    out.add_argument("--stems-format", choices=STEM_FORMATS, default=defaults.interchange.stems_format,
                     help="stems/<name>_<track>.wav, one per instrument track: the soundtrack's rate at 16 bits, "
                     "48 kHz 24-bit for post-production, or none")
    out.add_argument("--mix", choices=MIXES, default=defaults.render.mix,
                     help="keep the video's own audio and duck the music under speech, or replace it")
    cfg = parser.add_argument_group("configuration")
    cfg.add_argument("--config", metavar="NAME|PATH", help="YAML config: a name in configs/ (e.g. debug) or a path")
    cfg.add_argument("--set", metavar="KEY=VALUE", action="append", default=[], help="override any config key, e.g. --set cuts.threshold=0.35")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors on stderr, no progress bars")
    return parser


def setup_logging(debug: bool, quiet: bool) -> None:
    level = logging.DEBUG if debug else logging.ERROR if quiet else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)


def given_flags(parser: argparse.ArgumentParser, argv: list[str]) -> set[str]:
    """The ``dest`` of every flag typed in ``argv``, even one equal to its default (``--seed 0``).

    ``parser`` is parsed again with every default suppressed, so only what the user typed is left.
    """
    for action in parser._actions:  # argparse has no public way to drop defaults after the fact
        action.default = argparse.SUPPRESS
    return set(vars(parser.parse_args(argv)))


def _overrides(args: argparse.Namespace, given: set[str]) -> list[str]:
    """Config overrides in the order they win: ``--set key=value`` first, then the typed flags.

    The layers, lowest first: dataclass defaults < the ``--config`` YAML < ``--set`` < flags. A typed flag
    always wins, whatever its value; an untyped flag leaves the lower layers alone.
    """
    flags = [f"{key}={getattr(args, dest)}" for dest, key in FLAG_KEYS.items() if dest in given]
    return list(args.set) + flags


def print_summary(result) -> None:
    a = result.analysis
    if a.video:
        v = a.video
        print(f"{Path(a.source).name}: {a.duration:.2f} s, {v.width}x{v.height} @ {v.fps:g} fps, {v.codec}, "
              f"audio {'yes' if v.has_audio else 'no'}, frame times from {v.timestamps}")
        kinds: dict[str, int] = {}
        for t in a.transitions:
            kinds[t.kind] = kinds.get(t.kind, 0) + 1
        detail = ", ".join(f"{n} {k}{'s' if n > 1 else ''}" for k, n in kinds.items()) or "no cuts"
        print(f"{len(a.scenes)} scene{'s' if len(a.scenes) != 1 else ''} ({detail})")
    else:
        print(f"{a.kind}: {a.duration:.2f} s in {len(a.scenes)} segment{'s' if len(a.scenes) != 1 else ''}")
    into = {round(t.time, 6): t.kind for t in a.transitions}
    print(f"  {'#':>3}  {'start':>7}  {'end':>7}  {'next':<8} {'val':>5} {'aro':>5}  emotions")
    for s in a.scenes:
        nxt = into.get(round(s.end, 6), "end" if s.index == len(a.scenes) - 1 else "")
        mood = ""
        if s.index < len(a.emotions):
            e = a.emotions[s.index]
            mood = f"{e.valence:+5.2f} {e.arousal:+5.2f}  " + ", ".join(f"{k} {w:.2f}" for k, w in e.top(2))
        text = ""
        if a.kind != "video" and a.segments:
            text = "  | " + _segment_text(a, s)
        print(f"  {s.index + 1:>3}  {s.start:7.2f}  {s.end:7.2f}  {nxt:<8} {mood}{text}")
    plan = getattr(result, "plan", None)
    if plan is not None:
        print(f"musical plan: {len(plan.cues)} cue{'s' if len(plan.cues) != 1 else ''}")
        for c in plan.cues:
            ramp = f" -> {c.ramp_to_bpm:5.1f}" if c.ramp_to_bpm else ""
            meter = f"{c.meter} x{c.bars}" + (f" (last {c.odd_bar})" if c.odd_bar else "")
            caught = f", {len(c.catches)} cut{'s' if len(c.catches) != 1 else ''} caught" if c.catches else ""
            print(f"  {c.index + 1:>3}  {c.start:7.2f}  {c.end:7.2f}  {c.key + ' ' + c.mode:<9} {c.tempo_bpm:5.1f}{ramp} BPM {meter:<18} "
                  f"{c.dynamics:<2} {c.figure:<8} intensity {c.intensity:.2f}  theme {c.theme}  {', '.join(c.instruments)}{caught}")
        for note in plan.notes:
            print(f"  note: {note}")
    if getattr(result, "sync", None) and result.sync.get("points"):
        kinds = {p["kind"] for p in result.sync["points"]}
        line = f"music: scene changes and hits on bar lines within {result.sync['max_ms']:.3f} ms" if kinds - {"caught cut"} else "music:"
        if "caught cut" in kinds:
            caught = sum(p["kind"] == "caught cut" for p in result.sync["points"])
            line += f"{';' if line != 'music:' else ''} {caught} shot cut(s) inside cues caught by a note within {result.sync['caught_max_ms']:.1f} ms"
        print(line + " (measured on the MIDI)")
    for w in a.warnings:
        print(f"warning: {w}", file=sys.stderr)
    files = getattr(result, "files", {}) or {}
    listed = ", ".join(files.values())
    print(f"wrote {result.out_dir}/" + (f" ({listed}, ...)" if listed else ""))


def _segment_text(analysis, scene) -> str:
    for seg in analysis.segments:
        if seg.start is not None and scene.start <= seg.start < scene.end:
            return seg.text if len(seg.text) <= 50 else seg.text[:47] + "..."
    return ""


def main_score(argv: list[str], whole_process: bool = False) -> int:
    """``whole_process``: this call is the process's whole life (``run_pipeline.py``, the console script), not
    one call of many (tests, a studio)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    given = given_flags(build_parser(), argv)
    setup_logging(args.debug, args.quiet)
    try:
        from mm2music import pipeline
        from mm2music.checks import check_settings
        from mm2music.config import load_config
        from mm2music.preload import one_shot

        if whole_process and args.batch is None:  # a batch's workers score many inputs in one process
            one_shot()

        config = load_config(args.config, _overrides(args, given))
        check_settings(config, music=not args.analyze_only)  # before any decoding or model loading
        if args.batch is not None:  # --- batch (issue 6) ---
            return _main_batch(args, given)
        video = args.video
        if args.sample or not any((args.video, args.text is not None, args.text_file, args.captions)):
            from mm2music.media.sample import make_sample_video

            if args.video:
                raise Mm2MusicError("give --video or --sample, not both")
            video = str(make_sample_video())
            log.info("no input given: using the embedded sample video %s", video)
        inputs = pipeline.Inputs(video=video, text=args.text, text_file=args.text_file, captions=args.captions)
        progress = False if args.quiet else None
        lock = ()
        if args.lock:  # --- project (issue 13) ---
            from mm2music.revise import parse_cue_list

            lock = parse_cue_list(args.lock)
        result = pipeline.run(inputs, config, analyze_only=args.analyze_only, progress=progress, lock=lock)
    except Mm2MusicError as exc:
        if args.debug:
            raise
        message = " ".join(str(exc).split())
        print(f"error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted; no output was written", file=sys.stderr)
        return 130
    print_summary(result)
    return 0


# --- batch (issue 6) ---
def _main_batch(args: argparse.Namespace, given: set[str]) -> int:
    """``--batch PATH``: run every job, print one line per failure and a summary; exit 1 if any job failed."""
    from mm2music.batch import Settings, run_batch

    if any((args.video, args.text is not None, args.text_file, args.captions, args.sample)):
        raise Mm2MusicError("give --batch or --video/--text/--text-file/--captions/--sample, not both; "
                            "list a batch's inputs in its folder or manifest")
    if args.name:
        raise Mm2MusicError("--name does not apply to --batch; set a 'name' column in the manifest instead")
    config_arg = args.config
    if config_arg and Path(config_arg).exists():
        config_arg = str(Path(config_arg).resolve())  # workers may not share our view of relative paths
    overrides = [o for o in _overrides(args, given) if not o.startswith(("output.out_dir=", "output.overwrite="))]
    settings = Settings(out_dir=str(Path(args.out).resolve()), config=config_arg, overrides=tuple(overrides),
                        analyze_only=args.analyze_only)
    try:
        summary = run_batch(args.batch, settings, workers=args.workers, progress=False if args.quiet else None,
                            executor=args.executor, ray_address=args.ray_address)
    except KeyboardInterrupt:
        print("error: interrupted; finished jobs are kept, re-run the same command to resume", file=sys.stderr)
        return 130
    for name, error in summary.failures:
        print(f"failed: {name}: {error}", file=sys.stderr)
    c = summary.counts
    print(f"batch: {summary.jobs} job{'s' if summary.jobs != 1 else ''}: {c['done']} done, {c['skipped']} skipped, "
          f"{c['failed']} failed in {summary.seconds:.1f} s; report {summary.report_json}")
    return 0 if summary.ok else 1
# --- end batch ---


SUBCOMMANDS = {
    # name -> (module in mm2music.recipes with a main(argv), what it does); `pipelines/<module>.py` runs the same
    "train": ("train", "train the music decoder, resume a run or export its checkpoint"),
    "prepare-corpus": ("prepare_corpus", "convert a MIDI corpus (music21, Lakh, MAESTRO, ...) for training"),
    "revise": ("revise", "write one cue of a scored project again (variations, pick, undo), keeping the others"),
    "refine": ("refine", "refine a cue with a slider: sequential line search on your choices"),
    "studio": ("studio", "a local web page: score, see the plan on a timeline, play and edit (127.0.0.1:8765)"),
}


def run_recipe(name: str, argv: list[str]) -> int:
    """``mm2music train ...`` == ``python pipelines/train.py ...``: the recipe's own parser and exit codes."""
    import importlib

    module = importlib.import_module(f"mm2music.recipes.{SUBCOMMANDS[name][0]}")
    try:
        return module.main(argv)
    except SystemExit as exc:  # argparse: --help, usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)


def main(argv: list[str] | None = None) -> int:
    whole_process = argv is None  # the command line itself, not a caller passing arguments
    argv = list(sys.argv[1:] if argv is None else argv)
    offline_environment()  # set when a command runs, not when the module is imported
    if argv and argv[0] in SUBCOMMANDS:
        return run_recipe(argv[0], argv[1:])
    return main_score(argv, whole_process)


if __name__ == "__main__":
    sys.exit(main())
