"""Plan the music on the concept graph: one :class:`Cue` per segment.

Per segment, each musical attribute is chosen by the weight that reaches it along segment -> emotion ->
attribute paths (:func:`attribute_scores`). Then the choices are made coherent over time:

* **meter** is chosen once for the piece (duration-weighted), unless pinned;
* **tempo** follows arousal inside the chosen band, smoothed along time except at a real contrast, then
  snapped so that a whole number of bars fills the segment exactly (the click-track calculation), so every
  cut falls on a bar line; the bar counts of all segments are chosen together (:func:`fit_tempi`) so that
  neighbours keep near one tempo unless the plan asks for a contrast;
* **keys** move only along edges of the key graph (fifth, relative, parallel) at cuts, and a returning theme
  returns to its key through related keys;
* **themes** (:mod:`mm2music.graph.motifs`): with captions, a recurring character's scenes share that character's
  theme (a leitmotif); other segments with similar emotion share a theme, and a long film returns to its themes
  (at most ``PlanConfig.max_themes``) rather than getting a new tune per cue;
* the last cue ends on a cadence.

User overrides (``PlanConfig.key / tempo / instruments / meter``) pin those attributes; the rest adapts.
"""

from __future__ import annotations

import logging
import math
import zlib
from bisect import bisect_left, bisect_right, insort
from collections.abc import Mapping, Sequence

import networkx as nx

from mm2music.config import PlanConfig
from mm2music.errors import ConfigError
from mm2music.graph.build import attr_id, attribute_scores, build_graph, emotion_similarity, key_id, seg_id
from mm2music.graph.beats import cheapest_path, fit_beats
from mm2music.graph.cues import DYNAMICS, FAMILIES, METERS, film_profile
from mm2music.graph.intensity import bar_intensities
from mm2music.graph.keys import key_distance, key_name, key_path, relative
from mm2music.graph.motifs import assign_themes, characters, scene_speakers
from mm2music.key import Key
from mm2music.music.attributes import TEMPO_BANDS, TEMPO_EDGES
from mm2music.types import Cue, Emotion, Plan, Scene, TextSegment, Transition, tempo_steps
from mm2music.vocab import PLAN_TEMPO, TEMPO_FLAG

log = logging.getLogger(__name__)

TEMPO_RANGE = PLAN_TEMPO  # BPM the planner will use; outside it bars are added or removed
# BPM span of each tempo band (TEMPO_EDGES split slow | moderate | fast | very fast)
BAND_SPAN = dict(zip(TEMPO_BANDS, zip((TEMPO_RANGE[0],) + TEMPO_EDGES, TEMPO_EDGES + (TEMPO_RANGE[1],))))
# Home keys per mode by arousal quartile (low -> high): keys that sit well for strings, winds and piano.
HOME_KEYS = {"major": ("F", "C", "G", "D"), "minor": ("C", "D", "A", "E")}


# a chase, a fight, a flight: a negative reading this aroused, mostly of these concepts, is scored as action
FLIGHT = ("fear", "anger", "excitement", "tension", "suspense", "anxiety")
FLIGHT_AROUSAL = 0.55
FLIGHT_TEMPO = 150.0  # BPM at least: driving 16ths (the chase: 140-180 BPM)


def is_flight(e: Emotion) -> bool:
    """Whether a reading is scored as action (a chase, not dread): fast, driving, dissonant, with brass and drums."""
    return e.valence < -0.2 and e.arousal >= FLIGHT_AROUSAL and sum(e.concepts.get(k, 0.0) for k in FLIGHT) >= 0.5


def _argmax(scores: Mapping[str, float], bonus: Mapping[str, float] | None = None) -> str:
    bonus = bonus or {}
    return max(scores, key=lambda k: (scores[k] + bonus.get(k, 0.0), k))


SEED_MARGIN = 0.7  # a seed may choose any value scoring at least this share of the best one


def _seeded(scores: Mapping[str, float], seed: int, salt: str, bonus: Mapping[str, float] | None = None) -> str:
    """The best value for seed 0; for another seed, one drawn (by the seed and ``salt``) among the values the
    emotion nearly equally allows (at least :data:`SEED_MARGIN` of the best score): seeds vary within the emotion."""
    best = _argmax(scores, bonus)
    if seed == 0 or scores[best] <= 0:
        return best
    allowed = sorted(k for k, v in scores.items() if v >= SEED_MARGIN * scores[best])
    return allowed[zlib.crc32(f"{seed}:{salt}".encode()) % len(allowed)]


