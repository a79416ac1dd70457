"""Configuration: one dataclass per stage, YAML overrides from ``configs/``, ``key=value`` overrides.

The dataclasses are the schema. ``load_config`` starts from the defaults, applies a YAML file (a name in
``configs/`` or a path) and then ``section.key=value`` overrides (the CLI's flags map to these keys). An
unknown key is a :class:`ConfigError` that names the closest valid one. The resolved config is saved next to
every output (``to_dict``).
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from mm2music.errors import ConfigError
from mm2music.resources import resource_path
from mm2music.vocab import STEM_FORMATS

CONFIG_DIR = resource_path("configs")  # the shipped YAML configs (package data)

T = TypeVar("T")


@dataclass
class MediaConfig:
    """Video decoding and sampling (one decode pass feeds every consumer)."""

    frame_short_side: int = 144  # decoded frames are downscaled to this many pixels on the short side
    chunk_frames: int = 48  # frames decoded per batch; bounds memory for long videos
    sample_fps: float = 2.0  # frames per second kept for the encoders
    audio_sample_rate: int = 16000  # Hz, the source audio is resampled to this for analysis
    audio_hop_s: float = 0.05  # seconds per envelope value


@dataclass
class CutConfig:
    """Scene-cut detection."""

    detector: str = "mm2music"  # "mm2music" (default: classic + HSV proposing, TransNetV2 settling), "classic", "transnetv2" or "pyscenedetect"
    threshold: float = 0.30  # hard-cut score above which a frame starts a new shot (0-1)
    min_scene_s: float = 0.4  # shots shorter than this (seconds) merge into their neighbour
    gradual: bool = True  # also detect fades and dissolves


@dataclass
class TextConfig:
    """Text and caption inputs."""

    duration: float = 30.0  # seconds of music for a plain text (captions and video set their own)


@dataclass
class PlanConfig:
    """The planner on the concept graph; the user's overrides pin attributes and the rest adapts."""

    key: str | None = None  # e.g. "D minor": every cue in this key
    tempo: float | None = None  # BPM: every cue near this tempo (bars still land on the cuts)
    instruments: list[str] | None = None  # instrument families, melody first, e.g. strings,piano
    meter: str | None = None  # e.g. "3/4"
    min_cue_s: float = 1.6  # segments shorter than this merge into a neighbour (a 4/4 bar at 150 BPM)
    theme_similarity: float = 0.8  # emotional similarity (0-1) above which segments share a theme
    leitmotifs: int = 4  # with captions: the most recurring speakers ("NAME: ..." lines) get a theme of their own (0: none)
    max_themes: int = 8  # at most this many themes (leitmotifs first); later moods return to the nearest theme (0: no limit)
    tempo_smoothing: float = 0.5  # 0: each cue its own tempo; 1: one tempo throughout
    contrast_arousal: float = 0.8  # an arousal jump at least this big may change tempo abruptly
    hits: list[float] | None = None  # seconds: extra bar lines (accents) at these moments
    scene_similarity: float = 0.8  # neighbouring shots more similar than this (0-1) form one scene, one cue; their cuts are caught (1: never)
    max_cue_s: float = 60.0  # a scene longer than this gets a new cue at its next shot cut
    contrast_energy: float = 0.3  # a jump of musical energy (0-1) at least this big is a contrast too
    catch_weight: float = 1.0  # tempo choice: cost per second of a caught cut's distance from the 16th-note grid
    tempo_ramps: bool = False  # True: whole bars of one meter, tempo changes spread over a bar (the older planner)
    intensity: float | None = None  # pin the intensity curve (0-1) everywhere; None: from the scenes' energy
    intensity_scale: float = 1.0  # scale the curve's swing around its mean (0: flat, 2: twice the contrast)
    spotting: str = "auto"  # auto: silence where the words ask, dense dialogue unscored or thin; full: music throughout


RESTATE_CHOICES = ("rules", "model")  # how a later cue restates its theme (MusicConfig.restate)


