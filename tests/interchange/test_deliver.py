"""A scored film as the editor's timeline: clips at their cues' timecode in every format, Broadcast WAV timecode
on the mix, the stems and each cue's WAV, the start timecode in the cue sheet and the MIDI.

The decoder is the tiny random checkpoint: these tests check placement and files, not music.
"""

import json

import mido
import numpy as np
import opentimelineio as otio
import pytest
import soundfile

from mm2music import cli
from mm2music.interchange.bwf import read_bext
from mm2music.interchange.timecode import probe_timecode
from mm2music.render.synth import DEFAULT_SOUNDFONT
from tests.conftest import ffmpeg

pytestmark = [pytest.mark.integration, pytest.mark.skipif(not DEFAULT_SOUNDFONT.is_file(), reason="fluid-soundfont-gm is not installed")]

FORMATS = {"soundtrack.otio": {}, "soundtrack.xml": {}, "soundtrack.edl": {"rate": 25}, "soundtrack.aaf": {}}


def score(out, name, *args, tiny):
    code = cli.main([*args, "--checkpoint", str(tiny), "--config", "debug", "--set", "interchange.musicxml=false",
                     "--name", name, "--out", str(out), "-q"])
    assert code == 0
    return out / name


@pytest.fixture(scope="module")
def master(tmp_path_factory, tiny_checkpoint):
    """Three shots (cuts at 3 and 6 s) of a master whose timecode starts at 01:00:00:00, scored with a hit."""
    root = tmp_path_factory.mktemp("deliver")
    video = root / "master.mp4"
    ffmpeg("-f", "lavfi", "-t", "3", "-i", "testsrc2=s=160x90:r=25", "-f", "lavfi", "-t", "3", "-i", "mandelbrot=s=160x90:r=25",
           "-f", "lavfi", "-t", "3", "-i", "color=c=navy:s=160x90:r=25", "-f", "lavfi", "-t", "9", "-i", "sine=f=330",
           "-filter_complex", "[0:v][1:v][2:v]concat=n=3:v=1[v]", "-map", "[v]", "-map", "3:a", "-timecode", "01:00:00:00",
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(video))
    return score(root, "master", "--video", str(video), "--hits", "4.5", "--set", "plan.scene_similarity=1", tiny=tiny_checkpoint)


def clip_starts(path, **kwargs):
    """(frame since 00:00:00:00, clip) of every clip on the music track of a timeline file, read back by OpenTimelineIO."""
    timeline = otio.adapters.read_from_file(str(path), **kwargs)
    if isinstance(timeline, otio.schema.SerializableCollection):
        timeline = next(iter(timeline.find_children(descended_from_type=otio.schema.Timeline)))
    track = list(timeline.audio_tracks())[0]
    if track.source_range is not None and track.source_range.start_time.value < 0:  # the EDL reader's record start
        origin = -track.source_range.start_time.value
    else:
        origin = timeline.global_start_time.value if timeline.global_start_time is not None else 0
    return [(origin + c.range_in_parent().start_time.value, c) for c in track.find_clips()], timeline


@pytest.mark.parametrize("name", list(FORMATS))
def test_one_clip_per_cue_at_its_timecode(master, name):
    sheet = json.loads((master / "cue_sheet.json").read_text())
    clips, timeline = clip_starts(master / name, **FORMATS[name])
    assert len(clips) == len(sheet["cues"]) >= 3
    for (frame, clip), cue in zip(clips, sheet["cues"]):
        assert abs(frame - (90000 + cue["start"] * 25)) <= 1  # 01:00:00:00 at 25 fps, within one frame
        assert clip.media_reference.target_url.removeprefix("file://").startswith("cues/")
    if name != "soundtrack.edl":  # stems ride along, one track each (the EDL writer takes the music track only)
        stems = sorted(p.name for p in (master / "stems").glob("*.wav"))
        urls = sorted(c.media_reference.target_url.rsplit("/", 1)[-1] for t in list(timeline.audio_tracks())[1:] for c in t.find_clips())
        assert urls == stems


