"""Corpus conversion: music21 works to MIDI, the resumable cache, and the user-corpus loaders."""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter
from pathlib import Path

import pretty_midi
import pytest
import symusic

from mm2music.errors import CorpusError
from mm2music.music.attributes import extract_attributes
from mm2music.training.corpora import cache, midi_corpora, music21_corpus
from mm2music.training.corpora.cache import read_manifest, run_conversion, split_for
from mm2music.training.corpora.music21_corpus import _task, convert_music21_task

TPQ = 480


def convert(rel: str, number: str | None = None):
    task = _task(rel, number, None)
    return task, convert_music21_task(task)


def written_notes(part) -> list:
    """Sounding notes of a part per music21's own tie merging (grace notes left out)."""
    return [(float(n.offset), p.midi) for n in part.stripTies().flatten().notes if n.quarterLength > 0
            for p in n.pitches]


# --- music21 works ----------------------------------------------------------------------------------------


def test_bach_chorale_with_pickup_keeps_downbeats_on_bar_lines():
    from music21 import corpus, stream

    task, midi = convert("bach/bwv66.6.mxl")
    assert task.id == "music21/bach/bwv66.6.mxl" and task.source == "bach"
    score = corpus.parse("bach/bwv66.6")
    soprano = score.parts[0]
    measures = soprano.getElementsByClass(stream.Measure)
    assert measures[0].paddingLeft == 3.0  # a one-beat pickup in 4/4
    # every full bar that music21 knows starts on a 4/4 bar line of the MIDI file
    assert [float(m.offset) + 3.0 for m in measures[1:]] == [4.0 * k for k in range(1, len(measures))]
    assert [(ts.numerator, ts.denominator, ts.time) for ts in midi.time_signatures] == [(4, 4, 0)]
    downbeats = [int(t) for t in midi.get_downbeats()]
    for m in measures[1:]:
        tick = round((float(m.offset) + 3.0) * TPQ)
        assert tick in downbeats
        first = m.flatten().notes[0]
        if first.tie is None or first.tie.type == "start":  # a tied-over note started in an earlier bar
            assert (tick, first.pitch.midi) in {(n.time, n.pitch) for n in midi.tracks[0].notes}
    # one track per part, a choir sound, every written note once (no repeats expanded)
    assert [t.name for t in midi.tracks] == ["Soprano", "Alto", "Tenor", "Bass"]
    assert {t.program for t in midi.tracks} == {music21_corpus.CHOIR}
    assert [len(t.notes) for t in midi.tracks] == [len(written_notes(p)) for p in score.parts]
    assert midi.tracks[0].notes[0].time == 3 * TPQ
    # the key attribute is music21's own analysis of the score
    key = score.analyze("key")
    attrs = extract_attributes(midi)
    assert (attrs.key_pc, attrs.key_mode) == (key.tonic.pitchClass, key.mode)


def test_essen_abc_tune_with_pickup():
    from music21 import corpus

    task, midi = convert("essenFolksong/erk10.abc", "65")
    assert task.id == "music21/essenFolksong/erk10.abc#65" and task.source == "essen"
    assert task.relpath == "midi/essenFolksong/erk10.abc/65.mid"
    tune = corpus.parse("essenFolksong/erk10.abc", number=65)
    notes = written_notes(tune.parts[0])
    assert len(midi.tracks) == 1 and len(midi.tracks[0].notes) == len(notes)
    assert midi.tracks[0].program == music21_corpus.FLUTE
    assert [(ts.numerator, ts.denominator) for ts in midi.time_signatures] == [(2, 4)]
    # a 1-beat pickup in 2/4: the first note sits one beat before the first bar line
    assert midi.tracks[0].notes[0].time == 1 * TPQ
    assert [(n.time, n.pitch) for n in midi.tracks[0].notes] == [(round((o + 1.0) * TPQ), p) for o, p in notes]
    assert midi.tempos[0].qpm == pytest.approx(music21_corpus.DEFAULT_QPM["essen"])


def test_ties_between_different_pitches_keep_both_notes():
    from music21 import note, stream, tie

    part = stream.Part()
    a, b, c = note.Note("E5", quarterLength=0.5), note.Note("D5", quarterLength=0.5), note.Note("C5", quarterLength=1)
    d = note.Note("C5", quarterLength=1)
    a.tie, b.tie = tie.Tie("start"), tie.Tie("stop")  # a slur mis-read as a tie (seen in abc files)
    c.tie, d.tie = tie.Tie("start"), tie.Tie("stop")  # a real tie
    part.append([a, b, c, d])
    assert music21_corpus.part_notes(part) == [(0.0, 0.5, 76, 80), (0.5, 0.5, 74, 80), (1.0, 2.0, 72, 80)]


