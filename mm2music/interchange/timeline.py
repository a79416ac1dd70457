"""The score as an editor's timeline: ``soundtrack.otio``, and through OpenTimelineIO's adapters FCP 7 XML
(``soundtrack.xml``), a CMX 3600 EDL (``soundtrack.edl``) and AAF (``soundtrack.aaf``, where ``otio-aaf-adapter``
is installed).

The timeline starts at the source's start timecode. Its first audio track ("Music") holds one clip per cue, each
referencing that cue's own Broadcast WAV (``cues/NN.wav``) whose source timecode is where the clip sits, so
source in equals record in; markers on the clips mark the hit points and the shot cuts a cue catches. One more
audio track per stem holds that stem over the whole film. Clip edges fall on frames: a cue starting at ``t``
seconds starts at frame ``round(t * rate)`` of the picture. Paths in the files are relative to the output
folder (an EDL names the file in a ``FROM CLIP`` comment).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mm2music.interchange.timecode import StartTimecode

log = logging.getLogger(__name__)

FORMATS = {"otio": ("otio_json", "soundtrack.otio"), "fcp_xml": ("fcp_xml", "soundtrack.xml"),
           "edl": ("cmx_3600", "soundtrack.edl"), "aaf": ("AAF", "soundtrack.aaf")}
MUSIC_TRACK = "Music"


@dataclass(frozen=True)
class CueClip:
    """One cue on the timeline: its span in film seconds, its audio file (relative to the output folder), the
    moments inside it to mark (``(film seconds, name, colour)``) and words for the clip's metadata."""

    name: str
    start: float
    end: float
    file: str
    markers: tuple[tuple[float, str, str], ...] = ()
    metadata: dict | None = None


def _rt(frames: int, rate: float):
    import opentimelineio as otio

    return otio.opentime.RationalTime(frames, rate)


def _range(first: int, last: int, rate: float):
    import opentimelineio as otio

    return otio.opentime.TimeRange(_rt(first, rate), _rt(max(1, last - first), rate))


def _clip(name: str, file: str, first: int, last: int, media_first: int, media_last: int, rate: float, metadata: dict | None = None):
    """A clip playing frames ``[first, last)`` of a file whose own timecode runs ``[media_first, media_last)``."""
    import opentimelineio as otio

    ref = otio.schema.ExternalReference(target_url=file, available_range=_range(media_first, media_last, rate))
    ref.name = Path(file).name
    return otio.schema.Clip(name=name, media_reference=ref, source_range=_range(first, last, rate),
                            metadata={"mm2music": metadata} if metadata else {})


def build_timeline(title: str, cues: Sequence[CueClip], start: StartTimecode, duration: float,
                   stems: Sequence[tuple[str, str]] = (), picture: str | None = None):
    """The timeline of a score: a picture track (the scored video, when there is one, else empty), the music
    track (one clip per cue) and one track per ``(name, file)`` stem. Times are film seconds; the timeline's
    ``global_start_time`` is ``start``."""
    import opentimelineio as otio

    rate = start.rate
    end = start.frame_at(duration)
    timeline = otio.schema.Timeline(name=title, global_start_time=_rt(start.frame, rate))
    timeline.metadata["mm2music"] = {"start_timecode": start.to_json(), "duration": round(duration, 6)}
    video = otio.schema.Track(name="Picture", kind=otio.schema.TrackKind.Video)
    if picture:
        video.append(_clip(Path(picture).stem, picture, start.frame, end, start.frame, end, rate))
    music = otio.schema.Track(name=MUSIC_TRACK, kind=otio.schema.TrackKind.Audio)
    for cue in cues:
        first, last = start.frame_at(cue.start), start.frame_at(cue.end)
        if last <= first:
            continue  # shorter than a frame: nothing an editor could place
        clip = _clip(cue.name, cue.file, first, last, first, last, rate, cue.metadata)
        for t, name, colour in cue.markers:
            clip.markers.append(otio.schema.Marker(name=name, color=colour, marked_range=otio.opentime.TimeRange(
                _rt(min(max(start.frame_at(t), first), last - 1), rate), _rt(0, rate))))
        music.append(clip)
    timeline.tracks.extend([video, music])
    for name, file in stems:
        track = otio.schema.Track(name=name, kind=otio.schema.TrackKind.Audio)
        track.append(_clip(name, file, start.frame, end, start.frame, end, rate))
        timeline.tracks.append(track)
    return timeline


def _from_start(timeline):
    """A copy whose tracks begin with a gap as long as the start timecode: the EDL writer counts record
    timecode from zero and ignores ``global_start_time``."""
    import opentimelineio as otio

    out = copy.deepcopy(timeline)
    lead = timeline.global_start_time
    if lead is not None and lead.value > 0:
        for track in out.tracks:
            track.insert(0, otio.schema.Gap(source_range=otio.opentime.TimeRange(_rt(0, lead.rate), lead)))
    return out


def _edl_timeline(timeline):
    """The EDL's view: the music track first (the writer writes the first track's events; audio events are
    ``A``), an empty picture track (the writer wants exactly one), no stems (it takes at most two audio tracks)."""
    import opentimelineio as otio

    out = otio.schema.Timeline(name=timeline.name, global_start_time=timeline.global_start_time)
    music = next(t for t in timeline.tracks if t.name == MUSIC_TRACK)
    out.tracks.append(copy.deepcopy(music))
    out.tracks.append(otio.schema.Track(name="Picture", kind=otio.schema.TrackKind.Video))
    return _from_start(out)


def aaf_available() -> bool:
    import opentimelineio as otio

    return "AAF" in otio.adapters.available_adapter_names()


def write_timelines(timeline, folder: Path, formats: Sequence[str] = ("otio", "fcp_xml", "edl", "aaf")) -> dict[str, str]:
    """Write ``timeline`` into ``folder`` in each of ``formats`` that can be written here; returns
    ``{format: file name}``. AAF is skipped (logged) when its adapter is not installed."""
    import opentimelineio as otio

    written: dict[str, str] = {}
    for fmt in formats:
        adapter, name = FORMATS[fmt]
        if fmt == "aaf" and not aaf_available():
            log.info("otio-aaf-adapter is not installed: no %s", name)
            continue
        if fmt == "edl":
            text = otio.adapters.write_to_string(_edl_timeline(timeline), adapter_name=adapter, rate=timeline.global_start_time.rate)
            (folder / name).write_text(text, encoding="utf-8")
        elif fmt == "aaf":
            # the AAF writer keeps global_start_time as the sequence's start timecode itself
            otio.adapters.write_to_file(timeline, str(folder / name), adapter_name=adapter, use_empty_mob_ids=True)
        else:
            otio.adapters.write_to_file(timeline, str(folder / name), adapter_name=adapter)
        written[fmt] = name
    return written