@dataclass
class MusicConfig:
    """The music decoder and how it is sampled."""

    checkpoint: str | None = None  # a checkpoint folder; None = the shipped checkpoints/music21
    theme_candidates: int = 6  # samples per phrase of a new theme (batched); the best-formed phrase is kept
    temperature: float = 1.0
    top_p: float = 0.95
    key_guidance: float = 0.0  # > 0: push each sample away from the keys confused with the asked one (see music/generate.py)
    max_bar_tokens: int = 384  # a bar longer than this many tokens is closed at the next chance
    quantize: str = "int8"  # sample from int8 linear layers ("none": fp32 as trained); see music/model.py
    # how a later cue restates its theme: "rules" (mm2music/arrange/theme.py) or "model": the decoder writes the
    # restatement primed by the statement under the cue's conditions, the rules where no candidate keeps the tune
    restate: str = "rules"
    restate_checkpoint: str | None = None  # the decoder that restates ("model"); None = the music decoder

    def __post_init__(self) -> None:
        if self.restate not in RESTATE_CHOICES:
            raise ConfigError(f"music.restate={self.restate!r} is not one of {list(RESTATE_CHOICES)}; "
                              "pass --set music.restate=rules or model")


@dataclass
class RenderConfig:
    """Audio rendering, mixing and muxing."""

    soundfont: str | None = None  # an .sf2/.sf3 file; None = MuseScore General (SF3) if installed, else FluidR3 GM
    sample_rate: int = 44100
    # delivery loudness (ITU-R BS.1770): ebu (-23 LUFS), stream (-16), stream14 (-14) or LUFS; the level of a
    # cue between mf and f, the others placed by their dynamic (see mm2music/render/loudness.py)
    loudness: str = "stream"
    mix: str = "keep"  # "keep": music under the source audio, ducked under speech; "replace": music only
    duck_db: float = -12.0  # music gain (dB) under the speech the voice-activity detector finds in the source


@dataclass
class OutputConfig:
    """Where results go."""

    out_dir: str = "out"
    name: str | None = None  # output folder name; default: the video's stem or a slug of the text
    overwrite: bool = False
    keep_versions: int = 20  # earlier versions of a project kept in history/ (revise --undo); the oldest go first


@dataclass
class EncoderConfig:
    """Frame and text encoders. Nothing is downloaded: weights come from a local file or a local cache."""

    backend: str = "auto"  # frames: "auto" (CLIP when its weights are found, else affect), "clip" or "affect"
    clip_model: str = "ViT-B-32"  # open_clip architecture name
    clip_pretrained: str = "laion2b_s34b_b79k"  # open_clip tag, looked up in the local Hugging Face / open_clip cache
    clip_weights: str | None = None  # a local CLIP weights file (.safetensors, .bin, .pt); overrides clip_pretrained
    clip_fps: float = 1.0  # sampled frames a second that CLIP embeds, 0 = all (ViT-B-32: ~0.1 s a frame on 2 CPU threads)
    batch_size: int = 32  # frames per CLIP forward pass


@dataclass
class EmotionConfig:
    """Zero-shot emotion scoring and the fusion of visual, caption and audio cues."""

    visual_weight: float = 1.0  # weight of the frames' reading in a scene (before confidence)
    caption_weight: float = 1.0  # weight of overlapping caption blocks, scaled by how much of the scene they cover
    affect_blend: float = 0.35  # share of the colour/motion model in a scene's valence/arousal when CLIP also scored it
    audio_arousal: float = 0.15  # how far the clip's own loudness moves arousal (0 = ignore the audio)
    text_temperature: float | None = None  # softmax temperature for text<->text scores; None = calibrated on the prompts


@dataclass
class InterchangeConfig:
    """What comes from and goes to a film-maker's other tools: the editor's cut list, stems, MusicXML."""

    cuts_from: str | None = None  # an EDL (.edl), OpenTimelineIO (.otio) or Final Cut Pro XML (.xml, .fcpxml): its cuts, no detection
    edl_rate: float | None = None  # frames per second of an EDL's timecodes (EDLs store none); None = the video's
    stems_format: str = "default"  # stems/<name>_<track>.wav: "default" (the soundtrack's rate, 16-bit), "48k24" or "none"
    musicxml: bool = True  # write soundtrack.musicxml (one part per pitched track)
    start_tc: str | None = None  # the film's first frame, HH:MM:SS:FF (;FF drop-frame); None = the source's timecode tag, else zero
    timeline: bool = True  # write soundtrack.otio / .xml / .edl (/ .aaf) with cues/NN.wav, and Broadcast WAV timecode

    def __post_init__(self) -> None:
        if self.stems_format not in STEM_FORMATS:
            raise ConfigError(f"interchange.stems_format {self.stems_format!r} is not one of {list(STEM_FORMATS)}; "
                              "pass --stems-format default, 48k24 or none")


