"""End-to-end analysis -> emotion -> concept graph -> plan through the pipeline (issue 3)."""

import json

import networkx as nx
import pytest

from mm2music import cli
from mm2music.config import load_config
from mm2music.music.attributes import REGISTER_BINS
from mm2music.pipeline import Inputs, run
from tests.conftest import REPO, ffmpeg

PLAN_KEYS = {"start", "end", "key", "mode", "tempo_bpm", "meter", "bars", "density", "register", "instruments", "theme", "transition"}


def _run(tmp_path, **inputs):
    config = load_config("debug", [f"output.out_dir={tmp_path}"])
    return run(Inputs(**inputs), config, progress=False)


def test_text_outputs_and_schema(tmp_path):
    result = _run(tmp_path, text_file=str(REPO / "data/samples/wedding.txt"))
    out = result.out_dir
    assert {p.name for p in out.iterdir()} >= {"analysis.json", "plan.json", "concept_graph.graphml", "concept_graph.json", "timeline.png", "config.json"}
    analysis = json.loads((out / "analysis.json").read_text())
    (scene,) = analysis["scenes"]
    assert -1 <= scene["valence"] <= 1 and -1 <= scene["arousal"] <= 1
    assert sum(scene["emotions"].values()) == pytest.approx(1, abs=1e-2)
    plan = json.loads((out / "plan.json").read_text())
    assert plan["cues"] and PLAN_KEYS <= set(plan["cues"][0])
    g = nx.read_graphml(out / "concept_graph.graphml")
    assert any(d.get("kind") == "segment" for _, d in g.nodes(data=True))
    assert (out / "timeline.png").stat().st_size > 10_000


def test_wedding_plans_brighter_and_faster_than_funeral(tmp_path):
    wedding = _run(tmp_path, text_file=str(REPO / "data/samples/wedding.txt")).plan.cues[0]
    funeral = _run(tmp_path, text_file=str(REPO / "data/samples/funeral.txt")).plan.cues[0]
    assert wedding.mode == "major" and funeral.mode == "minor"
    assert wedding.tempo_bpm > funeral.tempo_bpm
    assert REGISTER_BINS.index(wedding.register) >= REGISTER_BINS.index(funeral.register)
    assert wedding.valence > funeral.valence


@pytest.fixture(scope="module")
def contrast_videos(tmp_path_factory):
    d = tmp_path_factory.mktemp("contrast")
    dark = d / "dark.mp4"
    ffmpeg("-f", "lavfi", "-i", "gradients=s=160x90:r=25:d=6:c0=0x06040c:c1=0x1a1430:speed=0.0005:seed=2",
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(dark))
    bright = d / "bright.mp4"
    shots = ["testsrc2", "mandelbrot", "rgbtestsrc", "testsrc", "smptebars", "testsrc2", "mandelbrot", "rgbtestsrc"]
    args, chains = [], []
    for i, src in enumerate(shots):
        args += ["-f", "lavfi", "-t", "0.75", "-i", f"{src}=s=160x90:r=25"]
        chains.append(f"[{i}:v]format=yuv420p,setsar=1,eq=saturation=2:brightness=0.15[v{i}]")
    graph = ";".join(chains) + ";" + "".join(f"[v{i}]" for i in range(len(shots))) + f"concat=n={len(shots)}:v=1[v]"
    ffmpeg(*args, "-filter_complex", graph, "-map", "[v]", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(bright))
    return dark, bright


def test_dark_still_video_plans_slower_and_lower_than_bright_fast_cut(tmp_path, contrast_videos):
    dark, bright = contrast_videos
    d = _run(tmp_path, video=str(dark))
    b = _run(tmp_path, video=str(bright))
    assert len(b.analysis.cuts) >= 4 and not d.analysis.cuts
    d_tempo = sum(c.tempo_bpm * (c.end - c.start) for c in d.plan.cues) / d.plan.duration
    b_tempo = sum(c.tempo_bpm * (c.end - c.start) for c in b.plan.cues) / b.plan.duration
    assert d_tempo < b_tempo
    d_arousal = d.analysis.emotions[0].arousal
    assert all(e.arousal > d_arousal for e in b.analysis.emotions)
    lowest_bright = min(REGISTER_BINS.index(c.register) for c in b.plan.cues)
    assert REGISTER_BINS.index(d.plan.cues[0].register) <= lowest_bright


def test_captions_with_video_fuse_into_scenes(tmp_path, small_video):
    captions = tmp_path / "c.srt"
    captions.write_text("1\n00:00:00,000 --> 00:00:01,900\nThe funeral: grief, tears and a terrible loss.\n")
    with_caps = _run(tmp_path / "a", video=str(small_video), captions=str(captions))
    without = _run(tmp_path / "b", video=str(small_video))
    assert "minilm" in with_caps.analysis.emotions[0].sources
    assert with_caps.analysis.emotions[0].valence < without.analysis.emotions[0].valence


def test_key_override_from_cli(capfd, tmp_path):
    code = cli.main(["--text", "a happy day at the beach", "--key", "Eb major", "--tempo", "100", "--instruments", "strings,harp",
                     "--out", str(tmp_path), "-q", "--config", "debug"])
    out, err = capfd.readouterr()
    assert code == 0, err
    plan = json.loads((tmp_path / "a-happy-day-at-the-beach" / "plan.json").read_text())
    cue = plan["cues"][0]
    assert (cue["key"], cue["mode"], cue["instruments"]) == ("Eb", "major", ["strings", "harp"])
    code = cli.main(["--text", "x", "--key", "H minor", "--out", str(tmp_path / "z"), "-q"])
    _, err = capfd.readouterr()
    assert code == 1 and err.strip().startswith("error: --key 'H minor' is not a key")
    assert not (tmp_path / "z").exists()


def test_missing_clip_weights_is_one_line_error(capfd, tmp_path, small_video):
    code = cli.main(["--video", str(small_video), "--encoder", "clip", "--clip-weights", str(tmp_path / "nope.safetensors"),
                     "--out", str(tmp_path / "o"), "-q"])
    _, err = capfd.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1 and len(lines) == 1 and lines[0].startswith("error: ") and "clip" in lines[0].lower()
    assert not (tmp_path / "o").exists()