# --- the cache: manifest, failures, resumability ----------------------------------------------------------


def test_conversion_is_resumable_and_counts_failures(tmp_path):
    tasks = [_task("bach/bwv66.6.mxl", None, "Christ unser Herr"), _task("essenFolksong/erk10.abc", "65", None),
             _task("bach/no_such_work.mxl", None, None)]
    first = run_conversion(tmp_path, tasks, convert_music21_task, workers=1, progress=False)
    assert (first.converted, first.failed, first.skipped) == (2, 1, 0)
    rows = {r["id"]: r for r in read_manifest(tmp_path)}
    assert set(rows) == {"music21/bach/bwv66.6.mxl", "music21/essenFolksong/erk10.abc#65"}
    bach = rows["music21/bach/bwv66.6.mxl"]
    assert bach["path"] == "midi/bach/bwv66.6.mxl.mid" and (tmp_path / bach["path"]).is_file()
    assert bach["split"] == split_for(bach["id"]) and bach["corpus"] == "music21"
    assert bach["meta"] == {"title": "Christ unser Herr"}
    assert bach["attributes"]["key"] == "F# minor" and bach["attributes"]["time_signature"] == "4/4"
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["pieces"] == 2 and summary["failures"] == 1
    assert summary["pieces_by_source"] == {"bach": 1, "essen": 1}
    assert summary["total_notes"] == sum(r["attributes"]["n_notes"] for r in rows.values())

    assert bach["id"] in {r["id"] for r in read_manifest(tmp_path, split=bach["split"])}
    with pytest.raises(CorpusError, match="split 'dev' is not one of"):
        read_manifest(tmp_path, split="dev")

    second = run_conversion(tmp_path, tasks, convert_music21_task, workers=1, progress=False)
    assert (second.converted, second.failed, second.skipped) == (0, 0, 3)
    # a lost MIDI file is converted again
    (tmp_path / bach["path"]).unlink()
    third = run_conversion(tmp_path, tasks, convert_music21_task, workers=1, progress=False)
    assert (third.converted, third.skipped, third.total_pieces) == (1, 2, 2)


def test_conversion_of_some_sources_keeps_the_others_for_a_later_run(tmp_path):
    tasks = [_task("bach/bwv66.6.mxl", None, None), _task("essenFolksong/erk10.abc", "65", None),
             _task("oneills1850/0001-0050.abc", "1", None)]
    bach_only = run_conversion(tmp_path, tasks, convert_music21_task, workers=1, progress=False, sources=["bach"])
    assert (bach_only.converted, bach_only.skipped, bach_only.not_selected) == (1, 0, 2)
    assert [r["source"] for r in read_manifest(tmp_path)] == ["bach"]
    # another selection adds its pieces and leaves the earlier ones in place
    folk = run_conversion(tmp_path, tasks, convert_music21_task, workers=1, progress=False,
                          sources=["oneill", "essen"])
    assert (folk.converted, folk.skipped, folk.not_selected) == (2, 0, 1)
    # a run without sources converts what is left: nothing here
    full = run_conversion(tmp_path, tasks, convert_music21_task, workers=1, progress=False)
    assert (full.converted, full.skipped, full.total_pieces) == (0, 3, 3)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["pieces_by_source"] == {"bach": 1, "essen": 1, "oneill": 1}


def test_unknown_source_is_named_with_the_known_ones_before_anything_is_written(tmp_path):
    tasks = [_task("bach/bwv66.6.mxl", None, None), _task("oneills1850/0001-0050.abc", "1", None)]
    corpus_dir = tmp_path / "corpus"
    with pytest.raises(CorpusError, match=r"unknown source 'oneil' \(did you mean 'oneill'\?\); this corpus has: bach, oneill"):
        run_conversion(corpus_dir, tasks, convert_music21_task, workers=1, progress=False, sources=["oneil"])
    with pytest.raises(CorpusError, match="no source named"):
        run_conversion(corpus_dir, tasks, convert_music21_task, workers=1, progress=False, sources=[])
    assert not corpus_dir.exists()