def merge_short(scenes: Sequence[Scene], emotions: Sequence[Emotion], min_s: float, keep: Sequence[float] = ()) -> tuple[list[Scene], list[Emotion], list[tuple[int, ...]]]:
    """Fold segments shorter than ``min_s`` into their more similar neighbour (never across a boundary
    listed in ``keep``, e.g. a hit point, when the other side is free).

    Returns the new scenes (re-indexed), their emotions (duration-weighted blends) and, per new scene, the
    indices of the original segments it holds.
    """
    spans = _spans(scenes, emotions)
    while len(spans) > 1:
        lengths = [b - a for a, b, _, _ in spans]
        i = min(range(len(spans)), key=lambda k: lengths[k])
        if lengths[i] >= min_s:
            break
        kept = {round(k, 6) for k in keep}
        left_ok = i > 0 and round(spans[i][0], 6) not in kept
        right_ok = i < len(spans) - 1 and round(spans[i][1], 6) not in kept
        if i == 0:
            j = 1
        elif i == len(spans) - 1:
            j = i - 1
        elif left_ok != right_ok:
            j = i - 1 if left_ok else i + 1
        else:
            prev_sim = emotion_similarity(spans[i][3], spans[i - 1][3])
            next_sim = emotion_similarity(spans[i][3], spans[i + 1][3])
            j = i - 1 if prev_sim >= next_sim else i + 1
        a, b = sorted((i, j))
        spans[a:b + 1] = [_joined(spans[a], spans[b])]
    return _unspan(spans)


def group_scenes(scenes: Sequence[Scene], emotions: Sequence[Emotion], threshold: float, max_s: float,
                 keep: Sequence[float] = ()) -> tuple[list[Scene], list[Emotion], list[tuple[int, ...]]]:
    """Group neighbouring shots into dramatic scenes: a composer writes one cue per scene and catches the
    shot cuts inside it. The most similar neighbours (:func:`emotion_similarity` above ``threshold``; 1 keeps
    every shot its own cue) merge first, never across a boundary in ``keep`` (a hit point) and never into a scene longer than ``max_s``.

    Returns the scenes (re-indexed), their emotions (duration-weighted blends) and, per scene, the indices of
    the shots it holds."""
    kept = {round(k, 6) for k in keep}
    spans = _spans(scenes, emotions)

    def link(i: int) -> float:  # how much spans i and i + 1 want to be one scene; -1 = never
        a, b = spans[i], spans[i + 1]
        if round(a[1], 6) in kept or b[1] - a[0] > max_s:
            return -1.0
        return emotion_similarity(a[3], b[3])

    links = [link(i) for i in range(len(spans) - 1)]
    while links:
        i = max(range(len(links)), key=links.__getitem__)
        if links[i] <= threshold:
            break
        spans[i:i + 2] = [_joined(spans[i], spans[i + 1])]
        del links[i]
        for j in (i - 1, i):
            if 0 <= j < len(links):
                links[j] = link(j)
    return _unspan(spans)


# A span being merged: [start s, end s, indices of the original segments, blended emotion].
def _spans(scenes: Sequence[Scene], emotions: Sequence[Emotion]) -> list[list]:
    return [[s.start, s.end, (s.index,), e] for s, e in zip(scenes, emotions)]


def _joined(x: list, y: list) -> list:
    """Neighbouring spans ``x`` then ``y`` as one."""
    return [x[0], y[1], x[2] + y[2], _blend(x, y)]


def _unspan(spans: list[list]) -> tuple[list[Scene], list[Emotion], list[tuple[int, ...]]]:
    """(scenes re-indexed, their emotions, per scene the original segments it holds)."""
    return [Scene(k, a, b) for k, (a, b, _, _) in enumerate(spans)], [e for *_, e in spans], [ids for _, _, ids, _ in spans]


