"""The emotion vocabulary and its circumplex coordinates."""

import pytest

from mm2music.emotion import CONCEPTS, COORDS, NAMES, PLUTCHIK
from mm2music.emotion.concepts import Concept


def test_vocabulary_size_names_and_prompts():
    assert 16 <= len(CONCEPTS) <= 24
    assert len(set(NAMES)) == len(NAMES)
    for c in CONCEPTS:
        assert len(c.text_prompts) >= 3 and len(c.image_prompts) >= 3
        assert c.plutchik and set(c.plutchik) <= set(PLUTCHIK)


def test_coordinates_are_the_lexicon_values_scaled_to_the_circumplex():
    for c, (v, a) in zip(CONCEPTS, COORDS):
        assert -1 <= v <= 1 and -1 <= a <= 1
        assert v == pytest.approx(2 * c.nrc_vad[0] - 1, abs=1e-3) and a == pytest.approx(2 * c.nrc_vad[1] - 1, abs=1e-3)


@pytest.mark.parametrize("name, quadrant", [("joy", (1, 1)), ("serenity", (1, -1)), ("sadness", (-1, -1)),
                                            ("fear", (-1, 1)), ("anger", (-1, 1)), ("loneliness", (-1, -1))])
def test_concepts_sit_in_their_circumplex_quadrant(name, quadrant):
    v, a = COORDS[NAMES.index(name)]
    assert v * quadrant[0] > 0 and a * quadrant[1] > 0


def test_concept_validates_itself():
    with pytest.raises(ValueError, match="outside 0..1"):
        Concept("x", (1.5, 0.2), ("joy",), ("a",), ("b",))
    with pytest.raises(ValueError, match="unknown Plutchik"):
        Concept("x", (0.5, 0.2), ("glee",), ("a",), ("b",))
