"""The editor's cut list instead of detection: a CMX 3600 EDL, an OpenTimelineIO file or Final Cut Pro XML.

Read through OpenTimelineIO and its adapter plugins (``otio-cmx3600-adapter``, ``otio-fcp-adapter``,
``otio-fcpx-xml-adapter``). The cuts are the boundaries between the items of the timeline's first video track,
used exactly; a transition (a dissolve, or a fade where it meets a gap) spans ``[cut - in, cut + out]`` and,
like a detected one, puts its scene boundary at its midpoint. Times count from the start of the timeline: for
an EDL, the record-in of its first event. When the source has a start timecode (a master at 01:00:00:00) and the
edit starts later on that clock, within the film, its times are moved by the difference, so an edit that begins
at 01:00:10:00 on a 01:00:00:00 master cuts 10 s in; an edit counted from zero is read from the film's start.
An EDL stores no frame rate: its timecodes are read at ``rate`` (the video's, or ``--edl-rate``).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from mm2music.errors import MediaError
from mm2music.media.video import check_input_file
from mm2music.types import Analysis, TextSegment, Transition, scenes_from_transitions

log = logging.getLogger(__name__)

FORMATS = {".edl": "cmx_3600", ".otio": "otio_json", ".xml": "fcp_xml", ".fcpxml": "fcpx_xml"}


@dataclass(frozen=True)
class EditList:
    """The cuts of an edit: ``transitions`` in seconds from the timeline's start, ``duration`` its length (s)."""

    path: str
    format: str  # the OpenTimelineIO adapter that read it: cmx_3600, otio_json, fcp_xml, fcpx_xml
    rate: float  # frames per second of its timecodes
    duration: float
    events: int  # clips and gaps on the video track
    transitions: tuple[Transition, ...]
    start: float = 0.0  # timecode of its first record frame, seconds since 00:00:00:00
    offset: float = 0.0  # seconds its times were moved to line up with the source's start timecode

    def to_json(self) -> dict:
        """What ``analysis.json`` records under ``cuts_from``."""
        return {"path": self.path, "format": self.format, "rate": round(self.rate, 6), "duration": round(self.duration, 6),
                "events": self.events, "cuts": len(self.transitions), "start": round(self.start, 6), "offset": round(self.offset, 6)}


def read_edit_list(path: str | Path, rate: float | None = None, video_fps: float | None = None,
                   video_duration: float | None = None, source_start: float | None = None) -> EditList:
    """Read the cuts of ``path``. ``rate`` (``--edl-rate``) or else ``video_fps`` gives an EDL's frame rate;
    with ``video_duration``, an edit that runs past the video's end (by more than half a frame) is refused.
    ``source_start``: the video's start timecode in seconds since 00:00:00:00 (see the module's docstring)."""
    import opentimelineio as otio

    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise MediaError(f"--cuts-from '{path}' is not an edit list this reads ({path.suffix or 'no extension'}); "
                         f"export a CMX 3600 .edl, an OpenTimelineIO .otio or Final Cut Pro .xml/.fcpxml")
    if not os.path.lexists(path):
        raise MediaError(f"--cuts-from '{path}' does not exist; give the path of the editor's EDL, .otio or FCP XML file")
    check_input_file(path, "--cuts-from")  # a pipe, a device, a folder: named as what it is
    if rate is not None and not rate > 0:
        raise MediaError(f"--edl-rate {rate} is not a frame rate; pass the EDL's frames per second, e.g. 24, 25 or 29.97")
    kwargs: dict = {}
    if fmt == "cmx_3600":
        edl_rate = rate or video_fps
        if not edl_rate or edl_rate <= 0:
            raise MediaError(f"the EDL '{path.name}' stores no frame rate and there is no video to take it from; "
                             "pass --edl-rate FPS (e.g. 24, 25 or 29.97)")
        kwargs["rate"] = float(edl_rate)
    try:
        timeline = otio.adapters.read_from_file(str(path), adapter_name=fmt, **kwargs)
    except Exception as exc:  # each adapter raises its own kinds (parse errors, KeyError, XML errors, ...)
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        if "overlapping" in first.lower():
            raise MediaError(f"the edit list '{path.name}' has overlapping events on its video track ({first}); "
                             "remove or trim the overlapping event and export it again") from None
        raise MediaError(f"cannot read the edit list '{path.name}' as {fmt} ({type(exc).__name__}: {first}); "
                         "export it again from the editor as a CMX 3600 EDL, .otio or FCP XML") from None
    return _edit_list(timeline, path, fmt, video_fps, video_duration, source_start)


