"""Every user setting checked before any decoding or model loading, and the limits of what we score (issue 16).

:func:`check_settings` validates (and normalises) a resolved :class:`~mm2music.config.Config`: numbers are
finite and in range, names are known, files exist and are what they claim to be. It runs first in
:func:`mm2music.pipeline.run`, so a bad value fails in one line before the slow work, not after it.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

from mm2music.config import Config
from mm2music.errors import CheckpointError, ConfigError, MediaError, RenderError
from mm2music.vocab import DETECTORS, ENCODERS, FAMILIES, METERS, MIXES, QUANTIZE, TEMPO_FLAG

MIN_DURATION_S = 1.0  # shorter than this there is no room for one bar of music (4/4 at the 320 BPM ceiling is 0.75 s)
MAX_DURATION_S = 3 * 3600.0  # the longest input scored (a feature film); longer runs would plan and generate for hours
MAX_TEXT_BYTES = 1_000_000  # --text / --text-file
MAX_CAPTION_BYTES = 20_000_000  # --captions file size
MAX_CAPTION_CUES = 20_000  # a feature film's subtitles hold 1,500-2,500
MAX_CAPTION_SCENES = 150  # caption blocks beyond this are grouped into scenes (~1 a minute for a 2-hour film), so planning stays near-linear
SAMPLE_RATES = (8000, 96000)


def _finite(value: float, what: str, fix: str, low: float | None = None, high: float | None = None,
            low_open: bool = False) -> None:
    bad = not math.isfinite(value)
    if not bad and low is not None:
        bad = value <= low if low_open else value < low
    if not bad and high is not None:
        bad = value > high
    if bad:
        raise ConfigError(f"{what} {value!r} is out of range; {fix}")


def _one_of(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise ConfigError(f"{what} {value!r} is not known; choose {', '.join(allowed[:-1])} or {allowed[-1]}")


def check_duration(seconds: float, what: str) -> None:
    """The input's length must leave room for a bar of music and stay within :data:`MAX_DURATION_S`."""
    if not math.isfinite(seconds) or seconds > MAX_DURATION_S:
        raise MediaError(f"{what} lasts {seconds:g} s, longer than the {MAX_DURATION_S:g} s ({MAX_DURATION_S / 3600:g} h) "
                         "mm2music scores; cut it into parts")
    if seconds < MIN_DURATION_S:
        raise MediaError(f"{what} lasts {seconds:.2f} s, too short for a bar of music; the minimum is {MIN_DURATION_S:g} s")


def check_hits(hits: list[float] | None, duration: float, what: str = "the input") -> None:
    """Hits must fall inside the music (a hit outside it could not be placed, and must not be reported as placed)."""
    for h in hits or []:
        if not 0 <= h < duration:
            raise ConfigError(f"--hits {h:g} s is outside {what} (0-{duration:.2f} s); give moments inside it")


def normalized_hits(hits: list[float] | None) -> list[float] | None:
    if not hits:
        return hits
    for h in hits:
        if not math.isfinite(h) or h < 0:
            raise ConfigError(f"--hits value {h!r} is not a time in seconds; give moments like 12.5,31.0 (0 or more)")
    return sorted(set(hits))  # a hit given twice is one hit


def check_seed(seed: int, flag: str = "--seed") -> None:
    """A seed is a whole number from 0 to 2**32 - 1 (what numpy and torch accept)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ConfigError(f"{flag} {seed} is out of range; give a whole number from 0 to {2**32 - 1}")


def check_soundfont(path: str | None) -> Path:
    """The soundfont exists and is a RIFF sfbk (SoundFont 2 or 3) file; FluidSynth itself logs native noise on others."""
    from mm2music.render.synth import find_soundfont

    sf = find_soundfont(path)
    try:
        with open(sf, "rb") as f:
            head = f.read(12)
    except OSError as exc:
        raise RenderError(f"soundfont '{sf}' cannot be read ({exc.strerror}); pass --soundfont with a readable .sf2 or .sf3 file") from None
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        raise RenderError(f"soundfont '{sf}' is not a SoundFont file (no RIFF 'sfbk' header); pass --soundfont with an .sf2 or .sf3 file")
    return sf


def check_checkpoint(path: str | None) -> None:
    """The checkpoint folder's config is readable and of our format (the weights are checked when loaded)."""
    from mm2music.music.checkpoint import DEFAULT_CHECKPOINT, read_config

    p = Path(path) if path else DEFAULT_CHECKPOINT
    if not p.exists():
        raise CheckpointError(f"music checkpoint '{p}' does not exist; pass --checkpoint DIR with a trained checkpoint "
                              "(python run_pipeline.py train --config configs/train/music21.yaml makes one) or use --analyze-only")
    read_config(p)


