"""Compose: every cue of the plan gets its melody, the theme first (see :mod:`mm2music.arrange.theme`).

A theme letter's first cue asks the trained decoder for a tune (:func:`write_theme`: a period of antecedent,
restated motif and cadence, and a contrast, each phrase the best of ``music.theme_candidates`` samples by its
phrase qualities); every later cue with that letter restates it in its own key and mode, transformed by its
emotion (:func:`compose_cue`). Nothing here writes harmony or accompaniment: the realiser
(:mod:`mm2music.arrange.realise`) fits chords to each cue's melody and arranges them.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from mm2music.arrange.orchestrate import NoteEvent
from mm2music.arrange.theme import (OPEN_STEPS, Theme, ThemeNote, cadence_bars, closing_step, cue_melody, material,
                                    phrase_quality, reprise_centre, scale_intervals, steps_of, to_pitch, transform_for)
from mm2music.arrange.timing import TICKS_PER_QUARTER
from mm2music.config import MusicConfig
from mm2music.key import Key
from mm2music.music.attributes import DENSITY_BINS, attributes_from_notes, density_bin, tempo_band
from mm2music.types import Cue, meter_quarters

if TYPE_CHECKING:
    from mm2music.music.tokenizer import Conditions

log = logging.getLogger(__name__)

@dataclass
class CueMusic:
    """The chosen music of one cue: its tokens (for priming) and its notes in ticks from the cue start."""

    cue: Cue
    tokens: list[int]
    notes: list[NoteEvent]
    length_ticks: int
    candidates: int = 1
    score: float = 0.0
    report: dict = field(default_factory=dict)
    theme: Theme | None = None  # the theme this cue states or restates (None: music written as a sketch)


def _notes_of(score, length_ticks: int) -> list[NoteEvent]:
    """Pitched notes of a decoded symusic Score (480 tpq), clipped to ``length_ticks``."""
    out = []
    for track in score.tracks:
        if track.is_drum:
            continue
        for n in track.notes:
            start, end = int(n.time), int(n.time + max(1, n.duration))
            if start >= length_ticks:
                continue
            out.append(NoteEvent(start, min(end, length_ticks), int(n.pitch), max(1, min(127, int(n.velocity)))))
    return sorted(out, key=lambda n: (n.start, n.pitch))


def cadence_score(notes: Sequence[NoteEvent], tonic_pc: int, mode: str) -> float:
    """How firmly the music ends on the tonic: bass (lowest of the last onset) on the tonic, top voice in the
    tonic triad, and the final sonority a tonic chord. In [0, 1]."""
    if not notes:
        return 0.0
    last = max(n.start for n in notes)
    final = [n for n in notes if n.start == last or (n.start < last < n.end)]
    bass = min(final, key=lambda n: n.pitch)
    top = max(final, key=lambda n: n.pitch)
    third = 4 if mode == "major" else 3
    triad = {tonic_pc, (tonic_pc + third) % 12, (tonic_pc + 7) % 12}
    score = 0.5 * (bass.pitch % 12 == tonic_pc) + 0.25 * (top.pitch % 12 in triad)
    score += 0.25 * all(n.pitch % 12 in triad for n in final)
    return score


CADENCE_WEIGHT = 1.5  # plan_fit's weight of a full cadence at the end of the last cue


def candidate_score(tonic_pc: int, mode: str, density: str, got_pc: int | None, got_mode: str | None, got_density: str) -> float:
    """How well a candidate obeys the asked key (most), mode and density bin (bench/music.py measures the
    same selection)."""
    key_ok = got_pc == tonic_pc and got_mode == mode
    d_err = abs(DENSITY_BINS.index(got_density) - DENSITY_BINS.index(density))
    return 2.0 * key_ok + 0.5 * (got_mode == mode) - 0.5 * d_err


def plan_fit(notes: Sequence[NoteEvent], cue: Cue, final: bool) -> tuple[float, dict]:
    """Score a candidate against its cue: key (most), density bin, cadence at the end of the piece."""
    if not notes:
        return -10.0, {"empty": True}
    tonic_pc, mode = Key.of(cue.key, cue.mode)
    tpq = TICKS_PER_QUARTER
    num, den = cue.meter.split("/")
    attrs = attributes_from_notes([(n.start / tpq, (n.end - n.start) / tpq, n.pitch) for n in notes],
                                  tempo_bpm=cue.tempo_bpm, time_signature=(int(num), int(den)))
    length_beats = cue.quarters
    density = len(notes) / max(length_beats, 1e-6)
    score = candidate_score(tonic_pc, mode, cue.density, attrs.key_pc, attrs.key_mode, density_bin(density))
    key_ok = bool(attrs.key_pc == tonic_pc and attrs.key_mode == mode)
    cad = cadence_score(notes, tonic_pc, mode) if final else 0.0
    score += CADENCE_WEIGHT * cad
    return score, {"key": attrs.key, "key_ok": key_ok, "density_bin": density_bin(density), "cadence": round(cad, 2)}


def cue_seed(base: int, cue: Cue) -> int:
    """The sampling seed of ``cue`` in a run with seed ``base`` (what :func:`compose` uses): the run's seed, the
    cue's place and its emotional reading, so two inputs that plan alike but read differently get music of their
    own (same inputs + same seed: the same music)."""
    reading = ",".join(f"{k}={v:.3f}" for k, v in sorted(cue.emotions.items()))
    return zlib.crc32(f"{base}:{cue.index}:{cue.start:.3f}:{cue.valence:.3f}:{cue.arousal:.3f}:{reading}".encode()) & 0x7FFFFFFF


def _bars(tokens: Sequence[int], bar_id: int) -> list[list[int]]:
    """Split REMI ids into bars (each starting with its Bar token)."""
    bars: list[list[int]] = []
    for t in tokens:
        if t == bar_id or not bars:
            bars.append([])
        bars[-1].append(int(t))
    return bars


def theme_source(cue: Cue, earlier: Sequence[CueMusic]) -> CueMusic | None:
    """The first statement of ``cue``'s theme among the music written before it (None: the theme is new)."""
    return next((m for m in earlier if m.cue.theme == cue.theme), None)


