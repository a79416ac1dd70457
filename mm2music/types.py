"""Value types passed between stages.

Frozen dataclasses that validate themselves on construction (like pretty_midi's ``Note``): a stage that
receives one can trust it. Times are in seconds from the start of the media.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np

from mm2music.errors import Mm2MusicError
from mm2music.vocab import CUE_TEMPO

TransitionKind = Literal["cut", "fade", "dissolve"]


def meter_quarters(meter: str) -> float:
    """Quarter notes in a bar of ``meter`` ("6/8" -> 3.0)."""
    num, _, den = meter.partition("/")
    return int(num) * 4 / int(den)


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise Mm2MusicError(message)


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video, corrected by what actually decodes."""

    path: str
    width: int  # pixels, as stored (before any rotation metadata)
    height: int
    fps: float  # average frame rate, frames per second
    n_frames: int  # frames that actually decode (a header count can lie)
    duration: float  # seconds, end of the last decodable frame
    codec: str
    timestamps: Literal["container", "index"]  # where frame times come from
    has_audio: bool
    rotation: int = 0  # degrees, from the display matrix

    def __post_init__(self) -> None:
        _check(self.width > 0 and self.height > 0, f"video size {self.width}x{self.height} must be positive")
        _check(self.fps > 0 and math.isfinite(self.fps), f"video fps {self.fps} must be positive")
        _check(self.n_frames >= 0, f"frame count {self.n_frames} must be >= 0")


@dataclass(frozen=True, eq=False)
class FrameChunk:
    """Consecutive decoded frames, downscaled, as handed to every frame consumer.

    ``frames`` is (N, H, W, 3) uint8 RGB; ``indices`` are frame numbers in the file; ``times`` are
    presentation times in seconds (container timestamps when valid, else index / fps).
    """

    frames: np.ndarray  # (N, H, W, 3) uint8
    indices: np.ndarray  # (N,) int64
    times: np.ndarray  # (N,) float64 seconds

    def __post_init__(self) -> None:
        n = len(self.frames)
        _check(self.frames.ndim == 4 and self.frames.shape[-1] == 3, f"frames shape {self.frames.shape} is not (N, H, W, 3)")
        _check(self.frames.dtype == np.uint8, f"frames dtype {self.frames.dtype} is not uint8")
        _check(len(self.indices) == n and len(self.times) == n, "frames, indices and times differ in length")

    def __len__(self) -> int:
        return len(self.frames)


@dataclass(frozen=True)
class Transition:
    """A boundary between two shots.

    A hard cut has ``start == end`` = the presentation time of the first frame of the new shot. A fade or
    dissolve spans ``[start, end]``; ``time`` (its midpoint frame) is where the scene boundary is put.
    ``frame`` is the index of the frame at ``time``.
    """

    kind: TransitionKind
    start: float
    end: float
    time: float
    frame: int
    score: float = 1.0  # detector confidence in [0, 1]

    def __post_init__(self) -> None:
        _check(self.kind in ("cut", "fade", "dissolve"), f"transition kind {self.kind!r} is not cut, fade or dissolve")
        _check(0 <= self.start <= self.time <= self.end, f"transition times {self.start}, {self.time}, {self.end} are not ordered")


@dataclass(frozen=True)
class Scene:
    """A shot (video) or a segment (text, caption block): a span of time."""

    index: int
    start: float
    end: float

    def __post_init__(self) -> None:
        _check(0 <= self.start < self.end, f"scene {self.index} span [{self.start}, {self.end}] is empty or negative")

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class TextSegment:
    """A piece of text with an optional time span (caption blocks have one; plain text does not)."""

    text: str
    start: float | None = None
    end: float | None = None

    def __post_init__(self) -> None:
        _check(bool(self.text.strip()), "text segment is empty")
        if self.start is not None or self.end is not None:
            _check(self.start is not None and self.end is not None, "a timed text segment needs both start and end")
            _check(0 <= self.start <= self.end, f"text segment span [{self.start}, {self.end}] is reversed or negative")


