"""The studio in a real browser (Debian's chromium, headless, driven by Playwright): score a generated
three-shot clip from the page, see the player and the timeline with its cues, add a hit point by clicking the
timeline and re-score, regenerate one cue with another tempo, and check on disk that the MIDI changed only in
the cue that was edited; then variations and pick, lock, the refine slider and undo. Set MM2MUSIC_STUDIO_SCREENSHOT=docs/studio.png to keep the screenshot."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pretty_midi
import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--autoplay-policy=no-user-gesture-required"]

pytestmark = [pytest.mark.integration, pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (scripts/setup.sh installs it)")]


def notes_by_cue(folder: Path) -> list[list[tuple]]:
    """Every MIDI note, grouped by the cue it starts in (cues from plan.json)."""
    midi = pretty_midi.PrettyMIDI(str(folder / "soundtrack.mid"))
    cues = json.loads((folder / "plan.json").read_text())["cues"]
    out: list[list[tuple]] = [[] for _ in cues]
    for inst in midi.instruments:
        for n in inst.notes:
            i = max(k for k, c in enumerate(cues) if n.start >= c["start"] - 1e-6)
            out[i].append((inst.program, inst.is_drum, round(n.start, 5), round(n.end, 5), n.pitch, n.velocity))
    return [sorted(x) for x in out]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def timeline_point(page, t: float, row_y: float) -> tuple[float, float]:
    """Page coordinates of time ``t`` (s) at ``row_y`` px from the timeline's top (as the page maps them)."""
    box = page.locator("#timeline").bounding_box()
    x = page.evaluate(f"xOf({t})")
    return box["x"] + x, box["y"] + row_y


def wait_for(page, selector: str, timeout_s: float = 120) -> None:
    """Wait for ``selector``; fail at once with the page's message if a job reports an error."""
    page.wait_for_function(f"document.querySelector(\"{selector}\") || document.getElementById('error').textContent "
                           "|| document.getElementById('new-error').textContent", timeout=timeout_s * 1000)
    assert page.query_selector(selector), page.inner_text("#error") + page.inner_text("#new-error")


def wait_change(page, timeout_s: float = 120) -> None:
    """Wait until the page shows a new version of the project (its project.json changed)."""
    stamp = page.get_attribute("#timeline", "data-stamp")
    wait_for(page, f"#timeline:not([data-stamp='{stamp}'])", timeout_s)