def lively(cue: Cue) -> bool:
    """Whether a cue's tune is written as a fiddle tune (reels, jigs, hornpipes) rather than a song or an air."""
    return cue.arousal > 0.4


def melody_family(cue: Cue, seen: Mapping[str, int] | None = None) -> str:
    """The decoder family a cue's tune is written as: a fiddle tune ("strings": O'Neill, Ryan, Aird) for lively
    music, a song ("pipe": the Essen songs were labelled with a flute) otherwise. ``seen``: the families the
    checkpoint's training pieces carried (``tokenizer.families_seen``, family -> pieces; None: not recorded); a
    family it never saw means nothing to it, so the tune then asks for the other one, or the family most of
    its pieces carry."""
    wanted = ("strings", "pipe") if lively(cue) else ("pipe", "strings")
    if not seen:
        return wanted[0]
    return next((f for f in wanted if seen.get(f)), max(seen, key=lambda f: (seen[f], f)))


TUNE_NOTES_PER_S = (1.0, 3.5)  # a tune's pace at the calmest and at the most agitated (arousal -1 and 1)


def melody_density(cue: Cue) -> str:
    """The density bin of a cue's tune: its pace in notes per second follows the cue's arousal
    (:data:`TUNE_NOTES_PER_S`), whatever the tempo (a fast dance's tune is not a stream of 16ths: the
    accompaniment drives), and is never denser than the cue's texture."""
    slow, fast = TUNE_NOTES_PER_S
    per_s = slow + (fast - slow) * (min(1.0, max(-1.0, cue.arousal)) + 1) / 2
    k = DENSITY_BINS.index(density_bin(per_s * 60.0 / cue.tempo_bpm))
    return DENSITY_BINS[min(k, DENSITY_BINS.index(cue.density), DENSITY_BINS.index("dense"))]


def theme_conditions(cue: Cue, seen: Mapping[str, int] | None = None) -> Conditions:
    """The decoder's conditions for a tune in ``cue``: one line (what it learned from folk tunes and songs), starting on
    the downbeat (not as a piece's opening, which may start with a pickup bar: a theme's bars are its period's).
    ``seen``: the families the checkpoint was trained on (see :func:`melody_family`)."""
    from mm2music.music.tokenizer import Conditions

    return Conditions(key=f"{cue.key} {cue.mode}", tempo_band=tempo_band(cue.tempo_bpm), time_signature=cue.meter,
                      density=melody_density(cue), register=cue.register, polyphony="monophonic",
                      families=(melody_family(cue, seen),), opening=False)


