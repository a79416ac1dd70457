"""--cuts-from: the editor's cuts from CMX 3600 EDL, OpenTimelineIO and FCP XML files, with known cut times."""

import json

import opentimelineio as otio
import pytest

from mm2music import cli
from mm2music.errors import MediaError
from mm2music.media.editlist import read_edit_list

EDL_25 = """TITLE: known cuts
FCM: NON-DROP FRAME

001  AX       V     C        01:00:00:00 01:00:00:20 01:00:00:00 01:00:00:20
* FROM CLIP NAME: one.mov
002  AX       V     C        00:00:10:00 00:00:10:15 01:00:00:20 01:00:01:10
* FROM CLIP NAME: two.mov
003  AX       V     C        00:00:00:00 00:00:00:15 01:00:01:10 01:00:02:00
* FROM CLIP NAME: three.mov
"""  # 25 fps: cuts at frame 20 (0.8 s) and frame 35 (1.4 s); ends at 2.0 s


def _timeline(frames: list[int], rate: float, dissolve_at: int | None = None) -> otio.schema.Timeline:
    """Clips of ``frames`` lengths on one video track; optionally a 10-frame dissolve centred on cut number ``dissolve_at``."""
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    for i, n in enumerate(frames):
        if dissolve_at is not None and i == dissolve_at:
            track.append(otio.schema.Transition(in_offset=otio.opentime.RationalTime(5, rate),
                                                out_offset=otio.opentime.RationalTime(5, rate)))
        ref = otio.schema.ExternalReference(target_url=f"file:///shot{i}.mov",
                                            available_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, rate),
                                                                                    otio.opentime.RationalTime(1000, rate)))
        track.append(otio.schema.Clip(name=f"shot{i}", media_reference=ref,
                                      source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(100, rate),
                                                                           otio.opentime.RationalTime(n, rate))))
    timeline = otio.schema.Timeline(name="edit")
    timeline.tracks.append(track)
    return timeline


def _cuts(edit):
    return [round(t.time, 6) for t in edit.transitions]


def test_edl_cuts_exact_at_the_videos_rate(tmp_path):
    path = tmp_path / "edit.edl"
    path.write_text(EDL_25)
    edit = read_edit_list(path, video_fps=25.0, video_duration=2.0)
    assert _cuts(edit) == [0.8, 1.4] and edit.duration == 2.0 and edit.rate == 25.0 and edit.events == 3
    assert [t.frame for t in edit.transitions] == [20, 35] and {t.kind for t in edit.transitions} == {"cut"}
    # --edl-rate wins over the video's: the same timecodes at 24 fps (source = record, valid at any rate)
    same = tmp_path / "same.edl"
    same.write_text("TITLE: s\n001  AX V C 01:00:00:00 01:00:00:12 01:00:00:00 01:00:00:12\n"
                    "002  AX V C 01:00:00:12 01:00:01:00 01:00:00:12 01:00:01:00\n"
                    "003  AX V C 01:00:01:00 01:00:01:18 01:00:01:00 01:00:01:18\n")
    assert _cuts(read_edit_list(same, video_fps=25.0)) == [0.48, 1.0]
    assert _cuts(read_edit_list(same, rate=24.0, video_fps=25.0)) == [0.5, 1.0]


def test_drop_frame_edl_at_2997(tmp_path):
    path = tmp_path / "df.edl"
    path.write_text("TITLE: df\nFCM: DROP FRAME\n\n"
                    "001  AX V C 01:00:00;00 01:01:00;02 01:00:00;00 01:01:00;02\n"
                    "002  AX V C 01:00:00;00 01:00:10;00 01:01:00;02 01:01:10;02\n")
    (cut,) = read_edit_list(path, video_fps=30000 / 1001).transitions
    assert cut.frame == 1800 and cut.time == pytest.approx(1800 * 1001 / 30000)  # 01:01:00;02 is frame 1800


@pytest.mark.parametrize("suffix, adapter", [(".otio", "otio_json"), (".xml", "fcp_xml"), (".fcpxml", "fcpx_xml")])
def test_otio_and_fcp_xml_cuts(tmp_path, suffix, adapter):
    path = tmp_path / f"edit{suffix}"
    otio.adapters.write_to_file(_timeline([48, 24, 72], 24), str(path), adapter_name=adapter)
    edit = read_edit_list(path, video_fps=24.0, video_duration=6.0)
    assert _cuts(edit) == [2.0, 3.0] and edit.duration == pytest.approx(6.0) and edit.format == adapter


