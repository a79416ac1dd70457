"""Soundtrack assembly end to end with a tiny decoder (issue 5): timing, outputs, determinism, errors.

The decoder here is a randomly initialised 2-layer model saved as a real checkpoint: these tests check
the assembly (bar lines on cuts, lengths, streams, markers, determinism), not musical quality, which
bench/music.py and the `real` tier measure on the shipped checkpoint.
"""

import json

import pretty_midi
import pytest

from mm2music import cli
from mm2music.arrange.compose import cadence_score, CueMusic
from mm2music.arrange.realise import realise
from mm2music.arrange.orchestrate import NoteEvent, split_voices
from mm2music.arrange.timing import smpte
from mm2music.render.synth import read_wav
from mm2music.types import Cue
from tests.conftest import REPO, ffmpeg


@pytest.fixture(scope="session")
def cut_video(media_dir):
    """7 s, two shots (cut at 3.0 s), with a tone."""
    path = media_dir / "twoshots.mp4"
    ffmpeg("-f", "lavfi", "-t", "3", "-i", "testsrc2=s=160x90:r=25", "-f", "lavfi", "-t", "4", "-i", "mandelbrot=s=160x90:r=25",
           "-f", "lavfi", "-t", "7", "-i", "sine=f=330", "-filter_complex", "[0:v][1:v]concat=n=2:v=1[v]", "-map", "[v]", "-map", "2:a",
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path))
    return path


def score(capfd, tiny_checkpoint, out, *argv):
    code = cli.main([*argv, "--checkpoint", str(tiny_checkpoint), "--config", "debug", "--out", str(out), "-q"])
    _, err = capfd.readouterr()
    return code, err


def test_video_scored_with_bar_lines_on_cuts(capfd, tmp_path, tiny_checkpoint, cut_video):
    code, err = score(capfd, tiny_checkpoint, tmp_path, "--video", str(cut_video), "--hits", "5.0")
    assert code == 0, err
    out = tmp_path / "twoshots"
    names = {p.name for p in out.iterdir()}
    assert {"soundtrack.mid", "soundtrack.wav", "twoshots_scored.mp4", "cue_sheet.json", "cue_sheet.md", "analysis.json",
            "plan.json", "timeline.png", "concept_graph.graphml"} <= names
    analysis = json.loads((out / "analysis.json").read_text())
    assert analysis["cuts"] == [pytest.approx(3.0, abs=0.021)]
    midi = pretty_midi.PrettyMIDI(str(out / "soundtrack.mid"))
    downbeats = midi.get_downbeats()
    plan = json.loads((out / "plan.json").read_text())
    starts = [c["start"] for c in plan["cues"]]
    caught = [t for c in plan["cues"] for t in c["catches"]]
    onsets = [n.start for inst in midi.instruments for n in inst.notes]
    for t in analysis["cuts"] + [5.0]:
        if t in caught:  # a shot cut inside a scene's cue: caught by a note onset
            assert min(abs(o - t) for o in onsets) < 0.040
        else:  # scene changes and the hit fall on bar lines
            assert any(abs(s - t) < 1e-6 for s in starts) and min(abs(d - t) for d in downbeats) < 0.010
    sheet = json.loads((out / "cue_sheet.json").read_text())
    assert sheet["sync"]["max_ms"] < 10 and sheet["sync"]["caught_max_ms"] < 40 and sheet["hits"] == [5.0]
    assert {"start", "end", "key", "mode", "tempo_bpm", "meter", "bars", "instruments", "theme", "emotions"} <= set(sheet["cues"][0])
    # the music ends with the video: last note released at the end, audio exactly as long
    assert midi.get_end_time() == pytest.approx(analysis["duration"], abs=0.010)
    assert len(read_wav(out / "soundtrack.wav")) / 44100 == pytest.approx(analysis["duration"], abs=0.010)
    # DAW hand-off: named tracks with programs, conductor markers with SMPTE timecodes
    assert all(" - " in inst.name for inst in midi.instruments if not inst.is_drum)
    from symusic import Score
    markers = [m.text for m in Score(str(out / "soundtrack.mid")).markers]
    assert any(m.startswith("Cut 00:00:03:00") for m in markers) and any(m.startswith("Hit 00:00:05:00") for m in markers)
    # the scored video: one video and one audio stream of the clip's length
    assert sheet["muxed"]["streams"] == ["video", "audio"]
    assert sheet["muxed"]["duration"] == pytest.approx(analysis["duration"], abs=0.1)