def write_theme(cue: Cue, model, tokenizer, config: MusicConfig, seed: int) -> tuple[Theme, list[int]]:
    """The theme of ``cue``'s letter, written by the decoder as a period (see :mod:`mm2music.arrange.theme`):
    the best of ``config.theme_candidates`` antecedents, the consequent that closes it on the tonic, a contrast;
    every phrase ends on a held note (:func:`~mm2music.arrange.theme.cadence_bars`). Returns the theme and the
    period's tokens."""
    from mm2music.music.generate import GenerationConfig, generate_tokens

    tonic, mode = Key.of(cue.key, cue.mode)
    bq = cue.beats_per_bar
    bar_ticks = round(bq * TICKS_PER_QUARTER)
    seen = tokenizer.families_seen
    conditions = theme_conditions(cue, seen=seen)
    n = max(1, config.theme_candidates)
    gen = GenerationConfig(temperature=config.temperature, top_p=config.top_p, seed=seed,
                           max_bar_tokens=config.max_bar_tokens, key_guidance=config.key_guidance)

    def line(ids: list[int], skip: int = 0) -> list[ThemeNote]:
        return tune_line(tokenizer, ids, tonic, mode, cue.meter, skip * bar_ticks)

    def best(options: list[list[int]], prefix: list[int], bars: int, ending, skip: int = 0) -> list[int]:
        scored = [(phrase_quality(line(prefix + o, skip), bq, bars, ending), -k, o) for k, o in enumerate(options) if o]
        return max(scored)[2] if scored else (options[0] if options else [])

    antecedents = generate_tokens(model, tokenizer, conditions, 4, num_samples=n, config=gen)
    antecedent = best(antecedents, [], 4, OPEN_STEPS + (2,))
    restated = [t for bar in _bars(antecedent, tokenizer.bar_id)[:2] for t in bar]
    closes = generate_tokens(model, tokenizer, conditions, 2, num_samples=n, primer=antecedent + restated,
                             config=replace(gen, seed=seed + 1))
    period = antecedent + restated + best(closes, antecedent + restated, 8, (0,))
    contrasts = generate_tokens(model, tokenizer, conditions, 4, num_samples=n, primer=period,
                                config=replace(gen, seed=seed + 2))
    contrast = best(contrasts, period, 4, (4, 0, 2), skip=8)
    theme = period_theme(cue.theme, cue.meter, line(period), line(period + contrast, 8), cue.index, tonic, cue.mode)
    return theme, period


def tune_line(tokenizer, ids: Sequence[int], tonic: int, mode: str, meter: str, skip_ticks: int = 0) -> list[ThemeNote]:
    """The theme notes of a tune's REMI ids (in the key ``tonic``/``mode``, from ``skip_ticks`` on), each phrase
    (bars 4 and 8) ending on a held note, the first one running on into the next (:func:`cadence_bars`)."""
    notes = _notes_of(tokenizer.decode(list(ids)), 10 ** 9) if len(ids) else []
    return cadence_bars(steps_of(notes, tonic, mode, skip_ticks), meter, (3, 7), lead_in=(3,))


def period_theme(label: str, meter: str, line: Sequence[ThemeNote], contrast: Sequence[ThemeNote], origin: int,
                 tonic: int, mode: str) -> Theme:
    """The :class:`Theme` of a period's line (its first 8 bars in ``meter``; the consequent closes on the tonic,
    whatever was sampled) and a contrast; its centre is the period's mean pitch."""
    period_notes = [x for x in line if x.start < 8 * meter_quarters(meter)]
    if period_notes:
        last = period_notes[-1]
        period_notes[-1] = ThemeNote(last.start, last.dur, closing_step(period_notes, 0), 0)
    pitches = [to_pitch(x.step, x.alter, tonic, mode) for x in period_notes] or [60]
    return Theme(label, meter, tuple(period_notes), tuple(contrast), origin, mode, round(sum(pitches) / len(pitches)))


