"""Zero-shot text scoring: distributions, calibrated temperature, valence ordering on sample texts."""

import numpy as np
import pytest

from mm2music.config import Config
from mm2music.emotion import NAMES, make_emotion, neutral_emotion, text_emotion
from mm2music.emotion.scoring import (
    TEMPERATURE_GRID,
    calibrate_temperature,
    concept_scorer,
    peakedness,
    split_text,
    text_distributions,
)
from mm2music.encoders import text_encoder
from tests.conftest import REPO

SAMPLES = REPO / "data" / "samples"


def affect_only() -> Config:
    config = Config()
    config.encoder.backend = "affect"
    return config


def test_wedding_reads_more_positive_than_funeral():
    wedding = text_emotion((SAMPLES / "wedding.txt").read_text(encoding="utf-8"), affect_only())
    funeral = text_emotion((SAMPLES / "funeral.txt").read_text(encoding="utf-8"), affect_only())
    assert wedding.valence > 0.3 > -0.3 > funeral.valence
    assert wedding.arousal > funeral.arousal
    assert wedding.top(1)[0][0] in ("joy", "excitement", "love", "triumph")
    assert funeral.top(1)[0][0] in ("grief", "sadness", "melancholy", "loneliness")
    for e in (wedding, funeral):
        assert sum(e.concepts.values()) == pytest.approx(1.0, abs=1e-6)
        assert list(e.concepts) == list(NAMES)
        assert e.sources == ("minilm",) and 0 <= e.confidence <= 1


def test_distributions_sum_to_one_and_temperature_is_calibrated():
    scorer = concept_scorer(text_encoder(), "text")
    assert TEMPERATURE_GRID[0] < scorer.temperature < TEMPERATURE_GRID[-1]
    p = text_distributions(["a storm at sea", "a birthday party", "x"], [text_encoder()])
    assert p.shape == (3, len(NAMES)) and np.allclose(p.sum(1), 1)


def test_calibration_prefers_sharp_scores_for_separable_prompts():
    tight = [np.array([[1.0, 0.0], [0.999, 0.045]]), np.array([[0.0, 1.0], [0.045, 0.999]])]
    loose = [np.array([[1.0, 0.0], [0.6, 0.8]]), np.array([[0.0, 1.0], [0.8, 0.6]])]
    assert calibrate_temperature(tight) < calibrate_temperature(loose)


def test_long_text_is_split_at_sentences():
    text = " ".join(f"Sentence number {i} has five words." for i in range(30))
    chunks = split_text(text, max_words=20)
    assert len(chunks) > 1 and all(len(c.split()) <= 20 for c in chunks)
    assert " ".join(chunks) == text
    assert split_text("no punctuation at all") == ["no punctuation at all"]


def test_emotion_helpers():
    assert peakedness(np.full(4, 0.25)) == pytest.approx(0.0)
    assert peakedness(np.array([1.0, 0, 0, 0])) == pytest.approx(1.0)
    n = neutral_emotion()
    assert (n.valence, n.arousal, n.confidence) == (0.0, 0.0, 0.0)
    e = make_emotion(np.eye(len(NAMES))[NAMES.index("fear")], ("test",))
    assert e.top(1)[0][0] == "fear" and e.valence < 0 < e.arousal