def _blend(x: list, y: list) -> Emotion:
    wx, wy = x[1] - x[0], y[1] - y[0]
    ex, ey = x[3], y[3]
    t = wx + wy
    concepts = {k: (ex.concepts.get(k, 0) * wx + ey.concepts.get(k, 0) * wy) / t for k in set(ex.concepts) | set(ey.concepts)}
    norm = sum(concepts.values()) or 1.0
    return Emotion(
        valence=(ex.valence * wx + ey.valence * wy) / t,
        arousal=(ex.arousal * wx + ey.arousal * wy) / t,
        concepts={k: v / norm for k, v in concepts.items()},
        confidence=(ex.confidence * wx + ey.confidence * wy) / t,
        sources=tuple(sorted(set(ex.sources) | set(ey.sources))),
    )


def split_at_hits(scenes: Sequence[Scene], emotions: Sequence[Emotion], hits: Sequence[float], min_gap: float) -> tuple[list[Scene], list[Emotion], list[float], list[str]]:
    """Cut segments at hit points so a bar line lands on each (same emotion on both sides).

    A hit closer than ``min_gap`` to an existing boundary (or to the ends) cannot get a bar line of its own
    without a bar shorter than ``min_gap``: it is reported and placed as an accent only. Returns the new
    scenes, their emotions, the hits that became boundaries, and notes.
    """
    bounds = sorted({s.start for s in scenes} | {scenes[-1].end})
    placed, notes = [], []
    for h in sorted(hits):
        if not bounds[0] < h < bounds[-1]:
            notes.append(f"hit {h:g} s is outside the music (0-{bounds[-1]:g} s) and is ignored")
            continue
        k = bisect_left(bounds, h)
        near = min(bounds[max(0, k - 1):k + 1], key=lambda b: abs(h - b))  # the nearest boundary (bounds are sorted)
        if abs(h - near) < min_gap:
            if abs(h - near) > 1e-6:
                notes.append(f"hit {h:g} s is {abs(h - near):.2f} s from the boundary at {near:g} s: accented where it falls, not on a bar line")
            else:
                placed.append(h)
            continue
        insort(bounds, h)
        placed.append(h)
    new_scenes, new_emotions = [], []
    owner = 0
    for a, b in zip(bounds[:-1], bounds[1:]):
        while owner < len(scenes) - 1 and scenes[owner].end <= a:  # bounds and scenes both run forward in time
            owner += 1
        new_scenes.append(Scene(len(new_scenes), a, b))
        new_emotions.append(emotions[owner])
    return new_scenes, new_emotions, placed, notes


def fit_tempi(durations: Sequence[float], targets: Sequence[float], beats_per_bar: float, band: tuple[float, float] = TEMPO_RANGE,
              free: Sequence[bool] = (), jump_weight: float = 2.0) -> list[tuple[int, float]]:
    """Whole bars and a tempo for every cue, chosen together: each cue's tempo stays near its target and
    near its neighbour's, unless ``free[i]`` (the plan's contrast at cue ``i``) lets it jump.

    Snapping each cue alone to whole bars can make a 5 s scene jump from 144 to 120 BPM next to a 4 s one of
    the same mood; here the cost is the sum of |log(bpm / target)| (10 more outside ``band``) and
    ``jump_weight`` * |log(bpm / previous bpm)| between neighbours, minimised exactly by dynamic programming
    over the few bar counts around each cue's ideal one.
    """
    options = []
    for duration, target in zip(durations, targets):
        ideal = duration * target / 60 / beats_per_bar
        cands = []
        for bars in range(max(1, math.floor(ideal) - 2), math.ceil(ideal) + 3):
            bpm = bars * beats_per_bar * 60 / duration
            cands.append((bars, bpm, abs(math.log(bpm / target)) + (0 if band[0] <= bpm <= band[1] else 10)))
        options.append(cands)
    return [options[i][k][:2] for i, k in enumerate(cheapest_path(options, free, jump_weight))]


def ramp_base_tempo(duration: float, bars: int, beats_per_bar: float, target: float) -> float:
    """The base tempo of a cue whose last bar ramps to ``target`` (qpm) so that its bars last ``duration`` s
    (the tempo map of :func:`tempo_steps`, as :meth:`Cue.tempo_map` plays it)."""
    total = bars * beats_per_bar

    def length(base: float) -> float:
        steps = tempo_steps(base, target, bars, beats_per_bar)
        return sum((end - q) * 60 / qpm for (q, qpm), end in zip(steps, [q for q, _ in steps[1:]] + [total]))

    lo, hi = 10.0, 1000.0  # length() falls as the base tempo rises
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if length(mid) > duration else (lo, mid)
    return (lo + hi) / 2


