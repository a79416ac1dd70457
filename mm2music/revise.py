"""Revise a scored project: write one cue again and keep the rest, offer variations, lock cues, undo.

A revise re-composes only cue N (:func:`~mm2music.arrange.compose.compose_cue`, primed by the previous cue's
last bars as a full run is, and chosen among its candidates also for how it leads into the kept next cue), and
rebuilds the MIDI from the stored music of every cue with the same score builder, so every other cue's notes
come out byte-identical. The audio is re-rendered only over the changed span (from a short pre-roll before
the cue, so the previous cue's ringing notes sound on, to the release tail into the next cue) and spliced into
the stored pre-normalisation mix with a short crossfade at each join; then it is normalised, muxed, and the
cue sheet, timeline and plan are written again. Each revise is staged and renamed into place; the previous
version goes to ``history/`` (:mod:`mm2music.project`).
"""

from __future__ import annotations

import json
import logging
import shutil
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from mm2music.arrange.compose import CueMusic, compose_cue, cue_seed, theme_source
from mm2music.checks import check_seed
from mm2music.arrange.seating import part_controls
from mm2music.config import MusicConfig, RenderConfig
from mm2music.errors import ConfigError, Mm2MusicError
from mm2music.key import Key
from mm2music.graph.beats import fit_beats
from mm2music.graph.plan import fit_tempi, ramp_tempi
from mm2music.project import store
from mm2music.project import (CueEntry, Project, ProjectError, checkpoint_hash, load_mix, load_project,
                              music_from_json, music_to_json, next_version, replace_file, save_mix_blocks, with_pinned)
from mm2music.types import Cue, Plan
from mm2music.vocab import CUE_TEMPO, DENSITIES, DYNAMICS, FAMILIES, REGISTERS

log = logging.getLogger(__name__)

PRE_ROLL_S = 2.0  # re-render from this long before the cue: the previous cue's notes ring on into it
TAIL_S = 2.0  # ... to this long after it: the revised cue's release rings into the next one
LOOKBACK_S = 30.0  # a note sounding at the pre-roll's start is rendered from its attack, up to this much earlier
CROSSFADE_S = 0.01  # the splice at each join


# --- what can be changed about a cue ---------------------------------------------------------------------


@dataclass(frozen=True)
class CueSettings:
    """Changes asked for one cue; None = keep. ``intensity`` in [0, 1] sets the dynamics and the density bin
    (and the cue's ``intensity`` field where the plan has one); the rest are the plan's own fields."""

    key: str | None = None  # "D minor", "Bb", "Em"
    tempo: float | None = None  # BPM; the cue keeps filling its span with whole bars
    instruments: tuple[str, ...] | None = None
    intensity: float | None = None
    density: str | None = None
    register: str | None = None
    dynamics: str | None = None
    texture: str | None = None
    articulation: str | None = None

    def pinned(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items() if v is not None}

    @classmethod
    def from_pinned(cls, data: dict) -> CueSettings:
        return cls(**{k: (tuple(v) if k == "instruments" else v) for k, v in data.items() if k in cls.__dataclass_fields__})


def _one_of(value: str, allowed: Sequence[str], what: str, where: str) -> str:
    if value not in allowed:
        raise ConfigError(f"{where}: {what} {value!r} is not one of {', '.join(allowed)}")
    return value


def fit_tempo(cues: Sequence[Cue], i: int, bpm: float, where: str = "--tempo") -> tuple[int, float, float | None, str]:
    """(bars, base tempo, ramp target, odd last bar) of cue ``i`` at about ``bpm``, filling its span exactly as
    the planner does: whole beats at one tempo with an odd last bar (:func:`fit_beats`, its caught cuts near
    the grid), or, for a plan made with ramps, whole bars (:func:`fit_tempi`) and a last-bar ramp into the
    next cue's tempo when they differ by more than its threshold (:func:`ramp_tempi`)."""
    if not CUE_TEMPO[0] <= bpm <= CUE_TEMPO[1]:
        raise ConfigError(f"{where} {bpm:g} BPM is out of range; give {CUE_TEMPO[0]:g}-{CUE_TEMPO[1]:g}")
    cue = cues[i]
    duration = cue.end - cue.start
    band = (bpm * 0.85, bpm * 1.15)
    if not any(c.ramp_to_bpm is not None for c in cues):
        fit, = fit_beats([duration], [bpm], cue.meter, [[c - cue.start for c in cue.catches]], band)
        return fit.bars, fit.qpm, None, fit.odd_bar
    (bars, fitted), = fit_tempi([duration], [bpm], cue.beats_per_bar, band)
    if i + 1 < len(cues):
        nxt = cues[i + 1]
        base, ramp = ramp_tempi([(bars, fitted), (nxt.bars, nxt.tempo_bpm)], [duration, nxt.end - nxt.start],
                                cue.beats_per_bar, band=band)[0]
        return bars, base, ramp, ""
    return bars, fitted, None, ""


