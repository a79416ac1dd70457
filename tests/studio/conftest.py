"""A studio served on a free port of 127.0.0.1 in a thread, scoring with the debug config and the tiny decoder."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest



@pytest.fixture(scope="module")
def studio(tmp_path_factory, tiny_checkpoint):
    """(base URL, Studio) of a running server; stopped after the module."""
    import uvicorn

    from mm2music.studio.app import Studio, create_app

    out = tmp_path_factory.mktemp("studio-out")
    st = Studio(out, "debug", (f"music.checkpoint={tiny_checkpoint}",), max_upload_bytes=5_000_000)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(st), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    assert server.started, "the studio did not start"
    yield f"http://127.0.0.1:{port}", st
    server.should_exit = True
    thread.join(10)
    sock.close()


def call(base: str, method: str, path: str, body=None, data: bytes | None = None) -> tuple[int, dict]:
    """(status, JSON) of one request to the studio."""
    if body is not None:
        data = json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as res:
            status, raw, kind = res.status, res.read(), res.headers.get("content-type", "")
    except urllib.error.HTTPError as exc:
        status, raw, kind = exc.code, exc.read(), exc.headers.get("content-type", "")
    return status, json.loads(raw or b"{}") if kind.startswith("application/json") else {"body": raw}


def wait_job(base: str, job: dict, timeout: float = 180) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        _, j = call(base, "GET", f"/api/jobs/{job['id']}")
        if j["state"] in ("done", "failed") and j["seconds"] is not None:
            return j
        time.sleep(0.2)
    raise AssertionError(f"job {job} did not finish in {timeout} s")