RAMP_FROM = 0.05  # a tempo change between neighbours bigger than this (relative) is spread over a bar


def ramp_tempi(tempi: Sequence[tuple[int, float]], durations: Sequence[float], beats_per_bar: float,
               free: Sequence[bool] = (), band: tuple[float, float] = TEMPO_RANGE) -> list[tuple[float, float | None]]:
    """(base tempo, ramp target or None) per cue: where whole bars still leave neighbours more than
    :data:`RAMP_FROM` apart (and the plan asks for no contrast there), the earlier cue's last bar moves to the
    next cue's tempo one beat at a time, and its other bars take the tempo that keeps its span exact.
    Worked from the last cue back, so a ramp lands on the tempo the next cue really starts with; a ramp whose
    base tempo would leave ``band`` (a pinned ``--tempo`` keeps it within 15%) is not made."""
    out: list[tuple[float, float | None]] = [(tempi[-1][1], None)]
    for i in range(len(tempi) - 2, -1, -1):
        bars, bpm = tempi[i]
        nxt = out[0][0]
        if (i + 1 < len(free) and free[i + 1]) or abs(math.log(nxt / bpm)) <= math.log(1 + RAMP_FROM):
            out.insert(0, (bpm, None))
            continue
        base = ramp_base_tempo(durations[i], bars, beats_per_bar, nxt)
        ok = bars > 1 and band[0] <= base <= band[1]  # a one-bar cue would swing within its only bar
        out.insert(0, (base, nxt) if ok else (bpm, None))
    return out


def _home_key(mode: str, arousal: float, seed: int = 0) -> int:
    """The opening key for ``mode`` by arousal; another seed than 0 may take the next home key up or down."""
    keys = HOME_KEYS[mode]
    idx = min(len(keys) - 1, int((arousal + 1) / 2 * len(keys)))
    if seed:
        idx = min(len(keys) - 1, max(0, idx + zlib.crc32(f"{seed}:home key".encode()) % 3 - 1))
    return Key.parse(keys[idx]).pc


def _next_key(prev: str, mode: str, prev_arousal: float, arousal: float) -> str:
    """One step on the key graph (or none) from ``prev`` towards ``mode``, led by the change of arousal."""
    pc, prev_mode = Key.parse(prev)
    if mode != prev_mode:
        return key_name(*relative(pc, prev_mode))  # relative: same key signature, smoothest change of mode
    if arousal - prev_arousal > 0.5:
        return key_name((pc + 7) % 12, mode)  # up a fifth: brighter, more tension
    if prev_arousal - arousal > 0.5:
        return key_name((pc + 5) % 12, mode)  # to the subdominant: relaxing
    return prev


def _pinned_key(config: PlanConfig) -> str | None:
    if not config.key:
        return None
    return str(Key.parse(config.key, what="--key"))


def _pinned_instruments(config: PlanConfig) -> tuple[str, ...] | None:
    if not config.instruments:
        return None
    bad = [f for f in config.instruments if f not in FAMILIES]
    if bad:
        raise ConfigError(f"unknown instrument family {bad[0]!r}; choose from {', '.join(FAMILIES)}")
    return tuple(config.instruments)


