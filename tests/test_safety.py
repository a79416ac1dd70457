"""Nothing the user has is ever lost (issue 16): output folders, concurrent runs, bad values, limits.

Every case runs through the CLI and checks the contract: exit code, one ``error:`` line on stderr, nothing left
behind, nothing of the user's lost. Concurrency tests run real processes.
"""

import json
import logging
import os
import shutil
import subprocess
import sys
import time

import pytest

from mm2music import cli
from tests.conftest import REPO, ffmpeg
from tests.test_cli import assert_one_line_error

FAST = ["--config", "debug", "--encoder", "affect", "-q"]
CLI = [sys.executable, str(REPO / "run_pipeline.py")]


def run_cli(capfd, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capfd.readouterr()
    return code, out, err


def hidden(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) if folder.exists() else []


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    d = tmp_path_factory.mktemp("clip")
    path = d / "cup.mp4"
    ffmpeg("-f", "lavfi", "-t", "2", "-i", "testsrc2=s=160x90:r=25", "-c:v", "libx264", "-preset", "ultrafast",
           "-pix_fmt", "yuv420p", str(path))
    return path


def hold_lock(path):
    """A real second process holding an mm2music lock file (as a running mm2music would) until killed."""
    code = ("import sys, time; from pathlib import Path; from mm2music.output import FolderLock; "
            "FolderLock(Path(sys.argv[1]), 'x', 'y').acquire(); print('held', flush=True); time.sleep(120)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True, cwd=REPO)
    assert proc.stdout.readline().strip() == "held"
    return proc


# --- data loss ---------------------------------------------------------------------------------------


def test_batch_never_replaces_a_folder_it_did_not_make(capfd, tmp_path):
    out = tmp_path / "out"
    (out / "cup").mkdir(parents=True)
    (out / "cup" / "notes.txt").write_text("my notes\n")
    manifest = tmp_path / "jobs.csv"
    manifest.write_text("text,name\nA cup of tea at dawn,cup\nRain on the roof,rain\n", encoding="utf-8")
    code, out_text, err = run_cli(capfd, "--batch", manifest, "--out", out, "--analyze-only", *FAST)
    assert code == 1
    assert "failed: cup: output folder" in err and "was not made by a batch" in err
    assert (out / "cup" / "notes.txt").read_text() == "my notes\n" and sorted(os.listdir(out / "cup")) == ["notes.txt"]
    assert (out / "rain" / "plan.json").exists()
    # a re-run still refuses it; the finished job is skipped
    code, out_text, err = run_cli(capfd, "--batch", manifest, "--out", out, "--analyze-only", *FAST)
    assert code == 1 and "1 skipped, 1 failed" in out_text and (out / "cup" / "notes.txt").exists()
    assert hidden(out) == []


def test_folder_created_during_the_run_is_not_replaced(capfd, tmp_path, clip, monkeypatch):
    from mm2music import pipeline

    real = pipeline.plan_music

    def plan_while_user_creates_the_folder(*args, **kwargs):
        (tmp_path / "cup").mkdir()
        (tmp_path / "cup" / "notes.txt").write_text("mine")
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "plan_music", plan_while_user_creates_the_folder)
    code, _, err = run_cli(capfd, "--video", clip, "--out", tmp_path, "--analyze-only", *FAST)
    assert_one_line_error(code, err, f"output folder '{tmp_path / 'cup'}' already exists")
    assert os.listdir(tmp_path / "cup") == ["notes.txt"] and hidden(tmp_path) == []


def test_the_final_rename_never_replaces(tmp_path):
    from mm2music.output import rename_no_replace

    (tmp_path / "staging").mkdir()
    (tmp_path / "staging" / "a").write_text("new")
    (tmp_path / "final").mkdir()  # an empty folder: a plain rename(2) would silently replace it
    with pytest.raises(FileExistsError):
        rename_no_replace(tmp_path / "staging", tmp_path / "final")
    assert (tmp_path / "staging" / "a").exists() and os.listdir(tmp_path / "final") == []
    rename_no_replace(tmp_path / "staging", tmp_path / "free")
    assert (tmp_path / "free" / "a").read_text() == "new"


def test_a_locked_output_folder_fails_naming_the_holder(capfd, tmp_path, clip):
    holder = hold_lock(tmp_path / ".cup.lock")
    try:
        code, _, err = run_cli(capfd, "--video", clip, "--out", tmp_path, "--analyze-only", *FAST)
    finally:
        holder.kill()
        holder.wait()
    assert_one_line_error(code, err, f"output folder '{tmp_path / 'cup'}' is in use by another mm2music run (pid {holder.pid} on ")
    assert not (tmp_path / "cup").exists()
    # the holder died without cleaning up: its lock file is stale, the next run takes it and removes it
    code, _, err = run_cli(capfd, "--video", clip, "--out", tmp_path, "--analyze-only", *FAST)
    assert code == 0, err
    assert hidden(tmp_path) == []


@pytest.mark.integration
def test_two_real_runs_into_one_folder_never_both_write(tmp_path, clip):
    cmd = [*CLI, "--video", str(clip), "--out", str(tmp_path), "--analyze-only", *FAST]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in procs]
    codes = sorted(r[0] for r in results)
    assert codes == [0, 1], results
    (loser,) = [r for r in results if r[0] == 1]
    lines = loser[2].strip().splitlines()
    in_use = ("is in use by another mm2music run (pid", "is in use by another mm2music run (a run that is starting)")
    assert len(lines) == 1 and (any(s in lines[0] for s in in_use) or "already exists" in lines[0])
    assert (tmp_path / "cup" / "analysis.json").exists() and hidden(tmp_path) == []


