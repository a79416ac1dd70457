"""Broadcast WAV (EBU Tech 3285): a ``bext`` chunk that tells a DAW where a file belongs on the timeline.

A DAW spots a Broadcast WAV at its ``TimeReference``: the sample count since midnight of its first sample (a
64-bit number at byte 338 of the chunk body). :func:`add_bext` puts the chunk into a WAV that is already written
(soundfile and the stdlib write none), before its ``data`` chunk as most readers expect; the PCM is copied
through in blocks, never held in memory. :class:`BroadcastWavWriter` writes one from the start, a block at a time
(no copy: the stems of a long film are gigabytes).
"""

from __future__ import annotations

import os
import struct
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mm2music.errors import RenderError

BEXT_SIZE = 602  # the fixed part: 256 + 32 + 32 + 10 + 8 + 8 + 2 + 64 + 10 + 180 bytes
TIME_REFERENCE_AT = 338
ORIGINATOR = "mm2music"


@dataclass(frozen=True)
class Bext:
    """What a ``bext`` chunk holds that matters here."""

    description: str
    originator: str
    originator_reference: str
    date: str  # yyyy-mm-dd
    time: str  # hh:mm:ss
    time_reference: int  # samples since midnight
    version: int
    coding_history: str = ""


def bext_chunk(time_reference: int, description: str, originator: str = ORIGINATOR, reference: str = "",
               coding_history: str = "") -> bytes:
    """A whole ``bext`` chunk (id, size, body; version 1: no loudness fields), padded to an even length."""
    if time_reference < 0:
        raise RenderError(f"Broadcast WAV time reference {time_reference} is negative; the start timecode must be 00:00:00:00 or later")
    now = time.gmtime()
    body = b"".join([
        _text(description, 256), _text(originator, 32), _text(reference, 32),
        time.strftime("%Y-%m-%d", now).encode(), time.strftime("%H:%M:%S", now).encode(),
        struct.pack("<QH", time_reference, 1), bytes(64 + 10 + 180), coding_history.encode("ascii", "replace"),
    ])
    return b"bext" + struct.pack("<I", len(body)) + body + (b"\0" if len(body) % 2 else b"")


def _text(value: str, size: int) -> bytes:
    return value.encode("ascii", "replace")[:size].ljust(size, b"\0")


def _chunks(fh) -> list[tuple[bytes, int, int]]:
    """``(id, body offset, body size)`` of every chunk of an open RIFF/WAVE file."""
    head = fh.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise RenderError(f"'{fh.name}' is not a RIFF WAVE file; Broadcast WAV needs a plain .wav")
    out, end = [], os.fstat(fh.fileno()).st_size
    pos = 12
    while pos + 8 <= end:
        fh.seek(pos)
        cid, size = struct.unpack("<4sI", fh.read(8))
        out.append((cid, pos + 8, size))
        pos += 8 + size + (size & 1)
    return out


def add_bext(path: str | Path, time_reference: int, description: str, originator: str = ORIGINATOR, reference: str = "") -> None:
    """Give the WAV at ``path`` a ``bext`` chunk (replacing any), written just before its ``data`` chunk."""
    path = Path(path)
    chunk = bext_chunk(time_reference, description, originator, reference)
    tmp = path.with_name(f".{path.name}.bext")
    with open(path, "rb") as src:
        chunks = [c for c in _chunks(src) if c[0] != b"bext"]
        if not any(c[0] == b"data" for c in chunks):
            raise RenderError(f"'{path}' has no data chunk; it is not a complete WAV file")
        size = 4 + len(chunk) + sum(8 + s + (s & 1) for _, _, s in chunks)
        if size > 0xFFFFFFFF:
            raise RenderError(f"'{path}' is too long for a RIFF WAV with a bext chunk ({size} bytes)")
        try:
            with open(tmp, "wb") as dst:
                dst.write(b"RIFF" + struct.pack("<I", size) + b"WAVE")
                for cid, offset, length in chunks:
                    if cid == b"data":
                        dst.write(chunk)
                    src.seek(offset - 8)
                    _copy(src, dst, 8 + length + (length & 1))
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)


