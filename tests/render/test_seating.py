"""A real mix: each instrument sits in its orchestral seat in stereo and in a hall; the best installed General MIDI
soundfont is used, loaded once per process."""

import numpy as np
import pytest

from mm2music.arrange.seating import PERCUSSION, seat
from mm2music.errors import RenderError
from mm2music.render import synth as synth_module
from mm2music.render.synth import SOUNDFONTS, Synthesizer, default_soundfont, find_soundfont

SR = 22050
pytestmark = pytest.mark.skipif(not any(sf.is_file() for sf in SOUNDFONTS), reason="no General MIDI soundfont (scripts/setup.sh installs them)")


def render(program: int, is_drum: bool = False, pitch: int = 60, reverb: dict | None = synth_module.HALL_REVERB,
           seconds: float = 3.0, note: tuple[float, float] = (0.1, 1.0)) -> np.ndarray:
    s = Synthesizer(int(seconds * SR), sample_rate=SR, reverb=reverb)
    try:
        place = seat(program, is_drum)
        s.add([(note[0], note[1], pitch, 100)], program, is_drum, pan=place.pan_cc, reverb=place.reverb_cc)
        return s.finish()
    finally:
        s.close()


def balance_db(audio: np.ndarray) -> float:
    """Left/right energy, dB (+ = left)."""
    e = (audio.astype(np.float64) ** 2).sum(axis=0)
    return float(10 * np.log10(e[0] / e[1]))


def test_the_seating_plan_is_an_orchestras():
    violins, violas, cellos, basses = (seat(p) for p in (40, 41, 42, 43))
    assert violins.pan < 0 < violas.pan < cellos.pan < basses.pan  # violins left, the low strings to the right
    assert seat(60).pan < 0 < seat(57).pan  # horns left, trombones right
    assert seat(0, True) == PERCUSSION and PERCUSSION.pan == 0 and seat(47).depth > seat(40).depth  # percussion at the back
    assert seat(57).reverb_cc > seat(40).reverb_cc  # the back of the stage takes more of the hall
    assert seat(127).pan == 0  # an unknown program sits in the centre
    assert all(0 <= seat(p).pan_cc <= 127 and 40 <= seat(p).reverb_cc <= 90 for p in range(128))


def test_violins_sound_left_basses_right_drums_centre():
    assert balance_db(render(40, pitch=76)) > 3.0
    assert balance_db(render(43, pitch=40)) < -3.0
    assert abs(balance_db(render(0, True, pitch=38))) < 1.5


def test_the_hall_rings_after_the_note():
    hall = render(40, pitch=76, note=(0.1, 0.3))
    dry = render(40, pitch=76, note=(0.1, 0.3), reverb=None)
    tail = slice(int(0.9 * SR), int(1.6 * SR))  # after the release has died away
    assert (hall[tail] ** 2).sum() > 10 * (dry[tail] ** 2).sum()


def test_musescore_general_by_default_fluidr3_as_fallback(monkeypatch, tmp_path):
    first = next((sf for sf in SOUNDFONTS if sf.is_file()))
    assert default_soundfont() == first == find_soundfont(None)
    monkeypatch.setattr(synth_module, "SOUNDFONTS", (tmp_path / "missing.sf3", SOUNDFONTS[-1]))
    assert default_soundfont() == SOUNDFONTS[-1]
    monkeypatch.setattr(synth_module, "SOUNDFONTS", (tmp_path / "a.sf3", tmp_path / "b.sf2"))
    with pytest.raises(RenderError, match="no General MIDI soundfont found .* musescore-general-soundfont or fluid-soundfont-gm"):
        find_soundfont(None)


def test_the_soundfont_stays_loaded_for_the_process():
    render(40)
    held = dict(synth_module._RESIDENT)
    assert default_soundfont() in held
    render(42)  # a second synth: the same holder, no second copy
    assert synth_module._RESIDENT == held
