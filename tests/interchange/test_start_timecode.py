"""Start timecodes: parsing (drop-frame included), the source's tag, the MIDI SMPTE offset."""

import mido
import opentimelineio as otio
import pytest

from mm2music.errors import ConfigError
from mm2music.interchange.timecode import StartTimecode, parse_timecode, probe_timecode, start_timecode, write_midi_offset

NTSC = 30000 / 1001


@pytest.mark.parametrize("text, rate", [("01:00:00:00", 25), ("01:00:00:00", 24), ("01:00:00;00", NTSC), ("00:59:59;29", NTSC),
                                        ("01:10:00;00", NTSC), ("00:01:00;02", NTSC), ("10:00:00:00", NTSC), ("01:00:00;00", 60000 / 1001)])
def test_frames_agree_with_opentimelineio(text, rate):
    start = parse_timecode(text, rate)
    assert start.frame == otio.opentime.from_timecode(text, rate).value
    assert str(start) == text
    later = otio.opentime.RationalTime(start.frame_at(61.3), rate)
    assert start.at(61.3) == otio.opentime.to_timecode(later, rate, start.drop_frame)


def test_samples_since_midnight():
    start = parse_timecode("01:00:00:00", 25)
    assert start.seconds == 3600 and start.samples(48000) == 3600 * 48000 and start.samples(48000, 1.5) == 3601.5 * 48000


@pytest.mark.parametrize("text, rate, match", [
    ("1:00:00", 25, "not a timecode"), ("01:00:00:25", 25, "out of range"), ("01:00:00;00", 25, "drop-frame"),
    ("01:01:00;00", NTSC, "does not exist"), ("25:00:00:00", 25, "out of range")])
def test_bad_timecodes_say_how_to_fix(text, rate, match):
    with pytest.raises(ConfigError, match=match):
        parse_timecode(text, rate)


def test_source_tag_and_override(media_dir):
    from tests.conftest import ffmpeg

    path = media_dir / "tc.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=64x36:r=25:d=1", "-timecode", "01:00:00:00", "-c:v", "libx264", "-preset", "ultrafast", str(path))
    assert probe_timecode(path) == "01:00:00:00"
    assert start_timecode(None, 25, path) == (StartTimecode(90000, 25.0), "source")
    assert start_timecode("00:59:58:00", 25, path)[0].seconds == 3598
    assert start_timecode(None, 25, None)[0].frame == 0


def test_midi_smpte_offset(tmp_path):
    path = tmp_path / "a.mid"
    mid = mido.MidiFile()
    mid.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000)]))
    mid.save(str(path))
    write_midi_offset(path, parse_timecode("01:00:10:12", 25))
    (offset,) = [m for m in mido.MidiFile(str(path)).tracks[0] if m.type == "smpte_offset"]
    assert (offset.frame_rate, offset.hours, offset.minutes, offset.seconds, offset.frames) == (25, 1, 0, 10, 12)
