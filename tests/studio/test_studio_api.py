"""The studio's API: names and paths from the client are never trusted, uploads are size-limited and land in
the project folder only, one job per project, errors are the CLI's one-line messages, and the edits (variations,
pick, lock, undo, the refine slider) go through the revise engine."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request

from mm2music.project import load_project
from tests.studio.conftest import call, wait_job


def test_page_and_static_files(studio):
    base, _ = studio
    with urllib.request.urlopen(base + "/") as res:
        assert b"mm2music studio" in res.read() and res.headers["content-type"].startswith("text/html")
    assert call(base, "GET", "/static/app.py")[0] == 404
    assert call(base, "GET", "/static/..%2Fapp.py")[0] == 404


def test_names_and_paths_are_checked(studio, tmp_path):
    base, st = studio
    status, body = call(base, "PUT", "/api/projects/.hidden/upload/a.mp4", data=b"x")
    assert status == 400 and "not a plain folder name" in body["error"]
    status, body = call(base, "PUT", "/api/projects/ok/upload/a.exe", data=b"x")
    assert status == 400 and "a.exe" in body["error"] and "\n" not in body["error"]
    assert not (st.out / "ok").exists()
    status, body = call(base, "GET", "/api/projects/nothing-here")
    assert status == 404 and "no scored project 'nothing-here'" in body["error"]
    # files only from inside the project, never hidden ones, never through a link that leads out
    folder = st.out / "p"
    (folder / "source").mkdir(parents=True)
    (folder / "source" / "a.srt").write_text("x")
    (folder / ".secret").write_text("x")
    outside = tmp_path / "outside.txt"
    outside.write_text("x")
    (folder / "link.txt").symlink_to(outside)
    assert call(base, "GET", "/api/projects/p/files/source/a.srt")[0] == 200
    for rel in (".secret", "link.txt", "..%2F..%2Fetc%2Fpasswd", "source/../../p/.secret"):
        assert call(base, "GET", f"/api/projects/p/files/{rel}")[0] == 404, rel


def test_other_sites_cannot_change_projects(studio):
    base, st = studio
    req = urllib.request.Request(base + "/api/projects/x/undo", data=b"", method="POST", headers={"Origin": "http://evil.example"})
    try:
        urllib.request.urlopen(req, timeout=30)
        raise AssertionError("a cross-site change was accepted")
    except urllib.error.HTTPError as exc:
        assert exc.code == 403 and "is refused" in json.loads(exc.read())["error"]
    req = urllib.request.Request(base + "/api/projects", headers={"Host": "evil.example"})  # DNS rebinding
    try:
        urllib.request.urlopen(req, timeout=30)
        raise AssertionError("a request for another host name was answered")
    except urllib.error.HTTPError as exc:
        assert exc.code == 403
    assert call(base, "GET", "/api/projects")[0] == 200


def test_upload_limit_and_nothing_left_behind(studio):
    base, st = studio
    host, port = base.rsplit("/", 1)[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)  # a declared size over the limit: refused before reading
    conn.putrequest("PUT", "/api/projects/big/upload/big.mp4")
    conn.putheader("Content-Length", "6000000")
    conn.endheaders()
    res = conn.getresponse()
    assert res.status == 413 and "over the studio's limit of 5 MB" in json.loads(res.read())["error"]
    conn.close()
    conn = http.client.HTTPConnection(host, int(port), timeout=30)  # no declared size: stopped while streaming
    try:
        conn.request("PUT", "/api/projects/big/upload/big.mp4", body=(b"\0" * 100_000 for _ in range(60)), encode_chunked=True)
        assert conn.getresponse().status == 413
    except OSError:  # the server may close before the client has sent everything
        pass
    conn.close()
    assert not (st.out / "big").exists()


def test_a_failed_score_shows_the_cli_error(studio):
    base, st = studio
    assert call(base, "PUT", "/api/projects/broken/upload/broken.mp4", data=b"garbage" * 50)[0] == 200
    status, job = call(base, "POST", "/api/projects/broken/score", {"video": "broken.mp4"})
    assert status == 200
    done = wait_job(base, job)
    assert done["state"] == "failed" and "broken.mp4" in done["error"] and "\n" not in done["error"]
    assert not (st.out / "broken").exists()
    status, body = call(base, "POST", "/api/projects/t/score", {"text": "   "})
    assert status == 400 and body["error"].startswith("the text is empty")


def test_edits_through_the_revise_engine(studio, three_shots):
    base, st = studio
    assert call(base, "PUT", "/api/projects/clip/upload/three.mp4", data=three_shots.read_bytes())[0] == 200
    status, job = call(base, "POST", "/api/projects/clip/score", {"video": "three.mp4", "seed": 3})
    assert status == 200
    status, body = call(base, "POST", "/api/projects/clip/undo")  # one job at a time per project
    assert status in (404, 409), body
    assert wait_job(base, job)["state"] == "done"
    with urllib.request.urlopen(f"{base}/api/jobs/{job['id']}/events") as res:  # a finished job's stream ends at once
        stream = res.read().decode()
    assert "event: progress" in stream and "event: end" in stream and '"state": "done"' in stream
    folder = st.out / "clip"
    _, detail = call(base, "GET", "/api/projects/clip")
    assert detail["video"] == "three_scored.mp4" and len(detail["cues"]) == len(detail["sheet"]) >= 2
    assert detail["intensity"]["times"] and detail["scenes"][0]["emotions"]
    _, roll = call(base, "GET", "/api/projects/clip/notes")
    assert roll["notes"] and all(0 <= n[0] < n[1] <= detail["duration"] + 3 and 0 <= n[2] < 128 for n in roll["notes"])

    def do(path, body=None):
        status, job = call(base, "POST", f"/api/projects/clip{path}", body or {})
        assert status == 200, job
        done = wait_job(base, job)
        assert done["state"] == "done", done["error"]
        return done["result"]

    first = [e.music.notes for e in load_project(folder).cues]
    result = do("/cues/1/variations", {"k": 2})
    assert result["variations"] == ["variations/cue01/v1.wav", "variations/cue01/v2.wav"]
    _, detail = call(base, "GET", "/api/projects/clip")
    assert [v["j"] for v in detail["variations"]["1"]] == [1, 2]
    do("/cues/1/pick", {"j": 2})
    picked = load_project(folder)
    assert picked.cues[0].music.notes == json_notes(folder / "variations/cue01/v2.json")
    assert [e.music.notes for e in picked.cues[1:]] == first[1:]
    do("/cues/2/lock", {"locked": True})
    assert load_project(folder).cues[1].locked
    status, body = call(base, "POST", "/api/projects/clip/cues/9/revise", {"key": "D minor"})
    done = wait_job(base, body)
    assert done["state"] == "failed" and done["error"].startswith("--cue 9 does not exist")
    status, body = call(base, "POST", "/api/projects/clip/cues/1/revise", {"key": "H minor"})
    assert wait_job(base, body)["error"].startswith("cue 1: key 'H minor' is not a key")
    do("/undo")
    assert not load_project(folder).cues[1].locked
    # the refine slider: a round of previews, a pick, the best kept in the score
    result = do("/cues/1/refine/round", {"k": 3})
    assert [p["k"] for p in result["previews"]] == [1, 2, 3] and (folder / result["previews"][2]["wav"]).is_file()
    _, detail = call(base, "GET", "/api/projects/clip")
    assert len(detail["refine"]["1"]) == 3  # a reload shows the slider again
    assert do("/cues/1/refine/choose", {"j": 3})["rounds"] == 1
    version = load_project(folder).version
    do("/cues/1/refine/apply")
    assert load_project(folder).version == version + 1


def json_notes(path):
    from mm2music.project import music_from_json

    return music_from_json(json.loads(path.read_text()), str(path))[0].notes


def test_cli_errors_are_one_line(capfd, tmp_path):
    import socket

    from mm2music import cli

    assert cli.main(["studio", "--port", "70000"]) == 1
    assert capfd.readouterr().err == "error: --port 70000 is not a TCP port; give 1-65535 (or 0 for any free one)\n"
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        assert cli.main(["studio", "--port", str(busy.getsockname()[1]), "--out", str(tmp_path / "unused")]) == 1
    finally:
        busy.close()
    assert not (tmp_path / "unused").exists()
    err = capfd.readouterr().err
    assert err.startswith("error: port ") and "is in use; pass --port with another one" in err and err.count("\n") == 1
    assert cli.main(["studio", "--config", "no-such-config"]) == 1
    assert capfd.readouterr().err.startswith("error: ")
