"""The studio reads the output root as the CLI does, through the project format: nothing outside the root is served
(a link in it leads nowhere), one damaged project or a stray file does not break the listing or a page, and a write
that fails (a full disk) is one clean error."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.studio.conftest import call, wait_job


@pytest.fixture(scope="module")
def scored(studio, three_shots):
    """A studio project scored from an upload ('film')."""
    base, st = studio
    status, _ = call(base, "PUT", "/api/projects/film/upload/three.mp4", data=three_shots.read_bytes())
    assert status == 200
    status, job = call(base, "POST", "/api/projects/film/score", {"video": "three.mp4"})
    assert status == 200
    assert wait_job(base, job)["state"] == "done"
    return st.out / "film"


def copy_of(scored, name):
    folder = scored.with_name(name)
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(scored, folder, symlinks=True)
    return folder


def test_nothing_outside_the_output_root_is_served(studio, tmp_path):
    base, st = studio
    (st.out / "evil").symlink_to("/etc")
    secret = tmp_path / "secret"
    (secret / "history").mkdir(parents=True)
    (secret / "project.json").write_text("{}")
    (secret / "notes.txt").write_text("private")
    (st.out / "linked").symlink_to(secret)
    try:
        for path in ("/api/projects/evil/files/passwd", "/api/projects/evil/files/hostname", "/api/projects/linked/files/notes.txt",
                     "/api/projects/evil", "/api/projects/linked", "/api/projects/evil/notes"):
            status, body = call(base, "GET", path)
            assert status == 404 and "\n" not in body["error"], (path, status, body)
        status, body = call(base, "GET", "/api/projects")
        assert status == 200 and not {"evil", "linked"} & {p["name"] for p in body["projects"]}
        status, _ = call(base, "POST", "/api/projects/linked/undo")
        assert status == 404
    finally:
        (st.out / "evil").unlink()
        (st.out / "linked").unlink()


@pytest.mark.parametrize("content", ["[]", '{"format": 1, "cues": "x"}', "not json", '{"format": 1, "version": "two", "cues": []}'])
def test_a_damaged_project_does_not_break_the_listing(studio, scored, content):
    base, st = studio
    bad = copy_of(scored, "damaged")
    (bad / "project.json").write_text(content)
    status, body = call(base, "GET", "/api/projects")
    assert status == 200, body
    items = {p["name"]: p for p in body["projects"]}
    assert items["film"]["scored"] and items["film"]["cues"] >= 1 and items["film"]["error"] is None
    assert not items["damaged"]["scored"] and "damaged" in items["damaged"]["error"] and "--undo" in items["damaged"]["error"]
    status, body = call(base, "GET", "/api/projects/damaged")
    assert status == 400 and "\n" not in body["error"] and "--undo" in body["error"], body


def test_stray_files_do_not_break_a_page(studio, scored):
    base, st = studio
    folder = copy_of(scored, "stray")
    (folder / "variations" / "cue02").mkdir(parents=True)
    (folder / "variations" / "cue02" / "v1.wav").write_bytes(b"RIFF")
    (folder / "variations" / "cue02" / "vX.wav").write_bytes(b"x")
    (folder / "variations" / "cue02" / "v.wav").write_bytes(b"x")
    (folder / "variations" / "cueXY").mkdir()
    (folder / "variations" / "cue").write_text("a stray file")
    (folder / "variations" / "notes.txt").write_text("mine")
    (folder / "stems").mkdir(exist_ok=True)
    (folder / "stems" / "odd.wav").mkdir()  # a folder named like a file
    sheet = json.loads((folder / "cue_sheet.json").read_text())
    sheet["cues"] = "x"
    (folder / "cue_sheet.json").write_text(json.dumps(sheet))
    (folder / "plan.json").write_text("[1, 2]")
    status, body = call(base, "GET", "/api/projects/stray")
    assert status == 200, body
    assert body["variations"] == {"2": [{"j": 1, "wav": "variations/cue02/v1.wav"}]}


def test_an_upload_to_a_full_disk_is_one_clean_error(studio):
    base, st = studio
    folder = st.out / "full"
    (folder / "source").mkdir(parents=True)
    (folder / "source" / ".a.srt.part").symlink_to("/dev/full")  # every write there fails with ENOSPC
    status, body = call(base, "PUT", "/api/projects/full/upload/a.srt", data=b"1\n00:00:00,000 --> 00:00:02,000\nHi\n")
    assert status == 507, body
    assert body["error"].startswith("cannot store the upload 'a.srt'") and "No space left on device" in body["error"]
    assert "\n" not in body["error"]
    assert not folder.exists()  # nothing left behind


def test_a_studio_edit_while_another_run_holds_the_project_fails_in_one_line(studio, scored):
    """A revise from the page while a CLI revise (here: a real process holding the project's lock) is writing the
    project: the job fails with the CLI's one line and the project is unchanged."""
    from tests.test_safety import hold_lock

    base, st = studio
    before = json.loads((scored / "project.json").read_text())
    holder = hold_lock(scored.parent / ".film.lock")
    try:
        status, job = call(base, "POST", "/api/projects/film/cues/1/revise", {"tempo": 100})
        assert status == 200
        done = wait_job(base, job)
    finally:
        holder.kill()
        holder.wait()
    assert done["state"] == "failed" and "\n" not in done["error"]
    assert done["error"].startswith(f"project '{scored}' is in use by another mm2music run (pid {holder.pid} on ")
    assert json.loads((scored / "project.json").read_text()) == before