def _resample(values: Sequence[float], n: int, default: float) -> tuple[float, ...]:
    """``values`` (per bar) stretched to ``n`` bars (nearest value), or ``default`` everywhere."""
    if not values:
        return (default,) * n
    return tuple(values[min(len(values) - 1, int(k * len(values) / n))] for k in range(n))


def apply_settings(cues: Sequence[Cue], i: int, settings: CueSettings, where: str = "revise") -> Cue:
    """Cue ``i`` with ``settings`` applied and validated (one-line errors naming the bad value)."""
    cue = cues[i]
    changes: dict = {}
    if settings.key is not None:
        try:
            key = Key.parse(settings.key)
            tonic, mode = key.tonic, key.mode
        except (ValueError, Mm2MusicError):
            raise ConfigError(f"{where}: key {settings.key!r} is not a key; use e.g. 'D minor', 'F# major', 'Bb' or 'Em'") from None
        changes.update(key=tonic, mode=mode)
    if settings.instruments is not None:
        for f in settings.instruments:
            _one_of(f, FAMILIES, "instrument family", where)
        if not settings.instruments:
            raise ConfigError(f"{where}: no instruments given; name at least one of {', '.join(FAMILIES)}")
        changes["instruments"] = tuple(settings.instruments)
    if settings.intensity is not None:
        x = settings.intensity
        if not 0.0 <= x <= 1.0:
            raise ConfigError(f"{where}: intensity {x:g} is outside [0, 1]; give e.g. 0.8 for intense, 0.2 for calm")
        curve = [min(1.0, max(0.0, v - cue.intensity + x)) for v in cue.bar_intensity] or [x] * cue.bars
        changes.update(bar_intensity=tuple(curve), dynamics=DYNAMICS[round(x * (len(DYNAMICS) - 1))],
                       density=DENSITIES[round(x * (len(DENSITIES) - 1))])
    for name, allowed in (("density", DENSITIES), ("register", REGISTERS), ("dynamics", DYNAMICS)):
        value = getattr(settings, name)
        if value is not None:
            changes[name] = _one_of(value, allowed, name, where)
    for name in ("texture", "articulation"):
        if getattr(settings, name) is not None:
            changes[name] = getattr(settings, name)
    if settings.texture is not None:
        from mm2music.graph.cues import TEXTURES

        _one_of(settings.texture, TEXTURES, "texture", where)
    if settings.tempo is not None:
        bars, base, ramp, odd = fit_tempo(cues, i, float(settings.tempo), f"{where}: tempo")
        curve = changes.get("bar_intensity", cue.bar_intensity)
        changes.update(bars=bars, tempo_bpm=base, ramp_to_bpm=ramp, odd_bar=odd, bar_intensity=_resample(curve, bars, cue.intensity))
    return with_pinned(cue, **changes)


# --- plan.json edited by hand ------------------------------------------------------------------------------

EDITABLE = {"key", "mode", "tempo_bpm", "instruments", "density", "register", "dynamics", "texture", "articulation", "intensity"}