def test_slow_pieces_time_out(tmp_path):
    tasks = [cache.Task(id="slow/1", relpath="midi/1.mid", source="slow", payload=())]
    result = run_conversion(tmp_path, tasks, _sleepy, workers=1, timeout_s=0.2, progress=False)
    assert result.failed == 1
    failure = cache.read_jsonl(tmp_path / cache.FAILURES)[0]
    assert failure["error"].startswith("timeout")


def _sleepy(task):
    import time

    time.sleep(5)


def test_split_is_fixed_by_id_and_about_94_3_3():
    counts = Counter(split_for(f"music21/x/{i}") for i in range(20000))
    assert split_for("music21/bach/bwv66.6.mxl") == split_for("music21/bach/bwv66.6.mxl")
    assert 0.92 < counts["train"] / 20000 < 0.96
    assert 0.02 < counts["valid"] / 20000 < 0.04 and 0.02 < counts["test"] / 20000 < 0.04


# --- user corpora in their published layouts --------------------------------------------------------------


def write_midi(path: Path, pitches=(60, 64, 67), program=0, names=None, drums=False) -> Path:
    pm = pretty_midi.PrettyMIDI(initial_tempo=100.0)
    for i, name in enumerate(names or ["piano"]):
        inst = pretty_midi.Instrument(program=program, name=name, is_drum=drums and i == 3)
        for k, p in enumerate(pitches):
            inst.notes.append(pretty_midi.Note(90, p, 0.6 * k, 0.6 * (k + 1)))
        pm.instruments.append(inst)
    path.parent.mkdir(parents=True, exist_ok=True)
    pm.write(str(path))
    return path


def test_lakh_full_tree_with_a_corrupt_file(tmp_path):
    root = tmp_path / "lmd_full"
    for md5 in ("0a1b", "0c2d", "1e3f"):
        write_midi(root / md5[0] / f"{md5}.mid")
    (root / "2").mkdir()
    (root / "2" / "2bad.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage")
    out = tmp_path / "cache"
    result = midi_corpora.load_lakh(root, cache_root=out, workers=2, progress=False)
    assert (result.converted, result.failed, result.total_pieces) == (3, 1, 3)
    rows = read_manifest(out / "lakh")
    assert sorted(r["id"] for r in rows) == ["lakh/0a1b", "lakh/0c2d", "lakh/1e3f"]
    assert all(r["source"] == "lmd_full" and r["attributes"]["n_notes"] == 3 for r in rows)
    assert symusic.Score(str(out / "lakh" / rows[0]["path"])).tpq == TPQ
    assert json.loads((out / "lakh" / "summary.json").read_text())["failures"] == 1
    again = midi_corpora.load_lakh(root, cache_root=out, workers=2, progress=False)
    assert (again.converted, again.skipped) == (0, 4)


def test_lakh_matched_one_piece_per_track_best_match_first(tmp_path):
    root = tmp_path / "lmd_matched"
    track = "TRAAAGR128F425B14B"
    folder = root / "A" / "A" / "A" / track
    write_midi(folder / "aaaa.mid", pitches=(60, 62))
    write_midi(folder / "bbbb.mid", pitches=(60, 62, 64, 65))
    (folder / "cccc.mid").write_bytes(b"corrupt")
    (tmp_path / "match_scores.json").write_text(json.dumps({track: {"aaaa": 0.5, "bbbb": 0.7, "cccc": 0.9}}))
    result = midi_corpora.load_lakh(root, cache_root=tmp_path / "cache", workers=1, progress=False)
    (row,) = read_manifest(tmp_path / "cache" / "lakh")
    assert result.converted == 1 and row["id"] == f"lakh/{track}" and row["source"] == "lmd_matched"
    assert row["attributes"]["n_notes"] == 4  # the corrupt best match is skipped for the next best
    assert row["path"] == f"midi/A/A/A/{track}.mid"


def test_lakh_missing_folder_is_a_corpus_error(tmp_path):
    with pytest.raises(CorpusError, match="does not exist; pass --path"):
        midi_corpora.load_lakh(tmp_path / "nope", cache_root=tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="no pieces found"):
        midi_corpora.load_lakh(tmp_path / "empty", cache_root=tmp_path)


MAESTRO_COLUMNS = ["canonical_composer", "canonical_title", "split", "year", "midi_filename", "audio_filename",
                   "duration"]
