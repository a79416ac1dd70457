"""Batch scoring (issue 6): folders and manifests, failure isolation, resume, sanitised names, seeds.

Most jobs stop after the analysis (``--analyze-only``): the batch machinery is the point, not the music.
One test scores texts with a tiny random decoder so the full path (MIDI, audio, hashes) runs too.
"""

import json
import os
import sys

import pytest

from mm2music import cli
from mm2music.batch import COMPLETE, Job, checked_name, derived_seed, discover, unique_names
from mm2music.errors import ConfigError, OutputError
from tests.conftest import ffmpeg

FAST = ["--config", "debug", "--encoder", "affect", "-q"]


@pytest.fixture(scope="module")
def clip_folder(tmp_path_factory):
    """Two 2 s clips (one with same-stem captions), a corrupt clip, a text whose stem collides with a clip."""
    d = tmp_path_factory.mktemp("clips")
    for name, src in (("alpha", "testsrc2"), ("beta", "mandelbrot")):
        ffmpeg("-f", "lavfi", "-t", "2", "-i", f"{src}=s=160x90:r=25", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
               str(d / f"{name}.mp4"))
    (d / "alpha.srt").write_text("1\n00:00:00,000 --> 00:00:01,500\nA joyful morning\n", encoding="utf-8")
    (d / "broken.mp4").write_bytes(os.urandom(4000))
    (d / "beta.txt").write_text("A slow, sad farewell at the harbour.\n", encoding="utf-8")
    (d / "notes.md").write_text("ignored\n", encoding="utf-8")
    return d


def batch(capfd, *argv):
    code = cli.main(["--batch", *map(str, argv)])
    out, err = capfd.readouterr()
    return code, out, err


def statuses(out_dir):
    report = json.loads((out_dir / "batch_report.json").read_text(encoding="utf-8"))
    return {j["name"]: j["status"] for j in report["jobs"]}, report


def test_folder_isolates_a_corrupt_clip_and_resumes_after_a_kill(capfd, tmp_path, clip_folder):
    out = tmp_path / "out"
    code, stdout, err = batch(capfd, clip_folder, "--out", out, "--analyze-only", *FAST)
    assert code == 1
    got, report = statuses(out)
    assert got == {"alpha": "done", "beta": "done", "beta-2": "done", "broken": "failed"}
    (failed,) = [j for j in report["jobs"] if j["status"] == "failed"]
    assert "not a readable video" in failed["error"] and "\n" not in failed["error"]
    assert "failed: broken: " in err and "3 done, 0 skipped, 1 failed" in stdout
    assert (out / "batch_report.csv").read_text().splitlines()[0].startswith("name,source,status,seconds")
    analysis = json.loads((out / "alpha" / "analysis.json").read_text())
    assert [s["text"] for s in analysis["segments"]] == ["A joyful morning"]  # same-stem captions attached
    assert json.loads((out / "beta-2" / "analysis.json").read_text())["kind"] == "text"

    # alpha made by an earlier batch with other settings; a kill mid-job; a corrupted output in beta
    marker = json.loads((out / "alpha" / COMPLETE).read_text())
    (out / "alpha" / COMPLETE).write_text(json.dumps({**marker, "fingerprint": "0" * 64}))
    (out / ".alpha.partial-x1y2").mkdir()  # the staging folder a SIGKILL would leave
    (out / ".batch_report.json.k9w3zq").write_text("{")  # ... and a report rewrite it cut short
    (out / ".beta-2.lock").write_text("pid 1 on elsewhere")  # ... and the lock of a job it had just published
    with open(out / "beta" / "plan.json", "a", encoding="utf-8") as f:
        f.write(" ")
    code, _, _ = batch(capfd, clip_folder, "--out", out, "--analyze-only", *FAST)
    assert code == 1
    got, report = statuses(out)
    assert got == {"alpha": "done", "beta": "done", "beta-2": "skipped", "broken": "failed"}
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no staging leftovers
    marker = json.loads((out / "beta" / COMPLETE).read_text())
    assert set(marker["files"]) >= {"analysis.json", "plan.json", "config.json"}

    # a changed override changes the fingerprint: everything that ran is redone
    code, _, _ = batch(capfd, clip_folder, "--out", out, "--analyze-only", *FAST, "--tempo", "90")
    got, _ = statuses(out)
    assert got == {"alpha": "done", "beta": "done", "beta-2": "done", "broken": "failed"}