def plan_edits(project: Project) -> dict[int, CueSettings]:
    """Cues whose entry in ``plan.json`` differs from the project (an edit by hand), as settings; an edit
    of a field that cannot change (times, bars, ...) or of an unknown one is a one-line error."""
    path = project.folder / "plan.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        edited = data["cues"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ProjectError(f"cannot read {path}: {' '.join(str(exc).split())}; fix the JSON or run `revise {project.folder} --undo`") from None
    if not isinstance(edited, list) or len(edited) != len(project.cues):
        raise ProjectError(f"{path} has {len(edited) if isinstance(edited, list) else 'no'} cues, the project {len(project.cues)}; "
                           "cues follow the cuts: edit a cue's fields, do not add or remove cues")
    out: dict[int, CueSettings] = {}
    for i, (entry, new) in enumerate(zip(project.cues, edited)):
        old = json.loads(json.dumps(entry.music.cue.to_json()))  # as plan.json holds it (tuples read back as lists)
        if not isinstance(new, dict):
            raise ProjectError(f"{path}: cue {i + 1} is not a JSON object")
        changed = {k for k in set(old) | set(new) if new.get(k, old.get(k)) != old.get(k) or k not in old}
        if not changed:
            continue
        fixed = sorted(changed - EDITABLE)
        if fixed:
            raise ProjectError(f"{path}: cue {i + 1} field {fixed[0]!r} cannot be edited (it follows the cuts and the tempo); "
                               f"edit one of {', '.join(sorted(EDITABLE))}, or restore it to {old.get(fixed[0])!r}")
        settings: dict = {}
        if changed & {"key", "mode"}:
            tonic, mode = new.get("key", old["key"]), new.get("mode", old["mode"])
            if not isinstance(tonic, str) or not isinstance(mode, str):
                raise ProjectError(f"{path}: cue {i + 1} key {tonic!r} {mode!r} is not a key; give e.g. \"key\": \"D\", \"mode\": \"minor\"")
            settings["key"] = f"{tonic} {mode}"
        if "tempo_bpm" in changed:
            if isinstance(new["tempo_bpm"], bool) or not isinstance(new["tempo_bpm"], (int, float)):
                raise ProjectError(f"{path}: cue {i + 1} tempo_bpm {new['tempo_bpm']!r} is not a number of BPM")
            settings["tempo"] = float(new["tempo_bpm"])
        if "instruments" in changed:
            if not isinstance(new["instruments"], list) or not all(isinstance(f, str) for f in new["instruments"]):
                raise ProjectError(f"{path}: cue {i + 1} instruments {new['instruments']!r} is not a list like [\"strings\", \"piano\"]")
            settings["instruments"] = tuple(new["instruments"])
        for k in ("density", "register", "dynamics", "texture", "articulation"):
            if k in changed:
                if not isinstance(new[k], str):
                    raise ProjectError(f"{path}: cue {i + 1} {k} {new[k]!r} is not a name; give one like {old.get(k)!r}")
                settings[k] = new[k]
        if "intensity" in changed:
            x = new["intensity"]
            if isinstance(x, bool) or not isinstance(x, (int, float)):
                raise ProjectError(f"{path}: cue {i + 1} intensity {x!r} is not a number; give 0 (calm) to 1 (intense), e.g. 0.8")
            settings["intensity"] = float(x)
        out[i] = CueSettings(**settings)
    return out


# --- locks on a full re-run ----------------------------------------------------------------------------


def apply_locks(folder: Path, plan: Plan, numbers: Sequence[int]) -> tuple[Plan, dict[int, CueEntry]]:
    """The new ``plan`` with the project's cues ``numbers`` (1-based) kept as they were, and those cues'
    entries (index -> entry). The cues must still span the same time (the cuts decide the cues)."""
    project = load_project(folder)
    cues = list(plan.cues)
    kept: dict[int, CueEntry] = {}
    for number in sorted(set(numbers)):
        i = project.cue_index(number, "--lock")
        old = project.cues[i].music.cue
        if i >= len(cues) or abs(cues[i].start - old.start) > 1e-3 or abs(cues[i].end - old.end) > 1e-3:
            raise ProjectError(f"--lock {number}: cue {number} spans {old.start:.2f}-{old.end:.2f} s in the project but the new plan "
                               "has no cue there (the cuts changed); drop --lock or keep the analysis settings")
        cues[i] = old
        kept[i] = replace(project.cues[i], locked=True)
    for i in range(1, len(cues)):  # a cue ramping into a kept one lands on its tempo
        if i in kept and (i - 1) not in kept and cues[i - 1].ramp_to_bpm is not None:
            prev = cues[i - 1]
            base, ramp = ramp_tempi([(prev.bars, prev.tempo_bpm), (cues[i].bars, cues[i].tempo_bpm)],
                                    [prev.end - prev.start, cues[i].end - cues[i].start], prev.beats_per_bar)[0]
            cues[i - 1] = replace(prev, tempo_bpm=base, ramp_to_bpm=ramp)
    return Plan(tuple(cues), plan.duration, plan.notes), kept