def test_a_second_batch_into_the_same_folder_fails_naming_the_first(capfd, tmp_path):
    manifest = tmp_path / "jobs.csv"
    manifest.write_text("text\nRain on the roof\n", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    holder = hold_lock(out / ".batch.lock")
    try:
        code, _, err = run_cli(capfd, "--batch", manifest, "--out", out, "--analyze-only", *FAST)
    finally:
        holder.kill()
        holder.wait()
    assert_one_line_error(code, err, f"batch folder '{out}' is in use by another mm2music run (pid {holder.pid} on ")
    assert sorted(os.listdir(out)) == [".batch.lock"]  # only the dead holder's stale lock


def test_a_clip_named_like_the_report_does_not_replace_it(capfd, tmp_path, clip):
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(clip, src / "batch_report.json.mp4")
    out = tmp_path / "out"
    code, stdout, err = run_cli(capfd, "--batch", src, "--out", out, "--analyze-only", *FAST)
    assert code == 0, err
    report = json.loads((out / "batch_report.json").read_text())
    assert [j["name"] for j in report["jobs"]] == ["batch_report.json-2"]
    assert (out / "batch_report.json-2" / "analysis.json").exists()


def test_outputs_follow_the_users_umask(capfd, tmp_path, clip):
    old = os.umask(0o022)
    try:
        code, _, err = run_cli(capfd, "--video", clip, "--out", tmp_path, "--analyze-only", *FAST)
    finally:
        os.umask(old)
    assert code == 0, err
    assert oct((tmp_path / "cup").stat().st_mode & 0o777) == oct(0o755)
    assert {oct(p.stat().st_mode & 0o777) for p in (tmp_path / "cup").iterdir()} == {oct(0o644)}


# --- one line, exit 1, nothing left: bad values and odd paths ------------------------------------------


@pytest.fixture(scope="module")
def odd(tmp_path_factory, clip):
    d = tmp_path_factory.mktemp("odd")
    os.mkfifo(d / "fifo.mp4")
    os.symlink(d / "loop-b", d / "loop-a")
    os.symlink(d / "loop-a", d / "loop-b")
    (d / "file.txt").write_text("not a folder, not a soundfont\n")
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x90:r=25", "-frames:v", "1", "-c:v", "libx264", "-pix_fmt", "yuv420p",
           str(d / "one-frame.mp4"))
    return d


