"""The project folder's store: every edit (revise, undo, --lock, refine) publishes under the output folder's lock
with an atomic swap, so two edits at once never lose one, and a kill at any rename leaves a project that opens at
its previous or its new version (the next command finishes or undoes a half-published one).

Real processes: the races run two mm2music processes at once; the crash tests kill one (``os._exit``, no cleanup,
as SIGKILL) just before or just after its k-th rename."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from mm2music import cli
from mm2music.project import load_project
from tests.conftest import REPO
from tests.test_revise import project, scored  # noqa: F401  (fixtures: a scored three-cue project and a copy of it)
from tests.test_safety import hold_lock

CLI = [sys.executable, str(REPO / "run_pipeline.py")]

# Runs the CLI with every rename counted; exits at once (no cleanup, like a kill) before or after rename K.
KILL_AT_RENAME = r"""
import os, sys
from mm2music import cli, output
k, when, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
if mode == "two-renames":
    output.EXCHANGE = False
count = [0]
def counted(fn):
    def wrapper(*args, **kwargs):
        count[0] += 1
        if count[0] == k and when == "before":
            os._exit(9)
        result = fn(*args, **kwargs)
        if count[0] == k and when == "after":
            os._exit(9)
        return result
    return wrapper
os.rename, os.replace = counted(os.rename), counted(os.replace)
if getattr(output, "_RENAMEAT2", None) is not None:
    output._RENAMEAT2 = counted(output._RENAMEAT2)
