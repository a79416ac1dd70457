"""The source's start timecode: where the film's frame 0 sits on the editor's and the DAW's clock.

Professional masters start at 01:00:00:00 rather than at zero. The start comes from ``--start-tc`` or else the
source's ``timecode`` tag (ffprobe: the MP4/MOV ``tmcd`` track, MXF, or a stream tag), and is carried into the
cue sheet, the MIDI file's SMPTE offset, the Broadcast WAV ``bext`` chunks and the timeline. Drop-frame
timecode (``HH:MM:SS;FF``) is used at 29.97 and 59.94 fps (SMPTE ST 12-1), as the tag or the rate asks.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from mm2music.arrange.timing import DROP_FRAME_RATES, frames_to_timecode, is_drop_frame
from mm2music.errors import ConfigError

TIMECODE = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})([:;.,])(\d{2})$")


@dataclass(frozen=True)
class StartTimecode:
    """The timecode of a film's first frame: ``frame`` counted from 00:00:00:00 at ``rate`` frames per second."""

    frame: int  # frames since 00:00:00:00 (real frames: drop-frame numbering already removed)
    rate: float  # frames per second (29.97 = 30000/1001)
    drop_frame: bool = False

    def __post_init__(self) -> None:
        if self.frame < 0 or not self.rate > 0:
            raise ConfigError(f"start timecode frame {self.frame} at {self.rate} fps is not a timecode; pass --start-tc HH:MM:SS:FF")
        if self.drop_frame and round(self.rate) not in DROP_FRAME_RATES:
            raise ConfigError(f"drop-frame timecode needs 29.97 or 59.94 fps, not {self.rate:g}; pass --start-tc with ':' before the frames")

    @property
    def seconds(self) -> float:
        """Seconds from 00:00:00:00 to the first frame (what the sample-accurate tools count)."""
        return self.frame / self.rate

    @property
    def nominal(self) -> int:
        """Frame numbers per second on the timecode's face (30 for 29.97)."""
        return max(1, round(self.rate))

    def frame_at(self, seconds: float) -> int:
        """The absolute frame number (since 00:00:00:00) ``seconds`` into the film."""
        return self.frame + round(seconds * self.rate)

    def at(self, seconds: float) -> str:
        """The timecode ``seconds`` into the film: HH:MM:SS:FF, or HH:MM:SS;FF in drop-frame."""
        return frames_to_timecode(self.frame_at(seconds), self.rate, self.drop_frame)

    def __str__(self) -> str:
        return self.at(0.0)

    def samples(self, sample_rate: int, seconds: float = 0.0) -> int:
        """The sample count since midnight of the moment ``seconds`` into the film (Broadcast WAV TimeReference)."""
        return round((self.seconds + seconds) * sample_rate)

    def to_json(self) -> dict:
        return {"timecode": str(self), "frame": self.frame, "rate": self.rate, "drop_frame": self.drop_frame,
                "seconds": round(self.seconds, 6)}

    @classmethod
    def from_json(cls, data: dict) -> StartTimecode:
        return cls(int(data["frame"]), float(data["rate"]), bool(data["drop_frame"]))


ZERO = StartTimecode(0, 25.0)


def parse_timecode(text: str, rate: float, what: str = "--start-tc") -> StartTimecode:
    """``HH:MM:SS:FF`` (or ``;``/``.``/``,`` before the frames: drop-frame) at ``rate`` fps. At 29.97 / 59.94 fps a
    timecode written with ``:`` is read as non-drop, as editors do; the separator decides."""
    m = TIMECODE.match(str(text).strip())
    if not m:
        raise ConfigError(f"{what} {text!r} is not a timecode; write it as HH:MM:SS:FF, e.g. 01:00:00:00 (HH:MM:SS;FF for drop-frame)")
    hh, mm, ss, sep, ff = int(m[1]), int(m[2]), int(m[3]), m[4], int(m[5])
    nominal = max(1, round(rate))
    drop = sep in ";.,"
    if drop and not is_drop_frame(rate):
        raise ConfigError(f"{what} {text} is drop-frame but the picture runs at {rate:g} fps; write it with ':' before the "
                          "frames (drop-frame is only for 29.97 and 59.94 fps)")
    if hh >= 24 or mm >= 60 or ss >= 60 or ff >= nominal:
        raise ConfigError(f"{what} {text} is out of range at {rate:g} fps (hours < 24, minutes and seconds < 60, frames < {nominal}); "
                          "fix the timecode")
    frames = ((hh * 60 + mm) * 60 + ss) * nominal + ff
    if drop:
        skip = DROP_FRAME_RATES[nominal]
        if ss == 0 and ff < skip and mm % 10:
            raise ConfigError(f"{what} {text} does not exist in drop-frame timecode (frames 00-{skip - 1:02d} are skipped at "
                              f"minute {mm}); use {hh:02d}:{mm:02d}:00;{skip:02d}")
        minutes = hh * 60 + mm
        frames -= skip * (minutes - minutes // 10)
    return StartTimecode(frames, float(rate), drop)


def probe_timecode(path: str | Path) -> str | None:
    """The ``timecode`` tag of a media file (the format's, a video stream's or a ``tmcd`` data stream's), or None."""
    cmd = ["ffprobe", "-v", "error", "-print_format", "json", "-show_entries", "format_tags=timecode:stream_tags=timecode", str(path)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    meta = json.loads(proc.stdout or "{}")
    for holder in [meta.get("format") or {}, *(meta.get("streams") or [])]:
        tc = (holder.get("tags") or {}).get("timecode")
        if tc and TIMECODE.match(tc.strip()):
            return tc.strip()
    return None


def start_timecode(override: str | None, rate: float, source: str | Path | None = None) -> tuple[StartTimecode, str]:
    """The film's start timecode at ``rate`` fps and where it came from: ``override`` (``--start-tc``), else the
    ``source`` file's tag, else 00:00:00:00."""
    if override:
        return parse_timecode(override, rate), "--start-tc"
    tag = probe_timecode(source) if source else None
    if tag:
        return parse_timecode(tag, rate, f"the timecode tag of '{Path(str(source)).name}'"), "source"
    return StartTimecode(0, float(rate), is_drop_frame(rate)), "default"


def film_start(extra: dict, override: str | None, rate: float) -> StartTimecode:
    """The start timecode an analysis recorded (``extra["start_timecode"]``), else ``override`` or zero at ``rate``."""
    if "start_timecode" in extra:
        return StartTimecode.from_json(extra["start_timecode"])
    return start_timecode(override, rate)[0]


def write_midi_offset(path: str | Path, start: StartTimecode) -> None:
    """Give a written MIDI file an SMPTE offset meta event (FF 54) at the start of its first track, so that a DAW
    places bar 1 at the film's start timecode. Rates other than 24, 25, 29.97 and 30 are written as the nearest."""
    import mido

    if start.frame == 0:
        return
    midi = mido.MidiFile(str(path))
    nominal = start.nominal if start.nominal in (24, 25, 30) else min((24, 25, 30), key=lambda r: abs(r - start.rate))
    code = 29.97 if start.drop_frame else nominal
    face = start.at(0.0)
    hh, mm, ss, ff = (int(x) for x in re.split(r"[:;]", face))
    ff = min(ff, nominal - 1)
    track = midi.tracks[0]
    track[:] = [m for m in track if m.type != "smpte_offset"]
    track.insert(0, mido.MetaMessage("smpte_offset", frame_rate=code, hours=hh, minutes=mm, seconds=ss, frames=ff, sub_frames=0, time=0))
    midi.save(str(path))