def test_manifest_relative_paths_overrides_names_and_refusals(capfd, tmp_path, clip_folder):
    d = tmp_path / "project"
    (d / "texts").mkdir(parents=True)
    (d / "texts" / "ode.txt").write_text("A bright celebration with dancing.\n", encoding="utf-8")
    (d / "other").mkdir()
    (d / "other" / "ode.txt").write_text("A quiet night by the sea.\n", encoding="utf-8")
    manifest = d / "jobs.csv"
    manifest.write_text(
        "text_file,text,key,name,seed,set\n"
        "texts/ode.txt,,D minor,,,\n"  # relative to the manifest; key override
        "other/ode.txt,,,,7,plan.tempo=72\n"  # same stem -> ode-2
        ",Morning light,,../escape,,\n"
        ",Morning light,,/tmp/abs,,\n"
        ",Morning light,,a/b,,\n"
        ",Morning light,,.hidden,,\n"
        ",Evening rain,,rain,,\n",
        encoding="utf-8")
    out = tmp_path / "out"
    code, _, err = batch(capfd, manifest, "--out", out, "--analyze-only", *FAST)
    assert code == 1
    got, report = statuses(out)
    assert [j["status"] for j in report["jobs"]] == ["done", "done", "failed", "failed", "failed", "failed", "done"]
    assert list(got)[:2] == ["ode", "ode-2"] and got["rain"] == "done"
    for job in report["jobs"][2:6]:
        assert "could escape or hide in the output folder" in job["error"] and job["source"].startswith("jobs.csv:")
    assert err.count("failed: ") == 4
    assert not (tmp_path / "escape").exists() and not (out / "a").exists()
    cue = json.loads((out / "ode" / "plan.json").read_text())["cues"][0]
    assert (cue["key"], cue["mode"]) == ("D", "minor")
    assert json.loads((out / "ode-2" / "plan.json").read_text())["cues"][0]["tempo_bpm"] == 72
    assert json.loads((out / "ode-2" / "config.json").read_text())["seed"] == 7


def test_manifest_errors_are_one_line(capfd, tmp_path):
    manifest = tmp_path / "jobs.csv"
    manifest.write_text("text,tempi\nhello,90\n", encoding="utf-8")
    code, _, err = batch(capfd, manifest, "--out", tmp_path / "out", *FAST)
    assert code == 1 and err.strip() == "error: jobs.csv:2: unknown column 'tempi'; did you mean 'tempo'?"
    code, _, err = batch(capfd, tmp_path / "missing.csv", "--out", tmp_path / "out", *FAST)
    assert code == 1 and "does not exist" in err
    code, _, err = batch(capfd, manifest, "--video", "x.mp4", *FAST)
    assert code == 1 and "not both" in err


def test_names_are_refused_or_made_unique():
    for bad in ("../x", "/etc", "a/b", "a\\b", ".x", "..", "batch_report.json"):
        with pytest.raises(OutputError, match="job name"):
            checked_name(bad)
    jobs = unique_names([Job(name=n, source="s") for n in ("clip", "Clip", "clip", "clip-2")])
    assert [j.name for j in jobs] == ["clip", "Clip-2", "clip-3", "clip-2-2"]
    with pytest.raises(ConfigError, match="neither a folder nor"):
        discover(__file__)


def test_seeds_come_from_inputs_not_position(clip_folder):
    jobs = discover(clip_folder)
    seeds = {j.source: derived_seed(j, 0) for j in jobs}
    again = {j.source: derived_seed(j, 0) for j in reversed(jobs)}
    assert seeds == again and len(set(seeds.values())) == len(seeds)
    assert derived_seed(Job(name="x", source="s", text="hi", seed=5), 0) == 5
    assert derived_seed(jobs[0], 1) != derived_seed(jobs[0], 0)  # --seed still varies the batch