# --- composing ---------------------------------------------------------------------------------------------


def _music_config(project: Project) -> MusicConfig:
    data = project.config.get("music", {})
    return MusicConfig(**{k: v for k, v in data.items() if k in MusicConfig.__dataclass_fields__})


def _render_config(project: Project) -> RenderConfig:
    data = dict(project.config.get("render", {}))
    if "loudness" not in data and "target_lufs" in data:  # a project scored before delivery targets had names
        data["loudness"] = str(data["target_lufs"])
    return RenderConfig(**{k: v for k, v in data.items() if k in RenderConfig.__dataclass_fields__})


def load_model(project: Project):
    """The project's decoder; a warning if its checkpoint changed since the project was scored."""
    from mm2music.music.checkpoint import DEFAULT_CHECKPOINT, load_music_model

    config = _music_config(project)
    model, tokenizer = load_music_model(project.checkpoint.get("path"), config.quantize)
    path = project.checkpoint.get("path") or str(DEFAULT_CHECKPOINT)
    if checkpoint_hash(path) != project.checkpoint.get("sha256"):
        log.warning("the checkpoint %s changed since %s was scored: revised cues are written by another model", path, project.folder.name)
    return model, tokenizer


def new_seed(entry: CueEntry, salt: str) -> int:
    return zlib.crc32(f"{entry.seed}:{salt}".encode()) & 0x7FFFFFFF


def write_cue(project: Project, i: int, cue: Cue, seed: int, model, tokenizer, new_theme: bool = False,
              changed: dict | None = None) -> CueMusic:
    """Compose cue ``i`` as ``cue`` with ``seed``: its theme (stated earlier, or by this cue itself) is kept and
    restated as the new settings ask; ``new_theme``: the decoder writes this cue a new theme instead.
    ``changed``: cue index -> entry already rewritten in this revision (a propagated theme comes from there)."""
    music = [changed[k].music if changed and k in changed else m for k, m in enumerate(project.music)]
    before = music[:i]
    own = music[i] if music[i].theme is not None and music[i].cue.theme == cue.theme else None  # its theme is kept
    theme = None if new_theme else theme_source(cue, before) or own
    return compose_cue(cue, model, tokenizer, _music_config(project), seed, theme=theme, final=i == len(music) - 1)


# --- audio: re-render one span and splice it -------------------------------------------------------------


def _span_parts(music: Sequence[CueMusic], hits: Sequence[float]):
    """Every cue's orchestrated parts as the full render plays them: ``(cue index, part, notes in seconds,
    controller changes in seconds)``."""
    from mm2music.arrange.timing import layout
    from mm2music.render.stems import timed_controls, timed_parts

    cues = [m.cue for m in music]
    timings = layout(cues)
    for i, m in enumerate(music):
        for part, notes in timed_parts(i, m, cues, timings, hits):
            yield i, part, notes, timed_controls(part, m.cue)


def _window(cue: Cue, n_total: int, sr: int, pre_s: float = PRE_ROLL_S, tail_s: float = TAIL_S) -> tuple[int, int]:
    """First and end sample of the span re-rendered for ``cue``. It starts on one of FluidSynth's blocks of the
    whole render (notes take effect at block boundaries: a span on another grid would play every note up to a
    block late or early, and sound apart from the full render by its phase alone)."""
    from mm2music.render.synth import FLUID_BLOCK

    return max(0, round((cue.start - pre_s) * sr)) // FLUID_BLOCK * FLUID_BLOCK, min(n_total, round((cue.end + tail_s) * sr))