@pytest.mark.parametrize("argv, match", [
    (["--hits=-2,4"], "--hits value -2.0 is not a time in seconds"),
    (["--hits", "nan"], "--hits value nan is not a time"),
    (["--hits", "inf"], "--hits value inf is not a time"),
    (["--hits", "1.5,7"], "--hits 7 s is outside video 'cup.mp4' (0-2.00 s)"),
    (["--set", "media.sample_fps=0"], "media.sample_fps 0.0 is out of range"),
    (["--set", "cuts.threshold=nan"], "cuts.threshold nan is out of range"),
    (["--seed", "-1"], "--seed -1 is out of range"),
    (["--out", "{d}/file.txt"], "output path '{d}/file.txt' is a file, not a folder"),
    (["--out", "{d}/file.txt/sub"], "output path '{d}/file.txt' is a file, not a folder"),
    (["--out", "/proc"], "cannot write the output in '/proc'"),
    (["--out", "/proc/mm2music/out"], "cannot create output folder '/proc/mm2music'"),
    (["--out", "/sys/kernel"], "cannot write the output in '/sys/kernel'"),
    (["--video", "{d}/fifo.mp4"], "is a pipe, not a regular file"),
    (["--video", "/dev/zero"], "'/dev/zero' is a device, not a regular file"),
    (["--video", "{d}/loop-a"], "is a symbolic link that loops back on itself"),
    (["--video", "{d}/one-frame.mp4"], "video 'one-frame.mp4' lasts 0.04 s, too short for a bar of music; the minimum is 1 s"),
])
def test_bad_values_and_paths_are_one_line_errors(capfd, tmp_path, clip, odd, argv, match):
    argv = [a.format(d=odd) for a in argv]
    if "--video" not in argv:
        argv = ["--video", str(clip), *argv]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "out")]
    code, _, err = run_cli(capfd, *argv, "--analyze-only", *FAST)
    assert_one_line_error(code, err, match.format(d=odd))
    assert not (tmp_path / "out").exists()
    assert sorted(os.listdir(odd)) == ["fifo.mp4", "file.txt", "loop-a", "loop-b", "one-frame.mp4"]


@pytest.mark.parametrize("argv, match", [
    (["--duration", "0.01"], "--duration 0.01 is out of range; give seconds between 1 and 10800"),
    (["--duration", "inf"], "--duration inf is out of range"),
    (["--duration", "100000"], "--duration 100000.0 is out of range"),
    (["--key", "H-moll"], "--key 'H-moll' is not a key"),
    (["--instruments", "strings,kazoo"], "unknown instrument family 'kazoo'"),
    (["--soundfont", "{d}/file.txt", "--music"], "is not a SoundFont file (no RIFF 'sfbk' header)"),
    (["--checkpoint", "{d}/nowhere", "--music"], "music checkpoint '{d}/nowhere' does not exist"),
])
def test_settings_are_checked_before_any_model_loads(capfd, tmp_path, odd, monkeypatch, argv, match):
    """A bad value with --text fails before the text model (or the music model) is loaded."""
    from mm2music.emotion import fusion

    def no_model(*_):
        raise AssertionError("a model was loaded before the settings were checked")

    monkeypatch.setattr(fusion, "text_encoders", no_model)
    argv = [a.format(d=odd) for a in argv]
    music = "--music" in argv
    argv = [a for a in argv if a != "--music"] + ([] if music else ["--analyze-only"])
    code, _, err = run_cli(capfd, "--text", "A storm at sea", *argv, "--out", tmp_path / "out", *FAST)
    assert_one_line_error(code, err, match.format(d=odd))
    assert not (tmp_path / "out").exists()


