"""Themes across a whole film: a leitmotif per recurring character, a theme per returning mood.

A film composer writes a handful of themes and brings them back; the decoder writes a new tune for every new
theme letter (the slow part of composing) and restates an old one cheaply, so the letters decide both the score's
form and its cost. Letters are given in time order:

* **characters**: with captions, a cue whose lines are mostly spoken by one of the film's most recurring speakers
  (``NAME:`` labels, the subtitling convention; :func:`speakers`) takes that character's letter, wherever it falls
  and whatever the mood (the restatement is transformed to fit: :func:`mm2music.arrange.theme.transform_for`);
* **moods**: every other cue joins the earlier mood theme whose first statement it resembles most, when the
  resemblance reaches ``threshold``; otherwise it starts a new one, until ``max_themes`` themes exist: after
  that it joins the nearest mood theme (a long film returns to its moods rather than getting a tune per cue).

Both passes are linear in the number of cues (times the number of themes, a small constant).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Sequence

from mm2music.graph.build import emotion_similarity
from mm2music.types import Emotion, Scene, TextSegment

# A speaker label: at the start of a caption or after a dialogue dash, one to three capitalised words (or an
# all-capitals name such as "THE DOCTOR") and a colon followed by a space.
_LABEL = re.compile(r"(?:^\s*(?:[-\u2013\u2014]\s*)?|(?<=\s)[-\u2013\u2014]\s*)"
                    r"([A-Z][A-Za-z.'\u2019]*(?:[ -][A-Z][A-Za-z.'\u2019]*){0,2})\s*:\s")
NOT_NAMES = frozenset({"NOTE", "WARNING", "PS", "RE", "NB", "EXT", "INT", "NARRATOR"})  # labels that name no character


def speakers(text: str) -> list[str]:
    """The speakers a caption names (``"ANNA: Run!"``, ``"- Anna: Hi. - Tomas: Hey."``), in upper case."""
    names = []
    for match in _LABEL.finditer(text):
        name = " ".join(match.group(1).upper().split())
        if name not in NOT_NAMES and not name.replace(".", "").isdigit():
            names.append(name)
    return names


def scene_speakers(scenes: Sequence[Scene], segments: Sequence[TextSegment]) -> list[Counter[str]]:
    """Per scene, the seconds each named speaker talks in the caption blocks whose middle falls in it (a block
    naming two speakers counts half for each). ``scenes`` tile time in order; ``segments`` may come in any order."""
    starts = [s.start for s in scenes]
    out: list[Counter[str]] = [Counter() for _ in scenes]
    for seg in segments:
        if seg.start is None or not scenes:
            continue
        names = speakers(seg.text)
        if not names:
            continue
        middle = (seg.start + seg.end) / 2
        i = max(0, min(len(scenes) - 1, bisect_left(starts, middle + 1e-9) - 1))
        share = max(seg.end - seg.start, 0.1) / len(names)
        for name in names:
            out[i][name] += share
    return out


def characters(per_scene: Sequence[Counter[str]], most: int, min_scenes: int = 3) -> dict[int, str]:
    """Scene index -> the character whose leitmotif it states: the scene's main speaker (at least half its named
    speaking time), if that speaker is one of the ``most`` speakers leading the most scenes, with at least
    ``min_scenes`` scenes of their own (a name heard once gets no theme)."""
    leads = {i: counts.most_common(1)[0] for i, counts in enumerate(per_scene) if counts}
    leads = {i: name for i, (name, seconds) in leads.items() if seconds >= 0.5 * sum(per_scene[i].values())}
    tally = Counter(leads.values())
    chosen = {name for name, n in sorted(tally.items(), key=lambda kv: (-kv[1], kv[0]))[:max(0, most)] if n >= min_scenes}
    return {i: name for i, name in leads.items() if name in chosen}


def theme_label(k: int) -> str:
    """The ``k``-th theme's letter: A-Z, then T27, T28, ..."""
    return chr(ord("A") + k) if k < 26 else f"T{k + 1}"


def assign_themes(emotions: Sequence[Emotion], threshold: float, owners: dict[int, str] | None = None,
                  max_themes: int = 0) -> tuple[list[str], dict[str, str]]:
    """A theme letter per cue (see the module docstring) and, for each leitmotif's letter, its character.
    ``owners``: cue index -> character (:func:`characters`); ``max_themes``: at most this many themes in all
    (0: no limit), characters first; moods always get at least one."""
    owners = owners or {}
    mood_cap = max(1, max_themes - len(set(owners.values()))) if max_themes else len(emotions) + 1
    letter_of: dict[str, str] = {}  # character -> letter
    moods: list[tuple[str, Emotion]] = []  # (letter, the emotion of its first statement)
    themes: list[str] = []
    count = 0
    for i, e in enumerate(emotions):
        name = owners.get(i)
        if name is not None:
            if name not in letter_of:
                letter_of[name] = theme_label(count)
                count += 1
            themes.append(letter_of[name])
            continue
        sims = [emotion_similarity(e, rep) for _, rep in moods]
        best = max(range(len(sims)), key=sims.__getitem__) if sims else -1
        if best >= 0 and (sims[best] >= threshold or len(moods) >= mood_cap):
            themes.append(moods[best][0])
        else:
            moods.append((theme_label(count), e))
            count += 1
            themes.append(moods[-1][0])
    return themes, {letter: name for name, letter in letter_of.items()}