def render_span(music: Sequence[CueMusic], i: int, hits: Sequence[float], n_total: int, config: RenderConfig) -> tuple[int, np.ndarray]:
    """(first sample, audio) of the soundtrack from :data:`PRE_ROLL_S` before cue ``i`` to :data:`TAIL_S` after
    it, rendered by a fresh synth as the full render plays it: each track on a channel of its own with its
    phrasing (swells, vibrato, pedal; controllers set earlier take effect at the start), on FluidSynth's block
    grid of the whole render, and a note still sounding at the pre-roll's start played from its attack (up to
    :data:`LOOKBACK_S` earlier, and cut off again: a pad held across the join is not struck again there). Where the music is the
    one the film was rendered with, the span is the full render's (up to the reverb's memory of what ended
    before it)."""
    from mm2music.render.synth import FLUID_BLOCK, Synthesizer

    sr = config.sample_rate
    first, b = _window(music[i].cue, n_total, sr)
    parts = list(_span_parts(music, hits))
    held = [s for _, _, notes, _ in parts for s, e, _, _ in notes if s < first / sr < e]
    a = max(0, round(max(min(held), first / sr - LOOKBACK_S) * sr)) // FLUID_BLOCK * FLUID_BLOCK if held else first
    t0, t1 = a / sr, b / sr
    synth = Synthesizer(b - a, config.soundfont, sr, fade_s=0.03 if b == n_total else 0.0)
    try:
        for _, part, notes, controls in parts:
            window = [(max(s, t0) - t0, e - t0, p, v) for s, e, p, v in notes if e > t0 and s < t1]
            if window:
                synth.add(window, part.program, part.is_drum, track=part.name,
                          controls=[(max(0.0, t - t0), number, value) for t, number, value in controls if t < t1], **part_controls(part))
        return first, synth.finish()[first - a:]  # what was rendered before the window only set the held notes going
    finally:
        synth.close()


def deliver_preview(music: Sequence[CueMusic], start: int, preview: np.ndarray, config: RenderConfig) -> np.ndarray:
    """A preview rendered from sample ``start`` (:func:`render_span`) at the delivery loudness, each cue in it at
    its planned dynamic, as the whole soundtrack would play it."""
    from mm2music.render.loudness import cue_levels, deliver, target_lufs

    sr = config.sample_rate
    levels = cue_levels([m.cue for m in music], start / sr, (start + len(preview)) / sr)
    return deliver(preview, sr, target_lufs(config.loudness), levels)[0]


def splice_into(window: np.ndarray, at: int, n_total: int, start: int, segment: np.ndarray, join_at: int, sr: int,
                crossfade_s: float = CROSSFADE_S) -> None:
    """``segment`` (rendered from sample ``start``) in place from ``join_at`` (the cue's start) to its end, with a
    linear crossfade of ``crossfade_s`` ending at ``join_at`` and one ending at the segment's end (none at the
    soundtrack's own start or end), on the samples ``at`` to ``at + len(window)`` of a soundtrack of ``n_total``
    samples; outside the crossfades and the segment, ``window`` is untouched. Each sample of the result depends
    only on the same sample before, so a long film's stored music is spliced a block at a time, never held whole."""
    end = start + len(segment)
    x = max(1, round(crossfade_s * sr))
    a = max(start, join_at - x)
    b = max(join_at, end - x) if end < n_total else end
    lo, hi = max(at, a), min(at + len(window), end)
    if lo >= hi:
        return
    before = window[lo - at:hi - at].copy()  # the soundtrack as it was there
    window[lo - at:hi - at] = segment[lo - start:hi - start]
    if a < join_at and lo < join_at:  # the crossfade into the segment
        r = np.linspace(0.0, 1.0, join_at - a, endpoint=False, dtype=np.float32)[:, None]
        p, q = lo, min(hi, join_at)
        window[p - at:q - at] = before[p - lo:q - lo] * (1 - r[p - a:q - a]) + segment[p - start:q - start] * r[p - a:q - a]
    if b < end and hi > b:  # the crossfade out of it
        r = np.linspace(1.0, 0.0, end - b, endpoint=False, dtype=np.float32)[:, None]
        p, q = max(lo, b), hi
        window[p - at:q - at] = segment[p - start:q - start] * r[p - b:q - b] + before[p - lo:q - lo] * (1 - r[p - b:q - b])