def plan_music(scenes: Sequence[Scene], emotions: Sequence[Emotion], coords: Mapping[str, tuple[float, float]],
               config: PlanConfig | None = None, transitions: Sequence[Transition] = (), duration: float | None = None,
               seed: int = 0, captions: Sequence[TextSegment] = ()) -> tuple[Plan, nx.DiGraph]:
    """Build the concept graph and plan one cue per (merged) segment. Returns the plan and the graph.
    ``captions``: timed caption blocks; the speakers they name give recurring characters their leitmotifs.
    ``seed``: 0 takes every choice the emotion ranks first; another seed may take another that the emotion
    nearly equally allows (home key, meter, figure, register, instruments, articulation), so seeds give real
    alternatives."""
    config = config or PlanConfig()
    if config.meter and config.meter not in METERS:
        raise ConfigError(f"--meter {config.meter!r} is not supported; choose from {', '.join(METERS)}")
    if config.tempo is not None and not (TEMPO_FLAG[0] <= config.tempo <= TEMPO_FLAG[1]):
        raise ConfigError(f"--tempo {config.tempo} BPM is out of range; give {TEMPO_FLAG[0]:g}-{TEMPO_FLAG[1]:g}")
    pinned_key = _pinned_key(config)
    pinned_instruments = _pinned_instruments(config)
    notes: list[str] = []
    hit_bounds: list[float] = []
    if config.hits:
        scenes, emotions, hit_bounds, hit_notes = split_at_hits(scenes, emotions, config.hits, config.min_cue_s)
        notes += hit_notes
    shot_bounds = [s.start for s in scenes[1:]]
    if not config.tempo_ramps:
        scenes, emotions, grouped = group_scenes(scenes, emotions, config.scene_similarity, config.max_cue_s, keep=hit_bounds)
        for ids in grouped:
            if len(ids) > 1:
                notes.append(f"segments {ids[0] + 1}-{ids[-1] + 1} form one scene: one cue, the cuts inside it caught")
    else:
        grouped = [(s.index,) for s in scenes]
    scenes, emotions, groups = merge_short(scenes, emotions, config.min_cue_s, keep=hit_bounds)
    for ids in groups:
        if len(ids) > 1:
            notes.append(f"segments {', '.join(str(i + 1) for i in ids)} merged: shorter than {config.min_cue_s:g} s (about one bar)")
    groups = [tuple(k for i in ids for k in grouped[i]) for ids in groups]  # cue -> the original segments it holds
    g = build_graph(scenes, emotions, coords, config.theme_similarity)
    scores = [attribute_scores(g, seg_id(s.index)) for s in scenes]
    lengths = [s.duration for s in scenes]

    # one meter for the piece
    if config.meter:
        meter = config.meter
    else:
        meter_votes = {m: sum(sc["meter"][m] * L for sc, L in zip(scores, lengths)) for m in METERS}
        meter = _seeded(meter_votes, seed, "meter", {"4/4": 1e-6})
    num, den = meter.split("/")
    beats_per_bar = int(num) * 4 / int(den)

    owners = characters(scene_speakers(scenes, captions), config.leitmotifs)
    themes, motifs = assign_themes(emotions, config.theme_similarity, owners, config.max_themes)
    for letter, name in motifs.items():
        notes.append(f"theme {letter}: the leitmotif of {name.title()} ({themes.count(letter)} cues)")
    boundary_kind = {round(t.time, 3): t.kind for t in transitions}
    boundary_kind.update({round(h, 3): "hit" for h in hit_bounds})

    # tempo targets: the film table's tempo of the scene's emotions, smoothed along time except at contrasts
    flights = [is_flight(e) for e in emotions]
    profiles = [film_profile(e.concepts, e.arousal) for e in emotions]
    profiles = [(max(t, FLIGHT_TEMPO), max(x, 0.9)) if f else (t, x) for (t, x), f in zip(profiles, flights)]
    energies = [energy for _, energy in profiles]
    contrasts = [bool(i) and (abs(emotions[i].arousal - emotions[i - 1].arousal) >= config.contrast_arousal
                              or abs(energies[i] - energies[i - 1]) >= config.contrast_energy) for i in range(len(scenes))]
    smoothed = []
    for i, (t, _) in enumerate(profiles):
        if i and not contrasts[i]:
            t = math.exp(config.tempo_smoothing * math.log(smoothed[-1]) + (1 - config.tempo_smoothing) * math.log(t))
        smoothed.append(t)
    if config.tempo is not None:
        smoothed = [config.tempo] * len(scenes)

    band = TEMPO_RANGE if config.tempo is None else (config.tempo * 0.85, config.tempo * 1.15)
    durations = [sc.duration for sc in scenes]
    catches = [tuple(b for b in shot_bounds[bisect_right(shot_bounds, sc.start):bisect_left(shot_bounds, sc.end)] if round(b, 3) in boundary_kind)
               for sc in scenes]  # the shot cuts inside each scene (shot_bounds are sorted)
    if config.tempo_ramps:
        tempi = fit_tempi(durations, smoothed, beats_per_bar, band, contrasts)
        ramps = ramp_tempi(tempi, durations, beats_per_bar, contrasts, band)
        fits = [(bars, base, ramp, "") for (bars, _), (base, ramp) in zip(tempi, ramps)]
    else:
        beat_fits = fit_beats(durations, smoothed, meter, [[c - sc.start for c in cs] for sc, cs in zip(scenes, catches)],
                              band, contrasts, catch_weight=config.catch_weight)
        fits = [(f.bars, f.qpm, None, f.odd_bar) for f in beat_fits]

    # dynamics move a step at a time unless the music's energy jumps (a contrast): then subito
    dynamics = smooth_dynamics([_argmax(sc["dynamics"]) for sc in scores], [2 * x - 1 for x in energies], 2 * config.contrast_energy)
    cues: list[Cue] = []
    theme_keys: dict[str, str] = {}
    prev = None
    for i, (scene, sc, e) in enumerate(zip(scenes, scores, emotions)):
        mode = _argmax(sc["mode"])
        if pinned_key:
            key = pinned_key
        elif prev is None:
            key = key_name(_home_key(mode, e.arousal, seed), mode)
        elif themes[i] in theme_keys and key_distance(cues[-1].key + " " + cues[-1].mode, theme_keys[themes[i]]) <= 2:
            key = theme_keys[themes[i]]  # a returning theme comes home (at most two related steps)
        else:
            key = _next_key(f"{prev.key} {prev.mode}", mode, prev.arousal, e.arousal)
        theme_keys.setdefault(themes[i], key)
        tonic, mode = key.split(" ")
        bars, bpm, ramp_to, odd_bar = fits[i]
        previous_family = set(prev.instruments) if prev else set()
        instruments = pinned_instruments or _top_families(sc["instrument"], previous_family, seed=seed, salt=themes[i])
        figure = "driving" if flights[i] else _seeded(sc["figure"], seed, f"figure:{themes[i]}")
        if flights[i] and not pinned_instruments and "brass" not in instruments:
            instruments += ("brass",)  # low-brass hits drive a chase
        if not pinned_instruments and figure in ("driving", "march") and "percussion" not in instruments:
            instruments += ("percussion",)  # action and marches get a kit, unless the user pinned the instruments
        if flights[i] and DYNAMICS.index(dynamics[i]) < DYNAMICS.index("f"):
            dynamics[i] = "f"
        cadence_scores = dict(sc["cadence"])
        last = i == len(scenes) - 1
        if last:
            cadence = "plagal" if cadence_scores.get("plagal", 0) > cadence_scores.get("authentic", 0) else "authentic"
        else:
            cadence = _argmax(cadence_scores)
            if cadence == "authentic" and themes[i + 1] == themes[i]:
                cadence = "half"  # the same theme goes on: keep it open
        cue = Cue(
            index=i, start=scene.start, end=scene.end, key=tonic, mode=mode, tempo_bpm=bpm, meter=meter, bars=bars,
            density=_argmax(sc["density"]), register=_seeded(sc["register"], seed, f"register:{themes[i]}"), dynamics=dynamics[i],
            articulation=_seeded(sc["articulation"], seed, f"articulation:{themes[i]}"), instruments=instruments, texture=_argmax(sc["texture"]),
            theme=themes[i], transition="", cadence=cadence, valence=e.valence, arousal=e.arousal,
            emotions=dict(e.top(3)), merged=groups[i] if len(groups[i]) > 1 else (), ramp_to_bpm=ramp_to,
            odd_bar=odd_bar, catches=catches[i], figure=figure,
        )
        cues.append(cue)
        prev = cue
    cues = _with_intensity(cues, energies, config)
    cues = _with_transitions(cues, boundary_kind)
    plan = Plan(cues=tuple(cues), duration=duration or scenes[-1].end, notes=tuple(notes))
    _record_plan(g, plan, motifs)
    return plan, g


