"""Emotion -> musical attribute weights, from music-emotion cue research.

Two layers, both cited:

1. **Graded cues from the circumplex position** (valence v, arousal a in [-1, 1]) following the cue
   directions summarised by Juslin & Laukka (2004, J. New Music Research 33(3), table of expressive cues)
   and Gabrielsson & Lindström (2010, *Handbook of Music and Emotion*, ch. 14): major mode with positive
   valence, minor with negative; tempo, note density (rhythmic activity) and loudness rise with arousal;
   high register with positive valence / high arousal, low register with sadness and threat; legato with
   low arousal and tenderness, staccato with happiness and high arousal, marcato with anger and triumph.
   An ordinal attribute gets a Gaussian bump centred on the position its cue predicts.
2. **Concept-specific colours** for what the circumplex cannot tell apart (fear vs anger, tenderness vs
   serenity): instrument families and timbre (Eerola, Friberg & Bresin 2013: bright timbres for happiness,
   dark/soft for sadness and tenderness), meter (triple metre for lilting/tender/nostalgic pieces, duple
   for marches and triumph) and texture.

The weights are soft preferences in [0, 1]; the planner sums them along segment -> emotion -> attribute
paths of the concept graph.
"""

from __future__ import annotations

import math

from mm2music.music.attributes import DENSITY_BINS, REGISTER_BINS, TEMPO_BANDS
from mm2music.vocab import DYNAMICS, FAMILIES, METERS  # defined once, below every stage

MODES = ("major", "minor")
ARTICULATIONS = ("legato", "tenuto", "staccato", "marcato")
TEXTURES = ("monophonic", "homophonic", "polyphonic", "ostinato")
CADENCES = ("authentic", "plagal", "half", "deceptive")
# How the arranger realises a cue's accompaniment (mm2music/arrange/textures.py): sustained pads, broken or
# arpeggiated chords, repeated-chord pulse, a driving 16th ostinato, oom-pah bounce, waltz, march, a low drone
# with sparse stabs, string tremolo.
FIGURES = ("sustain", "broken", "arpeggio", "pulse", "ostinato", "driving", "bounce", "waltz", "march", "drone", "tremolo")

# category -> ordered values (ordinal categories get graded cues)
CATEGORIES: dict[str, tuple[str, ...]] = {
    "mode": MODES,
    "tempo": TEMPO_BANDS,
    "meter": METERS,
    "density": DENSITY_BINS,
    "register": REGISTER_BINS,
    "dynamics": DYNAMICS,
    "articulation": ARTICULATIONS,
    "instrument": FAMILIES,
    "texture": TEXTURES,
    "cadence": CADENCES,
    "figure": FIGURES,
}

