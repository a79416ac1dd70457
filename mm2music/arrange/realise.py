"""The realiser: the decoder's sketch becomes a film-music texture in layers.

The decoder composes (melody and harmony, in the key, density and theme the plan asks for); the realiser
arranges, as an orchestrator realises a composer's short score:

* **melody**: the sketch's top line, in the register the plan asks for, thinned for sparse cues and phrased
  by the articulation (legato lines joined, staccato notes short);
* **pad**: the sketch's harmony read as a chord per slot (:mod:`mm2music.arrange.harmony`), voiced with
  smooth voice leading under the melody;
* **bass**: chord roots in the bass register, in the figure's rhythm (held, pulsing, oom-pah, driving 8ths,
  a tonic pedal under dread);
* **figure**: the accompaniment pattern the emotion asks for (arpeggio, broken chord, repeated-chord pulse,
  8th/16th ostinato, bounce, waltz, march stabs, string tremolo, dissonant stabs over a drone);
* **counter-line**: a slow guide-tone line at high intensity;
* **percussion**: patterns per figure (driving kit, march snare, a heartbeat under tension) and hits.

Which layers play follows the cue's intensity curve bar by bar (vertical layering: each figure has an order
in which layers enter), and so do the velocities, with phrase accents and the shot cuts the cue catches: a
catch starts a new chord slot, so the pad and bass re-enter on it, accented. Every layer stays in its
instrument's range, and no instrument plays more than four notes at once.

A cue's realisation depends only on that cue (its plan, its sketch and its hit points), so re-composing one
cue leaves the others' notes exactly as they were. A decoder trained on textured music could replace this
module: its input is a :class:`~mm2music.arrange.compose.CueMusic`, its output a list of :class:`Part`.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from mm2music.arrange import phrasing
from mm2music.arrange.harmony import Chord, Slot, chord_slots, harmonise, palette_for, spared, voice
from mm2music.arrange.instruments import COLOURS, FAMILY_OF, LOW_BRASS, TIMPANI, Instrument, choose_ensemble
from mm2music.arrange.orchestrate import NoteEvent, split_voices
from mm2music.arrange.registers import Band, bass_under_melody, in_band, low_interval_limits
from mm2music.arrange.timing import TICKS_PER_QUARTER as TPQ
from mm2music.key import Key
from mm2music.types import Cue

# per figure, the order in which layers enter as intensity rises (the first three always play)
LAYER_ORDER: dict[str, tuple[str, ...]] = {
    "sustain": ("pad", "melody", "bass", "counter", "percussion"),
    "broken": ("figure", "melody", "bass", "pad", "counter", "percussion"),
    "arpeggio": ("figure", "pad", "melody", "bass", "counter", "percussion"),
    "waltz": ("figure", "bass", "melody", "counter", "pad", "percussion"),
    "pulse": ("figure", "bass", "melody", "pad", "percussion", "counter"),
    "bounce": ("figure", "bass", "melody", "percussion", "counter", "pad"),
    "ostinato": ("figure", "pad", "bass", "percussion", "melody", "counter"),
    "driving": ("figure", "bass", "percussion", "melody", "pad", "counter"),
    "march": ("figure", "bass", "percussion", "melody", "pad", "counter"),
    "tremolo": ("figure", "bass", "melody", "percussion", "pad"),
    "drone": ("bass", "pad", "figure", "melody", "percussion"),
}
UNSET = 1  # the velocity notes are built with: :func:`_velocities` sets the real one
DYNAMIC_VELOCITY = {"pp": 56, "p": 62, "mp": 69, "mf": 77, "f": 87, "ff": 98}
# CC 11 per dynamic: FluidSynth attenuates by about 40 log10(value / 127) dB (pp -7.2 dB .. ff 0), so a soft cue
# is soft on every instrument and a quiet cue sits 10-15 dB under a loud one, not 30 (the arc funeral -> chase -> dawn)
DYNAMIC_EXPRESSION = {"pp": 84, "p": 94, "mp": 104, "mf": 114, "f": 121, "ff": 127}
LAYER_GAIN = {"melody": 6, "pad": -8, "bass": -2, "figure": -4, "counter": -6, "percussion": -2, "colour": -7, "double": -2, "hits": 4, "timpani": -4}
LAYER_NAMES = {"melody": "Melody", "pad": "Pad", "bass": "Bass", "figure": "Figure", "counter": "Counter", "colour": "Colour",
               "double": "Melody 8va", "hits": "Hits", "timpani": "Percussion"}
# a colour layer enters with the layer whose part it plays (see :data:`mm2music.arrange.instruments.COLOURS`)
COLOUR_GATE = {"double": "melody", "sustain": "pad", "arpeggio": "counter", "broken": "counter"}
# the emotions scored with dissonance: chromatic ostinati, clusters, tritones
DARK = ("fear", "dread", "tension", "suspense", "anger", "anxiety")
# the share of a cue's layers (CC 11) a phrase's swell dips below the cue's level at its start
SWELL_DEPTH = {"melody": 0.12, "pad": 0.2, "colour": 0.2, "counter": 0.15, "double": 0.12, "bass": 0.08, "figure": 0.08}
REGISTER_CENTRE = {"low": 60, "middle": 67, "high": 74, "very_high": 79}
CATCH_SNAP_S = 0.03  # a caught cut snaps to the 16th-note grid when it lies this close, else to its own tick
SPARSE_FIGURES = ("sustain", "drone", "broken")
TIMPANI_FIGURES = ("march", "drone", "tremolo", "driving", "ostinato", "sustain")  # percussion there includes timpani rolls
PHRASE_SWELL_VELOCITY = 5  # velocity added at a phrase's peak (-0.4 of it at its end)
THIN_EXPRESSION_DROP = 14  # CC 11 lower under dialogue (about 2.5 dB at mf)
LOW_MELODY_MEAN = 57  # a melody whose mean pitch lies under this (A3) is low on purpose: the accompaniment may sit above
# General MIDI drum notes
KICK, SNARE, HAT, OPEN_HAT, CRASH, RIDE, LOW_TOM, FLOOR_TOM = 36, 38, 42, 46, 49, 51, 45, 41


@dataclass(frozen=True)
class Part:
    """One instrument's notes in one cue (ticks from the cue start), as the MIDI track and the synth get them."""

    name: str  # track name: "Melody - Violin", "Percussion"
    program: int  # General MIDI program (0-based)
    is_drum: bool
    notes: list[NoteEvent]
    expression: int = 127  # MIDI CC 11 for this cue: the dynamic level, heard even on patches deaf to velocity (organ, choir)
    controls: tuple[tuple[int, int, int], ...] = ()  # (tick, controller, value): phrase swells (CC 11), vibrato (CC 1), pedal (CC 64)


