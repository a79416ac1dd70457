"""The studio, measured in a real browser (Debian's chromium, headless, via Playwright): page load time, time to
the first playable result for the embedded sample (upload, score with the default config and the shipped
checkpoint, the page showing the player and the timeline), and the time to regenerate one cue.

    .venv/bin/python bench/studio.py [--runs 2] [--out /tmp/studio-bench] [--screenshot docs/studio.png]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def serve(out: Path, config: str | None):
    import uvicorn

    from mm2music.studio.app import Studio, create_app

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(Studio(out, config)), log_level="warning"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{sock.getsockname()[1]}", server


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--out", type=Path, default=None, help="projects folder (default: a temporary one, removed after)")
    p.add_argument("--config", default=None, help="config for the scores (default: the default config)")
    p.add_argument("--screenshot", type=Path, default=None)
    args = p.parse_args()
    from playwright.sync_api import sync_playwright

    from mm2music.media.sample import make_sample_video

    video = make_sample_video()
    out = args.out or Path(tempfile.mkdtemp(prefix="studio-bench-"))
    base, server = serve(out, args.config)
    loads, firsts, regens = [], [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium", args=ARGS)
        for run in range(args.runs):
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            t0 = time.perf_counter()
            page.goto(base + "/")
            page.wait_for_selector("body[data-ready='1']")
            loads.append(time.perf_counter() - t0)
            page.set_input_files("#file", str(video))
            page.fill("#name", f"sample-{run}")
            t0 = time.perf_counter()
            page.click("#score-btn")
            page.wait_for_function("document.getElementById('timeline').dataset.version || document.getElementById('new-error').textContent",
                                   timeout=600_000)
            if page.inner_text("#new-error"):
                raise SystemExit(page.inner_text("#new-error"))
            page.wait_for_function("document.getElementById('video').readyState >= 3", timeout=60_000)
            firsts.append(time.perf_counter() - t0)
            box = page.locator("#timeline").bounding_box()
            page.mouse.click(box["x"] + page.evaluate("xOf(2.5)"), box["y"] + 165)
            stamp = page.get_attribute("#timeline", "data-stamp")
            t0 = time.perf_counter()
            page.click("#regen-btn")
            page.wait_for_selector(f"#timeline:not([data-stamp='{stamp}'])", timeout=600_000)
            regens.append(time.perf_counter() - t0)
            if args.screenshot and run == args.runs - 1:
                page.screenshot(path=str(args.screenshot), full_page=True)
            page.close()
            print(f"run {run + 1}: page load {loads[-1]:.2f} s, first playable result {firsts[-1]:.1f} s, regenerate cue 1 {regens[-1]:.1f} s",
                  flush=True)
        browser.close()
    server.should_exit = True
    if args.out is None:
        shutil.rmtree(out, ignore_errors=True)
    med = statistics.median
    print(f"median of {args.runs}: page load {med(loads):.2f} s, first playable result {med(firsts):.1f} s, regenerate a cue {med(regens):.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