def test_markers_for_hits_and_caught_cuts(master):
    clips, _ = clip_starts(master / "soundtrack.otio")
    marks = [(m.name, m.marked_range.start_time.value) for _, c in clips for m in c.markers]
    assert ("hit 4.50 s", 90000 + round(4.5 * 25)) in marks


def test_broadcast_wav_timecode(master):
    for path in [master / "soundtrack.wav", *(master / "stems").glob("*.wav")]:
        sr = soundfile.info(str(path)).samplerate
        assert read_bext(path).time_reference == 3600 * sr, path.name
    sheet = json.loads((master / "cue_sheet.json").read_text())
    mix, sr = soundfile.read(str(master / "soundtrack.wav"))
    pieces = []
    for i, cue in enumerate(sheet["cues"]):
        path = master / "cues" / f"{i + 1:02d}.wav"
        assert abs(read_bext(path).time_reference - (3600 + cue["start"]) * sr) <= sr / 25
        pieces.append(soundfile.read(str(path))[0])
    assert np.array_equal(np.concatenate(pieces), mix)  # laid end to end, the cue clips play the mix


def test_start_timecode_in_cue_sheet_and_midi(master):
    sheet = json.loads((master / "cue_sheet.json").read_text())
    assert sheet["cues"][0]["timecode"] == "01:00:00:00" and sheet["start_timecode"]["timecode"] == "01:00:00:00"
    (offset,) = [m for m in mido.MidiFile(str(master / "soundtrack.mid")).tracks[0] if m.type == "smpte_offset"]
    assert (offset.hours, offset.minutes, offset.seconds, offset.frames) == (1, 0, 0, 0)
    analysis = json.loads((master / "analysis.json").read_text())
    assert analysis["start_timecode"]["from"] == "source"
    assert probe_timecode(master / "master_scored.mp4") == "01:00:00:00"


def edl(path, start_hour, first=0):
    """A CMX 3600 EDL of the master's three shots from ``first`` s, its record timecode counted from
    ``start_hour``:00:00:00."""
    events = [(first, 3), (3, 6), (6, 9)]
    lines = ["TITLE: master", "FCM: NON-DROP FRAME", ""]
    for n, (a, b) in enumerate(events, 1):
        tc = lambda s, h=start_hour: f"{h:02d}:00:{s:02d}:00"  # noqa: E731
        lines.append(f"{n:03d}  AX       V     C        {tc(a, 1)} {tc(b, 1)} {tc(a)} {tc(b)}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("hour, first", [(1, 0), (0, 0), (1, 1)])
def test_editors_edl_at_one_hour_or_zero_lines_up(master, tmp_path, tiny_checkpoint, hour, first):
    """An edit on the master's clock (01:00:00:00, or one that begins a second in) or counted from zero."""
    video = master.parent / "master.mp4"
    out = score(tmp_path, "edl", "--video", str(video), "--cuts-from", str(edl(tmp_path / "cut.edl", hour, first)),
                "--analyze-only", tiny=tiny_checkpoint)
    analysis = json.loads((out / "analysis.json").read_text())
    assert [round(t["time"], 3) for t in analysis["transitions"]] == [3.0, 6.0]


def test_start_tc_override_and_a_bad_one(tmp_path, tiny_checkpoint, capsys):
    out = score(tmp_path, "text", "--text", "a quiet morning by the sea", "--duration", "6", "--start-tc", "10:00:00:00",
                "--stems-format", "none", tiny=tiny_checkpoint)
    clips, timeline = clip_starts(out / "soundtrack.otio")
    assert timeline.global_start_time.value == 10 * 3600 * 25 and clips[0][0] == 10 * 3600 * 25
    assert read_bext(out / "soundtrack.wav").time_reference == 10 * 3600 * 44100
    capsys.readouterr()
    code = cli.main(["--text", "x", "--start-tc", "10:00", "--out", str(tmp_path), "-q"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and err.startswith("error: --start-tc '10:00' is not a timecode") and "\n" not in err