def _copy(src, dst, n: int, block: int = 1 << 22) -> None:
    while n > 0:
        data = src.read(min(block, n))
        if not data:
            raise RenderError(f"'{src.name}' ends inside a chunk; it is truncated")
        dst.write(data)
        n -= len(data)


def read_bext(path: str | Path) -> Bext | None:
    """The ``bext`` chunk of a WAV, or None if it has none."""
    with open(path, "rb") as fh:
        for cid, offset, size in _chunks(fh):
            if cid == b"bext":
                fh.seek(offset)
                body = fh.read(size)
                text = lambda a, b: body[a:b].split(b"\0", 1)[0].decode("ascii", "replace")  # noqa: E731
                reference, version = struct.unpack_from("<QH", body, TIME_REFERENCE_AT)
                return Bext(text(0, 256), text(256, 288), text(288, 320), text(320, 330), text(330, 338), reference, version,
                            body[BEXT_SIZE:].split(b"\0", 1)[0].decode("ascii", "replace"))
    return None




PCM_WIDTHS = {"PCM_16": 2, "PCM_24": 3}  # soundfile's subtype names -> bytes per sample


class BroadcastWavWriter:
    """A Broadcast WAV (WAVE_FORMAT_PCM, 16 or 24 bit, as EBU Tech 3285 asks) written a block at a time:
    ``bext``, ``fmt `` and the ``data`` header first, the sizes patched on :meth:`close`. ``write`` takes float
    ``(N, channels)`` audio in [-1, 1] (clipped, rounded to the nearest step). A context manager."""

    def __init__(self, path: str | Path, sample_rate: int, channels: int, subtype: str, time_reference: int, description: str,
                 originator: str = ORIGINATOR, reference: str = ""):
        if subtype not in PCM_WIDTHS:
            raise RenderError(f"Broadcast WAV subtype {subtype!r} is not one of {list(PCM_WIDTHS)}")
        self.path, self.channels, self.width = Path(path), channels, PCM_WIDTHS[subtype]
        block = channels * self.width
        fmt = struct.pack("<HHIIHH", 1, channels, sample_rate, sample_rate * block, block, 8 * self.width)
        self._fh = open(self.path, "wb")
        self._fh.write(b"RIFF\0\0\0\0WAVE" + bext_chunk(time_reference, description, originator, reference)
                       + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data\0\0\0\0")
        self._data_at = self._fh.tell()
        self.frames = 0

    def write(self, audio: np.ndarray) -> None:
        if audio.dtype == np.int16 and self.width == 2:  # PCM samples as they are (a piece of another 16-bit WAV)
            self._fh.write(audio.astype("<i2", copy=False).tobytes())
            self.frames += len(audio.reshape(-1, self.channels))
            return
        audio = np.asarray(audio, dtype=np.float64).reshape(-1, self.channels)
        if self.width == 2:
            pcm = np.rint(np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
        else:
            wide = np.rint(np.clip(audio, -1.0, 1.0) * 8388607.0).astype("<i4")
            pcm = wide.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
        self._fh.write(pcm)
        self.frames += len(audio)

    def close(self) -> None:
        if self._fh.closed:
            return
        size = self.frames * self.channels * self.width
        if size & 1:
            self._fh.write(b"\0")
        end = self._fh.tell()
        if end - 8 > 0xFFFFFFFF:
            self._fh.close()
            raise RenderError(f"'{self.path}' is too long for a RIFF WAV ({end} bytes); write shorter files")
        self._fh.seek(4)
        self._fh.write(struct.pack("<I", end - 8))
        self._fh.seek(self._data_at - 4)
        self._fh.write(struct.pack("<I", size))
        self._fh.close()

    def __enter__(self) -> BroadcastWavWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
