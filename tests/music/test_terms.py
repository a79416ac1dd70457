"""What the training data allows: every collection with its terms, recorded beside the checkpoint."""

from __future__ import annotations

from mm2music.music.checkpoint import DEFAULT_CHECKPOINT
from mm2music.music.terms import OPEN_SOURCES, checkpoint_training_data, training_record, write_training_record


def test_the_shipped_checkpoint_says_what_its_data_allows():
    record = checkpoint_training_data(DEFAULT_CHECKPOINT)
    by_source = {r["source"]: r for r in record["collections"]}
    assert by_source["essen"]["commercial"] == "no" and "non-commercial" in by_source["essen"]["terms"]
    assert by_source["palestrina"]["commercial"] == "unclear" and by_source["oneill"]["commercial"] == "not stated"
    assert "non-commercial use only (essen)" in record["summary"]


def test_a_run_on_the_open_collections_says_so(tmp_path):
    assert set(OPEN_SOURCES) == {"oneill", "ryan", "aird", "nottingham"}
    write_training_record(tmp_path, list(OPEN_SOURCES), {"oneill": 1800, "ryan": 1050, "essen": 8000})
    record = checkpoint_training_data(tmp_path)
    assert [r["source"] for r in record["collections"]] == sorted(OPEN_SOURCES)
    assert record["collections"][2]["pieces"] == 1800 and "no licence" in record["summary"]
    assert "copyright lines (bach)" in training_record(["bach", "ryan"])["summary"]


def test_an_unrecorded_checkpoint_is_named_as_such(tmp_path):
    assert checkpoint_training_data(tmp_path)["summary"].startswith("not recorded")
