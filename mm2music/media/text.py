"""Text in: a plain text (``--text`` / ``--text-file``) or timed captions (``--captions`` SRT / WebVTT).

Captions are parsed with the ``srt`` and ``webvtt-py`` libraries. Markup (``<i>``, ``{\\an8}``) is stripped, a VTT
voice tag becomes a speaker label (``<v Anna>`` -> ``Anna:``); blocks with no words left are dropped.
"""

from __future__ import annotations

import html
import io
import logging
import re
from pathlib import Path

from mm2music.checks import MAX_CAPTION_BYTES, MAX_CAPTION_CUES, MAX_TEXT_BYTES
from mm2music.errors import MediaError
from mm2music.media.video import check_input_file
from mm2music.types import TextSegment

log = logging.getLogger(__name__)

_TAG = re.compile(r"<[^>]*>|\{\\[^}]*\}")
_SPACE = re.compile(r"\s+")
_VOICE = re.compile(r"<v(?:\.[^\s>]*)?\s+([^>]+?)\s*>")  # a WebVTT voice span: <v Anna>, <v.loud Fred Smith>


def clean_caption(text: str) -> str:
    """A caption's words without markup; a WebVTT voice (``<v Anna>Run!``) becomes the subtitler's speaker label
    (``Anna: Run!``; a second voice in the block after a dialogue dash), so the speaker is known whichever way the
    captions name it."""
    text = _VOICE.sub(lambda m: f" - {m.group(1)[:1].upper()}{m.group(1)[1:]}: ", text)
    return _SPACE.sub(" ", _TAG.sub(" ", text)).strip().removeprefix("- ")


def read_text_file(path: str | Path, what: str = "text file", limit: int = MAX_TEXT_BYTES) -> str:
    """A UTF-8 text file's content (a BOM is accepted), refused past ``limit`` bytes."""
    p = check_input_file(path, what)
    size = p.stat().st_size
    if size > limit:
        raise MediaError(f"{what} '{p}' is {size:,} bytes, more than the {limit:,} mm2music reads; give a shorter file")
    try:
        return p.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        verb = "are" if what.endswith("s") else "is"  # "captions are", "text file is"
        raise MediaError(
            f"{what} '{p}' {verb} not valid UTF-8 (byte 0x{p.read_bytes()[exc.start]:02x} at offset {exc.start}); "
            f"save {'them' if verb == 'are' else 'it'} as UTF-8 (e.g. iconv -f latin1 -t utf-8)"
        ) from None


def text_segment(text: str, source: str = "--text") -> TextSegment:
    """One untimed segment from a plain text."""
    if len(text.encode("utf-8", "replace")) > MAX_TEXT_BYTES:
        raise MediaError(f"the text given with {source} is longer than {MAX_TEXT_BYTES:,} bytes; give a shorter text")
    cleaned = _SPACE.sub(" ", text).strip()
    if not cleaned:
        raise MediaError(f"the text given with {source} is empty; give some words to score")
    return TextSegment(cleaned)


def _parse_srt(content: str, path: Path) -> list[TextSegment]:
    import srt

    try:
        subs = list(srt.parse(content, ignore_errors=False))
    except (srt.SRTParseError, ValueError) as exc:
        first = str(exc).splitlines()[0][:120]
        raise MediaError(f"captions '{path}' are not valid SRT ({first}); check the numbering and '00:00:01,000 --> 00:00:02,000' lines") from None
    return _timed([(str(sub.index), sub.start.total_seconds(), sub.end.total_seconds(), clean_caption(sub.content)) for sub in subs], path)


def _vtt_seconds(stamp: str) -> float:
    """``'01:02:03.500'`` or ``'02:03.500'`` -> seconds."""
    seconds = 0.0
    for part in stamp.strip().split(":"):
        seconds = seconds * 60 + float(part)
    return seconds


def _parse_vtt(content: str, path: Path) -> list[TextSegment]:
    import webvtt

    try:
        captions = webvtt.from_buffer(io.StringIO(content), strict=True)
    except Exception as exc:  # webvtt-py raises MalformedFileError / MalformedCaptionError
        first = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise MediaError(f"captions '{path}' are not valid WebVTT ({first}); the file must start with 'WEBVTT' and use '00:00:01.000 --> 00:00:02.000' cues") from None
    # start_in_seconds drops the milliseconds; raw_text keeps the voice tags (text drops them); WebVTT text may hold
    # character references (&amp; &lt; &nbsp;)
    return _timed([(cap.identifier or str(i + 1), _vtt_seconds(cap.start), _vtt_seconds(cap.end), html.unescape(clean_caption(cap.raw_text)))
                   for i, cap in enumerate(captions)], path)


def _timed(cues: list[tuple[str, float, float, str]], path: Path) -> list[TextSegment]:
    """(cue id, start s, end s, text) -> segments. A cue that ends before it starts is an error (a typo that would
    silently drop a line); cues with no words are left out."""
    if len(cues) > MAX_CAPTION_CUES:
        raise MediaError(f"captions '{path}' hold {len(cues):,} cues, more than the {MAX_CAPTION_CUES:,} mm2music reads; split the file")
    out = []
    for ident, start, end, text in cues:
        if end < start:
            raise MediaError(f"captions '{path}': cue {ident} ends at {end:.3f} s, before it starts at {start:.3f} s; fix its times")
        if text:
            out.append(TextSegment(text, start, end))
    return out


def read_captions(path: str | Path) -> list[TextSegment]:
    """Timed caption blocks, sorted by start time."""
    p = check_input_file(path, "captions")
    content = read_text_file(p, "captions", MAX_CAPTION_BYTES)
    suffix = p.suffix.lower()
    if suffix == ".vtt" or content.lstrip().startswith("WEBVTT"):
        segments = _parse_vtt(content, p)
    elif suffix == ".srt":
        segments = _parse_srt(content, p)
    else:
        raise MediaError(f"captions '{p}' have an unknown extension '{p.suffix}'; give a .srt or .vtt file")
    if not segments:
        raise MediaError(f"captions '{p}' hold no timed caption with text; check the file")
    unsorted = sum(1 for a, b in zip(segments, segments[1:]) if b.start < a.start)
    ordered = sorted(segments, key=lambda s: (s.start, s.end))
    overlapping = sum(1 for a, b in zip(ordered, ordered[1:]) if b.start < a.end)
    if unsorted:
        log.warning("captions '%s': %d cue(s) start before the cue listed above them; they were put in time order", p.name, unsorted)
    if overlapping:
        log.warning("captions '%s': %d cue(s) start before the previous one ends; each scene starts where its cue starts",
                    p.name, overlapping)
    return ordered
