"""The emotion vocabulary: 20 concepts with circumplex coordinates and zero-shot prompts.

Coordinates are the NRC Valence, Arousal, and Dominance Lexicon values of each concept's word
(Mohammad, S. M. (2018). Obtaining reliable human ratings of valence, arousal, and dominance for 20,000
English words. Proc. ACL, 174-184), given there on 0..1 and scaled here to [-1, 1] by ``2 x - 1``
(the concept ``humour`` uses the entry for "humor"). The circumplex itself is Russell (1980), A circumplex
model of affect, J. Pers. Soc. Psychol. 39(6).

``plutchik`` names the primary emotions of Plutchik's wheel (Plutchik 1980; 2001, American Scientist
89(4)) each concept belongs to: its primary emotion, its intensity family (serenity < joy, grief > sadness)
or the named dyad (love = joy + trust, hope = anticipation + trust, anxiety = anticipation + fear,
sentimentality = trust + sadness, delight = joy + surprise, curiosity ~ anticipation + surprise). The
benchmark uses it to compare our concepts with the NRC Emotion Lexicon's labels; no concept maps to
disgust, which film music rarely scores.

Each concept has descriptive ``text_prompts`` (scored against captions and stories, text<->text) and
``image_prompts`` (scored against frames by CLIP, image<->text); a concept's embedding is the mean of its
prompts' embeddings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PLUTCHIK = ("anger", "anticipation", "disgust", "fear", "joy", "sadness", "surprise", "trust")


@dataclass(frozen=True)
class Concept:
    """One emotion concept. ``valence``/``arousal`` in [-1, 1]; ``nrc_vad`` the lexicon's raw 0..1 values."""

    name: str
    nrc_vad: tuple[float, float]  # (valence, arousal) from Mohammad (2018), 0..1
    plutchik: tuple[str, ...]
    text_prompts: tuple[str, ...]
    image_prompts: tuple[str, ...]

    def __post_init__(self) -> None:
        if not all(0.0 <= x <= 1.0 for x in self.nrc_vad):
            raise ValueError(f"concept {self.name}: NRC VAD values {self.nrc_vad} outside 0..1")
        if not set(self.plutchik) <= set(PLUTCHIK):
            raise ValueError(f"concept {self.name}: unknown Plutchik emotions {set(self.plutchik) - set(PLUTCHIK)}")

    @property
    def valence(self) -> float:
        return round(2.0 * self.nrc_vad[0] - 1.0, 3)

    @property
    def arousal(self) -> float:
        return round(2.0 * self.nrc_vad[1] - 1.0, 3)


def _c(name, v, a, plutchik, text, image) -> Concept:
    return Concept(name, (v, a), tuple(plutchik), tuple(text), tuple(image))