def _record_start(timeline, track) -> float:
    """Seconds since 00:00:00:00 of the edit's first record frame: the EDL reader keeps it as the track's negative
    start, the other formats as the timeline's global start time."""
    if track.source_range is not None and track.source_range.start_time.value < 0:
        return -track.source_range.start_time.to_seconds()
    start = timeline.global_start_time
    return start.to_seconds() if start is not None else 0.0


def _edit_list(timeline, path: Path, fmt: str, video_fps: float | None, video_duration: float | None,
               source_start: float | None = None) -> EditList:
    import opentimelineio as otio

    if isinstance(timeline, otio.schema.SerializableCollection):  # FCP XML may hold several sequences
        timelines = list(timeline.find_children(descended_from_type=otio.schema.Timeline, shallow_search=True))
        if not timelines:
            raise MediaError(f"the edit list '{path.name}' holds no sequence; export the edited sequence itself")
        timeline = timelines[0]
    tracks = list(timeline.video_tracks())
    if not tracks or not any(not isinstance(c, otio.schema.Transition) for c in tracks[0]):
        raise MediaError(f"the edit list '{path.name}' has no video track with events; export the picture edit (V1)")
    if len(tracks) > 1:
        log.info("%s has %d video tracks; the cuts come from the first", path.name, len(tracks))
    track = tracks[0]
    items = [c for c in track if not isinstance(c, otio.schema.Transition)]
    for n, item in enumerate(items, 1):
        if item.duration().value <= 0:  # an event whose out point precedes its in point: the cuts would run backwards
            name = f"event {item.name}" if item.name else f"item {n}"
            raise MediaError(f"{name} of the edit list '{path.name}' ends before it starts ({item.duration().to_seconds():g} s long); "
                             "fix its in and out points in the editor and export it again")
    rate = float(items[0].range_in_parent().duration.rate)
    duration = track.duration().to_seconds()
    fps = video_fps or rate
    start = _record_start(timeline, track)
    offset = 0.0
    if source_start is not None and video_duration is not None and 0.5 / fps < start - source_start < video_duration:
        offset = start - source_start
        log.info("%s starts %.3f s after the video's start timecode: its cuts are moved by that much", path.name, offset)
    duration += offset
    if video_duration is not None and duration > video_duration + 0.5 / fps:
        end = otio.opentime.to_timecode(track.duration(), rate)
        raise MediaError(f"the edit list '{path.name}' runs to {end} ({duration:.3f} s), past the end of the video "
                         f"({video_duration:.3f} s); give the cut list of this video (or the right --edl-rate)")
    at_cut: dict[int, otio.schema.Transition] = {}
    for i, child in enumerate(track):
        if isinstance(child, otio.schema.Transition):
            at_cut[sum(1 for c in list(track)[:i] if not isinstance(c, otio.schema.Transition))] = child
    transitions = []
    for k, item in enumerate(items[1:], start=1):
        cut = item.range_in_parent().start_time.to_seconds() + offset
        tr = at_cut.get(k)
        if tr is None:
            transitions.append(Transition("cut", cut, cut, cut, round(cut * fps)))
            continue
        start, end = cut - tr.in_offset.to_seconds(), cut + tr.out_offset.to_seconds()
        fade = isinstance(items[k - 1], otio.schema.Gap) or isinstance(item, otio.schema.Gap)
        mid = (start + end) / 2
        transitions.append(Transition("fade" if fade else "dissolve", start, end, mid, round(mid * fps)))
    return EditList(str(path), fmt, rate, duration, len(items), tuple(transitions), start, offset)


class EditListCuts:
    """Stands in for a cut detector while the video decodes: sees no frame, returns the editor's cuts."""

    def __init__(self, edit: EditList):
        self.edit = edit

    def update(self, chunk) -> None:
        pass

    def finish(self) -> list[Transition]:
        return list(self.edit.transitions)


def with_edit_list(analysis: Analysis, edit: EditList) -> Analysis:
    """A text or caption analysis re-cut on an edit (a temp-track timeline with no video): its length is the
    edit's, its scenes the edit's shots; a plain text covers it all, caption blocks after its end are dropped."""
    duration = edit.duration
    segments = analysis.segments
    warnings = analysis.warnings
    if analysis.kind == "text":
        segments = tuple(TextSegment(s.text, 0.0, duration) for s in segments)
    else:
        late = [s for s in segments if s.start >= duration]
        if late:
            warnings += (f"{len(late)} caption block(s) start after the edit list ends ({duration:.2f} s) and are ignored",)
        segments = tuple(dataclasses.replace(s, end=min(s.end, duration)) for s in segments if s.start < duration)
    return dataclasses.replace(analysis, duration=duration, scenes=scenes_from_transitions(edit.transitions, duration),
                               transitions=edit.transitions, segments=segments, warnings=warnings,
                               extra={**analysis.extra, "cut_detector": "edit list", "cuts_from": edit.to_json()})
