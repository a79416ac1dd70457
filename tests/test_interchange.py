"""What goes to a composer and a mixer: stems and MusicXML (issue 15), on a text scored over a temp-track edit.

The decoder is the tiny random checkpoint: these tests check lengths, alignment and structure, not music.
"""

import glob

import numpy as np
import opentimelineio as otio
import pretty_midi
import pytest
import soundfile

from mm2music import cli
from mm2music.render.stems import stem_slug
from mm2music.render.synth import DEFAULT_SOUNDFONT

pytestmark = pytest.mark.skipif(not DEFAULT_SOUNDFONT.is_file(), reason="fluid-soundfont-gm is not installed")


def temp_track(path, seconds=(2.5, 2.5, 3.0), rate=24):
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    for i, s in enumerate(seconds):
        track.append(otio.schema.Clip(name=f"shot{i}", source_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(0, rate), otio.opentime.RationalTime(round(s * rate), rate))))
    timeline = otio.schema.Timeline()
    timeline.tracks.append(track)
    otio.adapters.write_to_file(timeline, str(path))
    return path


@pytest.fixture(scope="module")
def scored(tmp_path_factory, tiny_checkpoint):
    root = tmp_path_factory.mktemp("interchange")
    edit = temp_track(root / "temp.otio")
    runs = {}
    for fmt in ("default", "48k24"):
        code = cli.main(["--text", "a chase through the night market", "--cuts-from", str(edit), "--stems-format", fmt,
                         "--key", "E-flat major", "--instruments", "strings,piano,percussion", "--name", fmt, "--mix", "replace",
                         "--checkpoint", str(tiny_checkpoint), "--config", "debug", "--set", "interchange.musicxml=true",
                         "--out", str(root), "-q"])
        assert code == 0
        runs[fmt] = root / fmt
    return runs


def test_one_stem_per_midi_track_as_long_as_the_soundtrack(scored):
    out = scored["default"]
    midi = pretty_midi.PrettyMIDI(str(out / "soundtrack.mid"))
    stems = sorted(glob.glob(str(out / "stems" / "*.wav")))
    assert sorted(p.split("/")[-1] for p in stems) == sorted(f"default_{stem_slug(i.name)}.wav" for i in midi.instruments)
    assert any(i.is_drum for i in midi.instruments) and any(p.endswith("_percussion.wav") for p in stems)
    mix, sr = soundfile.read(str(out / "soundtrack.wav"))
    assert sr == 44100 and len(mix) == round(8.0 * sr)
    total = np.zeros_like(mix)
    for path in stems:
        audio, rate = soundfile.read(path)
        info = soundfile.info(path)
        assert rate == sr and audio.shape == mix.shape and info.subtype == "PCM_16"
        total += audio
    # sample-aligned, scaled like the mix: the stems add up to soundtrack.wav (--mix replace: no ducking)
    residual = total - mix
    assert 20 * np.log10(np.sqrt(np.mean(residual ** 2)) / np.sqrt(np.mean(mix ** 2))) < -40
    assert np.mean(np.abs(residual) <= 16 / 32768) > 0.999  # up to each file's 16-bit rounding and the synths' dither


def test_48k24_stems(scored):
    stems = sorted(glob.glob(str(scored["48k24"] / "stems" / "*.wav")))
    assert stems
    for path in stems:
        info = soundfile.info(path)
        assert (info.samplerate, info.subtype, info.frames) == (48000, "PCM_24", 8 * 48000)


def test_musicxml_parts_keys_meters_tempos_rehearsal_marks(scored):
    from music21 import converter, expressions, key, meter, tempo

    out = scored["default"]
    midi = pretty_midi.PrettyMIDI(str(out / "soundtrack.mid"))
    pitched = [i.name for i in midi.instruments if not i.is_drum]
    score = converter.parse(str(out / "soundtrack.musicxml"))
    assert [p.partName for p in score.parts] == pitched
    plan_cues = __import__("json").loads((out / "plan.json").read_text())["cues"]
    assert len(plan_cues) == 3
    marks = list(score.parts[0].recurse().getElementsByClass(expressions.RehearsalMark))
    assert [m.content for m in marks] == ["1", "2", "3"]
    for part in score.parts:
        keys = list(part.recurse().getElementsByClass(key.KeySignature))
        assert keys and keys[0].sharps == -3  # E-flat major
        assert part.recurse().getElementsByClass(meter.TimeSignature).first().ratioString == plan_cues[0]["meter"]
        assert len(part.recurse().notes) > 0
    qpm = [round(m.number) for m in score.parts[0].recurse().getElementsByClass(tempo.MetronomeMark)]
    assert qpm and qpm[0] == round(plan_cues[0]["tempo_bpm"])
    # notes sit where the MIDI has them (rounded to 1/12 of a quarter)
    first_midi = min(n.start for i in midi.instruments if not i.is_drum for n in i.notes)
    first_xml = min(n.getOffsetInHierarchy(score) for p in score.parts for n in p.recurse().notes)
    assert midi.time_to_tick(first_midi) / midi.resolution == pytest.approx(float(first_xml), abs=1 / 12)