def _with_intensity(cues: list[Cue], energies: Sequence[float], config: PlanConfig) -> list[Cue]:
    """Every cue with the intensity of each of its bars (:mod:`mm2music.graph.intensity`)."""
    import dataclasses

    bar_times = [cue.bar_times() for cue in cues]
    rising = [cue.figure in ("drone", "tremolo", "ostinato") for cue in cues]  # tension builds through its cue
    values = bar_intensities(energies, bar_times, config.hits or (), config.intensity, config.intensity_scale, rising)
    return [dataclasses.replace(cue, bar_intensity=v) for cue, v in zip(cues, values)]


def smooth_dynamics(levels: Sequence[str], arousal: Sequence[float], contrast: float) -> list[str]:
    """Dynamics move at most one step (e.g. mp -> mf) between neighbouring cues, except at a contrast (an
    arousal jump of at least ``contrast``), where a subito change is what the picture asks for."""
    out: list[str] = []
    for i, level in enumerate(levels):
        if out and abs(arousal[i] - arousal[i - 1]) < contrast:
            prev = DYNAMICS.index(out[-1])
            want = DYNAMICS.index(level)
            level = DYNAMICS[prev + max(-1, min(1, want - prev))]
        out.append(level)
    return out


def _top_families(scores: Mapping[str, float], previous: set[str], k: int = 3, seed: int = 0, salt: str = "") -> tuple[str, ...]:
    """The ``k`` best instrument families; families already playing get a small continuity bonus. Another seed
    than 0 may swap the last one for the next family the emotion nearly equally allows."""
    bonus = {f: 0.05 for f in previous}
    ranked = sorted(scores, key=lambda f: (-(scores[f] + bonus.get(f, 0.0)), f))
    chosen = [f for f in ranked if scores[f] > 0][:k]
    spare = [f for f in ranked[k:] if scores[f] > 0 and chosen and scores[f] >= SEED_MARGIN * scores[chosen[-1]]]
    if seed and spare and len(chosen) == k:
        pick = zlib.crc32(f"{seed}:instruments:{salt}".encode()) % (len(spare) + 1)
        if pick:
            chosen[-1] = spare[pick - 1]
    if not any(f in ("piano", "strings", "guitar", "harp", "organ", "synth", "choir") for f in chosen):
        chosen = chosen[: k - 1] + ["piano"]  # something must carry harmony and bass
    return tuple(chosen)