def test_instrument_names_ignore_case(capfd, tmp_path):
    code, _, err = run_cli(capfd, "--text", "A storm at sea", "--instruments", "Strings,PIANO", "--analyze-only",
                           "--out", tmp_path, *FAST)
    assert code == 0, err
    assert json.loads((tmp_path / "a-storm-at-sea" / "plan.json").read_text())["cues"][0]["instruments"][:2] == ["strings", "piano"]


def test_duplicate_hits_count_once(capfd, tmp_path, clip):
    code, out, err = run_cli(capfd, "--video", clip, "--hits", "1,1,1", "--analyze-only", "--out", tmp_path, *FAST)
    assert code == 0, err
    assert json.loads((tmp_path / "cup" / "config.json").read_text())["plan"]["hits"] == [1.0]
    assert out.count("hit 1 s") <= 1


def test_a_checkpoint_with_nan_weights_is_refused_before_decoding(capfd, tmp_path, clip, tiny_checkpoint):
    from safetensors.torch import load_file, save_file

    bad = tmp_path / "nan-ckpt"
    shutil.copytree(tiny_checkpoint, bad)
    tensors = load_file(str(bad / "model.safetensors"))
    tensors["wte.weight"][3, 1] = float("nan")
    save_file(tensors, str(bad / "model.safetensors"))
    code, _, err = run_cli(capfd, "--video", clip, "--checkpoint", bad, "--out", tmp_path / "out", *FAST)
    assert_one_line_error(code, err, "tensor 'wte.weight' in ")
    assert "holds NaN or infinite values" in err and not (tmp_path / "out").exists()


def test_a_full_disk_is_one_line_and_leaves_nothing(capfd, tmp_path, clip, monkeypatch):
    import errno

    from mm2music import pipeline

    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(pipeline, "write_json", full)
    code, _, err = run_cli(capfd, "--video", clip, "--analyze-only", "--out", tmp_path / "out", *FAST)
    assert_one_line_error(code, err, "(No space left on device); free some space or pass --out on another disk")
    assert not (tmp_path / "out").exists()


# --- captions: decoded, checked, and linear in their number ----------------------------------------------


def _srt_time(t):
    ms = int(round(t * 1000))
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def write_srt(path, cues):
    path.write_text("".join(f"{i + 1}\n{_srt_time(a)} --> {_srt_time(b)}\n{text}\n\n" for i, (a, b, text) in enumerate(cues)),
                    encoding="utf-8")
    return path


def test_webvtt_entities_are_decoded(tmp_path):
    from mm2music.media.text import read_captions

    vtt = tmp_path / "a.vtt"
    vtt.write_text("WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nSalt &amp; pepper &lt;3 caf&eacute;&nbsp;noir\n", encoding="utf-8")
    assert [s.text for s in read_captions(vtt)] == ["Salt & pepper <3 café\xa0noir"]


def test_a_cue_ending_before_it_starts_is_an_error(capfd, tmp_path):
    srt = write_srt(tmp_path / "typo.srt", [(0, 2, "Hello"), (5, 4.5, "Lost line"), (6, 8, "Bye")])
    code, _, err = run_cli(capfd, "--captions", srt, "--analyze-only", "--out", tmp_path / "out", *FAST)
    assert_one_line_error(code, err, "cue 2 ends at 4.500 s, before it starts at 5.000 s; fix its times")
    assert not (tmp_path / "out").exists()