def spliced_blocks(mix: np.ndarray, splices: Sequence[tuple[int, np.ndarray, int]], sr: int, block: int = 1 << 20):
    """``mix`` (the stored music, memory-mapped) with each ``(start, segment, join_at)`` of ``splices`` spliced in
    turn (:func:`splice_into`), as float32 blocks of ``block`` samples."""
    n = len(mix)
    for at in range(0, n, block):
        window = np.array(mix[at:at + block], dtype=np.float32)
        for start, segment, join_at in splices:
            splice_into(window, at, n, start, segment, join_at, sr)
        yield window


# --- rebuilding the outputs -----------------------------------------------------------------------------


def write_outputs(project: Project, mix, staging: Path) -> dict:
    """Write every derived file of ``project`` into ``staging`` from its stored music and ``mix`` (the music
    before normalisation: an array, or a block source such as :class:`~mm2music.render.loudness.NpySource`) with the full run's writer (:class:`~mm2music.project.outputs.SoundtrackWriter`):
    plan, MIDI, WAV, stems, MusicXML, scored video, timeline, cue sheet. Returns the sync report."""
    from mm2music.project.outputs import SoundtrackWriter, config_of, write_cue_sheet, write_json
    config = config_of(project.config)
    write_json(staging / "plan.json", project.plan.to_json())
    with SoundtrackWriter(staging, project.analysis, project.plan, project.music, config, project.hits) as writer:
        sync = writer.score()
        writer.audio(mix)  # measured there, the whole and each cue in one pass
        sheet = writer.rest(project.audio_envelope())
    write_cue_sheet(staging, sheet, project.analysis, project)
    return sync


def kept_versions(project: Project) -> int:
    """How many earlier versions the project's history keeps (``output.keep_versions`` of its config)."""
    from mm2music.project.outputs import config_of

    return config_of(project.config).output.keep_versions


def write_cue_sheet(project: Project, sheet: dict, staging: Path) -> None:
    """The cue sheet with each cue's seed, lock and pinned settings (JSON fields and Markdown lines)."""
    from mm2music.project.outputs import write_cue_sheet as write

    write(staging, sheet, project.analysis, project)


def annotate_cue_sheet(folder: Path, project: Project) -> None:
    """Add seeds, locks and pinned settings to the cue sheet a full run wrote in ``folder``."""
    sheet = json.loads((folder / "cue_sheet.json").read_text(encoding="utf-8"))
    write_cue_sheet(project, sheet, folder)


# --- the revise operations ---------------------------------------------------------------------------------


@dataclass
class Revision:
    """What a revise did: the cues rewritten, the seconds it took, the files' folder, the version number."""

    folder: Path
    cues: list[int]  # 1-based
    version: int
    seconds: float = 0.0
    variations: list[Path] | None = None


def commit_cues(project: Project, changed: dict[int, CueEntry]) -> Revision:
    """Replace the entries ``changed`` (index -> entry), re-render their spans, rebuild everything, stage it
    and rename it into place with the previous version in history."""
    import time

    from mm2music.render.loudness import NpySource

    t0 = time.perf_counter()
    config = _render_config(project)
    # the stored music mapped, not loaded: the new version's is written a block at a time with the spans spliced in
    mix = load_mix(project.folder, mmap=True, samples=project.samples(config.sample_rate))
    splices = []
    for i in sorted(changed):
        project.cues[i] = changed[i]
        start, segment = render_span(project.music, i, project.hits, len(mix), config)
        splices.append((start, segment, round(project.music[i].cue.start * config.sample_rate)))
    project.version += 1
    with next_version(project.folder, keep=kept_versions(project)) as staging:
        project.write(staging, set(changed))
        stored = save_mix_blocks(staging, len(mix), spliced_blocks(mix, splices, config.sample_rate))
        write_outputs(project, NpySource(stored), staging)
    return Revision(project.folder, [i + 1 for i in sorted(changed)], project.version, time.perf_counter() - t0)