# Concept colours: instrument families (melody first), meter, texture, articulation, register nudge
# (in bins; + is higher) and cadence preference. Unknown concepts get only the graded cues.
COLOURS: dict[str, dict] = {
    "joy": {"instrument": ("woodwinds", "strings", "piano", "mallets"), "meter": "2/4", "texture": "homophonic", "articulation": "staccato"},
    "happiness": {"instrument": ("woodwinds", "strings", "piano", "mallets"), "meter": "2/4", "texture": "homophonic", "articulation": "staccato"},
    "excitement": {"instrument": ("brass", "strings", "percussion", "synth"), "meter": "4/4", "texture": "ostinato", "articulation": "staccato"},
    "triumph": {"instrument": ("brass", "strings", "percussion", "choir"), "meter": "4/4", "texture": "homophonic", "articulation": "marcato", "cadence": "authentic"},
    "humour": {"instrument": ("woodwinds", "mallets", "piano", "strings"), "meter": "6/8", "texture": "homophonic", "articulation": "staccato", "register": 1},
    "playfulness": {"instrument": ("woodwinds", "mallets", "piano", "strings"), "meter": "6/8", "texture": "homophonic", "articulation": "staccato", "register": 1},
    "wonder": {"instrument": ("harp", "strings", "choir", "mallets"), "meter": "3/4", "texture": "polyphonic", "articulation": "legato", "register": 1},
    "awe": {"instrument": ("choir", "strings", "organ", "brass"), "meter": "4/4", "texture": "polyphonic", "articulation": "legato", "cadence": "plagal"},
    "hope": {"instrument": ("strings", "piano", "woodwinds", "harp"), "meter": "4/4", "texture": "homophonic", "articulation": "legato"},
    "love": {"instrument": ("strings", "piano", "woodwinds", "harp"), "meter": "3/4", "texture": "homophonic", "articulation": "legato"},
    "tenderness": {"instrument": ("strings", "piano", "woodwinds", "harp"), "meter": "3/4", "texture": "homophonic", "articulation": "legato"},
    "serenity": {"instrument": ("piano", "harp", "strings", "woodwinds"), "meter": "3/4", "texture": "homophonic", "articulation": "legato", "cadence": "plagal"},
    "calm": {"instrument": ("piano", "harp", "strings", "woodwinds"), "meter": "4/4", "texture": "homophonic", "articulation": "legato", "cadence": "plagal"},
    "nostalgia": {"instrument": ("piano", "strings", "guitar", "woodwinds"), "meter": "3/4", "texture": "homophonic", "articulation": "legato"},
    "melancholy": {"instrument": ("piano", "strings", "woodwinds", "guitar"), "meter": "3/4", "texture": "homophonic", "articulation": "legato", "register": -1},
    "sadness": {"instrument": ("strings", "piano", "woodwinds", "choir"), "meter": "4/4", "texture": "homophonic", "articulation": "legato", "register": -1},
    "grief": {"instrument": ("strings", "choir", "organ", "piano"), "meter": "4/4", "texture": "polyphonic", "articulation": "legato", "register": -1, "cadence": "plagal"},
    "loneliness": {"instrument": ("piano", "woodwinds", "guitar", "strings"), "meter": "3/4", "texture": "monophonic", "articulation": "legato", "register": -1},
    "fear": {"instrument": ("strings", "synth", "percussion", "brass"), "meter": "4/4", "texture": "ostinato", "articulation": "staccato", "register": -1, "cadence": "half"},
    "anxiety": {"instrument": ("strings", "synth", "piano", "percussion"), "meter": "4/4", "texture": "ostinato", "articulation": "staccato", "register": -1, "cadence": "half"},
    "dread": {"instrument": ("strings", "synth", "choir", "percussion"), "meter": "4/4", "texture": "ostinato", "articulation": "tenuto", "register": -1, "cadence": "half"},
    "tension": {"instrument": ("strings", "synth", "percussion", "piano"), "meter": "4/4", "texture": "ostinato", "articulation": "tenuto", "register": -1, "cadence": "half"},
    "suspense": {"instrument": ("strings", "synth", "piano", "mallets"), "meter": "4/4", "texture": "ostinato", "articulation": "tenuto", "register": -1, "cadence": "half"},
    "anger": {"instrument": ("brass", "percussion", "strings", "synth"), "meter": "4/4", "texture": "ostinato", "articulation": "marcato", "register": -1},
    "mystery": {"instrument": ("harp", "strings", "mallets", "synth"), "meter": "3/4", "texture": "polyphonic", "articulation": "tenuto", "register": -1, "cadence": "deceptive"},
    "determination": {"instrument": ("strings", "brass", "percussion", "piano"), "meter": "4/4", "texture": "ostinato", "articulation": "marcato"},
}


# Film-scoring practice per concept: a tempo centre (BPM), dynamics, the accompaniment figure and the
# musical energy (0 calm .. 1 driving) that the intensity curve starts from. NRC arousal says how aroused a
# word is ("grief" 0.64), not how fast its music moves: a funeral is scored slow and soft whatever the
# lexicon says (Juslin & Laukka 2004: sadness -> slow tempo, low sound level, legato, low register;
# tenderness -> slow-moderate, soft, legato; happiness -> fast, bright, staccato; fear -> irregular,
# soft-to-loud contrasts, low register; anger -> fast, loud, sharp; Gabrielsson & Lindstrom 2010).
FILM: dict[str, dict] = {
    "grief": {"tempo": 58, "dynamics": "p", "figure": "sustain", "energy": 0.15},
    "sadness": {"tempo": 64, "dynamics": "p", "figure": "sustain", "energy": 0.2},
    "melancholy": {"tempo": 70, "dynamics": "mp", "figure": "broken", "energy": 0.25},
    "loneliness": {"tempo": 66, "dynamics": "p", "figure": "broken", "energy": 0.15},
    "nostalgia": {"tempo": 78, "dynamics": "mp", "figure": "waltz", "energy": 0.3},
    "tenderness": {"tempo": 72, "dynamics": "mp", "figure": "arpeggio", "energy": 0.3},
    "love": {"tempo": 76, "dynamics": "mp", "figure": "arpeggio", "energy": 0.4},
    "serenity": {"tempo": 66, "dynamics": "p", "figure": "sustain", "energy": 0.1},
    "calm": {"tempo": 66, "dynamics": "p", "figure": "sustain", "energy": 0.1},
    "hope": {"tempo": 92, "dynamics": "mf", "figure": "pulse", "energy": 0.5},
    "wonder": {"tempo": 88, "dynamics": "mp", "figure": "arpeggio", "energy": 0.45},
    "awe": {"tempo": 72, "dynamics": "mf", "figure": "sustain", "energy": 0.5},
    "mystery": {"tempo": 76, "dynamics": "p", "figure": "arpeggio", "energy": 0.3},
    "joy": {"tempo": 126, "dynamics": "f", "figure": "bounce", "energy": 0.75},
    "happiness": {"tempo": 124, "dynamics": "f", "figure": "bounce", "energy": 0.7},
    "humour": {"tempo": 118, "dynamics": "mf", "figure": "bounce", "energy": 0.55},
    "playfulness": {"tempo": 120, "dynamics": "mf", "figure": "bounce", "energy": 0.55},
    "triumph": {"tempo": 112, "dynamics": "ff", "figure": "march", "energy": 0.9},
    "excitement": {"tempo": 150, "dynamics": "ff", "figure": "driving", "energy": 0.95},
    "determination": {"tempo": 120, "dynamics": "f", "figure": "ostinato", "energy": 0.75},
    "anger": {"tempo": 144, "dynamics": "ff", "figure": "driving", "energy": 0.95},
    "fear": {"tempo": 84, "dynamics": "mf", "figure": "tremolo", "energy": 0.65},
    "anxiety": {"tempo": 96, "dynamics": "mp", "figure": "ostinato", "energy": 0.6},
    "tension": {"tempo": 88, "dynamics": "mp", "figure": "ostinato", "energy": 0.6},
    "suspense": {"tempo": 80, "dynamics": "p", "figure": "ostinato", "energy": 0.5},
    "dread": {"tempo": 60, "dynamics": "p", "figure": "drone", "energy": 0.45},
}