def test_unsorted_and_overlapping_cues_are_reported(capfd, caplog, tmp_path):
    from mm2music.media.text import read_captions

    srt = write_srt(tmp_path / "messy.srt", [(0, 3, "Dawn"), (10, 12, "Noon"), (5, 11, "Late morning"), (14, 16, "Dusk")])
    with caplog.at_level(logging.WARNING, logger="mm2music.media.text"):
        read_captions(srt)
    assert "1 cue(s) start before the cue listed above them; they were put in time order" in caplog.text
    assert "1 cue(s) start before the previous one ends" in caplog.text
    # the CLI reads them in time order (its stderr is the root handler it sets up, which other tests' logging
    # configuration can leave stale inside one pytest process: the warnings are checked on the reader above)
    code, out, err = run_cli(capfd, "--captions", srt, "--analyze-only", "--out", tmp_path / "out", "--config", "debug")
    assert code == 0, err
    scenes = json.loads((tmp_path / "out" / "messy" / "analysis.json").read_text())["scenes"]
    assert [s["start"] for s in scenes] == [0.0, 5.0, 10.0, 14.0]


def test_2500_caption_cues_stay_near_linear(capfd, tmp_path, monkeypatch):
    """A film's subtitles (2,500 cues): scenes are grouped (at most MAX_CAPTION_SCENES), so fusion, the concept
    graph and the plan stay near-linear. The text encoder (linear, and the slow part) is replaced by a stand-in."""
    import numpy as np

    from mm2music.checks import MAX_CAPTION_SCENES
    from mm2music.emotion import fusion

    rng = np.random.default_rng(0)
    monkeypatch.setattr(fusion, "text_encoders", lambda config: [])
    monkeypatch.setattr(fusion, "text_distributions", lambda texts, enc, temp=None: rng.dirichlet(np.ones(len(fusion.NAMES)), len(texts)))
    cues, t = [], 0.0
    for i in range(2500):
        cues.append((t, t + 2.0, f"line {i}"))
        t += 2.0 + (i % 3) * 0.4
    srt = write_srt(tmp_path / "film.srt", cues)
    t0 = time.perf_counter()
    code, _, err = run_cli(capfd, "--captions", srt, "--analyze-only", "--out", tmp_path / "out", *FAST)
    seconds = time.perf_counter() - t0
    assert code == 0, err
    data = json.loads((tmp_path / "out" / "film" / "analysis.json").read_text())
    assert len(data["segments"]) == 2500 and MAX_CAPTION_SCENES * 0.8 <= len(data["scenes"]) <= MAX_CAPTION_SCENES
    assert seconds < 60  # measured ~6 s on 2 busy cores; it took minutes (quadratic) before


# --- batch: a changed model redoes the job; a dying worker fails only its own job -----------------------