def compose_cue(cue: Cue, model, tokenizer, config: MusicConfig, seed: int, theme: CueMusic | None = None,
                final: bool = False, written: tuple[Theme, list[int]] | None = None) -> CueMusic:
    """Write one cue with the per-cue ``seed`` (:func:`cue_seed`): its theme first (``theme``: the music that
    stated it, whose :class:`Theme` is restated and transformed; otherwise the decoder writes a new one), laid over
    the cue's bars with the ending its plan asks for (:func:`~mm2music.arrange.theme.cue_melody`). The harmony
    is fitted to this melody when the cue is realised. ``written``: what :func:`write_theme` returns for this cue,
    when it has already been called. This is the seam `revise` uses."""
    length_ticks = round(cue.quarters * TICKS_PER_QUARTER)
    stated = theme.theme if theme is not None else None
    tokens: list[int] = []
    if stated is None:
        stated, tokens = written or write_theme(cue, model, tokenizer, config, seed)
        first = cue
    else:
        first = theme.cue
    transform = transform_for(cue, first, variant=seed % 7)
    notes = cue_melody(stated, cue, transform, final, first)
    restated: dict = {}
    if theme is not None and config.restate == "model":
        body, restated = restate_with_model(stated, theme.tokens, cue, first, transform, model, tokenizer, config, seed, notes)
        if body is not None:
            notes = cue_melody(stated, cue, transform, final, first, body=body)
    score, report = plan_fit(notes, cue, final)
    report = {**report, "theme": stated.label, "transform": transform, "stated_in": stated.origin + 1,
              "reprise_octave": reprise_centre(cue, first) - reprise_centre(cue, None), **restated}
    return CueMusic(cue, tokens, notes, length_ticks, max(1, config.theme_candidates) if tokens else 0, score, report, stated)


def restatement_conditions(notes: Sequence[tuple[float, float, int]], cue: Cue, family: str) -> Conditions:
    """The decoder's conditions for a restatement like ``notes`` ((start, duration, pitch), quarter notes) in ``cue``:
    a tune's in that cue (:func:`theme_conditions`: its key, meter and tempo band, one line), with the density and
    register measured from the notes as the corpus measures its pieces and ``family``. The structured set labels its restatements so, and
    :func:`restate_with_model` asks for the rules' restatement's."""
    from mm2music.music.attributes import register_bin

    num, den = (int(x) for x in cue.meter.split("/"))
    attrs = attributes_from_notes(notes, tempo_bpm=cue.tempo_bpm, time_signature=(num, den))
    return replace(theme_conditions(cue), density=density_bin(attrs.notes_per_beat), register=register_bin(attrs.pitch_mean),
                   families=(family,))


def primer_in_key(tokenizer, statement: Sequence[int], first: Cue, cue: Cue, target_mean: float) -> list[int] | None:
    """The statement's tokens moved into the restatement's key and register: by the interval from ``first``'s tonic to
    ``cue``'s (-5..+6 semitones) plus the octaves that bring its mean pitch nearest ``target_mean`` (the rules'
    restatement's). The decoder then copies a tune in its own key and register and changes what the conditions ask
    (mode, tempo, density, rhythm), rather than transposing it as it goes. None if a note would leave the range."""
    d = (Key.of(cue.key, cue.mode).pc - Key.of(first.key, first.mode).pc) % 12
    d -= 12 * (d > 6)
    pitches = [int(tokenizer.token(i).split("_")[1]) for i in statement if tokenizer.token(i).startswith("Pitch_")]
    if not pitches:
        return None
    shift = d + 12 * round((target_mean - sum(pitches) / len(pitches) - d) / 12)
    out = []
    for i in statement:
        name = tokenizer.token(i)
        if name.startswith("Pitch_"):
            moved = f"Pitch_{int(name.split('_')[1]) + shift}"
            if moved not in tokenizer.remi.vocab:
                return None
            out.append(tokenizer.id(moved))
        else:
            out.append(int(i))
    return out


RESTATE_MIN_SHARED = 6  # of the statement's first 8 intervals (scale steps), a restatement keeps at least this many


