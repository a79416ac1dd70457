"""SMPTE timecodes of the MIDI markers and the cue sheet: non-drop, and drop-frame at 29.97 / 59.94 fps."""

import opentimelineio as otio
import pytest

from mm2music.arrange.timing import is_drop_frame, smpte

NTSC = 30000 / 1001


@pytest.mark.parametrize("frame, expected", [
    (0, "00:00:00;00"), (1799, "00:00:59;29"), (1800, "00:01:00;02"), (1801, "00:01:00;03"),
    (3597, "00:01:59;29"), (3598, "00:02:00;02"), (17981, "00:09:59;29"), (17982, "00:10:00;00"),
    (17983, "00:10:00;01"), (19782, "00:11:00;02"), (107892, "01:00:00;00"),
])
def test_drop_frame_2997_known_values(frame, expected):
    assert smpte(frame / NTSC, NTSC) == expected
    assert smpte(frame / 29.97, 29.97) == expected  # a rounded rate in a file header means the same


def test_drop_frame_5994_and_non_drop():
    assert smpte(3600 / (2 * NTSC), 2 * NTSC) == "00:01:00;04" and smpte(35964 / (2 * NTSC), 2 * NTSC) == "00:10:00;00"
    assert smpte(3600.0, 25) == "01:00:00:00" and smpte(61.5, 24) == "00:01:01:12" and smpte(1.0, 30) == "00:00:01:00"
    assert smpte(1800 / 23.976, 23.976) == "00:01:15:00"  # 23.976 has no drop-frame: non-drop at 24
    assert is_drop_frame(29.97) and is_drop_frame(59.94) and not is_drop_frame(30) and not is_drop_frame(23.976)


def test_drop_frame_agrees_with_opentimelineio():
    for frame in range(0, 250_000, 997):
        expected = otio.opentime.to_timecode(otio.opentime.RationalTime(frame, NTSC), NTSC,
                                             drop_frame=True)
        assert smpte(frame / NTSC, NTSC) == expected, frame