def test_full_scoring_in_workers_is_deterministic(capfd, tmp_path, tiny_checkpoint):
    """Two identical text rows (same derived seed) score to the same MIDI, in two spawned workers."""
    manifest = tmp_path / "jobs.jsonl"
    rows = [{"text": "A joyful wedding in the sun", "duration": 3}, {"text": "A joyful wedding in the sun", "duration": 3}]
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "out"
    code, stdout, err = batch(capfd, manifest, "--out", out, "--checkpoint", tiny_checkpoint, "--workers", "2", *FAST)
    assert code == 0, err
    got, report = statuses(out)
    assert got == {"a-joyful-wedding-in-the-sun": "done", "a-joyful-wedding-in-the-sun-2": "done"}
    first, second = (out / name / "soundtrack.mid" for name in got)
    assert first.read_bytes() == second.read_bytes()
    assert {"soundtrack.mid", "soundtrack.wav", "cue_sheet.json"} <= set(report["jobs"][0]["files"])
    code, stdout, _ = batch(capfd, manifest, "--out", out, "--checkpoint", tiny_checkpoint, *FAST)
    assert code == 0 and "0 done, 2 skipped, 0 failed" in stdout


@pytest.mark.integration
def test_sigkill_mid_batch_loses_nothing_finished(tmp_path, clip_folder):
    """A real ``kill -9`` during a batch: finished jobs are skipped on re-run, the rest are redone, no leftovers."""
    import shutil
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import REPO

    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        shutil.copy(clip_folder / "alpha.mp4", src / f"c{i}.mp4")
    out = tmp_path / "out"
    cmd = [sys.executable, str(REPO / "run_pipeline.py"), "--batch", str(src), "--out", str(out), "--analyze-only", *FAST]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    def published() -> set[str]:  # a staging folder (.cN.partial-*) holds its record before it takes its name
        return {p.parent.name for p in out.glob(f"*/{COMPLETE}") if not p.parent.name.startswith(".")}

    deadline = time.monotonic() + 60
    while not published() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = published()
    assert finished  # at least one job had completed when it was killed
    code = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    assert code == 0
    got, _ = statuses(out)
    assert set(got) == {"c0", "c1", "c2"}
    assert {n for n, s in got.items() if s == "skipped"} == finished
    assert all(s == "done" for n, s in got.items() if n not in finished)
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def _text_manifest(tmp_path):
    manifest = tmp_path / "jobs.jsonl"
    rows = [{"text": "Storm over the mountains", "key": "E minor"}, {"text": "A lazy summer picnic", "seed": 3}]
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return manifest


@pytest.mark.integration
def test_ray_executor_on_a_tiny_batch(capfd, tmp_path):
    """The same jobs as Ray tasks on a local Ray (2 CPUs); the local executor then finds them complete."""
    pytest.importorskip("ray")
    manifest, out = _text_manifest(tmp_path), tmp_path / "out"
    code, _, err = batch(capfd, manifest, "--out", out, "--analyze-only", "--executor", "ray", "--workers", "2", *FAST)
    assert code == 0, err
    got, _ = statuses(out)
    assert got == {"storm-over-the-mountains": "done", "a-lazy-summer-picnic": "done"}
    assert json.loads((out / "storm-over-the-mountains" / "plan.json").read_text())["cues"][0]["mode"] == "minor"
    code, stdout, _ = batch(capfd, manifest, "--out", out, "--analyze-only", *FAST)
    assert code == 0 and "0 done, 2 skipped" in stdout


def test_ray_executor_without_ray_is_a_one_line_error(capfd, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed: `import ray` raises ImportError
    code, _, err = batch(capfd, _text_manifest(tmp_path), "--out", tmp_path / "out", "--executor", "ray", *FAST)
    assert code == 1 and err.startswith("error: --executor ray needs Ray") and err.count("\n") == 1
