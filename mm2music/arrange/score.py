"""Assemble the cues into one multi-track MIDI a composer can open in a DAW next to the video.

* a conductor track: the tempo map (a tempo per cue, one step per beat where a last bar ramps into the next
  cue's tempo; each cut is a bar line), time and key signatures, and a
  marker at every cue, cut and hit point, named with its SMPTE timecode;
* one named track per instrument and role ("Melody - Violin"), with its General MIDI program.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mm2music.arrange.compose import CueMusic, end_on_release, percussion_layer
from mm2music.arrange.orchestrate import ROLE_NAMES, NoteEvent, role_programs, shape_velocities, split_voices
from mm2music.arrange.timing import TICKS_PER_QUARTER, CueTiming, layout, seconds_to_tick, smpte
from mm2music.key import Key
from mm2music.types import Cue


def _program_name(program: int) -> str:
    import pretty_midi

    return pretty_midi.program_to_instrument_name(program)


@dataclass(frozen=True)
class Part:
    """One instrument's notes in one cue (ticks from the cue start), as the MIDI track and the synth get them."""

    name: str  # track name: "Melody - Violin", "Percussion"
    program: int  # General MIDI program (0-based)
    is_drum: bool
    notes: list[NoteEvent]


def hit_ticks(i: int, cues: Sequence[Cue], timings: Sequence[CueTiming], hits: Sequence[float]) -> list[int]:
    """Ticks from the start of cue ``i`` of the hit points inside it."""
    cue = cues[i]
    return [seconds_to_tick(h, cues, timings) - timings[i].start_tick for h in hits if cue.start <= h < cue.end]


def cue_parts(music: CueMusic, accents: Sequence[int], last: bool) -> list[Part]:
    """The orchestrated parts of one cue: the decoder's notes split into melody / harmony / bass on the
    plan's programs with velocities shaped by its dynamics (accents on the downbeat and ``accents`` ticks),
    plus the percussion layer where the plan asks for it. ``last``: the final sonority rings to the end."""
    m = end_on_release(music) if last else music
    cue = m.cue
    programs = role_programs(cue.instruments)
    parts = []
    for role, notes in enumerate(split_voices(m.notes)):
        if notes:
            program = programs[role]
            parts.append(Part(f"{ROLE_NAMES[role]} - {_program_name(program)}", program, False,
                              shape_velocities(notes, cue.dynamics, [0, *accents])))
    if "percussion" in cue.instruments:
        parts.append(Part("Percussion", 0, True, percussion_layer(cue, m.length_ticks, accents)))
    return parts


def build_score(music: Sequence[CueMusic], fps: float, cuts: Sequence[float] = (), hits: Sequence[float] = ()):
    """A symusic ``Score`` (480 ticks per quarter) of the whole soundtrack."""
    from symusic import KeySignature, Note, Score, Tempo, TextMeta, TimeSignature, Track

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
        pc, mode = Key.of(cue.key, cue.mode)
        sharps = ((pc * 7 + 6) % 12 - 6) if mode == "major" else (((pc + 3) * 7 + 6) % 12 - 6)
        score.key_signatures.append(KeySignature(t.start_tick, sharps, 0 if mode == "major" else 1))
        score.markers.append(TextMeta(t.start_tick, f"Cue {i + 1} {smpte(cue.start, fps)} theme {cue.theme} {cue.key} {cue.mode}"))
        for part in cue_parts(m, hit_ticks(i, cues, timings, hits), last=i == len(music) - 1):
            key = (part.name, part.program, part.is_drum)
            if key not in tracks:
                tracks[key] = Track(name=part.name, program=part.program, is_drum=part.is_drum)
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
