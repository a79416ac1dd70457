"""The writer process: it writes the files the run's process would, and where it cannot, the run does."""

from __future__ import annotations

import re
import sys

import pytest

from mm2music.arrange.compose import CueMusic
from mm2music.arrange.musicxml import write_musicxml
from mm2music.project import writer_process
from mm2music.project.writer_process import WriterProcess, run_apart
from mm2music.arrange.realise import TPQ
from tests.arrange.test_realise import cue, sketch


def music():
    c = cue("arpeggio", bars=4)
    length = round(c.quarters * TPQ)
    return [CueMusic(c, [], sketch(length, cluster=False), length)]


def same_score(a, b) -> bool:
    """Equal but for music21's random part ids and the encoding date."""
    strip = lambda p: re.sub(r'id="[^"]*"|<encoding-date>[^<]*', "", p.read_text())  # noqa: E731
    return strip(a) == strip(b)


def test_the_worker_writes_what_the_run_would(tmp_path):
    worker = WriterProcess()
    try:
        assert worker.run("musicxml", music(), tmp_path / "apart.musicxml", "t", [1.0])
        assert worker.run("musicxml", music(), tmp_path / "again.musicxml", "t", [1.0])  # the same process, warm
    finally:
        worker.close()
    write_musicxml(music(), tmp_path / "here.musicxml", "t", [1.0])
    assert same_score(tmp_path / "apart.musicxml", tmp_path / "here.musicxml")
    assert same_score(tmp_path / "again.musicxml", tmp_path / "here.musicxml")


def test_without_a_worker_the_score_is_written_here(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python"))
    monkeypatch.setattr(writer_process, "_PROCESS", WriterProcess())
    run_apart("musicxml", music(), tmp_path / "x.musicxml", "t")
    write_musicxml(music(), tmp_path / "here.musicxml", "t")
    assert same_score(tmp_path / "x.musicxml", tmp_path / "here.musicxml")


def test_a_score_the_worker_cannot_write_raises_here_as_before(tmp_path, monkeypatch):
    worker = WriterProcess()
    monkeypatch.setattr(writer_process, "_PROCESS", worker)
    try:
        with pytest.raises(FileNotFoundError):
            run_apart("musicxml", music(), tmp_path / "missing" / "x.musicxml", "t")
        assert worker.run("musicxml", music(), tmp_path / "x.musicxml", "t", [])  # and it still serves the next one
    finally:
        worker.close()


def test_the_score_written_part_by_part_is_the_whole_score_exported_at_once(tmp_path):
    from music21.musicxml.m21ToXml import ScoreExporter

    from mm2music.arrange.musicxml import build_musicxml_score

    whole = build_musicxml_score(music(), "t", [1.0])
    assert len(whole.parts) > 2  # melody, pad, bass...: the parts' elements and their MIDI channels are joined
    whole.makeRests(refStreamOrTimeRange=[0.0, whole.highestTime], fillGaps=True, inPlace=True, hideRests=True,
                    timeRangeFromBarDuration=True)
    whole.makeNotation(inPlace=True)
    exporter = ScoreExporter(whole, makeNotation=True)
    exporter.parse()
    (tmp_path / "whole.musicxml").write_bytes(exporter.asBytes())
    write_musicxml(music(), tmp_path / "parts.musicxml", "t", [1.0])
    assert same_score(tmp_path / "whole.musicxml", tmp_path / "parts.musicxml")


def test_the_worker_draws_the_timeline_figure_the_run_would(tmp_path):
    from mm2music.config import load_config
    from mm2music.graph.export import write_timeline
    from mm2music.pipeline import Inputs, run
    from tests.conftest import REPO

    config = load_config("debug", [f"output.out_dir={tmp_path}"])
    result = run(Inputs(text_file=str(REPO / "data/samples/wedding.txt")), config, analyze_only=True, progress=False)
    roll = [(0.0, 1.0, 60), (1.0, 2.5, 64), (2.0, 4.0, 48)]
    worker = WriterProcess()
    try:
        assert worker.run("timeline", tmp_path / "apart.png", result.analysis, result.plan, roll)
    finally:
        worker.close()
    write_timeline(tmp_path / "here.png", result.analysis, result.plan, roll)
    assert (tmp_path / "apart.png").read_bytes() == (tmp_path / "here.png").read_bytes()
