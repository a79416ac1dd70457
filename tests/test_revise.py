"""Revise a scored project (issue 13): other cues kept byte for byte, undo, failures change nothing,
variations and pick, locks on a full re-run, plan.json edits. A tiny random decoder: these tests check the
bookkeeping and the splice, not musical quality."""

import hashlib
import json
import shutil

import numpy as np
import pretty_midi
import pytest

from mm2music import cli, revise
from mm2music.project import load_mix, load_project
from mm2music.render.synth import FLUID_BLOCK, read_wav


def score(tiny_checkpoint, video, out, *argv):
    # every shot its own cue (plan.scene_similarity=1), so the project has three cues to revise
    return cli.main(["--video", str(video), "--checkpoint", str(tiny_checkpoint), "--config", "debug", "--out", str(out),
                     "--name", "film", "-q", "--set", "plan.scene_similarity=1", *argv])


@pytest.fixture(scope="module")
def scored(tmp_path_factory, tiny_checkpoint, three_shots):
    out = tmp_path_factory.mktemp("scored")
    assert score(tiny_checkpoint, three_shots, out) == 0
    return out / "film"


@pytest.fixture
def project(scored, tmp_path):
    folder = tmp_path / "film"
    shutil.copytree(scored, folder)
    return folder


def run_revise(capfd, *argv):
    code = cli.main(["revise", *map(str, argv), "-q"])
    out, err = capfd.readouterr()
    return code, out, err