MAESTRO_ROWS = [
    ["Frédéric Chopin", "Ballade No. 1", "train", 2018, "2018/MIDI-Unprocessed_01.midi", "2018/a.wav", 5.1],
    ["Johann Sebastian Bach", "Prelude in C", "validation", 2017, "2017/MIDI-Unprocessed_02.midi", "2017/b.wav", 3.0],
    ["Franz Liszt", "Etude", "test", 2015, "2015/MIDI-Unprocessed_03.midi", "2015/c.wav", 2.0],
    ["Franz Schubert", "Impromptu", "train", 2015, "2015/missing.midi", "2015/d.wav", 2.0],
]


def make_maestro(root: Path, fmt: str) -> None:
    for row in MAESTRO_ROWS[:3]:
        write_midi(root / row[4])
    if fmt == "csv":
        with (root / "maestro-v3.0.0.csv").open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(MAESTRO_COLUMNS)
            w.writerows(MAESTRO_ROWS)
    else:  # pandas' DataFrame.to_json() orientation, as published
        cols = {c: {str(i): row[j] for i, row in enumerate(MAESTRO_ROWS)} for j, c in enumerate(MAESTRO_COLUMNS)}
        (root / "maestro-v3.0.0.json").write_text(json.dumps(cols), encoding="utf-8")


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_maestro_keeps_its_official_split(tmp_path, fmt):
    root = tmp_path / "maestro-v3.0.0"
    make_maestro(root, fmt)
    result = midi_corpora.load_maestro(root, cache_root=tmp_path / "cache", workers=1, progress=False)
    assert (result.converted, result.total_failures) == (3, 1)  # the missing file is counted, not fatal
    rows = {r["id"]: r for r in read_manifest(tmp_path / "cache" / "maestro-v3.0.0")}
    assert {k: r["split"] for k, r in rows.items()} == {
        "maestro/2018/MIDI-Unprocessed_01": "train",
        "maestro/2017/MIDI-Unprocessed_02": "valid",
        "maestro/2015/MIDI-Unprocessed_03": "test",
    }
    assert rows["maestro/2018/MIDI-Unprocessed_01"]["meta"]["canonical_composer"] == "Frédéric Chopin"


def test_lakhnes_channels_map_to_general_midi(tmp_path):
    root = tmp_path / "nesmdb_midi"
    write_midi(root / "train" / "001_Game_00_01Title.mid", pitches=(3, 8, 14), program=0,
               names=["p1", "p2", "tr", "no"])
    write_midi(root / "test" / "002_Other_00_02Stage.mid", names=["p1", "p2", "tr", "no"])
    result = midi_corpora.load_lakhnes(root, cache_root=tmp_path / "cache", workers=1, progress=False)
    assert result.converted == 2
    rows = {r["id"]: r for r in read_manifest(tmp_path / "cache" / "lakhnes")}
    row = rows["lakhnes/train/001_Game_00_01Title"]
    assert row["split"] == "train" and rows["lakhnes/test/002_Other_00_02Stage"]["split"] == "test"
    midi = symusic.Score(str(tmp_path / "cache" / "lakhnes" / row["path"]))
    tracks = {t.name: t for t in midi.tracks}
    assert (tracks["P1"].program, tracks["P2"].program, tracks["TR"].program) == (80, 81, 38)
    assert tracks["NO"].is_drum and [n.pitch for n in tracks["NO"].notes] == [42, 38, 36]
    assert row["attributes"]["programs"] == [-1, 38, 80, 81]


def doodle_sequence(camel: bool, pitches=(67, 64, 60, 48)) -> dict:
    """A 4-voice NoteSequence dict as protobuf's JSON writes it (camelCase, zero fields omitted)."""
    notes = []
    for voice, p in enumerate(pitches):
        for k in range(4):
            n = {"pitch": p + (k % 2) * 2, "velocity": 100, "instrument": voice, "endTime": 0.5 * (k + 1)}
            if k:
                n["startTime"] = 0.5 * k
            notes.append(n if camel else {_snake(key): v for key, v in n.items()})
    seq = {"notes": notes, "tempos": [{"qpm": 120.0}], "totalTime": 2.0}
    return seq if camel else {_snake(key): v for key, v in seq.items()}


def _snake(key: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in key)