def test_same_seed_same_music(capfd, tmp_path, tiny_checkpoint, cut_video, asked_openings):
    for name in ("a", "b"):
        code, err = score(capfd, tiny_checkpoint, tmp_path, "--video", str(cut_video), "--name", name, "--seed", "7", "--mix", "replace")
        assert code == 0, err
    assert asked_openings and not any(asked_openings)  # a film's music starts on its first frame
    assert (tmp_path / "a" / "soundtrack.mid").read_bytes() == (tmp_path / "b" / "soundtrack.mid").read_bytes()
    code, err = score(capfd, tiny_checkpoint, tmp_path, "--video", str(cut_video), "--name", "c", "--seed", "8", "--mix", "replace")
    assert (tmp_path / "c" / "soundtrack.mid").read_bytes() != (tmp_path / "a" / "soundtrack.mid").read_bytes()


@pytest.fixture
def asked_openings(monkeypatch):
    """The ``opening`` condition of every decoder request, in order."""
    import mm2music.music.generate as generate

    seen, real = [], generate.generate_tokens

    def spy(model, tokenizer, conditions, *args, **kwargs):
        seen.append(conditions.opening)
        return real(model, tokenizer, conditions, *args, **kwargs)

    monkeypatch.setattr(generate, "generate_tokens", spy)
    return seen


def test_text_and_captions_make_a_theme(capfd, tmp_path, tiny_checkpoint, asked_openings):
    code, err = score(capfd, tiny_checkpoint, tmp_path, "--text", "A quiet walk by the sea", "--duration", "6")
    assert code == 0, err
    assert asked_openings and not any(asked_openings)  # a theme's bars are its period's: no pickup bar
    out = tmp_path / "a-quiet-walk-by-the-sea"
    assert (out / "soundtrack.wav").exists() and not list(out.glob("*.mp4"))
    assert len(read_wav(out / "soundtrack.wav")) / 44100 == pytest.approx(6.0, abs=0.010)
    code, err = score(capfd, tiny_checkpoint, tmp_path, "--captions", str(REPO / "data/samples/story.srt"))
    assert code == 0, err
    sheet = json.loads((tmp_path / "story" / "cue_sheet.json").read_text())
    assert sheet["duration"] == 20.0 and len(sheet["cues"]) >= 3


def test_missing_soundfont_and_checkpoint_errors(capfd, tmp_path, tiny_checkpoint, small_video):
    code, err = score(capfd, tiny_checkpoint, tmp_path, "--video", str(small_video), "--soundfont", str(tmp_path / "none.sf2"))
    assert code == 1 and err.strip().startswith("error: soundfont") and not (tmp_path / "small").exists()
    code = cli.main(["--video", str(small_video), "--checkpoint", str(tmp_path / "nockpt"), "--out", str(tmp_path), "-q"])
    _, err = capfd.readouterr()
    assert code == 1 and "checkpoint" in err and len(err.strip().splitlines()) == 1 and not (tmp_path / "small").exists()


def test_cadence_score_and_release():
    cue = Cue(index=0, start=0, end=4, key="C", mode="major", tempo_bpm=120, meter="4/4", bars=2, density="medium",
              register="middle", dynamics="mf", articulation="legato", instruments=("piano",), texture="homophonic",
              theme="A", transition="", cadence="authentic")
    tonic_end = [NoteEvent(0, 960, 67, 80), NoteEvent(1920, 2400, 48, 80), NoteEvent(1920, 2400, 64, 80), NoteEvent(1920, 2400, 72, 80)]
    dominant_end = [NoteEvent(1920, 2400, 43, 80), NoteEvent(1920, 2400, 71, 80), NoteEvent(1920, 2400, 74, 80)]
    assert cadence_score(tonic_end, 0, "major") == 1.0 and cadence_score(dominant_end, 0, "major") < 0.5
    parts = realise(CueMusic(cue, [], tonic_end, 3840), last=True)  # the final chord rings to the end
    assert parts and all(max(n.end for n in p.notes) == 3840 for p in parts)
    melody, harmony, bass = split_voices(tonic_end)
    assert [n.pitch for n in melody] == [67, 72] and [n.pitch for n in bass] == [48] and [n.pitch for n in harmony] == [64]
    assert smpte(62.52, 25) == "00:01:02:13"