def digest(folder):
    """sha256 of every file of the project (history included), by relative path."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def notes_by_cue(folder):
    """(program, is_drum, start s, end s, pitch, velocity) of every MIDI note, grouped by the cue it starts in."""
    midi = pretty_midi.PrettyMIDI(str(folder / "soundtrack.mid"))
    cues = json.loads((folder / "plan.json").read_text())["cues"]
    out = [[] for _ in cues]
    for inst in midi.instruments:
        for n in inst.notes:
            i = max(k for k, c in enumerate(cues) if n.start >= c["start"] - 1e-3)  # tick -> s rounding: ~0.01 ms
            out[i].append((inst.program, inst.is_drum, round(n.start, 5), round(n.end, 5), n.pitch, n.velocity))
    return [sorted(x) for x in out]


def test_project_holds_what_rebuilds_the_score(scored):
    p = load_project(scored)
    assert len(p.cues) == 3 and p.version == 1 and len(p.checkpoint["sha256"]) == 64
    assert [round(e.music.cue.start, 3) for e in p.cues] == [0.0, 3.0, 6.0]
    assert all(e.music.theme is not None and e.seed > 0 for e in p.cues)  # every cue knows its theme
    assert all(bool(e.music.tokens) == (e.music.theme.origin == i) for i, e in enumerate(p.cues))  # its statement holds the tokens
    assert load_mix(scored).shape == read_wav(scored / "soundtrack.wav").shape


def test_revise_rewrites_one_cue_and_keeps_the_others(capfd, project):
    before_notes, before_mix = notes_by_cue(project), load_mix(project)
    before_wav = read_wav(project / "soundtrack.wav")
    before = digest(project)
    code, out, err = run_revise(capfd, project, "--cue", 2, "--key", "D minor", "--tempo", 100, "--intensity", 0.9)
    assert code == 0, err
    assert "revised cue 2" in out
    after_notes = notes_by_cue(project)
    assert after_notes[0] == before_notes[0] and after_notes[2] == before_notes[2]  # neighbours byte-identical
    assert after_notes[1] != before_notes[1]
    after = digest(project)
    assert after["cues/01.json"] == before["cues/01.json"] and after["cues/03.json"] == before["cues/03.json"]
    cue = load_project(project).cues[1]
    assert (cue.music.cue.key, cue.music.cue.mode, cue.music.cue.dynamics) == ("D", "minor", "f")
    assert cue.pinned == {"key": "D minor", "tempo": 100.0, "intensity": 0.9}
    c = cue.music.cue  # still fills its span exactly with whole bars near the asked tempo
    assert abs(c.seconds_at(c.quarters) - c.end) < 1e-6
    assert abs(c.tempo_bpm / 100 - 1) < 0.2
    # audio: identical outside the re-rendered span (pre-roll's crossfade .. release tail)
    mix, sr = load_mix(project), 44100
    a, b = round((3.0 - revise.CROSSFADE_S) * sr), round((6.0 + revise.TAIL_S) * sr)
    assert np.array_equal(mix[:a], before_mix[:a]) and np.array_equal(mix[b:], before_mix[b:])
    assert not np.array_equal(mix[a:b], before_mix[a:b])
    wav = read_wav(project / "soundtrack.wav")  # the written WAV: the same audio under the new loudness gain
    outside = np.r_[0:a, b:len(wav)]
    gain = np.abs(wav[outside]).sum() / np.abs(before_wav[outside]).sum()
    # the delivery's gain (its true-peak limiter rides the peaks anywhere in the soundtrack): the same music there
    assert np.corrcoef(wav[outside].ravel(), before_wav[outside].ravel())[0, 1] > 0.999 and 0.5 < gain < 2
    md = (project / "cue_sheet.md").read_text()
    assert "cue 2: pinned key D minor, tempo 100.0, intensity 0.9" in md
    assert (project / "three_scored.mp4").stat().st_size > 0 and (project / "history/001/soundtrack.mid").is_file()


def test_undo_restores_the_previous_version(capfd, project):
    before = digest(project)
    assert run_revise(capfd, project, "--cue", 1)[0] == 0
    assert run_revise(capfd, project, "--cue", 3, "--instruments", "brass,piano")[0] == 0
    assert {k for k in digest(project) if k.startswith("history/")} >= {"history/001/soundtrack.mid", "history/002/soundtrack.mid"}
    code, out, _ = run_revise(capfd, project, "--undo")
    assert code == 0 and "1 earlier version left" in out
    code, out, _ = run_revise(capfd, project, "--undo")
    assert code == 0 and digest(project) == before
    code, _, err = run_revise(capfd, project, "--undo")
    assert code == 1 and err.count("\n") == 1 and "no earlier version" in err


def test_failed_revise_leaves_the_previous_version(capfd, project, monkeypatch):
    before = digest(project)
    code, _, err = run_revise(capfd, project, "--cue", 2, "--key", "H minor")
    assert code == 1 and err.startswith("error: cue 2: key 'H minor' is not a key") and err.count("\n") == 1
    code, _, err = run_revise(capfd, project, "--cue", 7)
    assert code == 1 and "--cue 7 does not exist" in err

    def broken(project_, mix, staging):  # fails half way through writing the new version
        (staging / "soundtrack.mid").unlink()
        (staging / "soundtrack.mid").write_bytes(b"half")
        raise revise.ProjectError("disk full")

    monkeypatch.setattr(revise, "write_outputs", broken)
    code, _, err = run_revise(capfd, project, "--cue", 2)
    assert code == 1 and "disk full" in err
    assert digest(project) == before
    assert sorted(p.name for p in project.parent.iterdir()) == ["film"]  # no staging folder left behind


def test_variations_then_pick(capfd, project):
    midi = (project / "soundtrack.mid").read_bytes()
    code, out, err = run_revise(capfd, project, "--cue", 2, "--variations", 2)
    assert code == 0, err
    folder = project / "variations/cue02"
    assert sorted(p.name for p in folder.iterdir()) == ["v1.json", "v1.mid", "v1.wav", "v2.json", "v2.mid", "v2.wav"]
    assert (project / "soundtrack.mid").read_bytes() == midi  # the score itself is unchanged
    assert not (project / "history").exists()
    v1, v2 = (json.loads((folder / f"v{j}.json").read_text()) for j in (1, 2))
    assert v1["seed"] != v2["seed"]
    preview = read_wav(folder / "v2.wav")
    assert 0 < len(preview) <= round((3.0 + revise.PRE_ROLL_S + revise.TAIL_S) * 44100) + FLUID_BLOCK  # from a block of the full render
    code, _, err = run_revise(capfd, project, "--cue", 2, "--pick", 3)
    assert code == 1 and "has no variation 3 (have v1, v2)" in err
    assert run_revise(capfd, project, "--cue", 2, "--pick", 2)[0] == 0
    stored = json.loads((project / "cues/02.json").read_text())
    assert stored["tokens"] == v2["tokens"] and stored["seed"] == v2["seed"]


def test_plan_json_edits_by_hand(capfd, project):
    plan = json.loads((project / "plan.json").read_text())
    plan["cues"][2]["density"] = "very_sparse"
    plan["cues"][2]["register"] = "high"
    (project / "plan.json").write_text(json.dumps(plan))
    code, out, err = run_revise(capfd, project)
    assert code == 0 and "revised cue 3" in out, err
    cue = load_project(project).cues[2]
    assert (cue.music.cue.density, cue.music.cue.register) == ("very_sparse", "high")
    assert json.loads((project / "plan.json").read_text())["cues"][2]["density"] == "very_sparse"
    before = digest(project)
    plan = json.loads((project / "plan.json").read_text())
    plan["cues"][0]["end"] = 2.5
    (project / "plan.json").write_text(json.dumps(plan))
    code, _, err = run_revise(capfd, project)
    assert code == 1 and "cue 1 field 'end' cannot be edited" in err and err.count("\n") == 1
    plan["cues"][0]["end"], plan["cues"][0]["density"] = 3.0, "loud"
    (project / "plan.json").write_text(json.dumps(plan))
    code, _, err = run_revise(capfd, project)
    assert code == 1 and "density 'loud' is not one of" in err
    assert {k: v for k, v in digest(project).items() if k != "plan.json"} == {k: v for k, v in before.items() if k != "plan.json"}


def test_lock_keeps_cues_on_a_full_rerun(capfd, tiny_checkpoint, three_shots, project):
    before = notes_by_cue(project)
    old = digest(project)
    sketches = [e.music.tokens for e in load_project(project).cues]
    code = score(tiny_checkpoint, three_shots, project.parent, "--overwrite", "--seed", "9", "--lock", "1,3")
    assert code == 0, capfd.readouterr().err
    after = notes_by_cue(project)
    assert after[0] == before[0] and after[2] == before[2]
    new = [e.music.tokens for e in load_project(project).cues]
    assert new[0] == sketches[0] and new[2] == sketches[2]
    assert after[1] != before[1]  # only cue 2 was written again: it restates the locked cue 1's theme another way
    assert load_project(project).cues[1].music.theme == load_project(project).cues[0].music.theme
    p = load_project(project)
    assert [e.locked for e in p.cues] == [True, False, True]
    assert "cue 1: locked" in (project / "cue_sheet.md").read_text()
    assert digest(project)["history/001/soundtrack.mid"] == old["soundtrack.mid"]
    code = score(tiny_checkpoint, three_shots, project.parent, "--overwrite", "--lock", "4")
    assert code == 1 and "--lock 4" not in capfd.readouterr().out


def test_tempo_refit_reuses_the_planner(scored):
    cues = [e.music.cue for e in load_project(scored).cues]
    bars, base, ramp, odd = revise.fit_tempo(cues, 0, 90.0)
    c = cues[0].__class__(**{**cues[0].__dict__, "bars": bars, "tempo_bpm": base, "ramp_to_bpm": ramp, "odd_bar": odd,
                             "bar_intensity": ()})
    assert abs(c.seconds_at(c.quarters) - c.end) < 1e-6 and ramp is None and abs(base - 90) < 90 * 0.15
    with pytest.raises(revise.ConfigError, match="tempo 400 BPM is out of range"):
        revise.fit_tempo(cues, 0, 400.0, "tempo")


def test_refine_with_picks_then_continue(capfd, project):
    before = notes_by_cue(project)
    code = cli.main(["refine", str(project), "--cue", "2", "--rounds", "2", "--previews", "3", "--pick", "3,2", "-q"])
    out, err = capfd.readouterr()
    assert code == 0, err
    assert "round 2: cue 2" in out and "kept the best of 2 round(s) for cue 2" in out
    folder = project / "refine/cue02"
    assert sorted(p.name for p in (folder / "round01").iterdir()) == ["p1.json", "p1.wav", "p2.json", "p2.wav", "p3.json", "p3.wav"]
    state = json.loads((folder / "state.json").read_text())
    assert state["engine"]["rounds"] == 2 and len(state["engine"]["choices"]) == 2
    best = json.loads((project / state["heard"][str(state["engine"]["choices"][-1][0])]).read_text())
    stored = json.loads((project / "cues/02.json").read_text())
    assert stored["tokens"] == best["tokens"]  # exactly the music that was heard and picked
    after = notes_by_cue(project)
    assert after[0] == before[0] and after[2] == before[2]
    assert (project / "history/001/cues/02.json").is_file()
    code = cli.main(["refine", str(project), "--cue", "2", "--rounds", "1", "--previews", "3", "--pick", "1", "-q"])
    capfd.readouterr()
    assert code == 0 and json.loads((folder / "state.json").read_text())["engine"]["rounds"] == 3
    code = cli.main(["refine", str(project), "--rounds", "1", "-q"])
    assert code == 1 and "has 3 cues; pass --cue N" in capfd.readouterr().err


def test_a_cue_keeps_its_theme_unless_asked_and_a_new_one_can_be_propagated(capfd, project):
    themes = lambda: [e.music.theme for e in load_project(project).cues]
    before = themes()
    assert [e.music.cue.theme for e in load_project(project).cues] == ["A", "A", "B"] and before[0] == before[1]
    code, _, err = run_revise(capfd, project, "--cue", "1", "--tempo", "100")
    assert code == 0, err
    assert themes() == before  # a revised cue restates the tune it had
    code, _, err = run_revise(capfd, project, "--cue", "1", "--new-theme")
    assert code == 0, err
    alone = themes()
    assert alone[0] != before[0] and alone[1] == before[1] and alone[2] == before[2]  # its restatement keeps the old tune
    code, _, err = run_revise(capfd, project, "--cue", "1", "--new-theme", "--propagate")
    assert code == 0, err
    spread = themes()
    assert spread[0] != alone[0] and spread[1] == spread[0] and spread[2] == before[2]
    code, _, err = run_revise(capfd, project, "--propagate")
    assert code == 1 and "need --cue N" in err


def splice_whole(mix, start, segment, join_at, sr, crossfade_s=revise.CROSSFADE_S):
    """The splice done on the whole array at once (as revise did before it worked a block at a time): the segment
    from ``join_at`` to its end, a linear crossfade of ``crossfade_s`` ending at ``join_at`` and one ending at the
    segment's end (none at the soundtrack's end)."""
    out = mix.copy()
    end = start + len(segment)
    x = max(1, round(crossfade_s * sr))
    a = max(start, join_at - x)
    out[join_at:end] = segment[join_at - start:]
    if a < join_at:
        r = np.linspace(0.0, 1.0, join_at - a, endpoint=False, dtype=np.float32)[:, None]
        out[a:join_at] = mix[a:join_at] * (1 - r) + segment[a - start:join_at - start] * r
    if end < len(mix):
        b = max(join_at, end - x)
        r = np.linspace(1.0, 0.0, end - b, endpoint=False, dtype=np.float32)[:, None]
        out[b:end] = segment[b - start:] * r + mix[b:end] * (1 - r)
    return out


def test_the_stored_music_is_spliced_a_block_at_a_time_as_it_would_be_whole():
    rng = np.random.default_rng(0)
    sr, n = 8000, 50_000
    mix = rng.standard_normal((n, 2)).astype(np.float32)
    # two spans (the second overlapping the first's tail) and one that runs to the end (no crossfade out there)
    splices = [(1_000, rng.standard_normal((20_000, 2)).astype(np.float32), 3_000),
               (18_000, rng.standard_normal((9_000, 2)).astype(np.float32), 19_500),
               (44_000, rng.standard_normal((6_000, 2)).astype(np.float32), 45_000)]
    whole = mix
    for start, segment, join_at in splices:
        whole = splice_whole(whole, start, segment, join_at, sr)
    for block in (997, 4096, n):
        np.testing.assert_array_equal(np.concatenate(list(revise.spliced_blocks(mix, splices, sr, block))), whole)
    assert np.array_equal(whole[:2_920], mix[:2_920]) and not np.array_equal(whole[2_920:3_000], mix[2_920:3_000])  # the fade in
