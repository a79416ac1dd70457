"""The cue sheet: what plays when, in JSON for tools and Markdown for people."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from mm2music.arrange.compose import CueMusic
from mm2music.arrange.timing import smpte
from mm2music.types import Plan


def cue_sheet(plan: Plan, music: Sequence[CueMusic], cuts: Sequence[float], hits: Sequence[float], sync: dict,
              fps: float, extra: dict | None = None, timecode: Callable[[float], str] | None = None) -> dict:
    """``timecode``: film seconds -> the timecode shown (default: counted from 00:00:00:00 at ``fps``)."""
    timecode = timecode or (lambda t: smpte(t, fps))
    cues = []
    for m in music:
        c = m.cue
        cues.append({
            "start": round(c.start, 4), "end": round(c.end, 4), "timecode": timecode(c.start),
            "key": c.key, "mode": c.mode, "tempo_bpm": round(c.tempo_bpm, 3),
            "ramp_to_bpm": None if c.ramp_to_bpm is None else round(c.ramp_to_bpm, 3), "meter": c.meter, "bars": c.bars,
            "odd_bar": c.odd_bar or None, "figure": c.figure, "intensity": round(c.intensity, 3),
            "caught_cuts": [round(x, 4) for x in c.catches],
            "instruments": list(c.instruments), "theme": c.theme, "dynamics": c.dynamics, "transition": c.transition,
            "cadence": c.cadence, "emotions": {k: round(v, 3) for k, v in c.emotions.items()},
            "valence": round(c.valence, 3), "arousal": round(c.arousal, 3), "merged_scenes": [i + 1 for i in c.merged],
            "generation": dict(m.report),
            "spotting": {"decision": c.spotting or "scored", "reason": c.spotting_reason} if c.spotting or c.spotting_reason else None,
        })
    sheet = {"duration": round(plan.duration, 4), "cues": cues, "cuts": [round(c, 4) for c in cuts],
             "hits": [round(h, 4) for h in hits], "sync": sync, "notes": list(plan.notes)}
    sheet.update(extra or {})
    return sheet


def cue_sheet_markdown(sheet: dict, title: str) -> str:
    lines = [f"# Cue sheet: {title}", "", f"Duration {sheet['duration']:.2f} s, {len(sheet['cues'])} cues.", "",
             "| # | timecode | start | end | key | tempo | meter | bars | texture | intensity | theme | instruments | emotion | caught cuts | into next |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for i, c in enumerate(sheet["cues"], 1):
        mood = ", ".join(sorted(c["emotions"], key=lambda k: -c["emotions"][k])[:2])
        tempo = f"{c['tempo_bpm']:.1f}" + (f" → {c['ramp_to_bpm']:.1f} (last bar)" if c.get("ramp_to_bpm") else "")
        lines.append(f"| {i} | {c['timecode']} | {c['start']:.2f} | {c['end']:.2f} | {c['key']} {c['mode']} | {tempo} | "
                     f"{c['meter']}{' + ' + c['odd_bar'] if c.get('odd_bar') else ''} | {c['bars']} | {c['figure']}, {c['dynamics']} | "
                     f"{c['intensity']:.2f} | {c['theme']} | {', '.join(c['instruments'])} | {mood} | "
                     f"{', '.join(f'{x:.2f}' for x in c['caught_cuts']) or '-'} | {c['transition']} |")
    sync = sheet.get("sync", {})
    lines += ["", f"Sync (measured on the written MIDI): cuts and hits are on bar lines within max {sync.get('max_ms', 0):.3f} ms, "
              f"mean {sync.get('mean_ms', 0):.3f} ms; shot cuts caught inside cues have a note onset within {sync.get('caught_max_ms', 0):.1f} ms."]
    for i, c in enumerate(sheet["cues"], 1):
        if c.get("spotting"):
            lines.append(f"- Cue {i}: {c['spotting']['reason']}")
    for note in sheet.get("notes", []):
        lines.append(f"- {note}")
    if sheet.get("training_data"):
        lines += ["", f"Music model: {sheet['training_data']}."]
    return "\n".join(lines) + "\n"