def revise(folder: str | Path, cue: int | None = None, settings: CueSettings = CueSettings(), seed: int | None = None,
           new_theme: bool = False, propagate: bool = False) -> Revision:
    """Write cue ``cue`` (1-based) again with ``settings`` and a new seed (``seed``: the seed a full run with
    ``--seed seed`` gives this cue), and every cue whose ``plan.json`` entry was edited by hand. The cue keeps its
    theme unless ``new_theme``; ``propagate``: the later cues that restate its theme restate the revised one."""
    import time

    t0 = time.perf_counter()
    if seed is not None:
        check_seed(seed)
    if (new_theme or propagate) and cue is None:
        raise ConfigError("--new-theme and --propagate need --cue N")
    with store.locked(folder):
        revision = _revise(load_project(folder), cue, settings, seed, new_theme, propagate)
    revision.seconds = time.perf_counter() - t0
    return revision


def _revise(project: Project, cue: int | None, settings: CueSettings, seed: int | None, new_theme: bool = False,
            propagate: bool = False) -> Revision:
    from mm2music.render.synth import find_soundfont, keep_loaded

    edits = plan_edits(project)
    targets = dict(edits)
    fresh: set[int] = set()
    if cue is not None:
        i = project.cue_index(cue)
        base = targets.get(i, CueSettings())
        targets[i] = replace(base, **{k: v for k, v in settings.__dict__.items() if v is not None})
        fresh = {i} if new_theme else set()
        if propagate:  # every later restatement of this cue's theme (locked cues stay as they are)
            letter = project.cues[i].music.cue.theme
            for j in range(i + 1, len(project.cues)):
                if project.cues[j].music.cue.theme == letter and not project.cues[j].locked:
                    targets.setdefault(j, CueSettings())
    if not targets:
        raise ProjectError(f"nothing to revise in '{project.folder}'; pass --cue N (1-{len(project.cues)}) or edit plan.json first")
    config = _render_config(project)
    load_mix(project.folder, mmap=True, samples=project.samples(config.sample_rate))  # a damaged one: refused before composing
    with ThreadPoolExecutor(1, thread_name_prefix="prefetch") as pool:  # soundfont and source audio load meanwhile
        pool.submit(keep_loaded, find_soundfont(config.soundfont))
        project.prefetch_envelope(pool)
        model, tokenizer = load_model(project)
        changed: dict[int, CueEntry] = {}
        for i in sorted(targets):
            entry = project.cues[i]
            new_cue = apply_settings([e.music.cue for e in project.cues], i, targets[i], f"cue {i + 1}")
            s = cue_seed(seed, new_cue) if seed is not None else new_seed(entry, f"v{project.version + 1}")
            music = write_cue(project, i, new_cue, s, model, tokenizer, new_theme=i in fresh, changed=changed)
            changed[i] = CueEntry(music, s, entry.locked, {**entry.pinned, **targets[i].pinned()})
    return commit_cues(project, changed)


def _variation_dir(cue: int) -> str:
    return f"variations/cue{cue:02d}"