CONCEPTS: tuple[Concept, ...] = (
    _c("joy", 0.980, 0.824, ["joy"], [
        "a joyful, happy moment full of laughter",
        "people celebrating with delight and cheer",
        "pure happiness and gladness",
        "everyone smiles and laughs together in the sunshine",
        "a cheerful, merry occasion",
    ], [
        "a film still of people laughing and celebrating joyfully",
        "a happy, cheerful scene full of smiles",
        "a joyful celebration in bright sunshine",
    ]),
    _c("excitement", 0.896, 0.684, ["joy", "anticipation"], [
        "a thrilling, exciting rush of energy",
        "the crowd roars as the race begins",
        "fast, wild, exhilarating action",
        "eager and excited, hearts pounding with anticipation of fun",
        "an energetic, lively party where everyone dances",
    ], [
        "a film still of an exciting, fast action sequence",
        "a thrilling, energetic scene with a cheering crowd",
        "people dancing wildly at a lively party",
    ]),
    _c("triumph", 0.969, 0.798, ["joy"], [
        "a triumphant victory after a long struggle",
        "the hero wins and the crowd cheers in glory",
        "a proud, victorious moment of success",
        "they finally achieve their goal and raise their arms in triumph",
        "a heroic, glorious ending",
    ], [
        "a film still of a triumphant hero celebrating victory",
        "a victorious team lifting a trophy",
        "a glorious, heroic moment of success",
    ]),
    _c("humour", 0.890, 0.633, ["joy", "surprise"], [
        "a funny, comic scene that makes everyone laugh",
        "a silly joke and playful mischief",
        "a witty, humorous and lighthearted moment",
        "a clumsy slapstick accident that is hilarious",
        "playful teasing and amusing banter",
    ], [
        "a film still of a funny, comic scene",
        "a silly, playful moment with goofy faces",
        "a humorous slapstick situation",
    ]),
    _c("love", 1.000, 0.519, ["joy", "trust"], [
        "two people deeply in love",
        "a romantic kiss and a loving embrace",
        "passionate romance between lovers",
        "they promise to love each other forever",
        "a heart full of love and devotion",
    ], [
        "a film still of a romantic couple kissing",
        "two lovers embracing at sunset",
        "a loving, romantic moment between a couple",
    ]),
    _c("tenderness", 0.949, 0.276, ["trust", "joy"], [
        "a tender, gentle moment of care",
        "a mother softly holds her sleeping baby",
        "warm affection and kindness",
        "a gentle hand on a shoulder, quiet comfort",
        "soft, caring and affectionate",
    ], [
        "a film still of a tender, gentle moment of affection",
        "a parent gently holding a sleeping child",
        "a warm, caring embrace",
    ]),
    _c("serenity", 0.900, 0.122, ["joy"], [
        "a calm, peaceful and serene moment",
        "a quiet lake at dawn, everything still and tranquil",
        "relaxed, at peace, without a worry",
        "a gentle breeze over a silent meadow",
        "tranquil calm and rest",
    ], [
        "a film still of a calm, peaceful landscape",
        "a serene, tranquil lake at dawn",
        "a quiet, relaxing and peaceful scene",
    ]),
    _c("hope", 0.927, 0.317, ["anticipation", "trust"], [
        "hopeful and optimistic about the future",
        "a new beginning full of promise",
        "despite everything, they still believe things will get better",
        "the first light of morning after a long night",
        "a hopeful wish for a brighter tomorrow",
    ], [
        "a film still of a hopeful sunrise and a new beginning",
        "a person looking toward a bright horizon with hope",
        "an optimistic, uplifting scene",
    ]),
    _c("wonder", 0.939, 0.771, ["surprise", "joy"], [
        "a sense of awe and wonder",
        "amazed by something magical and marvellous",
        "a breathtaking, majestic sight",
        "eyes wide with astonishment at the stars",
        "an enchanting, magical discovery",
    ], [
        "a film still of an awe-inspiring, majestic landscape",
        "a magical, wondrous sight full of light",
        "a person amazed by something breathtaking",
    ]),
    _c("nostalgia", 0.417, 0.337, ["sadness", "trust"], [
        "nostalgic memories of the old days",
        "looking at faded photographs and remembering childhood",
        "a bittersweet longing for the past",
        "the old house where we grew up, years ago",
        "a wistful memory of times gone by",
    ], [
        "a film still with a nostalgic, vintage look",
        "old faded photographs and memories of the past",
        "a bittersweet, wistful scene of remembrance",
    ]),
    _c("mystery", 0.417, 0.667, ["anticipation", "surprise"], [
        "a strange, mysterious and puzzling secret",
        "an enigma that no one can explain",
        "a hidden clue in a shadowy, unknown place",
        "something curious and unexplained is going on",
        "a mysterious stranger in the fog",
    ], [
        "a film still of a mysterious, foggy scene",
        "a shadowy figure in a mysterious place",
        "an enigmatic, strange and secretive scene",
    ]),
    _c("melancholy", 0.188, 0.260, ["sadness"], [
        "a melancholy, wistful sadness",
        "a grey, rainy afternoon of quiet gloom",
        "pensive and somber, lost in sad thoughts",
        "a gloomy, downcast mood",
        "a quiet, heavy-hearted melancholy",
    ], [
        "a film still of a melancholy, grey rainy day",
        "a pensive, somber person looking out of a window",
        "a gloomy, muted and sad atmosphere",
    ]),
    _c("sadness", 0.052, 0.288, ["sadness"], [
        "a sad, sorrowful moment",
        "tears of sadness and unhappiness",
        "feeling sad, heartbroken and blue",
        "she cries quietly, full of sorrow",
        "a deeply unhappy and sorrowful loss",
    ], [
        "a film still of a sad person crying",
        "a sorrowful, unhappy scene",
        "a heartbroken person in tears",
    ]),
    _c("grief", 0.070, 0.640, ["sadness"], [
        "grief and mourning after a death",
        "a funeral, family weeping by the grave",
        "overwhelming grief for someone who died",
        "mourners in black at a burial",
        "anguished sorrow and bereavement",
    ], [
        "a film still of a funeral with mourners in black",
        "people grieving at a grave",
        "a scene of mourning and bereavement",
    ]),
    _c("loneliness", 0.146, 0.182, ["sadness"], [
        "lonely and alone, with no one around",
        "an empty room and a single figure, isolated",
        "abandoned and forgotten, completely alone",
        "a solitary walk down an empty road",
        "the emptiness of isolation and solitude",
    ], [
        "a film still of a lonely person alone in an empty place",
        "a solitary figure on an empty road",
        "an isolated, lonely and empty scene",
    ]),
    _c("fear", 0.073, 0.840, ["fear"], [
        "terrifying fear and panic",
        "a scary, frightening horror",
        "screaming in terror and running away",
        "afraid for their lives, trembling with fear",
        "a horrifying monster attacks",
    ], [
        "a film still of a terrified person screaming in fear",
        "a scary horror movie scene",
        "a frightening, menacing monster in the dark",
    ]),
    _c("dread", 0.153, 0.792, ["fear", "anticipation"], [
        "an ominous feeling of dread and foreboding",
        "something terrible is about to happen",
        "a creeping, sinister menace in the dark",
        "anxious and uneasy, sensing doom",
        "a dark, ominous threat approaches",
    ], [
        "a film still of a dark, ominous and sinister place",
        "a foreboding, menacing atmosphere",
        "a gloomy, threatening and creepy scene",
    ]),
    _c("tension", 0.304, 0.810, ["fear", "anticipation"], [
        "a tense, nervous standoff",
        "stress and conflict, nerves stretched to breaking",
        "a dangerous, high-stakes confrontation",
        "everyone holds their breath in the tense silence",
        "anxious, strained and on edge",
    ], [
        "a film still of a tense confrontation",
        "a nervous, stressful standoff",
        "a dramatic, high-stakes tense moment",
    ]),
    _c("suspense", 0.286, 0.775, ["anticipation", "fear"], [
        "suspense: waiting to see what will happen next",
        "a thriller, the clock ticking down",
        "creeping slowly toward the door, not knowing what is behind it",
        "nail-biting suspense and uncertainty",
        "the detective follows the suspect through dark streets",
    ], [
        "a film still of a suspenseful thriller scene",
        "a person slowly opening a door in the dark",
        "a nail-biting moment of suspense",
    ]),
    _c("anger", 0.167, 0.865, ["anger"], [
        "furious anger and rage",
        "shouting in a violent argument",
        "an enraged, hostile fight",
        "he slams his fist on the table in fury",
        "bitter, resentful and angry",
    ], [
        "a film still of an angry person shouting",
        "a violent, furious fight",
        "an enraged, aggressive confrontation",
    ]),
)

NAMES: tuple[str, ...] = tuple(c.name for c in CONCEPTS)
BY_NAME: dict[str, Concept] = {c.name: c for c in CONCEPTS}
COORDS: np.ndarray = np.array([(c.valence, c.arousal) for c in CONCEPTS], np.float64)  # (K, 2)


def concept(name: str) -> Concept:
    return BY_NAME[name]
