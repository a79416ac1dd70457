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