def variations(folder: str | Path, cue: int, k: int, settings: CueSettings = CueSettings(), seed: int | None = None) -> Revision:
    """Write ``k`` alternatives of cue ``cue`` side by side in ``variations/cueNN/``: ``vJ.json`` (the music),
    ``vJ.mid`` (the whole soundtrack with it) and ``vJ.wav`` (a preview of the cue with its joins). The score
    itself is unchanged; ``revise --pick J`` keeps one."""
    import time

    from mm2music.arrange.score import build_score
    from mm2music.render.synth import write_wav

    t0 = time.perf_counter()
    if not 1 <= k <= 16:
        raise ConfigError(f"--variations {k} is out of range; give 1-16")
    if seed is not None:
        check_seed(seed)
    with store.locked(folder):
        project = load_project(folder)
        i = project.cue_index(cue)
        model, tokenizer = load_model(project)
        config = _render_config(project)
        n_total = len(load_mix(project.folder, mmap=True, samples=project.samples(config.sample_rate)))
        entry = project.cues[i]
        new_cue = apply_settings([e.music.cue for e in project.cues], i, settings, f"cue {cue}")
        written = []
        with next_version(project.folder, keep_history=False) as staging:
            out = staging / _variation_dir(cue)
            shutil.rmtree(out, ignore_errors=True)  # links only: the current version's files stay
            for j in range(1, k + 1):
                s = cue_seed(seed + j - 1, new_cue) if seed is not None else new_seed(entry, f"v{project.version}-var{j}")
                music = write_cue(project, i, new_cue, s, model, tokenizer)
                data = music_to_json(music, s)
                data["pinned"] = {**entry.pinned, **settings.pinned()}
                path = replace_file(out / f"v{j}.json")
                path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
                alt = project.music[:i] + [music] + project.music[i + 1:]
                build_score(alt, project.fps(), project.analysis.cuts, project.hits).dump_midi(str(replace_file(out / f"v{j}.mid")))
                start, preview = render_span(alt, i, project.hits, n_total, config)
                write_wav(replace_file(out / f"v{j}.wav"), deliver_preview(alt, start, preview, config), config.sample_rate)
                written.append(project.folder / _variation_dir(cue) / f"v{j}.wav")
    return Revision(project.folder, [cue], project.version, time.perf_counter() - t0, written)


def pick(folder: str | Path, cue: int, j: int) -> Revision:
    """Keep variation ``j`` of cue ``cue`` (written by :func:`variations`) in the score."""
    import time

    t0 = time.perf_counter()
    with store.locked(folder):
        project = load_project(folder)
        i = project.cue_index(cue)
        path = project.folder / _variation_dir(cue) / f"v{j}.json"
        if not path.is_file():
            have = sorted(p.stem for p in (project.folder / _variation_dir(cue)).glob("v*.json"))
            raise ProjectError(f"--pick {j}: cue {cue} has no variation {j} ({'have ' + ', '.join(have) if have else 'none written'}); "
                               f"write them with `revise {project.folder} --cue {cue} --variations K`")
        data = json.loads(path.read_text(encoding="utf-8"))
        music, s = music_from_json(data, str(path))
        if abs(music.cue.start - project.cues[i].music.cue.start) > 1e-6:
            raise ProjectError(f"{path} was written for another cut of the film; write the variations again")
        revision = commit_cues(project, {i: CueEntry(music, s, project.cues[i].locked, dict(data.get("pinned", {})))})
    revision.seconds = time.perf_counter() - t0
    return revision


def set_locked(folder: str | Path, cue: int, locked: bool = True) -> Revision:
    """Lock (or unlock) cue ``cue``: a full re-run with ``--lock`` (or the studio's re-score) keeps a locked cue
    as it is. A new version (undo restores the previous one); the music is untouched."""
    with store.locked(folder):
        project = load_project(folder)
        i = project.cue_index(cue)
        project.cues[i].locked = locked
        project.version += 1
        with next_version(project.folder, keep=kept_versions(project)) as staging:
            project.write(staging, set())
            write_cue_sheet(project, json.loads((staging / "cue_sheet.json").read_text(encoding="utf-8")), staging)
    return Revision(project.folder, [cue], project.version)


def settings_from_args(key: str | None, tempo: float | None, instruments: str | None, intensity: float | None) -> CueSettings:
    fams = None
    if instruments is not None:
        fams = tuple(f.strip() for f in instruments.split(",") if f.strip())
    return CueSettings(key=key, tempo=tempo, instruments=fams, intensity=intensity)


def parse_cue_list(text: str, flag: str = "--lock") -> list[int]:
    """'1,3' -> [1, 3]; a one-line error for anything else."""
    try:
        out = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"{flag} {text!r} is not a list of cue numbers; give e.g. {flag} 1,3") from None
    if not out or any(n < 1 for n in out):
        raise ConfigError(f"{flag} {text!r} is not a list of cue numbers (1 = the first cue); give e.g. {flag} 1,3")
    return out


__all__ = ["CueSettings", "Revision", "apply_locks", "apply_settings", "fit_tempo", "pick", "plan_edits", "render_span",
           "revise", "set_locked", "splice_into", "spliced_blocks", "variations", "write_outputs"]