@dataclass
class Config:
    """The whole pipeline's configuration."""

    media: MediaConfig = field(default_factory=MediaConfig)
    cuts: CutConfig = field(default_factory=CutConfig)
    text: TextConfig = field(default_factory=TextConfig)
    plan: PlanConfig = field(default_factory=PlanConfig)
    music: MusicConfig = field(default_factory=MusicConfig)
    render: RenderConfig = field(default_factory=RenderConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    emotion: EmotionConfig = field(default_factory=EmotionConfig)
    interchange: InterchangeConfig = field(default_factory=InterchangeConfig)
    seed: int = 0

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# --- generic dataclass <-> dict machinery -----------------------------------------------------------


def _closest(key: str, valid: list[str]) -> str:
    match = difflib.get_close_matches(key, valid, n=1, cutoff=0.0)
    return f"; did you mean '{match[0]}'?" if match else ""


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _coerce(value: Any, typ: Any, where: str) -> Any:
    """Convert ``value`` (from YAML or a ``key=value`` string) to the annotated type ``typ``."""
    origin = typing.get_origin(typ)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(typ) if a is not type(None)]
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null", "")):
            if type(None) in typing.get_args(typ):
                return None
        errors = []
        for arg in args:
            try:
                return _coerce(value, arg, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{where}: cannot use {value!r}")
    if dataclasses.is_dataclass(typ):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping of {typ.__name__} keys, got {value!r}")
        return from_dict(typ, value, where)
    if origin in (list, tuple):
        (item,) = typing.get_args(typ)[:1] or (Any,)
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        items = [_coerce(v, item, where) for v in value]
        return items if origin is list else tuple(items)
    if origin is dict or typ is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if typ is Any:
        return value
    if typ is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "on", "false", "no", "0", "off"):
            return value.lower() in ("true", "yes", "1", "on")
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if typ in (int, float):
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        try:
            number = typ(value) if typ is float or not isinstance(value, float) else value
            if typ is int and isinstance(number, float):
                if not number.is_integer():
                    raise ValueError
                number = int(number)
            return number
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected {typ.__name__}, got {value!r}") from None
    if typ is str:
        if isinstance(value, (dict, list)):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return str(value)
    return value


def from_dict(cls: type[T], data: dict, where: str = "") -> T:
    """Build dataclass ``cls`` from a (possibly partial) mapping, checking every key."""
    types_ = _field_types(cls)
    kwargs = {}
    for key, value in (data or {}).items():
        path = f"{where}.{key}" if where else key
        if key not in types_:
            raise ConfigError(f"unknown config key '{path}'{_closest(key, list(types_))}")
        kwargs[key] = _coerce(value, types_[key], path)
    return cls(**kwargs)


def merge(obj: T, data: dict, where: str = "") -> T:
    """Return a copy of dataclass ``obj`` with the keys of ``data`` replaced (recursively)."""
    types_ = _field_types(type(obj))
    changes = {}
    for key, value in (data or {}).items():
        path = f"{where}.{key}" if where else key
        if key not in types_:
            raise ConfigError(f"unknown config key '{path}'{_closest(key, list(types_))}")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current) and isinstance(value, dict):
            changes[key] = merge(current, value, path)
        else:
            changes[key] = _coerce(value, types_[key], path)
    return dataclasses.replace(obj, **changes)


def parse_override(text: str) -> dict:
    """``'cuts.threshold=0.4'`` -> ``{'cuts': {'threshold': '0.4'}}``."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} is not of the form section.key=value")
    key, value = text.split("=", 1)
    node: dict = {}
    parts = key.strip().split(".")
    cursor = node
    for part in parts[:-1]:
        cursor = cursor.setdefault(part, {})
    cursor[parts[-1]] = value
    return node


def read_yaml(path_or_name: str | Path) -> dict:
    """Read a YAML config given as a path or as a name in ``configs/`` (``debug`` -> configs/debug.yaml)."""
    path = Path(path_or_name)
    if not path.exists():
        candidate = CONFIG_DIR / f"{path_or_name}.yaml"
        if candidate.exists():
            path = candidate
        else:
            names = sorted(p.relative_to(CONFIG_DIR).with_suffix("").as_posix() for p in CONFIG_DIR.rglob("*.yaml"))
            raise ConfigError(f"config '{path_or_name}' not found: give a YAML path or one of {names}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read config {path}: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config {path} must hold a mapping of sections, not {type(data).__name__}")
    return data


def load_config(path_or_name: str | Path | None = None, overrides: list[str] | None = None, cls: type[T] = Config) -> T:
    """Defaults, then a YAML file, then ``key=value`` overrides."""
    config = cls()
    if path_or_name is not None:
        config = merge(config, read_yaml(path_or_name))
    for text in overrides or []:
        config = merge(config, parse_override(text))
    return config
