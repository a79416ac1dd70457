"""A non-editable install: the built wheel in a fresh venv runs `mm2music` from an empty folder (issue 15).

The wheel is built from this checkout (`pip wheel --no-deps --no-build-isolation`, a few seconds) and installed
with `--no-deps` into a new venv created without pip. Its dependencies (6 GB: torch, ...) are not installed
again: a `.pth` line puts the test venv's site-packages on the new venv's path. That folder holds this
checkout's *editable* mm2music only through a `.pth` hook, and `.pth` files of a folder added that way are not
run, so `import mm2music` can only find the copy inside the new venv: nothing can come from the source tree.
"""

import os
import site
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.integration  # builds a wheel and installs it into a fresh venv


def _run(cmd, cwd, env, timeout=300):
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    root = tmp_path_factory.mktemp("install")
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}  # nothing of the checkout
    built = _run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation", "-q",
                  "-w", str(root / "dist")], cwd=root, env=clean)
    assert built.returncode == 0, built.stderr
    (wheel,) = (root / "dist").glob("mm2music-*.whl")
    venv.EnvBuilder(with_pip=False).create(root / "venv")
    python = root / "venv" / "bin" / "python"
    done = _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)],
                cwd=root, env=clean)
    assert done.returncode == 0, done.stderr
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], root, clean)
    deps = site.getsitepackages()  # this (test) venv's: the dependencies
    (Path(purelib.stdout.strip()) / "mm2music-test-deps.pth").write_text("\n".join(deps) + "\n")
    empty = root / "empty"
    empty.mkdir()
    env = dict(clean)
    env.update(HF_HUB_OFFLINE="1", MM2MUSIC_SAMPLE_DIR=str(root / "cache"), PATH=f"{python.parent}:{env.get('PATH', '')}")
    return python.parent, empty, env


def test_installed_package_reads_its_own_data(installed):
    bindir, empty, env = installed
    code = ("import mm2music, json; from mm2music.config import CONFIG_DIR, load_config; "
            "from mm2music.resources import resource_path; DEFAULT_CHECKPOINT = resource_path('music21'); "
            "print(json.dumps([mm2music.__file__, str(CONFIG_DIR), str(DEFAULT_CHECKPOINT), "
            "load_config('debug').music.theme_candidates, sorted(p.name for p in DEFAULT_CHECKPOINT.iterdir()), "
            "resource_path('samples', 'story.srt').read_text().count('-->')]))")
    out = _run([str(bindir / "python"), "-c", code], empty, env)
    assert out.returncode == 0, out.stderr
    import json

    module, configs, checkpoint, candidates, files, blocks = json.loads(out.stdout)
    venv_dir = str(bindir.parent)
    assert module.startswith(venv_dir) and configs.startswith(venv_dir) and checkpoint.startswith(venv_dir)
    assert candidates == 2 and files == ["MODEL_CARD.md", "config.json", "model.safetensors", "probe.json", "tokenizer.json", "training_data.json"] and blocks >= 3


def test_installed_cli_lists_subcommands_from_an_empty_folder(installed):
    bindir, empty, env = installed
    help_ = _run([str(bindir / "mm2music"), "--help"], empty, env)
    assert help_.returncode == 0 and "train " in help_.stdout and "prepare-corpus" in help_.stdout and "studio " in help_.stdout
    for sub in ("train", "prepare-corpus"):
        out = _run([str(bindir / "mm2music"), sub, "--help"], empty, env)
        assert out.returncode == 0 and out.stdout.startswith(f"usage: mm2music {sub}")
    assert not list(empty.iterdir())


def test_installed_studio_serves_its_page(installed):
    """`mm2music studio` from the wheel: says where it listens (127.0.0.1) and serves the page from package data."""
    import urllib.request

    bindir, empty, env = installed
    proc = subprocess.Popen([str(bindir / "mm2music"), "studio", "--port", "0", "--out", "projects"], cwd=empty, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("mm2music studio: serving http://127.0.0.1:"), line + proc.stderr.read()
        url = line.split()[3]
        with urllib.request.urlopen(url, timeout=30) as res:
            assert b"mm2music studio" in res.read()
        with urllib.request.urlopen(url + "static/studio.js", timeout=30) as res:
            assert b"EventSource" in res.read()
        with urllib.request.urlopen(url + "api/projects", timeout=30) as res:
            assert b'"projects":[]' in res.read()
    finally:
        proc.terminate()
        proc.wait(20)
    assert (empty / "projects").is_dir()


@pytest.mark.real
def test_installed_cli_scores_from_an_empty_folder_with_the_shipped_checkpoint(installed):
    """Slow (each run loads torch and a model): a text analysed, then the sample scored end to end."""
    bindir, empty, env = installed
    out = _run([str(bindir / "mm2music"), "--text", "a quiet dawn", "--analyze-only", "--config", "debug", "-q"], empty, env)
    assert out.returncode == 0, out.stderr
    assert (empty / "out" / "a-quiet-dawn" / "plan.json").exists()
    out = _run([str(bindir / "mm2music"), "--out", "scored", "-q"], empty, env, timeout=600)
    assert out.returncode == 0, out.stderr
    assert {"soundtrack.mid", "soundtrack.wav", "sample_scored.mp4", "soundtrack.musicxml"} <= {p.name for p in (empty / "scored" / "sample").iterdir()}
    assert len(list((empty / "scored" / "sample" / "stems").glob("sample_*.wav"))) >= 2


def test_installed_package_ships_the_open_checkpoint_by_name(installed):
    bindir, empty, env = installed
    code = ("import json; from pathlib import Path; from mm2music.checks import check_settings; "
            "from mm2music.config import load_config; "
            "c = check_settings(load_config(None, ['music.checkpoint=music21-open'])); "
            "print(json.dumps([c.music.checkpoint, sorted(p.name for p in Path(c.music.checkpoint).iterdir())]))")
    out = _run([str(bindir / "python"), "-c", code], empty, env)
    assert out.returncode == 0, out.stderr
    import json

    path, files = json.loads(out.stdout)
    assert path.startswith(str(bindir.parent)) and {"config.json", "model.safetensors", "training_data.json"} <= set(files)