def restate_with_model(theme: Theme, statement: Sequence[int], cue: Cue, first: Cue, transform: str, model, tokenizer,
                       config: MusicConfig, seed: int, rules: Sequence[NoteEvent]) -> tuple[tuple[list[ThemeNote], int] | None, dict]:
    """The decoder's restatement of ``theme`` in ``cue`` (``music.restate = "model"``): primed by the statement's
    tokens (``statement``, the period as the theme writer sampled it in ``first``) moved into the cue's key and the
    register of the rules' restatement (``rules``: its notes in the cue; :func:`primer_in_key`), under the
    conditions of that restatement (:func:`restatement_conditions`), as long as the rules' ``transform`` of the period
    (:func:`~mm2music.arrange.theme.material`), the best of
    ``theme_candidates`` samples among those that keep at least :data:`RESTATE_MIN_SHARED` of the statement's first
    8 intervals in scale steps (the recognisable tune), by :func:`phrase_quality`. Returns ((notes in scale steps of
    the cue's key, bars), a report) or (None, report) where no candidate keeps the tune: the rules restate it then.
    ``music.restate_checkpoint`` names another decoder for this (one fine-tuned on restatements)."""
    from mm2music.music.generate import GenerationConfig, generate_tokens

    if not statement or not rules:
        return None, {"restated_by": "rules", "restate_reason": "no statement tokens"}
    if config.restate_checkpoint:
        from mm2music.music.checkpoint import load_music_model

        model, tokenizer = load_music_model(config.restate_checkpoint, config.quantize)
    bars = material(theme, transform)[1]
    tonic, mode = Key.of(cue.key, cue.mode)
    gen = GenerationConfig(temperature=config.temperature, top_p=config.top_p, seed=seed + 3,
                           max_bar_tokens=config.max_bar_tokens, key_guidance=config.key_guidance)
    tpq = TICKS_PER_QUARTER
    conditions = restatement_conditions([(n.start / tpq, (n.end - n.start) / tpq, n.pitch) for n in rules], cue,
                                        theme_conditions(cue, tokenizer.families_seen).families[0])
    primer = primer_in_key(tokenizer, [int(i) for i in statement], first, cue, sum(n.pitch for n in rules) / len(rules))
    if primer is None:
        return None, {"restated_by": "rules", "restate_reason": "the statement leaves the pitch range in the cue's key"}
    options = generate_tokens(model, tokenizer, conditions, bars, num_samples=max(1, config.theme_candidates),
                              primer=primer, config=gen)
    want = scale_intervals(theme.period)[:8]
    half = max(1, bars // 2)
    scored, most = [], 0
    for k, ids in enumerate(options):
        notes = _notes_of(tokenizer.decode(ids), 10 ** 9) if ids else []
        line = cadence_bars(steps_of(notes, tonic, mode), cue.meter, (half - 1, bars - 1), lead_in=(half - 1,))
        shared = sum(a == b for a, b in zip(scale_intervals(line)[:8], want))
        most = max(most, shared)
        if shared >= RESTATE_MIN_SHARED:
            scored.append((phrase_quality(line, cue.beats_per_bar, bars, (0, 2, 4)), -k, line, shared))
    report = {"restate_candidates": len(options), "restate_kept": len(scored), "restate_most_shared": most}
    if not scored:
        return None, {**report, "restated_by": "rules"}
    _, _, line, shared = max(scored, key=lambda x: x[:2])
    return (line, bars), {**report, "restated_by": "model", "restate_shared": shared}


THEME_WRITERS = 2  # themes written at once: one decoder thread per core of a 2-core machine


def compose(cues: Sequence[Cue], model, tokenizer, config: MusicConfig | None = None, seed: int = 0, progress=None,
            fixed: Mapping[int, CueMusic] | None = None) -> list[CueMusic]:
    """Generate every cue in order with :func:`compose_cue` (see the module docstring). ``progress`` is called
    with each finished cue. ``fixed``: cue index -> music kept as it is (locked cues), not written again.

    Which cues state a new theme is known from the plan's letters, and a theme depends only on its own cue and
    seed: the new themes are written :data:`THEME_WRITERS` at a time on threads (each decoder call as it would run
    alone, one torch thread each: the same tokens as one after another), while the cues are put together in order
    as their themes arrive."""
    config = config or MusicConfig()
    fixed = fixed or {}
    seen: set[str] = set()
    first_of: list[int] = []  # cues that state a new theme, in order
    for i, cue in enumerate(cues):
        letter = fixed[i].cue.theme if i in fixed else cue.theme
        if i not in fixed and letter not in seen:
            first_of.append(i)
        seen.add(letter)
    out: list[CueMusic] = []
    with _one_torch_thread(), ThreadPoolExecutor(THEME_WRITERS, thread_name_prefix="theme") as pool:
        themes = {i: pool.submit(write_theme, cues[i], model, tokenizer, config, cue_seed(seed, cues[i]))
                  for i in first_of}
        try:
            for i, cue in enumerate(cues):
                if i in fixed:
                    best = fixed[i]
                else:
                    best = compose_cue(cue, model, tokenizer, config, cue_seed(seed, cue), theme=theme_source(cue, out),
                                       final=i == len(cues) - 1,
                                       written=themes[i].result() if i in themes else None)
                out.append(best)
                if progress:
                    progress(best)
        except BaseException:
            for job in themes.values():
                job.cancel()
            raise
    return out


@contextmanager
def _one_torch_thread():
    """torch's intra-op threads set to one around concurrent decoder calls (what each call asks for itself: set once
    here, no call restores another's setting while it still runs)."""
    import torch

    from mm2music.music.generate import GenerationConfig

    threads = torch.get_num_threads()
    torch.set_num_threads(GenerationConfig().threads or threads)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
