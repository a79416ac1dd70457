"""A killed score resumes: the same command skips the analysis and the cues the killed run finished, and writes
the same music as a run that was never stopped."""

import os
import signal
import subprocess
import sys
import time

import pytest

from mm2music.checks import check_settings
from mm2music.config import load_config
from mm2music.pipeline import Inputs, run
from mm2music.render.synth import DEFAULT_SOUNDFONT
from mm2music.resume import resume_folder

pytestmark = pytest.mark.skipif(not DEFAULT_SOUNDFONT.is_file(), reason="fluid-soundfont-gm is not installed")


def settings(out, tiny, *more):
    return check_settings(load_config("debug", [f"output.out_dir={out}", f"music.checkpoint={tiny}", "plan.scene_similarity=1",
                                                "interchange.musicxml=false", "interchange.stems_format=none", *more]))


class Stop(KeyboardInterrupt):
    pass


def test_interrupted_run_resumes_where_it_stopped(tmp_path, three_shots, tiny_checkpoint):
    clean = run(Inputs(video=str(three_shots)), settings(tmp_path / "clean", tiny_checkpoint), progress=False)
    assert clean.resumed == {"analysis": 0, "cues": 0} and len(clean.plan.cues) >= 3

    def stop_after_two(what):
        if what.startswith("composed cue 2/"):
            raise Stop

    config = settings(tmp_path / "out", tiny_checkpoint)
    with pytest.raises(Stop):
        run(Inputs(video=str(three_shots)), config, progress=False, on_progress=stop_after_two)
    final = tmp_path / "out" / "three"
    assert not final.exists() and sorted(p.name for p in (resume_folder(final) / "cues").iterdir()) == ["01.json", "02.json"]

    again = run(Inputs(video=str(three_shots)), config, progress=False)
    assert again.resumed == {"analysis": 1, "cues": 2}
    assert "decode+cuts+encode" not in again.timings.stages  # the analysis was not run again
    assert not resume_folder(final).exists()
    assert (final / "soundtrack.mid").read_bytes() == (clean.out_dir / "soundtrack.mid").read_bytes()


def test_other_settings_start_afresh(tmp_path, three_shots, tiny_checkpoint):
    config = settings(tmp_path, tiny_checkpoint)
    with pytest.raises(Stop):
        run(Inputs(video=str(three_shots)), config, progress=False, on_progress=lambda w: (_ for _ in ()).throw(Stop) if w.startswith("composed") else None)
    again = run(Inputs(video=str(three_shots)), settings(tmp_path, tiny_checkpoint, "seed=5"), progress=False)
    assert again.resumed == {"analysis": 0, "cues": 0}


@pytest.mark.integration
def test_sigkill_then_the_same_command(tmp_path, three_shots, tiny_checkpoint):
    """A real kill -9 of the command while it composes, then the same command."""
    cmd = [sys.executable, "run_pipeline.py", "--video", str(three_shots), "--config", "debug", "--checkpoint", str(tiny_checkpoint),
           "--set", "plan.scene_similarity=1", "--set", "interchange.stems_format=none", "--out", str(tmp_path), "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = resume_folder(tmp_path / "three") / "cues" / "01.json"
    deadline = time.time() + 120
    while not first.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    if proc.poll() is not None:
        pytest.skip("the run finished before it could be killed")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "three").exists()
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "three" / "soundtrack.wav").exists() and not resume_folder(tmp_path / "three").exists()