code = cli.main(sys.argv[4:])
print(f"renames={count[0]}", flush=True)
sys.exit(code)
"""


def hidden(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def version(folder):
    return json.loads((folder / "project.json").read_text())["version"]


def run_cli(capfd, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capfd.readouterr()
    return code, out, err


# --- one writer at a time -------------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [["--cue", "1", "--tempo", "100"], ["--undo"], ["--cue", "2", "--variations", "1"]])
def test_an_edit_of_a_project_in_use_is_refused_in_one_line(capfd, project, argv):
    before = sorted(p.relative_to(project).as_posix() for p in project.rglob("*"))
    holder = hold_lock(project.parent / ".film.lock")
    try:
        code, _, err = run_cli(capfd, "revise", project, *argv, "-q")
    finally:
        holder.kill()
        holder.wait()
    assert code == 1 and err.count("\n") == 1, err
    assert err.startswith(f"error: project '{project}' is in use by another mm2music run (pid {holder.pid} on ")
    assert sorted(p.relative_to(project).as_posix() for p in project.rglob("*")) == before and version(project) == 1


@pytest.mark.integration
def test_two_real_revises_of_one_project_never_lose_one(project):
    """Both land in sequence (version 3, each change kept), or one is refused in one line and changes nothing."""
    runs = [["--cue", "1", "--tempo", "100"], ["--cue", "3", "--tempo", "140"]]
    procs = [subprocess.Popen([*CLI, "revise", str(project), *argv, "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for argv in runs]
    results = [(p.wait(timeout=300), p.stdout.read(), p.stderr.read()) for p in procs]
    landed = [i for i, (code, _, _) in enumerate(results) if code == 0]
    for code, _, err in results:
        if code != 0:
            assert code == 1 and err.count("\n") == 1 and "is in use by another mm2music run" in err, results
    assert landed, results
    p = load_project(project)
    assert p.version == 1 + len(landed)
    for i in landed:
        cue = (0, 2)[i]
        assert p.cues[cue].pinned.get("tempo") == float(runs[i][3]), results  # every change that said so is kept
    assert len(list((project / "history").iterdir())) == len(landed) and hidden(project.parent) == []


# --- a kill at any rename -------------------------------------------------------------------------------


def killed_at(project, k, when, mode, *argv):
    proc = subprocess.run([sys.executable, "-c", KILL_AT_RENAME, str(k), when, mode, *map(str, argv), "-q"],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    return proc


@pytest.mark.integration
@pytest.mark.parametrize("mode", ["exchange", "two-renames"])
def test_a_kill_at_any_rename_of_a_revise_leaves_a_project(capfd, scored, tmp_path, mode):
    """Each step k of a revise's publish, killed just before and just after: the next command opens the project at
    version 1 or 2 (never 'not a project', never an empty history) and removes what the killed run left."""
    clean = tmp_path / "clean" / "film"
    shutil.copytree(scored, clean)
    proc = killed_at(clean, 0, "never", mode, "revise", clean, "--cue", "2", "--tempo", "90")
    assert proc.returncode == 0, proc.stderr
    renames = int(proc.stdout.strip().splitlines()[-1].split("=")[1])
    assert renames >= 1
    new_cue = json.loads((clean / "cues/02.json").read_text())
    for k in range(1, renames + 1):
        for when in ("before", "after"):
            folder = tmp_path / f"{k}-{when}" / "film"
            shutil.copytree(scored, folder)
            proc = killed_at(folder, k, when, mode, "revise", folder, "--cue", "2", "--tempo", "90")
            assert proc.returncode == 9, (k, when, proc.stderr)
            code, out, err = run_cli(capfd, "revise", folder, "--history")  # the next command: it recovers, then reads
            assert code == 0, (k, when, err)
            v = version(folder)
            assert v in (1, 2), (k, when)
            cue = json.loads((folder / "cues/02.json").read_text())
            if v == 2:
                assert cue == new_cue and (folder / "history/001/project.json").is_file()
            else:
                assert cue == json.loads((scored / "cues/02.json").read_text())
            assert hidden(folder.parent) == [], (k, when)
            code, _, err = run_cli(capfd, "revise", folder, "--cue", "1", "-q")  # and it can be edited on
            assert code == 0, err
            assert version(folder) == v + 1


@pytest.mark.integration
def test_a_kill_at_the_swap_of_an_undo_or_a_lock_rerun_leaves_a_project(capfd, scored, tmp_path, tiny_checkpoint, three_shots):
    cases = {"undo": ["revise", "{folder}", "--undo"],
             "lock": ["--video", three_shots, "--checkpoint", tiny_checkpoint, "--config", "debug", "--out", "{parent}",
                      "--name", "film", "--set", "plan.scene_similarity=1", "--overwrite", "--lock", "1"]}
    for name, argv in cases.items():
        for when in ("before", "after"):
            folder = tmp_path / f"{name}-{when}" / "film"
            shutil.copytree(scored, folder)
            assert run_cli(capfd, "revise", folder, "--cue", "3", "-q")[0] == 0  # version 2, version 1 in history
            args = [str(a).format(folder=folder, parent=folder.parent) for a in argv]
            proc = killed_at(folder, 1, when, "two-renames", *args)
            assert proc.returncode == 9, proc.stderr
            code, _, err = run_cli(capfd, "revise", folder, "--history")
            assert code == 0, (name, when, err)
            # a killed full run keeps what it finished for the same command to resume (.film.resume), nothing else
            assert load_project(folder).cues and [h for h in hidden(folder.parent) if h != ".film.resume"] == []


def test_a_half_published_project_is_restored_not_deleted(capfd, project, tiny_checkpoint, three_shots):
    """What a revise killed between its two renames leaves (only '.film.old-PID' and '.film.partial-*'): the next
    command puts the project back; a full re-run must not delete it either."""
    before = json.loads((project / "project.json").read_text())
    trash = project.with_name(".film.old-4242")
    project.rename(trash)
    (project.parent / ".film.partial-abc").mkdir()
    code, out, err = run_cli(capfd, "revise", project, "--undo", "-q")
    assert code == 1 and "no earlier version" in err  # it opened: version 1 has no history
    assert json.loads((project / "project.json").read_text()) == before and hidden(project.parent) == []
    project.rename(trash)
    code = cli.main(["--video", str(three_shots), "--checkpoint", str(tiny_checkpoint), "--config", "debug",
                     "--out", str(project.parent), "--name", "film", "-q", "--set", "plan.scene_similarity=1", "--overwrite"])
    assert code == 0, capfd.readouterr().err
    assert (project / "history/001/project.json").is_file()  # the re-run replaced the restored project, keeping it
    assert hidden(project.parent) == []


def test_revise_keeps_the_folder_mode_of_the_umask(capfd, project):
    old = os.umask(0o022)
    try:
        assert run_cli(capfd, "revise", project, "--cue", "1", "-q")[0] == 0
    finally:
        os.umask(old)
    assert oct(project.stat().st_mode & 0o777) == oct(0o755)


# --- damaged projects and full disks: one line, nothing lost ---------------------------------------------


def digest(folder):
    import hashlib

    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def edit_plan(folder, **fields):
    plan = json.loads((folder / "plan.json").read_text())
    plan["cues"][1].update(fields)
    (folder / "plan.json").write_text(json.dumps(plan))


DAMAGE = {
    "plan intensity": (lambda f: edit_plan(f, intensity="abc"), "cue 2 intensity 'abc' is not a number"),
    "plan density": (lambda f: edit_plan(f, density=3), "cue 2 density 3 is not a name"),
    "project list": (lambda f: (f / "project.json").write_text("[]"), "project.json holds list, not an object"),
    "project cues": (lambda f: (f / "project.json").write_text('{"format": 1, "cues": "x"}'), "cues is 'x'"),
    "project entry": (lambda f: (f / "project.json").write_text(json.dumps({**json.loads((f / "project.json").read_text()),
                                                                           "cues": [{"file": "../../etc/passwd", "seed": 1}]})),
                      "cue entry 1 is"),
    "mix not numpy": (lambda f: (f / "render/music.npy").write_bytes(b"not numpy at all" * 10), "is not the project's stored music"),
    "mix too short": (lambda f: __import__("numpy").save(f / "render/music.npy", __import__("numpy").zeros((10, 2), "float32")),
                      "holds 10 samples where the project's 396900 were expected"),
    "mix pickled": (lambda f: __import__("numpy").save(f / "render/music.npy", __import__("numpy").array([{}], dtype=object),
                                                      allow_pickle=True), "is not the project's stored music"),
}


@pytest.mark.parametrize("case", DAMAGE)
def test_revise_of_a_damaged_project_is_one_line_and_changes_nothing(capfd, project, case):
    damage, message = DAMAGE[case]
    damage(project)
    before = digest(project)
    code, _, err = run_cli(capfd, "revise", project, "--cue", "2", "--tempo", "100", "-q")
    assert code == 1 and err.startswith("error: ") and err.count("\n") == 1, err
    assert message in err, err
    assert digest(project) == before and hidden(project.parent) == []


@pytest.mark.parametrize("error", [OSError("352800 requested and 128992 written"), OSError(28, "No space left on device")])
def test_revise_on_a_full_disk_is_one_line_and_changes_nothing(capfd, project, monkeypatch, error):
    from mm2music.render import synth

    def full(*args, **kwargs):
        raise error

    monkeypatch.setattr(synth, "write_wav", full)
    before = digest(project)
    code, _, err = run_cli(capfd, "revise", project, "--cue", "2", "-q")
    assert code == 1 and err.count("\n") == 1, err
    assert err.startswith(f"error: cannot write the new version of the project '{project}' (") and "was not changed" in err
    assert digest(project) == before and hidden(project.parent) == []


def test_overwrite_on_a_full_disk_is_one_line_and_leaves_no_lock(capfd, project, monkeypatch, tiny_checkpoint, three_shots):
    from mm2music.render import synth

    def full(fd, data, offset):
        raise OSError(28, "No space left on device")

    def short_write(*args, **kwargs):
        raise OSError("352800 requested and 128992 written")

    monkeypatch.setattr(os, "pwrite", full)
    monkeypatch.setattr(synth, "write_wav", short_write)
    before = digest(project)
    code, _, err = run_cli(capfd, "--video", three_shots, "--checkpoint", tiny_checkpoint, "--config", "debug", "--out",
                           project.parent, "--name", "film", "-q", "--overwrite")
    assert code == 1 and err.count("\n") == 1 and err.startswith(f"error: cannot write the output in '{project}'"), err
    assert digest(project) == before and hidden(project.parent) == []


@pytest.mark.integration
def test_a_real_write_limit_during_revise_is_one_line(project):
    """A real failing write (the file size limit, EFBIG, as a full disk fails a write) in a real process."""
    import resource
    import signal

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))

    before = digest(project)
    proc = subprocess.run([*CLI, "revise", str(project), "--cue", "2", "-q"], capture_output=True, text=True, timeout=300,
                          preexec_fn=limit)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("error: cannot write the new version of the project")
    assert digest(project) == before and hidden(project.parent) == []


# --- one writer of the outputs ---------------------------------------------------------------------------


def test_revise_writes_the_stems_and_musicxml_again(capfd, tmp_path, tiny_checkpoint, three_shots):
    """The full run's writer writes every edit's outputs: the stems and the MusicXML follow the revised cue (they
    were left as the previous version's), and history keeps the previous ones untouched."""
    import numpy as np

    from mm2music.render.synth import read_wav

    code = cli.main(["--video", str(three_shots), "--checkpoint", str(tiny_checkpoint), "--config", "debug", "--out", str(tmp_path),
                     "--name", "film", "-q", "--set", "plan.scene_similarity=1", "--stems-format", "default",
                     "--set", "interchange.musicxml=true"])
    assert code == 0, capfd.readouterr().err
    folder = tmp_path / "film"
    stems = sorted(p.name for p in (folder / "stems").iterdir())
    before = {name: (folder / "stems" / name).read_bytes() for name in stems}
    xml = (folder / "soundtrack.musicxml").read_bytes()
    code, _, err = run_cli(capfd, "revise", folder, "--cue", "2", "--instruments", "brass,piano", "-q")
    assert code == 0, err
    old = folder / "history/001"
    assert {name: (old / "stems" / name).read_bytes() for name in stems} == before  # history untouched
    assert (old / "soundtrack.musicxml").read_bytes() == xml
    after = sorted(p.name for p in (folder / "stems").iterdir())
    assert after and any("brass" in name or "trumpet" in name or "horn" in name or "trombone" in name for name in after), after
    mixed = sum(read_wav(folder / "stems" / name).astype(np.float64) for name in after)
    wav = read_wav(folder / "soundtrack.wav").astype(np.float64)
    assert np.corrcoef(mixed.ravel(), wav.ravel())[0, 1] > 0.9  # the stems add up to the revised soundtrack
    assert (folder / "soundtrack.musicxml").read_bytes() != xml


def test_history_keeps_the_newest_versions_and_reports_their_sizes(capfd, tmp_path, tiny_checkpoint, three_shots):
    code = cli.main(["--video", str(three_shots), "--checkpoint", str(tiny_checkpoint), "--config", "debug", "--out", str(tmp_path),
                     "--name", "film", "-q", "--set", "plan.scene_similarity=1", "--set", "output.keep_versions=2"])
    assert code == 0, capfd.readouterr().err
    folder = tmp_path / "film"
    for cue in (1, 2, 3):
        assert run_cli(capfd, "revise", folder, "--cue", cue, "-q")[0] == 0
    assert sorted(p.name for p in (folder / "history").iterdir()) == ["002", "003"]  # version 1 went first
    code, out, err = run_cli(capfd, "revise", folder, "--history")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("current      version   4") and lines[1].startswith("history/003  version   3")
    assert lines[2].startswith("history/002  version   2") and "its own" in lines[1]
    assert lines[-1].startswith("2 earlier versions kept; ") and lines[-1].endswith(" MB on disk in all")
    assert run_cli(capfd, "revise", folder, "--undo", "-q")[0] == 0 and version(folder) == 3
    assert run_cli(capfd, "revise", folder, "--undo", "-q")[0] == 0 and version(folder) == 2
    code, _, err = run_cli(capfd, "revise", folder, "--undo", "-q")
    assert code == 1 and "no earlier version" in err
    code, _, err = run_cli(capfd, "--text", "calm", "--analyze-only", "--set", "output.keep_versions=-1", "--out", tmp_path, "-q")
    assert code == 1 and "output.keep_versions -1 is out of range" in err