def _with_transitions(cues: list[Cue], boundary_kind: Mapping[float, str]) -> list[Cue]:
    import dataclasses

    out = []
    for i, cue in enumerate(cues):
        if i == len(cues) - 1:
            text = f"final {cue.cadence} cadence"
        else:
            nxt = cues[i + 1]
            here, there = f"{cue.key} {cue.mode}", f"{nxt.key} {nxt.mode}"
            kind = boundary_kind.get(round(cue.end, 3), "cut")
            if here == there:
                text = f"{kind}: continue in {here}"
            else:
                path = key_path(here, there)
                via = f" via {', '.join(path[1:-1])}" if len(path) > 2 else ""
                relation = "relative" if path == [here, there] and here.split()[1] != there.split()[1] else "modulate"
                text = f"{kind}: {relation} to {there}{via}"
        out.append(dataclasses.replace(cue, transition=text))
    return out


def _record_plan(g: nx.DiGraph, plan: Plan, motifs: Mapping[str, str] | None = None) -> None:
    """Add the plan to the graph: segment -> planned key / attributes / theme (a leitmotif's theme node names its
    character: ``motifs``, letter -> name)."""
    motifs = motifs or {}
    for cue in plan.cues:
        s = seg_id(cue.index)
        g.nodes[s].update(tempo_bpm=cue.tempo_bpm, bars=cue.bars, key=f"{cue.key} {cue.mode}", theme=cue.theme)
        g.add_edge(s, key_id(f"{cue.key} {cue.mode}"), kind="planned", weight=1.0)
        t = f"theme:{cue.theme}"
        if t not in g:
            g.add_node(t, kind="theme", name=cue.theme, **({"character": motifs[cue.theme]} if cue.theme in motifs else {}))
        g.add_edge(s, t, kind="states", weight=1.0)
        for category, value in (("meter", cue.meter), ("density", cue.density), ("register", cue.register),
                                ("dynamics", cue.dynamics), ("articulation", cue.articulation), ("texture", cue.texture),
                                ("cadence", cue.cadence), ("mode", cue.mode)):
            g.add_edge(s, attr_id(category, value), kind="planned", weight=1.0)
        for fam in cue.instruments:
            g.add_edge(s, attr_id("instrument", fam), kind="planned", weight=1.0)