def test_a_model_retrained_in_place_redoes_the_batch_job(capfd, tmp_path, tiny_checkpoint):
    import torch

    from mm2music.music.checkpoint import load_checkpoint, save_checkpoint
    from mm2music.music.model import MusicTransformer

    ckpt = tmp_path / "ckpt"
    shutil.copytree(tiny_checkpoint, ckpt)
    manifest = tmp_path / "jobs.jsonl"
    manifest.write_text(json.dumps({"text": "A joyful wedding in the sun", "duration": 3}) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    argv = ["--batch", manifest, "--out", out, "--checkpoint", ckpt, *FAST]
    code, stdout, err = run_cli(capfd, *argv)
    assert code == 0 and "1 done" in stdout, err
    code, stdout, _ = run_cli(capfd, *argv)
    assert code == 0 and "1 skipped" in stdout
    marker = json.loads((out / "a-joyful-wedding-in-the-sun" / ".complete.json").read_text())
    model, tokenizer, _ = load_checkpoint(ckpt)
    torch.manual_seed(1)
    save_checkpoint(ckpt, MusicTransformer(model.config), tokenizer)  # retrained in place: same path, new weights
    code, stdout, err = run_cli(capfd, *argv)
    assert code == 0 and "1 done, 0 skipped" in stdout, err
    assert json.loads((out / "a-joyful-wedding-in-the-sun" / ".complete.json").read_text())["fingerprint"] != marker["fingerprint"]


def crash_on_boom(job, settings):
    """A batch task whose worker process dies on the job named 'boom' (as a native crash or the OOM killer would)."""
    from mm2music.batch import JobRecord

    if job.name == "boom":
        os._exit(9)
    return JobRecord.of(job, settings.out_dir, status="done")


def test_a_dying_worker_fails_only_its_own_job(tmp_path):
    from mm2music.batch import Job, Settings
    from mm2music.batch.executors import _run_pool

    jobs = [Job(name=n, source=f"{n}.txt", text=t) for n, t in (("calm", "A calm lake"), ("boom", "Fireworks"))]
    settings = Settings(out_dir=str(tmp_path / "out"), config="debug", overrides=("encoder.backend=affect",), analyze_only=True)
    records = {}
    _run_pool(jobs, settings, 2, lambda i, r: records.__setitem__(jobs[i].name, r), task=crash_on_boom)
    assert {n: r.status for n, r in records.items()} == {"calm": "done", "boom": "failed"}
    assert "worker process died" in records["boom"].error


def test_a_checkpoint_config_that_disagrees_with_its_weights_is_refused(capfd, tmp_path, tiny_checkpoint):
    """n_head cannot be read off the weights' shapes: the weights record the config they were saved with."""
    bad = tmp_path / "edited"
    shutil.copytree(tiny_checkpoint, bad)
    config = json.loads((bad / "config.json").read_text())
    assert config["model"]["n_head"] == 2
    config["model"]["n_head"] = 4
    (bad / "config.json").write_text(json.dumps(config))
    code, _, err = run_cli(capfd, "--text", "A storm at sea", "--checkpoint", bad, "--out", tmp_path / "out", *FAST)
    assert_one_line_error(code, err, "n_head is 4 in ")
    assert "were saved with 2; restore the checkpoint's own config.json" in err and not (tmp_path / "out").exists()


def test_inputs_past_the_limits_are_refused(capfd, tmp_path):
    big = tmp_path / "novel.txt"
    big.write_text("word " * 250_000, encoding="utf-8")  # 1.25 MB
    code, _, err = run_cli(capfd, "--text-file", big, "--analyze-only", "--out", tmp_path / "out", *FAST)
    assert_one_line_error(code, err, "is 1,250,000 bytes, more than the 1,000,000 mm2music reads")
    long = write_srt(tmp_path / "long.srt", [(0, 2, "Hello"), (4 * 3600, 4 * 3600 + 2, "Four hours later")])
    code, _, err = run_cli(capfd, "--captions", long, "--analyze-only", "--out", tmp_path / "out", *FAST)
    assert_one_line_error(code, err, "captions 'long.srt' lasts 14402 s, longer than the 10800 s (3 h) mm2music scores")
    assert not (tmp_path / "out").exists()


@pytest.mark.integration
def test_two_real_batches_into_one_folder_never_lose_a_failure(tmp_path, clip):
    """Two real batch processes at once into one --out: either the second is refused naming the first, or (if they
    did not overlap) it finds every job complete; the report always lists the failing job."""
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(clip, src / "good.mp4")
    (src / "bad.mp4").write_bytes(os.urandom(3000))
    out = tmp_path / "out"
    cmd = [*CLI, "--batch", str(src), "--out", str(out), "--analyze-only", *FAST]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(timeout=180), p.stdout.read(), p.stderr.read()) for p in procs]
    assert all(code == 1 for code, _, _ in results), results  # both report (or refuse on) the bad clip
    refused = [err for _, out_, err in results if "is in use by another mm2music run (pid" in err]
    assert len(refused) <= 1 and all(len(err.strip().splitlines()) == 1 for err in refused)
    report = json.loads((out / "batch_report.json").read_text())
    assert {j["name"]: j["status"] for j in report["jobs"]} == {"bad": "failed", "good": report["jobs"][1]["status"]}
    assert report["jobs"][1]["status"] in ("done", "skipped") and (out / "good" / "analysis.json").exists()
    assert hidden(out) == []