def test_bachdoodle_json_lines_and_arrays_camel_and_snake_case(tmp_path):
    root = tmp_path / "bach_doodle"
    root.mkdir()
    camel = [{"sessionId": "s1", "requestId": f"r{i}", "country": "DE", "feedback": ["2"],
              "inputSequence": [{"notes": doodle_sequence(True)["notes"][:4]}],
              "outputSequence": [doodle_sequence(True)]} for i in range(3)]
    lines = [json.dumps(r) for r in camel] + ["{not json"]
    (root / "bach_doodle.jsonl-00000-of-00002").write_text("\n".join(lines) + "\n")
    snake = [{"session_id": "s2", "request_id": "r9", "input_sequence": [doodle_sequence(False)],
              "output_sequence": [doodle_sequence(False)]},
             {"session_id": "s3", "request_id": "r10", "output_sequence": [{"notes": []}]}]
    (root / "bach_doodle.json-00001-of-00002").write_text(json.dumps(snake))
    result = midi_corpora.load_bachdoodle(root, cache_root=tmp_path / "cache", workers=1, progress=False)
    assert result.converted == 4
    assert result.total_failures == 2  # the corrupt line and the record without notes
    rows = {r["id"]: r for r in read_manifest(tmp_path / "cache" / "bachdoodle")}
    assert set(rows) == {"bachdoodle/s1-r0", "bachdoodle/s1-r1", "bachdoodle/s1-r2", "bachdoodle/s2-r9"}
    assert len({rows[f"bachdoodle/s1-r{i}"]["split"] for i in range(3)}) == 1  # one session, one split
    row = rows["bachdoodle/s1-r0"]
    assert row["attributes"]["n_notes"] == 16 and row["attributes"]["polyphony"] == pytest.approx(4.0)
    assert row["meta"]["country"] == "DE"
    midi = symusic.Score(str(tmp_path / "cache" / "bachdoodle" / row["path"]))
    assert len(midi.tracks) == 4 and midi.tracks[0].notes[0].time == 0 and midi.tracks[0].notes[1].time == TPQ


def test_note_sequence_quantized_steps():
    seq = {"quantizationInfo": {"stepsPerQuarter": 4}, "tempos": [{"qpm": 90}],
           "notes": [{"pitch": 60, "quantizedEndStep": 4}, {"pitch": 62, "quantizedStartStep": 4,
                                                            "quantizedEndStep": 6, "program": 19}]}
    score = midi_corpora.note_sequence_to_score(seq)
    notes = sorted((n.time, n.duration, n.pitch) for t in score.tracks for n in t.notes)
    assert notes == [(0, TPQ, 60), (TPQ, TPQ // 2, 62)]
    assert sorted(t.program for t in score.tracks) == [19, midi_corpora.CHOIR]


def test_cli_reports_an_unknown_music21_source(capsys, tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "pipelines"))
    import prepare_corpus

    argv = ["--corpus", "music21", "--sources", "oneill", "esen", "--cache-dir", str(tmp_path), "--no-progress"]
    assert prepare_corpus.main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: unknown source 'esen' (did you mean 'essen'?); this corpus has: ")
    assert not any(tmp_path.iterdir())


def test_cli_reports_a_missing_path(capsys):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "pipelines"))
    import prepare_corpus

    assert prepare_corpus.main(["--corpus", "lakh", "--no-progress"]) == 1
    assert "error: --corpus lakh needs --path" in capsys.readouterr().err


@pytest.mark.real
def test_real_music21_cache_is_complete_and_consistent():
    """The converted music21 corpus in the user cache (run pipelines/prepare_corpus.py first): every work of each
    collection converted so far (all of them, or those a ``--sources`` run asked for) is in the manifest or failed."""
    from mm2music.training.corpora import music21_cache_dir
    from mm2music.training.corpora.music21_corpus import music21_tasks

    corpus_dir = music21_cache_dir()
    rows = read_manifest(corpus_dir)
    failures = cache.read_jsonl(corpus_dir / cache.FAILURES)
    source_of = {t.id: t.source for t in music21_tasks()}
    converted = {r["source"] for r in rows} | {source_of.get(f["id"]) for f in failures}
    assert len(rows) + len(failures) == sum(s in converted for s in source_of.values())
    assert len(failures) < 0.02 * len(rows)
    counts = Counter(r["split"] for r in rows)
    assert counts["train"] > 0.9 * len(rows) and counts["valid"] > 0 and counts["test"] > 0
    for row in rows[:: max(len(rows) // 50, 1)]:
        assert extract_attributes(corpus_dir / row["path"]).to_dict() == row["attributes"]
