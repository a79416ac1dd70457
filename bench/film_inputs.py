"""Inputs of ``bench/film.py``: written scene prompts and real texts, each with its valence-arousal quadrant.

Quadrants follow EMOPIA (Hung et al. 2021): Q1 = positive valence, high arousal (joy, triumph); Q2 = negative
valence, high arousal (fear, anger, tension); Q3 = negative valence, low arousal (grief, loneliness);
Q4 = positive valence, low arousal (calm, tenderness).
"""

from __future__ import annotations

from dataclasses import dataclass

QUADRANTS = ("Q1", "Q2", "Q3", "Q4")
QUADRANT_NAMES = {"Q1": "+V +A", "Q2": "-V +A", "Q3": "-V -A", "Q4": "+V -A"}


@dataclass(frozen=True)
class Prompt:
    id: str
    quadrant: str  # Q1..Q4, the intended emotion's quadrant
    text: str
    source: str = "written for this benchmark"
    rating: float | None = None  # human valence rating of a real text, when its source has one


# Scene descriptions a film-maker might type, four per quadrant (written here, fixed: the figures compare runs).
PROMPTS = (
    Prompt("wedding", "Q1", "A wedding party dances in a sunlit garden, guests laughing and cheering as the couple kisses."),
    Prompt("triumph", "Q1", "The team lifts the trophy as the stadium erupts, fireworks and flags everywhere, a glorious victory."),
    Prompt("comic", "Q1", "A clumsy waiter slips on a banana peel and juggles a tower of plates across the busy cafe, everyone laughs."),
    Prompt("carnival", "Q1", "Children run through the carnival at night, riding the carousel while fireworks burst overhead."),
    Prompt("chase", "Q2", "A car chase through the city at night, sirens wailing, tyres screeching, bullets shattering the glass."),
    Prompt("horror", "Q2", "Something crawls in the dark cellar; a scream, the lights die and the door slams shut behind her."),
    Prompt("tension", "Q2", "The bomb's timer ticks down as the agent cuts the wires with trembling hands, sweat on his face."),
    Prompt("mystery", "Q2", "A detective follows footsteps through a fog-bound alley at midnight; someone is watching from the shadows."),
    Prompt("funeral", "Q3", "A funeral in the rain: mourners in black lower the coffin into the grave in silence."),
    Prompt("loneliness", "Q3", "An old man eats dinner alone in his empty apartment; the phone never rings."),
    Prompt("letter", "Q3", "She reads his last letter from the war, again and again, and weeps quietly by the window."),
    Prompt("station", "Q3", "A grey morning at the abandoned railway station; the last train left years ago and nobody came back."),
    Prompt("dawn", "Q4", "Calm dawn over a misty lake, birds waking softly as the first light touches the water."),
    Prompt("love", "Q4", "Two lovers hold each other by the fireplace, whispering tenderly as snow falls outside."),
    Prompt("wonder", "Q4", "A child gazes up at the starry sky while fireflies drift gently over the summer meadow."),
    Prompt("hammock", "Q4", "A lazy afternoon in a hammock under the apple trees, a soft breeze, nothing to do."),
)

# Real texts nobody here wrote, from the vaderSentiment 3.3.2 source distribution on PyPI
# (additional_resources/hutto_ICWSM_2014.tar.gz; Hutto & Gilbert, ICWSM 2014): each snippet's valence is the
# mean of 20 human ratings on -4..+4 (the sign agrees with the quadrant); the arousal half of the quadrant was
# labelled here by reading. "tweets" = tweets_GroundTruth.txt, "nyt" = nytEditorialSnippets_GroundTruth.txt.
_VADER = "vaderSentiment 3.3.2 sdist (PyPI), hutto_ICWSM_2014/{}_GroundTruth.txt id {}"
REAL_TEXTS = tuple(
    Prompt(f"{file}:{rid}", q, text, _VADER.format(file if file == "tweets" else "nytEditorialSnippets", rid), rating)
    for file, rid, rating, q, text in (
        ("tweets", "2873", 3.55, "Q1", "pretty sure i'm the happiest girl in the world right now. @anonymous is performing during CMA fest! YAY YAY YAYA! <3 SO. EXCITED!"),
        ("tweets", "398", 2.79, "Q1", "18 inches of snow tomorrow!!! I am SOOO excited!!! =D"),
        ("tweets", "3446", 2.9, "Q1", "@anonymous HAPPY DANCE!!! So glad it well well. I am THANKFUL for that for @anonymous and you!"),
        ("tweets", "3167", 2.75, "Q1", "Fabulous night! Roaring fire, good food, good drinks and happy conversation. I love a party... Even better at my house!"),
        ("tweets", "157", -3.61, "Q2", "I fucking hate people who have money and think there GOD! FU Bitch set ur damn alarm clock and leave me alone"),
        ("tweets", "3760", -2.35, "Q2", "@anonymous so much rage! My friend isn't around to tell me what I can and can't delete! This isn't his main computer anymore but!!!!"),
        ("tweets", "511", -2.12, "Q2", "suddenly, an overwhelming sense of DOOM...do I panic or take a xanax? Xanax, I think. DOOM is unwarranted, therefore mental."),
        ("nyt", "495_3", -2.6, "Q2", "The war has claimed a million lives, smashed as many limbs, and yet Iranians are told not to ask the reason why."),
        ("tweets", "351", -3.26, "Q3", "My mom is out of the country for my grandmothers funeral and I'm alone. My dad tells me my grandad is in the hospital and they found cancer"),
        ("tweets", "1493", -3.7, "Q3", "The saddest thing I've heard today: A four year old with leukemia. =((("),
        ("tweets", "74", -3.04, "Q3", "ugh. i was doing SO WELL. and since Thursday i've been a crying fucking baby ass mess. suck it depression."),
        ("tweets", "1862", -2.75, "Q3", "Emitting the SAD PATHETIC LONGING energy again. DAMN."),
        ("tweets", "181", 2.99, "Q4", "Today was marvelous, work was peaceful & fun and ended the day with yummy Thai food with some wonderful friends. #lovelife #living"),
        ("tweets", "164", 1.95, "Q4", "Super quiet shift today. The good kind :)"),
        ("tweets", "3422", 2.4, "Q4", "Love where I'm staying at the moment. Is like 70s Gold Coast - no glitz. Beautiful day for a walk on the beach."),
        ("tweets", "3174", 2.3, "Q4", "Love this sanctuary. (@anonymous Samovar Tea Lounge w/ 2 others) http://url_removed"),
    )
)


def quadrant_of(valence: float, arousal: float) -> str:
    """The circumplex quadrant of a (valence, arousal) point (0 counts as positive)."""
    if valence >= 0:
        return "Q1" if arousal >= 0 else "Q4"
    return "Q2" if arousal >= 0 else "Q3"