@dataclass(frozen=True, eq=False)
class AudioEnvelope:
    """The source's own audio, reduced to what later stages need (ducking under dialogue).

    ``rms_db`` and ``speech_db`` are per hop (``hop_s`` seconds): broadband RMS and the RMS of the
    300-3400 Hz speech band, both in dB full scale. ``speech``: ``(start s, end s)`` of each stretch of
    speech a voice-activity detector found (Silero VAD): where the music ducks and may thin out.
    """

    sample_rate: int
    hop_s: float
    duration: float
    rms_db: np.ndarray
    speech_db: np.ndarray
    loudness_lufs: float | None = None
    speech: tuple[tuple[float, float], ...] = ()

    def summary(self) -> dict:
        return {
            "duration": round(self.duration, 3),
            "hop_s": self.hop_s,
            "mean_rms_db": round(float(np.mean(self.rms_db)), 2) if len(self.rms_db) else None,
            "loudness_lufs": None if self.loudness_lufs is None else round(self.loudness_lufs, 2),
            "speech_s": round(sum(b - a for a, b in self.speech), 3),
            "speech": [[round(a, 3), round(b, 3)] for a, b in self.speech],
        }


@dataclass(frozen=True, eq=False)
class Analysis:
    """Everything the media front end learned about one input."""

    source: str
    kind: Literal["video", "text", "captions"]
    duration: float
    scenes: tuple[Scene, ...]
    transitions: tuple[Transition, ...] = ()
    segments: tuple[TextSegment, ...] = ()
    video: VideoInfo | None = None
    audio: AudioEnvelope | None = None
    warnings: tuple[str, ...] = ()
    emotions: tuple["Emotion", ...] = ()  # one per scene, once the emotion stage has run
    extra: dict = field(default_factory=dict)

    @property
    def cuts(self) -> list[float]:
        return [t.time for t in self.transitions]

    def to_json(self) -> dict:
        out: dict = {
            "source": self.source,
            "kind": self.kind,
            "duration": round(self.duration, 6),
            "fps": self.video.fps if self.video else None,
            "cuts": [round(c, 6) for c in self.cuts],
            "transitions": [
                {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(t).items()} for t in self.transitions
            ],
            "scenes": [self._scene_json(i, s) for i, s in enumerate(self.scenes)],
        }
        if self.segments:
            out["segments"] = [asdict(s) for s in self.segments]
        if self.video:
            out["video"] = asdict(self.video)
        if self.audio:
            out["audio"] = self.audio.summary()
        out["warnings"] = list(self.warnings)
        out.update(self.extra)
        return out

    def _scene_json(self, i: int, scene: "Scene") -> dict:
        item: dict = {"start": round(scene.start, 6), "end": round(scene.end, 6)}
        if i < len(self.emotions):
            e = self.emotions[i]
            item.update(valence=round(e.valence, 4), arousal=round(e.arousal, 4), confidence=round(e.confidence, 4),
                        emotions={k: round(v, 4) for k, v in sorted(e.concepts.items(), key=lambda kv: -kv[1])},
                        sources=list(e.sources))
        return item


def scenes_from_transitions(transitions: list[Transition] | tuple[Transition, ...], duration: float) -> tuple[Scene, ...]:
    """Split ``[0, duration]`` at each transition's ``time``."""
    bounds = [0.0] + [t.time for t in transitions if 0 < t.time < duration] + [duration]
    bounds = sorted(set(bounds))
    return tuple(Scene(i, a, b) for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])))


@dataclass(frozen=True)
class Emotion:
    """The emotional reading of one segment of time.

    ``valence`` and ``arousal`` are circumplex coordinates in [-1, 1] (Russell 1980); ``concepts`` is a
    probability distribution over the emotion vocabulary (``mm2music.emotion``); ``confidence`` in [0, 1]
    says how peaked/consistent the evidence was; ``sources`` names the cues fused (e.g. "affect", "text").
    """

    valence: float
    arousal: float
    concepts: dict[str, float]
    confidence: float = 1.0
    sources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check(-1.0 <= self.valence <= 1.0, f"valence {self.valence} is outside [-1, 1]")
        _check(-1.0 <= self.arousal <= 1.0, f"arousal {self.arousal} is outside [-1, 1]")
        _check(0.0 <= self.confidence <= 1.0, f"confidence {self.confidence} is outside [0, 1]")
        total = sum(self.concepts.values())
        _check(not self.concepts or abs(total - 1.0) < 1e-3, f"emotion concept weights sum to {total}, not 1")
        _check(all(w >= 0 for w in self.concepts.values()), "emotion concept weights must be >= 0")

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        return sorted(self.concepts.items(), key=lambda kv: -kv[1])[:k]