def test_score_see_edit_in_the_browser(studio, browser, three_shots, tmp_path):
    base, st = studio
    errors: list[str] = []
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.on("pageerror", lambda e: errors.append(str(e)))
    t0 = time.perf_counter()
    page.goto(base + "/")
    page.wait_for_selector("body[data-ready='1']")
    load_s = time.perf_counter() - t0

    # a file that is not a video: the page shows the CLI's one-line error, and nothing is left behind
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video at all" * 100)
    page.set_input_files("#file", str(bad))
    page.click("#score-btn")
    page.wait_for_function("document.getElementById('new-error').textContent.startsWith('error: ')", timeout=60_000)
    message = page.inner_text("#new-error")
    assert "broken.mp4" in message and "\n" not in message.strip()
    assert not (st.out / "broken").exists()

    # score the clip from the page: progress, then the project opens with the player and the timeline
    page.set_input_files("#file", str(three_shots))
    page.fill("#name", "film")
    t0 = time.perf_counter()
    page.click("#score-btn")
    wait_for(page, "#timeline[data-version='1']", 180)
    first_result_s = time.perf_counter() - t0
    folder = st.out / "film"
    cues = json.loads((folder / "plan.json").read_text())["cues"]
    assert page.get_attribute("#timeline", "data-cues") == str(len(cues)) and len(cues) >= 2
    k = next(i for i, c in enumerate(cues) if c["start"] <= 4.5 < c["end"])  # the cue edited below
    others = [i for i in range(len(cues)) if i != k]
    assert (folder / "source" / "three.mp4").is_file() and (folder / "three_scored.mp4").is_file()
    assert int(page.get_attribute("#timeline", "data-notes")) > 0
    assert "film" in page.inner_text("#projects")
    assert page.evaluate("document.getElementById('video').src").endswith("three_scored.mp4?v=" + page.get_attribute("#timeline", "data-stamp"))
    # the video plays and the playhead follows it
    page.evaluate("(() => { const v = document.getElementById('video'); v.muted = true; return v.play(); })()")
    page.wait_for_function("document.getElementById('video').currentTime > 0.3", timeout=20_000)
    page.wait_for_function("parseFloat(document.getElementById('timeline').dataset.time) > 0.3", timeout=5_000)
    page.evaluate("document.getElementById('video').pause()")

    # click the cue at 4.5 s on the timeline: its plan and its emotion evidence
    page.mouse.click(*timeline_point(page, 4.5, 165))
    assert page.inner_text("#cue-title").startswith(f"Cue {k + 1}: {cues[k]['start']:.2f}")
    assert "tempo_bpm" in page.inner_text("#cue-plan") and "valence" in page.inner_text("#cue-evidence")

    # add a hit point at 4.5 s by clicking the timeline, then re-score: the other cues are kept as they were
    before = notes_by_cue(folder)
    page.check("#hit-mode")
    page.mouse.click(*timeline_point(page, 4.5, 60))
    assert "4.50 s" in page.inner_text("#hits-list")
    page.click("#apply-hits")
    wait_change(page)
    project = json.loads((folder / "project.json").read_text())
    assert project["hits"] == [4.5] and not any(c["locked"] for c in project["cues"])
    after = notes_by_cue(folder)
    assert all(after[i] == before[i] for i in others) and after[k] != before[k]
    page.uncheck("#hit-mode")

    # regenerate that cue at another tempo: the MIDI changes in that cue only
    page.mouse.click(*timeline_point(page, 4.5, 165))
    tempo = float(page.input_value("#e-tempo"))
    page.fill("#e-tempo", str(round(tempo * 0.8)))
    page.click("#regen-btn")
    wait_change(page)
    again = notes_by_cue(folder)
    assert all(again[i] == after[i] for i in others) and again[k] != after[k]
    assert json.loads((folder / "project.json").read_text())["cues"][k]["pinned"]["tempo"] == round(tempo * 0.8)
    assert "pinned" in page.inner_text("#cue-plan")

    # variations to listen to, keep one; lock the cue; the refine slider: previews, a pick, keep the best; undo
    page.fill("#var-k", "2")
    page.click("#var-btn")
    wait_for(page, "#var-list li:nth-child(2) audio[src*='variations/cue']")
    stamp = page.get_attribute("#timeline", "data-stamp")
    page.click("#var-list li:nth-child(2) button")
    wait_for(page, f"#timeline:not([data-stamp='{stamp}'])")
    picked = json.loads((folder / "cues" / f"{k + 1:02d}.json").read_text())["tokens"]
    assert picked == json.loads((folder / "variations" / f"cue{k + 1:02d}" / "v2.json").read_text())["tokens"]
    page.check("#lock-box")
    wait_for(page, "#timeline:not([data-stamp='%s'])" % page.get_attribute("#timeline", "data-stamp"))
    assert json.loads((folder / "project.json").read_text())["cues"][k]["locked"] and page.is_checked("#lock-box")
    page.click("#refine-btn")
    wait_for(page, "#refine-box:not([hidden])")
    page.fill("#refine-slider", "3")
    assert "preview 3 of 5" in page.inner_text("#refine-settings")
    assert page.evaluate("document.getElementById('refine-audio').src").split("?")[0].endswith(f"refine/cue{k + 1:02d}/round01/p3.wav")
    page.click("#refine-choose")
    page.wait_for_function("document.getElementById('job').textContent.startsWith('refine-choose: done')", timeout=60_000)
    stamp = page.get_attribute("#timeline", "data-stamp")
    page.click("#refine-apply")
    wait_for(page, f"#timeline:not([data-stamp='{stamp}'])")
    assert json.loads((folder / "project.json").read_text())["version"] == 5  # re-score 1, revise 2, pick 3, lock 4, refine 5
    page.click("#undo-btn")
    wait_for(page, "#timeline[data-version='4']")

    # a reload loses nothing: the state is the folder
    page.goto(base + "/#film")
    page.wait_for_selector("#timeline[data-version='4']")
    assert page.locator("#downloads a").count() >= 4
    shot = tmp_path / "studio.png"
    page.mouse.click(*timeline_point(page, 4.5, 165))
    page.screenshot(path=str(shot), full_page=True)
    if os.environ.get("MM2MUSIC_STUDIO_SCREENSHOT"):
        shutil.copy(shot, os.environ["MM2MUSIC_STUDIO_SCREENSHOT"])
    print(f"studio: page load {load_s:.2f} s, first playable result {first_result_s:.1f} s")
    assert not errors, errors