def test_dissolve_spans_its_offsets(tmp_path):
    path = tmp_path / "edit.otio"
    otio.adapters.write_to_file(_timeline([50, 50], 25, dissolve_at=1), str(path))
    (t,) = read_edit_list(path).transitions
    assert (t.kind, t.start, t.time, t.end) == ("dissolve", pytest.approx(1.8), pytest.approx(2.0), pytest.approx(2.2))


def test_refusals_are_one_line(tmp_path):
    edl = tmp_path / "edit.edl"
    edl.write_text(EDL_25)
    with pytest.raises(MediaError, match=r"runs to 00:00:02:00 \(2.000 s\), past the end of the video \(1.500 s\)"):
        read_edit_list(edl, video_fps=25.0, video_duration=1.5)
    with pytest.raises(MediaError, match="stores no frame rate .* pass --edl-rate"):
        read_edit_list(edl)
    with pytest.raises(MediaError, match="--edl-rate 0.0 is not a frame rate"):
        read_edit_list(edl, rate=0.0)
    overlap = tmp_path / "overlap.edl"
    overlap.write_text("TITLE: x\n001  AX V C 01:00:00:00 01:00:03:00 01:00:00:00 01:00:03:00\n"
                       "002  AX V C 00:00:10:00 00:00:13:00 01:00:02:00 01:00:05:00\n")
    with pytest.raises(MediaError, match="has overlapping events on its video track"):
        read_edit_list(overlap, rate=25)
    junk = tmp_path / "junk.xml"
    junk.write_text("<xmeml><sequence>not closed")
    with pytest.raises(MediaError, match="cannot read the edit list 'junk.xml' as fcp_xml"):
        read_edit_list(junk)
    with pytest.raises(MediaError, match="does not exist"):
        read_edit_list(tmp_path / "missing.otio")
    with pytest.raises(MediaError, match="is not an edit list this reads"):
        read_edit_list(tmp_path / "edit.aaf")


def test_cli_uses_the_edit_not_detection(capfd, tmp_path, small_video):
    edl = tmp_path / "edit.edl"
    edl.write_text(EDL_25)
    code = cli.main(["--video", str(small_video), "--cuts-from", str(edl), "--analyze-only", "-q", "--out", str(tmp_path / "o")])
    _, err = capfd.readouterr()
    assert code == 0, err
    data = json.loads((tmp_path / "o" / "small" / "analysis.json").read_text())
    assert data["cuts"] == [0.8, 1.4] and data["cut_detector"] == "edit list"
    assert data["cuts_from"] == {"path": str(edl), "format": "cmx_3600", "rate": 25.0, "duration": 2.0, "events": 3, "cuts": 2,
                                 "start": 3600.0, "offset": 0.0}
    plan = json.loads((tmp_path / "o" / "small" / "plan.json").read_text())
    assert plan["cues"][-1]["end"] == pytest.approx(2.0)


def test_cli_text_on_a_temp_track_timeline(capfd, tmp_path):
    path = tmp_path / "temp.otio"
    otio.adapters.write_to_file(_timeline([120, 96, 144], 24), str(path))  # 5 s, 4 s, 6 s
    code = cli.main(["--text", "a storm at sea, then calm", "--cuts-from", str(path), "--analyze-only", "-q",
                     "--out", str(tmp_path / "o")])
    _, err = capfd.readouterr()
    assert code == 0, err
    data = json.loads((next((tmp_path / "o").iterdir()) / "analysis.json").read_text())
    assert data["duration"] == 15.0 and data["cuts"] == [5.0, 9.0] and data["cuts_from"]["format"] == "otio_json"
    assert [(s["start"], s["end"]) for s in data["scenes"]] == [(0.0, 5.0), (5.0, 9.0), (9.0, 15.0)]


def test_cli_error_for_an_edit_past_the_video(capfd, tmp_path, small_video):
    path = tmp_path / "long.otio"
    otio.adapters.write_to_file(_timeline([50, 50], 25), str(path))  # 4 s edit, 2 s video
    code = cli.main(["--video", str(small_video), "--cuts-from", str(path), "--analyze-only", "-q", "--out", str(tmp_path / "o")])
    _, err = capfd.readouterr()
    assert code == 1 and err.count("\n") == 1 and "past the end of the video" in err
    assert not (tmp_path / "o").exists()