def tempo_steps(base_bpm: float, ramp_to_bpm: float | None, bars: int, beats_per_bar: float) -> list[tuple[float, float]]:
    """(quarter notes from the start, qpm) of every tempo in ``bars`` bars at ``base_bpm``; with ``ramp_to_bpm``
    the last bar moves there one step per beat (at least two steps), the last step at the target."""
    if ramp_to_bpm is None:
        return [(0.0, base_bpm)]
    k = max(2, round(beats_per_bar))
    ramp_start = (bars - 1) * beats_per_bar
    out = [(0.0, base_bpm)] if bars > 1 else []
    for j in range(k):
        out.append((ramp_start + j * beats_per_bar / k, base_bpm + (ramp_to_bpm - base_bpm) * (j + 1) / k))
    return out


@dataclass(frozen=True)
class Cue:
    """The musical plan of one segment of time: what the music model is asked to write there.

    ``tempo_bpm`` is in quarter notes per minute and, with ``meter`` and ``bars``, fills ``[start, end]``
    exactly (the click-track calculation: bars * beats per bar * 60 / tempo = end - start). With
    ``ramp_to_bpm`` the last bar moves, one step per beat, to that tempo (the next cue's) and ``tempo_bpm``
    is the tempo of the bars before it, chosen so that the bars still fill the span exactly
    (:meth:`tempo_map`).
    """

    index: int
    start: float
    end: float
    key: str  # tonic, e.g. "D" or "F#"
    mode: str  # "major" | "minor"
    tempo_bpm: float
    meter: str  # e.g. "4/4"
    bars: int
    density: str  # a bin of mm2music.music.attributes.DENSITY_BINS
    register: str  # a bin of REGISTER_BINS
    dynamics: str  # "pp" .. "ff"
    articulation: str
    instruments: tuple[str, ...]  # instrument families, melody first
    texture: str
    theme: str  # "A", "B", ...: cues sharing a theme reuse and vary the same material
    transition: str  # how this cue leads into the next ("final cadence" for the last)
    cadence: str  # cadence type at the end of the cue
    valence: float = 0.0
    arousal: float = 0.0
    emotions: dict[str, float] = field(default_factory=dict)  # top concepts and weights
    merged: tuple[int, ...] = ()  # indices of source segments folded into this cue (too short for a bar)
    ramp_to_bpm: float | None = None  # the last bar accelerates / slows to this tempo (the next cue's)
    odd_bar: str = ""  # meter of the cue's last bar when it differs from ``meter`` (e.g. "2/4"): fits the span
    catches: tuple[float, ...] = ()  # seconds: shot cuts inside the cue that the music catches (accent, new chord)
    figure: str = "sustain"  # the accompaniment figure (mm2music.graph.cues.FIGURES)
    bar_intensity: tuple[float, ...] = ()  # 0..1 per bar: how many layers play and how loud (the intensity curve)
    spotting: str = ""  # "": scored; "thin": under dialogue, pad and bass only, softer; "tacet": left unscored
    spotting_reason: str = ""  # why (the cue sheet says it)
    silences: tuple[tuple[float, float], ...] = ()  # seconds inside the cue where the music stops (the words ask for it)

    def __post_init__(self) -> None:
        _check(0 <= self.start < self.end, f"cue {self.index} span [{self.start}, {self.end}] is empty")
        _check(self.mode in ("major", "minor"), f"cue mode {self.mode!r} is not major or minor")
        _check(self.bars >= 1, f"cue {self.index} has {self.bars} bars; needs at least 1")
        _check(CUE_TEMPO[0] <= self.tempo_bpm <= CUE_TEMPO[1], f"cue tempo {self.tempo_bpm} BPM is outside {CUE_TEMPO[0]:g}-{CUE_TEMPO[1]:g}")
        for meter in (self.meter, self.odd_bar or self.meter):
            num, _, den = meter.partition("/")
            _check(num.isdigit() and int(num) > 0 and den in ("2", "4", "8", "16"), f"meter {meter!r} is not like 4/4 or 6/8")
        _check(not (self.odd_bar and self.ramp_to_bpm is not None), f"cue {self.index}: an odd last bar and a tempo ramp do not mix")
        _check(not self.bar_intensity or len(self.bar_intensity) == self.bars,
               f"cue {self.index} has {len(self.bar_intensity)} intensity values for {self.bars} bars")
        _check(all(0.0 <= x <= 1.0 for x in self.bar_intensity), f"cue {self.index} intensity outside 0..1")
        _check(all(self.start < c < self.end for c in self.catches), f"cue {self.index} catches a cut outside its span")
        _check(self.spotting in ("", "thin", "tacet"), f"cue {self.index} spotting {self.spotting!r} is not '', thin or tacet")

    @property
    def beats_per_bar(self) -> float:
        """Quarter notes per bar (6/8 -> 3.0)."""
        return meter_quarters(self.meter)

    def bar_quarters(self) -> list[float]:
        """Length of every bar in quarter notes (the odd last bar, if any, last)."""
        out = [self.beats_per_bar] * self.bars
        if self.odd_bar:
            out[-1] = meter_quarters(self.odd_bar)
        return out

    @property
    def quarters(self) -> float:
        """Length of the cue in quarter notes."""
        return sum(self.bar_quarters())

    @property
    def intensity(self) -> float:
        """Mean of the per-bar intensity (0.5 when none was planned)."""
        return sum(self.bar_intensity) / len(self.bar_intensity) if self.bar_intensity else 0.5

    def intensities(self) -> tuple[float, ...]:
        """The intensity of every bar (:attr:`intensity` everywhere when none was planned)."""
        return self.bar_intensity or (self.intensity,) * self.bars

    def bar_times(self) -> list[float]:
        """Time (s) of every bar line of the cue, then its end."""
        q, out = 0.0, []
        for length in self.bar_quarters():
            out.append(self.seconds_at(q))
            q += length
        return out + [self.end]

    def tempo_map(self) -> list[tuple[float, float]]:
        """(quarter notes from the cue start, qpm) of every tempo in the cue (:func:`tempo_steps`)."""
        return tempo_steps(self.tempo_bpm, self.ramp_to_bpm, self.bars, self.beats_per_bar)

    def _spans(self) -> Iterator[tuple[float, float, float, float, float]]:
        """(first quarter, last quarter, start s, end s, qpm) of each constant-tempo span; the last never ends."""
        t, tempo_map = self.start, self.tempo_map()
        for i, (q, qpm) in enumerate(tempo_map):
            end = tempo_map[i + 1][0] if i + 1 < len(tempo_map) else math.inf
            t_end = t + (end - q) * 60 / qpm
            yield q, end, t, t_end, qpm
            t = t_end

    def seconds_at(self, quarters: float) -> float:
        """Time (s) of the point ``quarters`` quarter notes after the cue's start."""
        q, _, t, _, qpm = next(span for span in self._spans() if quarters <= span[1])
        return t + (quarters - q) * 60 / qpm

    def quarters_at(self, seconds: float) -> float:
        """Quarter notes from the cue's start at time ``seconds`` (inverse of :meth:`seconds_at`; past the
        end, the last tempo goes on)."""
        q, _, t, _, qpm = next(span for span in self._spans() if seconds <= span[3])
        return q + (seconds - t) * qpm / 60

    def to_json(self) -> dict:
        out = asdict(self)
        out["instruments"] = list(self.instruments)
        out["merged"] = list(self.merged)
        out["tempo_bpm"] = round(self.tempo_bpm, 3)
        out["ramp_to_bpm"] = None if self.ramp_to_bpm is None else round(self.ramp_to_bpm, 3)
        out["catches"] = [round(c, 4) for c in self.catches]
        out["bar_intensity"] = [round(x, 3) for x in self.bar_intensity]
        out["silences"] = [[round(a, 4), round(b, 4)] for a, b in self.silences]
        out["intensity"] = round(self.intensity, 3)
        for k in ("start", "end", "valence", "arousal"):
            out[k] = round(out[k], 4)
        out["emotions"] = {k: round(v, 4) for k, v in self.emotions.items()}
        return out


@dataclass(frozen=True)
class Plan:
    """The musical plan for a whole input: cues tiling ``[0, duration]`` in time order."""

    cues: tuple[Cue, ...]
    duration: float
    notes: tuple[str, ...] = ()  # human-readable remarks (merged scenes, forced modulations, ...)

    def __post_init__(self) -> None:
        _check(len(self.cues) > 0, "a plan needs at least one cue")
        for a, b in zip(self.cues[:-1], self.cues[1:]):
            _check(abs(a.end - b.start) < 1e-6, f"cues {a.index} and {b.index} do not touch ({a.end} vs {b.start})")

    def intensity_curve(self) -> list[tuple[float, float]]:
        """(seconds, intensity 0..1) at every bar line: the curve that adds and removes layers."""
        return [point for cue in self.cues for point in zip(cue.bar_times(), cue.intensities())]

    def to_json(self) -> dict:
        curve = self.intensity_curve()
        return {"duration": round(self.duration, 6), "cues": [c.to_json() for c in self.cues], "notes": list(self.notes),
                "intensity": {"times": [round(t, 4) for t, _ in curve], "values": [round(v, 3) for _, v in curve]}}
