"""Assemble the cues into one multi-track MIDI a composer can open in a DAW next to the video.

* a conductor track: the tempo map (a tempo per cue, one step per beat where a last bar ramps into the next
  cue's tempo; each cut is a bar line), time and key signatures, and a
  marker at every cue, cut and hit point, named with its SMPTE timecode;
* one named track per instrument and role ("Melody - Violin"), with its General MIDI program, its seat on the
  stage (pan, CC 10) and its distance (reverb send, CC 91) as the synth plays them (:mod:`~mm2music.arrange.seating`).
"""

from __future__ import annotations

from collections.abc import Sequence

from mm2music.arrange.compose import CueMusic
from mm2music.arrange.realise import Part, realise
from mm2music.arrange.seating import seat
from mm2music.arrange.timing import TICKS_PER_QUARTER, CueTiming, layout, seconds_to_tick, smpte
from mm2music.key import Key
from mm2music.types import Cue

__all__ = ["Part", "build_score", "cue_parts", "hit_ticks", "piano_roll"]


def hit_ticks(i: int, cues: Sequence[Cue], timings: Sequence[CueTiming], hits: Sequence[float]) -> list[int]:
    """Ticks from the start of cue ``i`` of the hit points inside it."""
    cue = cues[i]
    return [seconds_to_tick(h, cues, timings) - timings[i].start_tick for h in hits if cue.start <= h < cue.end]


def cue_parts(music: CueMusic, accents: Sequence[int], last: bool) -> list[Part]:
    """The orchestrated parts of one cue: the decoder's sketch realised in layers (:func:`realise`: melody,
    pad, bass, figure, counter-line, percussion by the cue's figure and intensity), accented on the cue's
    start, its caught cuts and the ``accents`` ticks (hit points). ``last``: the final chord rings to the end."""
    return realise(music, accents, last)


def build_score(music: Sequence[CueMusic], fps: float, cuts: Sequence[float] = (), hits: Sequence[float] = ()):
    """A symusic ``Score`` (480 ticks per quarter) of the whole soundtrack."""
    from symusic import ControlChange, KeySignature, Note, Score, Tempo, TextMeta, TimeSignature, Track

    cues = [m.cue for m in music]
    timings = layout(cues)
    score = Score(TICKS_PER_QUARTER)
    tracks: dict[tuple[str, int, bool], Track] = {}
    previous_meter = None
    for i, (m, t) in enumerate(zip(music, timings)):
        cue = m.cue
        for quarters, qpm in cue.tempo_map():
            score.tempos.append(Tempo(t.start_tick + round(quarters * TICKS_PER_QUARTER), qpm=float(qpm)))
        if cue.meter != previous_meter:
            num, den = (int(x) for x in cue.meter.split("/"))
            score.time_signatures.append(TimeSignature(t.start_tick, num, den))
            previous_meter = cue.meter
        if cue.odd_bar:  # the cue's last bar is of another meter (it fits the scene's length exactly)
            num, den = (int(x) for x in cue.odd_bar.split("/"))
            odd_start = t.start_tick + round(sum(cue.bar_quarters()[:-1]) * TICKS_PER_QUARTER)
            score.time_signatures.append(TimeSignature(odd_start, num, den))
            previous_meter = cue.odd_bar
        pc, mode = Key.of(cue.key, cue.mode)
        sharps = ((pc * 7 + 6) % 12 - 6) if mode == "major" else (((pc + 3) * 7 + 6) % 12 - 6)
        score.key_signatures.append(KeySignature(t.start_tick, sharps, 0 if mode == "major" else 1))
        score.markers.append(TextMeta(t.start_tick, f"Cue {i + 1} {smpte(cue.start, fps)} theme {cue.theme} {cue.key} {cue.mode}"))
        for part in cue_parts(m, hit_ticks(i, cues, timings, hits), last=i == len(music) - 1):
            key = (part.name, part.program, part.is_drum)
            if key not in tracks:
                tracks[key] = Track(name=part.name, program=part.program, is_drum=part.is_drum)
                if part.notes:  # the track's seat, set once before its first note
                    place, first = seat(part.program, part.is_drum), t.start_tick + min(n.start for n in part.notes)
                    tracks[key].controls.extend([ControlChange(first, 10, place.pan_cc), ControlChange(first, 91, place.reverb_cc)])
            if part.notes:  # the cue's dynamic level as expression (CC 11), as the synth plays it
                tracks[key].controls.append(ControlChange(t.start_tick + min(n.start for n in part.notes), 11, part.expression))
            for tick, number, value in part.controls:  # phrasing: swells, vibrato, pedal
                tracks[key].controls.append(ControlChange(t.start_tick + tick, number, value))
            for n in part.notes:
                tracks[key].notes.append(Note(t.start_tick + n.start, n.end - n.start, n.pitch, n.velocity))
    for c in cuts:
        score.markers.append(TextMeta(seconds_to_tick(c, cues, timings), f"Cut {smpte(c, fps)}"))
    for h in hits:
        score.markers.append(TextMeta(seconds_to_tick(h, cues, timings), f"Hit {smpte(h, fps)}"))
    # pitched tracks in order of first appearance, the percussion track last (as a DAW template has it)
    for track in sorted(tracks.values(), key=lambda tr: tr.is_drum):
        score.tracks.append(track)
    score.markers.sort(key=lambda m: m.time)
    return score


def piano_roll(score) -> list[tuple[float, float, int]]:
    """(start s, end s, MIDI pitch) of every pitched note of a :func:`build_score` score, for the timeline."""
    return [(n.time, n.time + n.duration, n.pitch) for track in score.to("second").tracks if not track.is_drum for n in track.notes]