@dataclass(frozen=True)
class Bar:
    start: int  # ticks from the cue start
    end: int
    beat: int  # ticks per counted beat (a dotted quarter in 6/8)
    intensity: float


def bars_of(cue: Cue) -> list[Bar]:
    """The cue's bars in ticks, with their counted beat and intensity."""
    out, tick = [], 0
    values = cue.intensities()
    for i, quarters in enumerate(cue.bar_quarters()):
        meter = cue.odd_bar if cue.odd_bar and i == cue.bars - 1 else cue.meter
        num, den = (int(x) for x in meter.split("/"))
        compound = den == 8 and num % 3 == 0
        beat = round(TPQ * (1.5 if compound else 4 / den))
        length = round(quarters * TPQ)
        out.append(Bar(tick, tick + length, beat, values[i]))
        tick += length
    return out


def catch_ticks(cue: Cue) -> list[int]:
    """Ticks (from the cue start) of the shot cuts the cue catches: on the 16th-note grid when one lies
    within :data:`CATCH_SNAP_S`, otherwise on the cut itself."""
    out = []
    for c in cue.catches:
        exact = cue.quarters_at(c) * TPQ
        grid = round(exact / (TPQ / 4)) * (TPQ // 4)
        tick = grid if abs(cue.seconds_at(grid / TPQ) - c) <= CATCH_SNAP_S else round(exact)
        out.append(tick)
    return sorted(set(out))


def slot_bounds(cue: Cue, bars: Sequence[Bar], catches: Sequence[int]) -> list[int]:
    """Where chords may change (whether they do is the harmoniser's choice): every bar line; mid-bar in bars of four
    beats that last two seconds or more (or in busy music), and in the bar before each phrase's close, where a
    cadence comes in faster (halves of an even bar, 2 + 1 of three beats), never inside the bar that closes a phrase
    or the cue; at every caught cut."""
    bounds = set()
    for i, bar in enumerate(bars):
        bounds.add(bar.start)
        seconds = cue.seconds_at(bar.end / TPQ) - cue.seconds_at(bar.start / TPQ)
        n_beats = round((bar.end - bar.start) / bar.beat)
        closing = i % phrasing.PHRASE_BARS == phrasing.PHRASE_BARS - 1 or i == len(bars) - 1  # the cadence's chord takes the whole bar
        long_bar = n_beats >= 4 and n_beats % 2 == 0 and (seconds >= 2.0 - 1e-6 or cue.density in ("dense", "very_dense"))
        approach = i % phrasing.PHRASE_BARS == phrasing.PHRASE_BARS - 2 and n_beats >= 2
        if (long_bar or approach) and not closing:
            bounds.add(bar.start + (2 * bar.beat if n_beats == 3 else (bar.end - bar.start) // 2))
    for c in catches:
        if all(abs(c - b) >= TPQ // 8 for b in bounds):
            bounds.add(c)
    length = bars[-1].end
    return sorted(b for b in bounds if 0 <= b < length) + [length]


def active_layers(cue: Cue, intensity: float) -> set[str]:
    """The layers playing at ``intensity`` (at least three; more as it rises, in the figure's order)."""
    order = [layer for layer in LAYER_ORDER.get(cue.figure, LAYER_ORDER["sustain"]) if layer != "percussion" or "percussion" in cue.instruments]
    count = min(len(order), max(3, 1 + math.ceil(intensity * len(order) - 1e-9)))
    return set(order[:count])


def dark(cue: Cue) -> bool:
    """Whether the cue is scored with dissonance: fear, dread, tension and their kin make most of its reading."""
    return cue.valence < 0 and sum(cue.emotions.get(k, 0.0) for k in DARK) >= 0.4


def realise(music, accents: Sequence[int] = (), last: bool = False) -> list[Part]:
    """The parts of one cue (see the module docstring). ``music`` is a
    :class:`~mm2music.arrange.compose.CueMusic`; ``accents`` are ticks of hit points in the cue; ``last``: the
    final chord rings to the end of the cue."""
    cue: Cue = music.cue
    length = music.length_ticks
    if cue.spotting == "tacet":  # left unscored (see mm2music.graph.spotting)
        return []
    bars = bars_of(cue)
    catches = catch_ticks(cue)
    tonic, mode = Key.of(cue.key, cue.mode)
    bounds = slot_bounds(cue, bars, catches)
    ensemble = choose_ensemble(reprise_families(music), cue.figure, low_melody=cue.register == "low")
    if getattr(music, "theme", None) is not None:  # a composed tune: harmony written for it
        palette = palette_for(cue.emotions, cue.valence, cue.arousal)
        slots = harmonise(music.notes, bounds, tonic, mode, cue.cadence, final=last, palette=palette,
                          arousal=cue.arousal, beat=bars[0].beat)
        melody = melody_line(music.notes, cue, ensemble.melody, length, shaped=True,
                             reprise_octave=music.report.get("reprise_octave", 0))
    else:  # a sketch (projects written before themes): its top line and the harmony read from it
        slots = chord_slots(music.notes, bounds, tonic, mode, cue.cadence, final=last)
        melody = melody_line(split_voices(music.notes)[0], cue, ensemble.melody, length)
    avoid = [_avoid(melody, s) for s in slots]
    harsh = dark(cue)
    pad = pad_line(slots, ensemble.pad, melody, avoid, bars, stabs=cue.figure == "driving")
    layers = {
        "melody": melody,
        "pad": cluster(pad, ensemble.pad) if harsh else pad,
        "bass": bass_line(slots, cue, ensemble.bass, bars, tonic, final=last),
        "figure": figure_line(slots, cue, ensemble.figure, bars, avoid, catches, harsh=harsh),
        "counter": counter_line(slots, ensemble.counter, melody, avoid),
    }
    instruments = dict(ensemble.roles())
    colours = list(ensemble.colours) + [(f, *COLOURS[f]) for f in cue.instruments if f in COLOURS and f not in
                                        {c[0] for c in ensemble.colours} and not _sounds(f, layers, instruments)]
    for family, idiom, inst in colours:
        if idiom != "double":
            layers[f"colour:{family}"] = colour_line(idiom, slots, cue, inst, bars, melody, avoid, catches)
            instruments[f"colour:{family}"] = inst
    if harsh and cue.figure == "driving" and "brass" in cue.instruments:
        layers["hits"] = brass_hits(slots, bars, catches)
        instruments["hits"] = LOW_BRASS
    if "percussion" in cue.instruments:
        layers["percussion"] = percussion_line(cue, bars, catches)
        if cue.figure in TIMPANI_FIGURES:
            layers["timpani"] = timpani_line(slots, bars, catches, melody)
            instruments["timpani"] = TIMPANI
    tune = getattr(music, "theme", None) is not None  # a composed tune is heard in every bar
    gated = {layer: _clipped(notes if tune and layer == "melody" else _gate(notes, _gate_as(layer), cue, bars), length)
             for layer, notes in layers.items()}
    gated = _every_family_heard(gated, layers, instruments, cue, bars, length)
    if last:
        gated = {layer: _rung_out(notes, length, slots[-1].start) for layer, notes in gated.items()}
    gated = _in_registers(gated, instruments, low_melody=_low(gated["melody"]))
    gated["melody"] = phrasing.breathe(gated["melody"], bars, ring=last)
    for family, idiom, inst in colours:
        if idiom == "double":
            gated[f"double:{family}"] = doubled(gated["melody"], inst)
            instruments[f"double:{family}"] = inst
    gated = phrasing.thin_out(gated, phrasing.thin_windows(bars, cue.seconds_at, ring=last))
    gated = spotted(gated, cue)
    if last:
        gated = _full_close(gated, slots[-1], instruments, length)
    rng = zlib.crc32(f"{cue.index}:{cue.start:.3f}".encode())
    accent_ticks = set(accents) | set(catches) | {0}
    expression = DYNAMIC_EXPRESSION.get(cue.dynamics, 110) - (THIN_EXPRESSION_DROP if cue.spotting == "thin" else 0)
    ticks_per_ms = TPQ * cue.tempo_bpm / 60000
    parts = []
    for layer, notes in gated.items():
        if not notes:
            continue
        kind = layer.split(":")[0]
        notes = _velocities(notes, kind, cue, bars, accent_ticks, rng)
        if layer == "timpani":
            notes = _rolls_swell(notes)
        if kind in ("melody", "double") and (cue.articulation == "legato" or cue.figure in SPARSE_FIGURES):
            notes = phrasing.legato(notes, round(phrasing.LEGATO_OVERLAP_S * 1000 * ticks_per_ms))
        notes = [n if n.end <= length else NoteEvent(n.start, length, n.pitch, n.velocity) for n in notes]
        notes = phrasing.feel(notes, layer, accent_ticks, ticks_per_ms, rng)
        if layer == "percussion":
            parts.append(Part("Percussion", 0, True, notes, expression))
            continue
        inst = instruments[layer]
        controls = performance(notes, kind, inst, cue, bars, slots, expression)
        name = f"{LAYER_NAMES[kind]} - {inst.name}"
        parts.append(Part(name, inst.program, False, notes, expression, controls))
    return parts


def reprise_families(music) -> tuple[str, ...]:
    """The cue's families, melody first; a theme's reprise hands the tune to the next family that can sing it
    (a theme first heard on the violins comes back on the woodwinds)."""
    families = tuple(music.cue.instruments)
    if music.report.get("transform", "state") == "state" or getattr(music, "theme", None) is None:
        return families
    singers = [f for f in families[1:] if f not in ("percussion", "synth")]
    return (singers[0],) + tuple(f for f in families if f != singers[0]) if singers else families


def spotted(layers: Mapping[str, list[NoteEvent]], cue: Cue) -> dict[str, list[NoteEvent]]:
    """The spotting session's decisions: under dialogue (``thin``) only the pad and the bass play; where the
    words ask for silence (``cue.silences``, widened to whole beats) nothing sounds."""
    out = {k: v for k, v in layers.items() if cue.spotting != "thin" or k.split(":")[0] in ("pad", "bass")}
    for lo, hi in silence_ticks(cue):
        out = {k: phrasing.clear(v, lo, hi) for k, v in out.items()}
    return out


def silence_ticks(cue: Cue) -> list[tuple[int, int]]:
    """The cue's silences (:attr:`Cue.silences`, seconds) in ticks, widened to whole quarter notes."""
    return [(math.floor(cue.quarters_at(a) + 1e-6) * TPQ, math.ceil(cue.quarters_at(b) - 1e-6) * TPQ) for a, b in cue.silences]


def _clipped(notes: Iterable[NoteEvent], length: int) -> list[NoteEvent]:
    return [NoteEvent(n.start, min(n.end, length), n.pitch, n.velocity) for n in notes if n.start < length]


def _gate_as(layer: str) -> str:
    """The layer of :data:`LAYER_ORDER` whose entries ``layer`` follows."""
    if ":" not in layer:
        return {"hits": "figure", "timpani": "percussion"}.get(layer, layer)
    return COLOUR_GATE.get(COLOURS[layer.split(":")[1]][0], "pad")


def _family(layer: str, instruments: Mapping[str, Instrument]) -> str | None:
    return "percussion" if layer in ("percussion", "timpani") else FAMILY_OF.get(instruments[layer].program)


def _sounds(family: str, layers: Mapping[str, Sequence[NoteEvent]], instruments: Mapping[str, Instrument]) -> bool:
    """Whether a layer of ``family`` has notes (a role can come out empty: a counter-line with no room under a low tune)."""
    return any(notes for layer, notes in layers.items() if _family(layer, instruments) == family)


def _every_family_heard(gated: dict[str, list[NoteEvent]], layers: Mapping[str, Sequence[NoteEvent]],
                        instruments: Mapping[str, Instrument], cue: Cue, bars: Sequence[Bar], length: int) -> dict[str, list[NoteEvent]]:
    """A planned family whose layers the intensity curve leaves silent plays its first layer in the cue's most
    intense bars: every family the plan names is heard in its cue."""
    out = dict(gated)
    peak = max(b.intensity for b in bars)
    loud = [b for b in bars if b.intensity >= peak - 0.05]
    for family in cue.instruments:
        mine = [layer for layer in layers if _family(layer, instruments) == family and layers[layer]]
        if not mine or any(out.get(layer) for layer in mine):
            continue
        layer = mine[0]
        out[layer] = _clipped([n for n in layers[layer] if any(b.start <= n.start < b.end for b in loud)] or layers[layer], length)
    return out


def _low(melody: Sequence[NoteEvent]) -> bool:
    """Whether the melody lies low on purpose (a tune under A3: a cello or bassoon line), so the accompaniment
    may sit above it; otherwise it is the top of the texture."""
    return bool(melody) and sum(n.pitch for n in melody) / len(melody) < LOW_MELODY_MEAN


def _rung_out(notes: Sequence[NoteEvent], length: int, final: int) -> list[NoteEvent]:
    """The final chord rings to the end: notes starting at the layer's last onset last until ``length``, when
    that onset lies in the final chord (from tick ``final``)."""
    if not notes:
        return list(notes)
    last = max(n.start for n in notes)
    if last < final:
        return list(notes)
    return [NoteEvent(n.start, length if n.start == last else n.end, n.pitch, n.velocity) for n in notes]


def _in_registers(layers: dict[str, list[NoteEvent]], instruments: Mapping[str, Instrument], low_melody: bool) -> dict[str, list[NoteEvent]]:
    """The bass under the melody, every other pitched layer between them, low-interval limits kept
    (:mod:`mm2music.arrange.registers`)."""
    out = dict(layers)
    out["bass"] = bass_under_melody(out["bass"], out["melody"], instruments["bass"])
    for layer in out:
        if layer not in ("melody", "bass", "percussion"):
            out[layer] = in_band(out[layer], instruments[layer], out["melody"], out["bass"], low_melody)
    pitched = {k: v for k, v in out.items() if k != "percussion"}
    out.update(low_interval_limits(pitched, instruments, band=Band(out["melody"], out["bass"], low_melody)))
    return {k: _distinct(v) for k, v in out.items()}


def _distinct(notes: Sequence[NoteEvent]) -> list[NoteEvent]:
    """One note per onset and pitch (the longest): a note moved an octave can land on one already there."""
    longest: dict[tuple[int, int], NoteEvent] = {}
    for n in notes:
        if (n.start, n.pitch) not in longest or n.end > longest[(n.start, n.pitch)].end:
            longest[(n.start, n.pitch)] = n
    return sorted(longest.values(), key=lambda n: (n.start, n.pitch))


def doubled(melody: Sequence[NoteEvent], inst: Instrument) -> list[NoteEvent]:
    """The tune an octave higher (or lower, where ``inst`` does not reach), never in unison with it."""
    out = []
    for n in melody:
        p = inst.fold(n.pitch + 12)
        if p != n.pitch and abs(p - n.pitch) == 12:
            out.append(NoteEvent(n.start, n.end, p, n.velocity))
    return out


def cluster(pad: Sequence[NoteEvent], inst: Instrument) -> list[NoteEvent]:
    """A string cluster: each chord of the pad with a minor second on its top note (where the range allows)."""
    out = list(pad)
    tops: dict[tuple[int, int], int] = {}
    for n in pad:
        tops[(n.start, n.end)] = max(tops.get((n.start, n.end), 0), n.pitch)
    for (start, end), top in tops.items():
        if top + 1 <= inst.high:
            out.append(NoteEvent(start, end, top + 1, UNSET))
    return out


def colour_line(idiom: str, slots: Sequence[Slot], cue: Cue, inst: Instrument, bars: Sequence[Bar],
                melody: Sequence[NoteEvent], avoid: Sequence[list[int]], catches: Sequence[int]) -> list[NoteEvent]:
    """A planned family's own part where no role went to it: harp arpeggios, piano or guitar broken chords,
    sustained chords (choir, organ, brass, strings, synth)."""
    import dataclasses

    if idiom == "sustain":
        return pad_line(slots, inst, melody, avoid, bars)
    return figure_line(slots, dataclasses.replace(cue, figure=idiom), inst, bars, avoid, catches)


def brass_hits(slots: Sequence[Slot], bars: Sequence[Bar], catches: Sequence[int]) -> list[NoteEvent]:
    """Low brass in octaves on every downbeat and caught cut: short, hard hits that drive an action cue."""
    out = []
    for bar in bars:
        for t in sorted({bar.start, *[c for c in catches if bar.start <= c < bar.end]}):
            slot = next((s for s in slots if s.start <= t < s.end), slots[-1])
            root = _nearest(slot.chord.root, 36, 47, 41)
            out += [NoteEvent(t, min(t + TPQ // 2, bar.end), p, UNSET) for p in (root, root + 12)]
    return out


def timpani_line(slots: Sequence[Slot], bars: Sequence[Bar], catches: Sequence[int], melody: Sequence[NoteEvent] = ()) -> list[NoteEvent]:
    """Timpani on the chord's root (its fifth where the root would rub a semitone or a tritone against the
    tune): a roll (32nd notes) through the last beat before each phrase (every 4 bars) into a stroke on its
    downbeat, and a stroke on every caught cut."""
    def root_at(t: int, span: int = TPQ) -> int:
        slot = next((s for s in slots if s.start <= t < s.end), slots[-1])
        tune = {n.pitch % 12 for n in melody if n.start < t + span and n.end > t}
        pc = next((pc for pc in (slot.chord.root, slot.chord.pcs[2]) if all((pc - m) % 12 not in (1, 6, 11) for m in tune)), slot.chord.root)
        return _nearest(pc, TIMPANI.low, TIMPANI.high, 48)

    out = []
    for k in range(phrasing.PHRASE_BARS, len(bars), phrasing.PHRASE_BARS):
        down, beat = bars[k].start, bars[k - 1].beat
        p = root_at(down - beat, beat)  # rolled on the chord it sounds under, struck on the new one
        out += [NoteEvent(t, t + TPQ // 8, p, UNSET) for t in range(down - beat, down, TPQ // 8)]
        out.append(NoteEvent(down, down + TPQ, root_at(down), UNSET))
    out += [NoteEvent(c, c + TPQ, root_at(c), UNSET) for c in catches]
    return sorted(set(out), key=lambda n: (n.start, n.pitch))


def _rolls_swell(notes: Sequence[NoteEvent]) -> list[NoteEvent]:
    """A roll grows: its strokes rise from two thirds of their velocity to the full one at the downbeat."""
    out, run = [], []
    for n in list(notes) + [None]:
        if n is not None and n.end - n.start <= TPQ // 8 and (not run or n.start - run[-1].start <= TPQ // 8):
            run.append(n)
            continue
        out += [NoteEvent(r.start, r.end, r.pitch, max(1, round(r.velocity * (2 + k / max(1, len(run) - 1)) / 3))) for k, r in enumerate(run)]
        run = []
        if n is not None:
            if n.end - n.start <= TPQ // 8:
                run.append(n)
            else:
                out.append(n)
    return out


def performance(notes: Sequence[NoteEvent], kind: str, inst: Instrument, cue: Cue, bars: Sequence[Bar],
                slots: Sequence[Slot], level: int) -> tuple[tuple[int, int, int], ...]:
    """The part's controllers (:mod:`mm2music.arrange.phrasing`): phrase swells on CC 11, vibrato (CC 1) through
    long melody notes of bowed, blown and sung instruments, the sustain pedal for piano."""
    ends = phrasing.phrase_ends(bars)
    beat = bars[0].beat
    out = phrasing.expression_curve(notes, ends, level, SWELL_DEPTH.get(kind, 0.0), beat) if kind in SWELL_DEPTH else []
    if cue.silences:  # the music tails off into a silence the words ask for
        out = phrasing.tail_off(out, silence_ticks(cue), level, 2 * beat)
    if kind in ("melody", "double") and 40 <= inst.program < 80:
        out += phrasing.vibrato(notes, beat)
    if inst.program < 8 and cue.articulation != "staccato":
        rests = [a.end for a, b in zip(notes, notes[1:]) if b.start > a.end and all(m.end <= b.start for m in notes if m.start < b.start)]
        out += phrasing.pedal(notes, [s.start for s in slots], rests)
    return tuple(sorted(out))


def _full_close(layers: dict[str, list[NoteEvent]], final: Slot, instruments: Mapping[str, Instrument],
                length: int) -> dict[str, list[NoteEvent]]:
    """The score's last chord as a full tonic triad in root position: a tone outside the chord that would ring to
    the end stops where the last chord comes, and a missing third is added to the accompaniment that rings there,
    an octave or more above the bass."""
    out = {}
    for layer, notes in layers.items():
        if layer == "percussion" or layer == "timpani":
            out[layer] = notes
            continue
        out[layer] = [NoteEvent(n.start, max(n.start + 1, final.start), n.pitch, n.velocity)
                      if n.end >= length and n.pitch % 12 not in final.chord.pcs and n.start < final.start else n
                      for n in notes if not (n.end >= length and n.start >= final.start and n.pitch % 12 not in final.chord.pcs)]
    ringing = [(layer, n) for layer, notes in out.items() if layer not in ("percussion", "timpani") for n in notes if n.end >= length]
    third = final.chord.pcs[1]
    if not ringing or any(n.pitch % 12 == third for _, n in ringing):
        return out
    bass = min(n.pitch for _, n in ringing)
    tune = max((n.pitch for layer, n in ringing if layer == "melody"), default=127)
    top = tune if tune > bass + 16 else 127  # under a tune that ends low (or on the bass) the third goes above it
    for layer in [x for x in ("pad", "figure", "counter") if x in out] + [x for x in out if x.startswith("colour:")]:
        ends = [n for n in out[layer] if n.end >= length]
        if not ends:
            continue
        inst = instruments[layer]
        options = [p for p in range(max(inst.low, bass + 12), min(inst.high, top - 1) + 1) if p % 12 == third]
        if options:
            last = max(ends, key=lambda n: n.start)
            out[layer] = out[layer] + [NoteEvent(last.start, length, options[0], last.velocity)]
            return out
    if "pad" in instruments:  # nothing of the accompaniment rings (a driving cue's stabs): the pad holds the third
        inst = instruments["pad"]
        options = [p for p in range(max(inst.low, bass + 12), min(inst.high, top - 1) + 1) if p % 12 == third]
        if options:
            velocity = max((n.velocity for _, n in ringing), default=UNSET)
            out["pad"] = out.get("pad", []) + [NoteEvent(final.start, length, options[0], velocity)]
    return out


def _gate(notes: Iterable[NoteEvent], layer: str, cue: Cue, bars: Sequence[Bar]) -> list[NoteEvent]:
    """Keep the notes that start in a bar where ``layer`` plays (the intensity curve's vertical layering)."""
    playing = [layer in active_layers(cue, bar.intensity) for bar in bars]
    return [n for n in notes if playing[_bar_at(n.start, bars)]]


def _bar_at(tick: int, bars: Sequence[Bar]) -> int:
    return next((i for i, b in enumerate(bars) if b.start <= tick < b.end), len(bars) - 1)


def _avoid(melody: Sequence[NoteEvent], slot: Slot) -> list[int]:
    """Pitch classes a semitone from a melody note that is not a chord tone and that a listener hears as part
    of the line (on a beat, or an eighth or longer): a sustained accompaniment note there would clash."""
    out = []
    for n in melody:
        heard = n.start % TPQ == 0 or n.end - n.start >= TPQ // 2
        if n.start < slot.end and n.end > slot.start and heard and n.pitch % 12 not in slot.chord.pcs:
            out += [(n.pitch + 1) % 12, (n.pitch - 1) % 12, (n.pitch + 11) % 12]
    return out


def melody_line(skyline: Sequence[NoteEvent], cue: Cue, inst: Instrument, length: int, shaped: bool = False,
                reprise_octave: int = 0) -> list[NoteEvent]:
    """The sketch's top line in the planned register and the instrument's range, thinned and phrased.
    ``shaped``: the line is a composed tune, already in its register and density: it moves by octaves as a
    whole (into the instrument's range) and is only phrased, so its intervals stay as written.
    ``reprise_octave``: the tune is a reprise moved this far (semitones) from its first statement's register; if
    the instrument's range would move it back there, it goes an octave beyond instead where the range allows."""
    notes = sorted((n for n in skyline if n.start < length), key=lambda n: n.start)
    if not notes:
        return []
    if shaped:
        low, high = min(n.pitch for n in notes), max(n.pitch for n in notes)
        shift = 12 * max(0, math.ceil((inst.low - low) / 12))
        shift -= 12 * max(0, math.ceil((high + shift - inst.high) / 12))
        beyond = shift - reprise_octave
        if reprise_octave and shift == -reprise_octave and inst.low <= low + beyond and high + beyond <= inst.high:
            shift = beyond
        notes = [NoteEvent(n.start, n.end, n.pitch + shift, n.velocity) for n in notes]
    elif cue.figure in SPARSE_FIGURES or cue.density in ("very_sparse", "sparse"):
        kept = [n for n in notes if n.end - n.start >= TPQ // 2 or n.start % TPQ == 0]
        notes = kept or notes[:1]
    centre = min(inst.high - 7, max(inst.low + 5, REGISTER_CENTRE.get(cue.register, 67)))
    mean = sum(n.pitch for n in notes) / len(notes)
    shift = 12 * round((centre - mean) / 12)
    out = []
    for k, n in enumerate(notes):
        nxt = notes[k + 1].start if k + 1 < len(notes) else length
        end = min(n.end, nxt)
        if shaped and (cue.articulation == "legato" or cue.figure in SPARSE_FIGURES):
            end = nxt if nxt - n.end < TPQ // 2 else end  # legato, but the tune's rests are its breaths
        elif cue.articulation == "legato" or cue.figure in SPARSE_FIGURES:
            end = nxt if nxt - n.start <= 3 * TPQ else max(end, n.start + 2 * TPQ)
        elif shaped and cue.articulation in ("staccato", "marcato"):
            end = n.start + detached(end - n.start, cue.articulation)
        elif cue.articulation == "staccato":
            end = n.start + min(end - n.start, int(TPQ * 0.45))
        elif cue.articulation == "marcato":
            end = n.start + min(end - n.start, int(TPQ * 0.75))
        end = min(end, nxt, length)
        if end > n.start:
            if shaped:
                out.append(NoteEvent(n.start, end, inst.fold(n.pitch), UNSET))
                continue
            pitch = n.pitch + shift
            pitch += 12 * ((pitch < centre - 9) - (pitch > centre + 12))  # a compact line above the accompaniment
            out.append(NoteEvent(n.start, end, inst.fold(pitch), UNSET))
    return out


def detached(value: int, articulation: str) -> int:
    """How long a tune's note of ``value`` ticks sounds played staccato or marcato: a short note about half (staccato)
    or three quarters (marcato) of its value; a note of a beat or more nearly all of it, so a held phrase end stays
    held (the gap is articulation, not a rest)."""
    if value >= TPQ:
        return value - (TPQ // 4 if articulation == "staccato" else TPQ // 8)
    return max(1, round(value * (0.5 if articulation == "staccato" else 0.75)))


def _melody_floor(melody: Sequence[NoteEvent], slot: Slot) -> int | None:
    pitches = [n.pitch for n in melody if n.start < slot.end and n.end > slot.start]
    return min(pitches) if pitches else None


def pad_line(slots: Sequence[Slot], inst: Instrument, melody: Sequence[NoteEvent], avoid: Sequence[list[int]],
             bars: Sequence[Bar], stabs: bool = False) -> list[NoteEvent]:
    """Sustained chords (short stabs with ``stabs``), one voicing per slot, led smoothly from the previous one,
    under the melody."""
    low, high = max(inst.low, 43), min(inst.high, 79)
    out, previous = [], []
    for slot, av in zip(slots, avoid):
        bar = bars[_bar_at(slot.start, bars)]
        n = 4 if bar.intensity >= 0.5 else 3
        pitches = voice(slot.chord, low, high, n, previous, av, below=_melody_floor(melody, slot))
        end = min(slot.end, slot.start + bar.beat // 2) if stabs else slot.end
        out += [NoteEvent(slot.start, end, p, UNSET) for p in pitches]
        previous = pitches
    return out


def _grid(slot: Slot, bars: Sequence[Bar], step: int) -> list[int]:
    """Onsets every ``step`` ticks on the bar grid inside the slot, plus the slot's start if it lies off it."""
    out = {slot.start}
    for bar in bars:
        if bar.end <= slot.start or bar.start >= slot.end:
            continue
        out.update(t for t in range(bar.start, bar.end, step) if slot.start <= t < slot.end)
    return sorted(out)


def _beat_index(t: int, bars: Sequence[Bar]) -> int:
    bar = bars[_bar_at(t, bars)]
    return (t - bar.start) // bar.beat if (t - bar.start) % bar.beat == 0 else -1


def _nearest(pc: int, low: int, high: int, near: float) -> int:
    candidates = [p for p in range(low, high + 1) if p % 12 == pc]
    return min(candidates, key=lambda p: abs(p - near)) if candidates else low


def bass_line(slots: Sequence[Slot], cue: Cue, inst: Instrument, bars: Sequence[Bar], tonic: int, final: bool = False) -> list[NoteEvent]:
    """Chord roots in the bass register (a tonic pedal under a drone), in the figure's rhythm. ``final``: the
    last chord's root is held to the end (a piece ends in root position, not on a march bass's fifth)."""
    low, high = max(inst.low, 28), min(inst.high, 55)
    out: list[NoteEvent] = []
    previous = (low + high) / 2 - 3
    for k, slot in enumerate(slots):
        root = _nearest(tonic if cue.figure == "drone" else slot.chord.root, low, high, previous)
        fifth = _nearest(slot.chord.pcs[2], low, high, root + 7)
        previous = root
        beat = bars[_bar_at(slot.start, bars)].beat
        if final and k == len(slots) - 1:
            out.append(NoteEvent(slot.start, slot.end, root, UNSET))
        elif cue.figure == "driving":
            for k, t in enumerate(_grid(slot, bars, TPQ // 2)):
                p = root + 12 if k % 2 and root + 12 <= high else root
                out.append(NoteEvent(t, min(t + int(TPQ * 0.4), slot.end), p, UNSET))
        elif cue.figure in ("bounce", "march"):
            for t in _grid(slot, bars, beat):
                k = _beat_index(t, bars)
                if k % 2 == 0 or t == slot.start:
                    p = fifth if k % 4 == 2 else root
                    out.append(NoteEvent(t, min(t + int(beat * (0.5 if cue.figure == "bounce" else 0.9)), slot.end), p, UNSET))
        elif cue.figure == "pulse":
            for t in _grid(slot, bars, beat):
                out.append(NoteEvent(t, min(t + int(beat * 0.9), slot.end), root, UNSET))
        elif cue.figure == "waltz":
            for t in _grid(slot, bars, beat):
                if _beat_index(t, bars) == 0 or t == slot.start:
                    out.append(NoteEvent(t, min(t + beat, slot.end), root, UNSET))
        else:
            out.append(NoteEvent(slot.start, slot.end, root, UNSET))
    return out


def _chord_tones(chord: Chord, low: int, high: int, avoid: Sequence[int]) -> list[int]:
    pcs = spared(chord, avoid)
    return [p for p in range(low, high + 1) if p % 12 in pcs]


def figure_line(slots: Sequence[Slot], cue: Cue, inst: Instrument, bars: Sequence[Bar], avoid: Sequence[list[int]],
                catches: Sequence[int], harsh: bool = False) -> list[NoteEvent]:
    """The accompaniment figure the emotion asks for (see :data:`mm2music.graph.cues.FIGURES`); ``harsh``: an
    ostinato of the minor second and the tritone over the root (action and horror)."""
    fig = cue.figure
    low_range = fig in ("ostinato", "driving")
    low, high = (max(inst.low, 40), min(inst.high, 67)) if low_range else (max(inst.low, 50), min(inst.high, 84))
    out: list[NoteEvent] = []
    previous: list[int] = []
    for slot, av in zip(slots, avoid):
        tones = _chord_tones(slot.chord, low, high, av)
        if not tones:
            continue
        beat = bars[_bar_at(slot.start, bars)].beat
        root = next((p for p in tones if p % 12 == slot.chord.root), tones[0])
        up = [p for p in tones if p >= root][:5] or tones[:5]
        if fig in ("arpeggio", "broken"):
            pattern = up + up[-2:0:-1] if len(up) > 2 else up
            step = TPQ // 2 if fig == "arpeggio" else beat
            for k, t in enumerate(_grid(slot, bars, step)):
                out.append(NoteEvent(t, min(t + int(step * 1.5), slot.end), pattern[k % len(pattern)], UNSET))
        elif fig in ("ostinato", "driving"):
            cell = [root, up[min(2, len(up) - 1)], root + 12 if root + 12 <= high else root, up[min(2, len(up) - 1)]]
            step = TPQ // 4 if fig == "driving" else TPQ // 2
            if fig == "driving":
                cell = [root, root, cell[2], root, cell[1], root, cell[2], root]
            if harsh:
                cell = [root, root + 1, root, root + 6, root, root + 1, root + 7, root + 6]
            for k, t in enumerate(_grid(slot, bars, step)):
                out.append(NoteEvent(t, min(t + int(step * 0.8), slot.end), cell[k % len(cell)], UNSET))
        elif fig in ("pulse", "bounce", "waltz", "march"):
            chord = voice(slot.chord, max(low, 55), min(high, 76), 3, previous, av)
            previous = chord
            step = TPQ // 2 if fig == "pulse" else beat
            for t in _grid(slot, bars, step):
                k = _beat_index(t, bars)
                play = (fig == "pulse" or fig == "march" or (fig == "bounce" and k % 2 == 1)
                        or (fig == "waltz" and k > 0) or t == slot.start and fig != "bounce")
                if play:
                    dur = int(step * (0.45 if fig in ("pulse", "bounce") else 0.6))
                    out += [NoteEvent(t, min(t + dur, slot.end), p, UNSET) for p in chord]
        elif fig == "tremolo":
            chord = voice(slot.chord, max(low, 52), min(high, 79), 3, previous, av)
            previous = chord
            out += [NoteEvent(slot.start, slot.end, p, UNSET) for p in chord]
        elif fig == "drone":
            stab_at = [t for t in _grid(slot, bars, beat) if _beat_index(t, bars) == 1] + [c for c in catches if slot.start <= c < slot.end]
            for t in sorted(set(stab_at))[:2]:
                r = _nearest(slot.chord.root, max(low, 48), min(high, 64), 55)
                out += [NoteEvent(t, min(t + beat // 2, slot.end), p, UNSET) for p in (r, r + 1, r + 7) if p <= inst.high]
    return out


def counter_line(slots: Sequence[Slot], inst: Instrument, melody: Sequence[NoteEvent], avoid: Sequence[list[int]]) -> list[NoteEvent]:
    """A slow line on the chords' guide tones (third, then fifth), moving by the smallest step, under the melody."""
    low, high = max(inst.low, 53), min(inst.high, 74)
    out, previous = [], (low + high) / 2
    for slot, av in zip(slots, avoid):
        floor = _melody_floor(melody, slot)
        top = min(high, floor - 3) if floor is not None else high
        cands = [p for p in range(low, max(low, top) + 1) if p % 12 in slot.chord.pcs[1:] and p % 12 not in av]
        if not cands:
            continue
        p = min(cands, key=lambda x: abs(x - previous))
        out.append(NoteEvent(slot.start, slot.end, p, UNSET))
        previous = p
    return out


def percussion_line(cue: Cue, bars: Sequence[Bar], catches: Sequence[int]) -> list[NoteEvent]:
    """General MIDI drum patterns per figure, a crash or low tom on every caught cut."""
    out: list[NoteEvent] = []

    def hit(t: int, note: int, dur: int = TPQ // 4) -> None:
        out.append(NoteEvent(t, t + dur, note, UNSET))

    for bar in bars:
        beats = list(range(bar.start, bar.end, bar.beat))
        if cue.figure == "driving":
            for k, t in enumerate(beats):
                hit(t, KICK if k % 2 == 0 else SNARE)
            step = TPQ // 4 if bar.intensity > 0.85 else TPQ // 2
            for t in range(bar.start, bar.end, step):
                hit(t, HAT, step // 2)
        elif cue.figure == "march":
            for t in range(bar.start, bar.end, TPQ // 2):
                hit(t, SNARE)
            for k, t in enumerate(beats):
                if k % 2 == 0:
                    hit(t, KICK)
        elif cue.figure in ("ostinato", "tremolo", "drone"):
            hit(bar.start, FLOOR_TOM, TPQ // 2)
            if bar.start + 3 * TPQ // 4 < bar.end:
                hit(bar.start + 3 * TPQ // 4, FLOOR_TOM, TPQ // 2)
        else:
            hit(bar.start, KICK)
            for t in beats[1:]:
                hit(t + bar.beat // 2 if t + bar.beat // 2 < bar.end else t, HAT)
    for c in [0, *catches]:
        hit(c, CRASH if cue.figure in ("driving", "march", "bounce") else LOW_TOM, TPQ)
    return sorted(set(out), key=lambda n: (n.start, n.pitch))


def _velocities(notes: Sequence[NoteEvent], layer: str, cue: Cue, bars: Sequence[Bar], accents: set[int], seed: int) -> list[NoteEvent]:
    """Velocity = the planned dynamic, moved by the bar's intensity against the cue's mean (builds and decays),
    the layer's balance, a swell over each phrase (:func:`~mm2music.arrange.phrasing.phrase_arc`), accents on the
    cue's start, caught cuts and hits, downbeats of rhythmic figures, and a little deterministic variation."""
    base = DYNAMIC_VELOCITY.get(cue.dynamics, 75) + LAYER_GAIN[layer]
    ends = phrasing.phrase_ends(bars)
    arc = PHRASE_SWELL_VELOCITY if layer != "percussion" else 0
    mean = cue.intensity
    rhythmic = layer in ("figure", "bass", "percussion") and cue.figure not in ("sustain", "tremolo")
    mean_pitch = sum(n.pitch for n in notes) / len(notes)
    out = []
    for n in notes:
        bar = bars[_bar_at(n.start, bars)]
        v = base + 40 * (bar.intensity - mean) + arc * phrasing.phrase_arc(n.start, ends)
        if layer == "melody":  # the line swells as it rises (phrase contour)
            v += max(-8.0, min(8.0, 0.6 * (n.pitch - mean_pitch)))
        if n.start in accents:
            v += 12
        elif rhythmic and n.start == bar.start:
            v += 5
        elif rhythmic and (n.start - bar.start) % bar.beat:
            v -= 4  # off-beats lighter
        v += ((seed ^ (n.start * 2654435761 + n.pitch * 40503)) % 7) - 3
        out.append(NoteEvent(n.start, n.end, n.pitch, int(max(1, min(127, round(v))))))
    return out
