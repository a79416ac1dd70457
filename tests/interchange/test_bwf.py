"""Broadcast WAV: the bext chunk's TimeReference where EBU Tech 3285 puts it, the audio untouched."""

import struct

import numpy as np
import pytest
import soundfile

from mm2music.interchange.bwf import add_bext, read_bext


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24"])
def test_time_reference_at_byte_338_and_audio_kept(tmp_path, subtype):
    path = tmp_path / "a.wav"
    audio = np.random.default_rng(0).uniform(-0.5, 0.5, (4801, 2))
    soundfile.write(str(path), audio, 48000, subtype=subtype)
    before, _ = soundfile.read(str(path))
    add_bext(path, 3600 * 48000, "cue 1", reference="film-cue01")
    raw = path.read_bytes()
    at = raw.index(b"bext") + 8
    assert struct.unpack_from("<Q", raw, at + 338)[0] == 3600 * 48000
    assert raw.index(b"bext") < raw.index(b"data")
    assert struct.unpack_from("<I", raw, 4)[0] == len(raw) - 8
    bext = read_bext(path)
    assert (bext.description, bext.originator, bext.originator_reference, bext.version) == ("cue 1", "mm2music", "film-cue01", 1)
    after, sr = soundfile.read(str(path))
    assert sr == 48000 and np.array_equal(after, before) and soundfile.info(str(path)).subtype == subtype
    add_bext(path, 5, "again")  # replaced, not doubled
    assert path.read_bytes().count(b"bext") == 1 and read_bext(path).time_reference == 5


def test_plain_wav_has_none(tmp_path):
    path = tmp_path / "b.wav"
    soundfile.write(str(path), np.zeros(10), 8000)
    assert read_bext(path) is None


@pytest.mark.parametrize("subtype, full", [("PCM_16", 32767), ("PCM_24", 8388607)])
def test_writer_streams_blocks_with_bext_first(tmp_path, subtype, full):
    from mm2music.interchange.bwf import BroadcastWavWriter

    path = tmp_path / "w.wav"
    audio = np.random.default_rng(1).uniform(-1.2, 1.2, (10_001, 2)).astype(np.float32)
    with BroadcastWavWriter(path, 48000, 2, subtype, 123_456_789_012, "stem") as out:
        for a in range(0, len(audio), 3000):
            out.write(audio[a:a + 3000])
    back, sr = soundfile.read(str(path))
    info = soundfile.info(str(path))
    assert (sr, info.subtype, info.frames) == (48000, subtype, len(audio))
    # full scale = the largest positive step, rounded to the nearest step (a reader divides by the next power of two)
    assert np.abs(back * (full + 1) - np.clip(audio, -1, 1).astype(np.float64) * full).max() <= 0.5 + 1e-6
    raw = path.read_bytes()
    assert raw.index(b"bext") < raw.index(b"fmt ") < raw.index(b"data")
    assert read_bext(path).time_reference == 123_456_789_012