def film_profile(concepts: dict[str, float], arousal: float, top: int = 3) -> tuple[float, float]:
    """(tempo centre in BPM, energy 0..1) of a reading: the film table's values of its ``top`` concepts,
    weighted (tempo geometrically), nudged by arousal (+-12% tempo, +-0.1 energy). Concepts the table does
    not know fall back to the circumplex (arousal -> 66..150 BPM)."""
    ranked = sorted(concepts.items(), key=lambda kv: -kv[1])[:top]
    known = [(FILM[c], w) for c, w in ranked if c in FILM and w > 0]
    fallback_tempo = 66 * (150 / 66) ** ((arousal + 1) / 2)
    if not known:
        return fallback_tempo, (arousal + 1) / 2
    total = sum(w for _, w in known)
    log_tempo = sum(math.log(f["tempo"]) * w for f, w in known) / total
    energy = sum(f["energy"] * w for f, w in known) / total
    a = max(-1.0, min(1.0, arousal))
    return math.exp(log_tempo) * (1 + 0.12 * a), max(0.0, min(1.0, energy + 0.1 * a))


def _bump(values: tuple[str, ...], position: float, width: float = 0.8) -> dict[str, float]:
    """Gaussian preference over ordered ``values`` centred at fractional index ``position``."""
    return {v: math.exp(-((i - position) ** 2) / (2 * width**2)) for i, v in enumerate(values)}


def _scale(x: float, n: int) -> float:
    """Map x in [-1, 1] to a fractional index in [0, n - 1]."""
    return (max(-1.0, min(1.0, x)) + 1) / 2 * (n - 1)


def concept_cues(name: str, valence: float, arousal: float) -> dict[tuple[str, str], float]:
    """Weights of (category, value) attribute nodes for one emotion concept."""
    out: dict[tuple[str, str], float] = {}

    def add(category: str, weights: dict[str, float]) -> None:
        for value, w in weights.items():
            if w > 0.05:
                out[(category, value)] = max(out.get((category, value), 0.0), round(w, 4))

    colour = COLOURS.get(name, {})
    p_major = 1 / (1 + math.exp(-4 * valence))
    add("mode", {"major": p_major, "minor": 1 - p_major})
    film = FILM.get(name)
    activity = 2 * film["energy"] - 1 if film else arousal  # how much the music moves (not the word's arousal)
    add("tempo", _bump(TEMPO_BANDS, _scale(activity, len(TEMPO_BANDS))))
    add("density", _bump(DENSITY_BINS, _scale(activity, len(DENSITY_BINS))))
    if film:  # the film table's dynamics, with a little spread to the neighbouring levels
        add("dynamics", _bump(DYNAMICS, DYNAMICS.index(film["dynamics"]), width=0.5))
        add("figure", {film["figure"]: 1.0})
    else:
        add("dynamics", _bump(DYNAMICS, _scale(arousal, len(DYNAMICS))))
        add("figure", {"sustain": max(0.05, -arousal), "pulse": 0.3, "driving": max(0.0, arousal)})
    register = _scale(0.6 * valence + 0.4 * activity, len(REGISTER_BINS)) + colour.get("register", 0)
    add("register", _bump(REGISTER_BINS, min(len(REGISTER_BINS) - 1, max(0.0, register))))
    if "articulation" in colour:
        add("articulation", {colour["articulation"]: 1.0})
    else:
        add("articulation", {"legato": max(0.0, -arousal), "tenuto": 0.5, "staccato": max(0.0, arousal) * (valence > 0), "marcato": max(0.0, arousal) * (valence <= 0)})
    instruments = colour.get("instrument", ("piano", "strings"))
    add("instrument", {fam: 1.0 - 0.15 * i for i, fam in enumerate(instruments)})
    add("meter", {colour.get("meter", "4/4"): 1.0})
    add("texture", {colour.get("texture", "homophonic"): 1.0})
    add("cadence", {colour.get("cadence", "authentic"): 1.0})
    return out