def check_settings(config: Config, music: bool = True) -> Config:
    """Validate every user-settable value of ``config``; return it normalised (hits sorted and unique,
    instrument families in lower case). ``music``: also the checkpoint and the soundfont (not for analysis only)."""
    from mm2music.graph.spotting import SPOTTING
    from mm2music.key import Key

    m, c, p, mu, r, e, em = config.media, config.cuts, config.plan, config.music, config.render, config.encoder, config.emotion
    _finite(m.sample_fps, "media.sample_fps", "give frames per second above 0, e.g. 2", 0, 1000, low_open=True)
    _finite(m.frame_short_side, "media.frame_short_side", "give a size in pixels from 16, e.g. 144", 16, 4096)
    _finite(m.chunk_frames, "media.chunk_frames", "give 1 or more, e.g. 48", 1, 10_000)
    _finite(m.audio_sample_rate, "media.audio_sample_rate", "give a rate in Hz, e.g. 16000", *SAMPLE_RATES)
    _finite(m.audio_hop_s, "media.audio_hop_s", "give seconds above 0, e.g. 0.05", 0, 10, low_open=True)
    _one_of(c.detector, DETECTORS, "cuts.detector")
    _finite(c.threshold, "cuts.threshold", "give a score between 0 and 1, e.g. 0.3", 0, 1)
    _finite(c.min_scene_s, "cuts.min_scene_s", "give seconds from 0, e.g. 0.4", 0, 3600)
    _finite(config.text.duration, "--duration", f"give seconds between {MIN_DURATION_S:g} and {MAX_DURATION_S:g}",
            MIN_DURATION_S, MAX_DURATION_S)
    if p.key:
        Key.parse(p.key, what="--key")
    if config.interchange.start_tc:  # its frames are checked against the picture's rate once the video is open
        from mm2music.interchange.timecode import parse_timecode

        parse_timecode(config.interchange.start_tc, 60000 / 1001)
    _finite(p.scene_similarity, "plan.scene_similarity", "give 0-1 (1: every shot its own cue), e.g. 0.8", 0, 1)
    _finite(p.max_cue_s, "plan.max_cue_s", "give seconds above 0, e.g. 60", 0, 86_400, low_open=True)
    _finite(p.contrast_energy, "plan.contrast_energy", "give 0-1, e.g. 0.3", 0, 1)
    _finite(p.catch_weight, "plan.catch_weight", "give 0 or more, e.g. 1", 0, 1000)
    _finite(p.intensity_scale, "plan.intensity_scale", "give 0 or more, e.g. 1", 0, 100)
    _finite(p.leitmotifs, "plan.leitmotifs", "give a whole number of characters from 0, e.g. 4", 0, 26)
    _finite(p.max_themes, "plan.max_themes", "give a whole number from 0 (0: no limit), e.g. 8", 0, 10_000)
    if p.spotting not in SPOTTING:
        raise ConfigError(f"plan.spotting {p.spotting!r} is not known; choose {' or '.join(SPOTTING)}, e.g. --spotting auto")
    if p.intensity is not None:
        _finite(p.intensity, "plan.intensity", "give 0-1, e.g. 0.3 for a quiet score", 0, 1)
    if p.tempo is not None:
        _finite(p.tempo, "--tempo", f"give beats per minute between {TEMPO_FLAG[0]:g} and {TEMPO_FLAG[1]:g}", *TEMPO_FLAG)
    instruments = [f.strip().lower() for f in p.instruments] if p.instruments else p.instruments
    for f in instruments or []:
        if f not in FAMILIES:
            raise ConfigError(f"unknown instrument family {f!r}; choose from {', '.join(FAMILIES)}")
    if p.meter is not None and p.meter not in METERS:
        raise ConfigError(f"--meter {p.meter!r} is not supported; choose from {', '.join(METERS)}")
    _finite(p.min_cue_s, "plan.min_cue_s", "give seconds from 0, e.g. 1.6", 0, 600)
    for name in ("theme_similarity", "tempo_smoothing", "contrast_arousal"):
        _finite(getattr(p, name), f"plan.{name}", "give a value between 0 and 2", 0, 2)
    hits = normalized_hits(p.hits)
    for name in ("theme_candidates", "max_bar_tokens"):
        _finite(getattr(mu, name), f"music.{name}", "give 1 or more", 1, 100_000)
    _finite(mu.temperature, "music.temperature", "give a value above 0, e.g. 1.0", 0, 10, low_open=True)
    _finite(mu.top_p, "music.top_p", "give a value in (0, 1], e.g. 0.95", 0, 1, low_open=True)
    _finite(mu.key_guidance, "music.key_guidance", "give 0 or more", 0, 100)
    _one_of(mu.quantize, QUANTIZE, "music.quantize")
    _finite(r.sample_rate, "render.sample_rate", "give a rate in Hz, e.g. 44100", *SAMPLE_RATES)
    from mm2music.render.loudness import target_lufs

    target_lufs(r.loudness, "--loudness")
    _finite(r.duck_db, "render.duck_db", "give a gain between -60 and 0 dB, e.g. -12", -60, 0)
    _one_of(r.mix, MIXES, "render.mix")
    _one_of(e.backend, ENCODERS, "encoder.backend")
    _finite(e.clip_fps, "encoder.clip_fps", "give frames per second from 0 (0 = all)", 0, 1000)
    _finite(e.batch_size, "encoder.batch_size", "give 1 or more", 1, 4096)
    if e.clip_weights and not Path(e.clip_weights).is_file():
        raise ConfigError(f"--clip-weights '{e.clip_weights}' is not a file; give a local CLIP weights file")
    for name in ("visual_weight", "caption_weight", "affect_blend", "audio_arousal"):
        _finite(getattr(em, name), f"emotion.{name}", "give a value from 0, e.g. 1.0", 0, 100)
    if em.text_temperature is not None:
        _finite(em.text_temperature, "emotion.text_temperature", "give a value above 0", 0, 100, low_open=True)
    check_seed(config.seed)
    _finite(config.output.keep_versions, "output.keep_versions", "give how many earlier versions to keep, 0 or more, e.g. 20",
            0, 1_000_000)
    if music:
        from mm2music.music.checkpoint import resolve_checkpoint

        mu = dataclasses.replace(mu, checkpoint=resolve_checkpoint(mu.checkpoint))
        check_checkpoint(mu.checkpoint)
        check_soundfont(r.soundfont)
    plan = dataclasses.replace(p, hits=hits, instruments=instruments)
    return dataclasses.replace(config, plan=plan, music=mu)
