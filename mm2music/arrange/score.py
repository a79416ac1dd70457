"""Assemble the cues into one multi-track MIDI a composer can open in a DAW next to the video.

* a conductor track: one tempo event per cue (so each cut is a bar line), time and key signatures, and a
  marker at every cue, cut and hit point, named with its SMPTE timecode;
* one named track per instrument and role ("Melody - Violin"), with its General MIDI program.
"""

from __future__ import annotations

from collections.abc import Sequence

from mm2music.arrange.compose import CueMusic, end_on_release, percussion_layer
from mm2music.arrange.orchestrate import ROLE_NAMES, role_programs, shape_velocities, split_voices
from mm2music.arrange.timing import TICKS_PER_QUARTER, layout, seconds_to_tick, smpte
from mm2music.graph.keys import parse_key


def _program_name(program: int) -> str:
    import pretty_midi

    return pretty_midi.program_to_instrument_name(program)


def build_score(music: Sequence[CueMusic], fps: float, cuts: Sequence[float] = (), hits: Sequence[float] = ()):
    """A symusic ``Score`` (480 ticks per quarter) of the whole soundtrack."""
    from symusic import KeySignature, Note, Score, Tempo, TextMeta, TimeSignature, Track

    cues = [m.cue for m in music]
    timings = layout(cues)
    score = Score(TICKS_PER_QUARTER)
    tracks: dict[tuple[str, int], Track] = {}
    drums: Track | None = None
    previous_meter = None
    last = len(music) - 1
    for i, (m, t) in enumerate(zip(music, timings)):
        cue = m.cue
        score.tempos.append(Tempo(t.start_tick, qpm=float(cue.tempo_bpm)))
        if cue.meter != previous_meter:
            num, den = (int(x) for x in cue.meter.split("/"))
            score.time_signatures.append(TimeSignature(t.start_tick, num, den))
            previous_meter = cue.meter
        pc, mode = parse_key(f"{cue.key} {cue.mode}")
        sharps = ((pc * 7 + 6) % 12 - 6) if mode == "major" else (((pc + 3) * 7 + 6) % 12 - 6)
        score.key_signatures.append(KeySignature(t.start_tick, sharps, 0 if mode == "major" else 1))
        score.markers.append(TextMeta(t.start_tick, f"Cue {i + 1} {smpte(cue.start, fps)} theme {cue.theme} {cue.key} {cue.mode}"))
        if i == last:
            m = end_on_release(m)
        hit_ticks = [seconds_to_tick(h, cues, timings) - t.start_tick for h in hits if cue.start <= h < cue.end]
        programs = role_programs(cue.instruments)
        for role, notes in enumerate(split_voices(m.notes)):
            if not notes:
                continue
            program = programs[role]
            key = (ROLE_NAMES[role], program)
            if key not in tracks:
                tracks[key] = Track(name=f"{ROLE_NAMES[role]} - {_program_name(program)}", program=program, is_drum=False)
            for n in shape_velocities(notes, cue.dynamics, [0] + hit_ticks):
                tracks[key].notes.append(Note(t.start_tick + n.start, n.end - n.start, n.pitch, n.velocity))
        if "percussion" in cue.instruments:
            if drums is None:
                drums = Track(name="Percussion", program=0, is_drum=True)
            for n in percussion_layer(cue, m.length_ticks, hit_ticks):
                drums.notes.append(Note(t.start_tick + n.start, n.end - n.start, n.pitch, n.velocity))
    for c in cuts:
        score.markers.append(TextMeta(seconds_to_tick(c, cues, timings), f"Cut {smpte(c, fps)}"))
    for h in hits:
        score.markers.append(TextMeta(seconds_to_tick(h, cues, timings), f"Hit {smpte(h, fps)}"))
    for track in tracks.values():
        score.tracks.append(track)
    if drums is not None:
        score.tracks.append(drums)
    score.markers.sort(key=lambda m: m.time)
    return score

