"""Spotting: where the music plays, thins or stays out, as a composer and director decide at a spotting session.

* words that ask for silence ("in silence", "silently", "no music", "not a sound") get it: the music stops for
  the caption that says so (for a plain text, for the clause's share of the text's length, at most
  :data:`MAX_SILENCE_S`) and comes back after it;
* with ``auto`` (the default), a cue mostly under dialogue is left unscored and one partly under dialogue is
  scored thinly (pad and bass, softer), the reason written in the cue sheet; ``full`` scores every cue
  whatever the dialogue and the words say.

Speech comes as ``(start s, end s)`` spans, as a voice activity detector reports them (none: no dialogue known).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from mm2music.types import Cue, Plan, TextSegment

SPOTTING = ("auto", "full")
SILENCE = re.compile(r"\b(in silence|silence|silent|silently|no music|without music|not a sound|without a sound|soundless(ly)?)\b", re.I)
MAX_SILENCE_S = 8.0  # a silence asked in a plain text lasts at most this long, then the music comes back
TACET_SPEECH = 0.6  # share of a cue under speech from which it is left unscored
THIN_SPEECH = 0.3  # ... from which it is scored thinly


def silence_spans(segments: Sequence[TextSegment], duration: float) -> list[tuple[float, float]]:
    """Seconds where the words ask for silence: a timed caption's whole span; in an untimed or whole-length text,
    the asking clause's share of the text (by characters), at most :data:`MAX_SILENCE_S` s long."""
    out = []
    for seg in segments:
        start = seg.start if seg.start is not None else 0.0
        end = seg.end if seg.end is not None else duration
        if not SILENCE.search(seg.text):
            continue
        clauses = [m for m in re.finditer(r"[^.!?;:]+[.!?;:]*", seg.text) if m.group().strip()]
        if len(clauses) <= 1 or end - start <= MAX_SILENCE_S:
            out.append((start, end))
            continue
        for m in clauses:
            if SILENCE.search(m.group()):
                a = start + (end - start) * m.start() / len(seg.text)
                b = start + (end - start) * m.end() / len(seg.text)
                out.append((a, min(b, a + MAX_SILENCE_S)))
    return out


def _overlap(spans: Sequence[tuple[float, float]], a: float, b: float) -> float:
    return sum(max(0.0, min(b, e) - max(a, s)) for s, e in spans)


def spot(plan: Plan, segments: Sequence[TextSegment] = (), speech: Sequence[tuple[float, float]] = (),
         mode: str = "auto") -> Plan:
    """The plan with each cue's spotting decided (``Cue.spotting``, ``spotting_reason``, ``silences``)."""
    if mode == "full":
        return plan
    silences = silence_spans(segments, plan.duration)
    cues = []
    for cue in plan.cues:
        share = _overlap(speech, cue.start, cue.end) / (cue.end - cue.start)
        inside = tuple((max(a, cue.start), min(b, cue.end)) for a, b in silences if b > cue.start and a < cue.end)
        changes: dict = {}
        if share >= TACET_SPEECH:
            changes = {"spotting": "tacet", "catches": (),
                       "spotting_reason": f"left unscored: dense dialogue ({share:.0%} of the cue is speech)"}
        elif share >= THIN_SPEECH:
            changes = {"spotting": "thin", "spotting_reason": f"scored thinly under dialogue ({share:.0%} of the cue is speech)"}
        if inside and not changes.get("spotting") == "tacet":
            said = ", ".join(f"{a:.1f}-{b:.1f} s" for a, b in inside)
            changes["silences"] = inside
            reason = changes.get("spotting_reason", "")
            changes["spotting_reason"] = (reason + "; " if reason else "") + f"silence where the words ask for it ({said})"
        cues.append(dataclasses.replace(cue, **changes) if changes else cue)
    return dataclasses.replace(plan, cues=tuple(cues))
