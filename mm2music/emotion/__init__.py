"""Emotion: the concept vocabulary and its circumplex coordinates, zero-shot scoring, and fusion of cues.

The pipeline's entry points are :class:`VisualEmotionConsumer` (a frame-sampler sink), :func:`scene_emotions`,
:func:`segment_emotions` and :func:`text_emotion`; each returns :class:`mm2music.types.Emotion` values.
"""

from mm2music.emotion.concepts import CONCEPTS, COORDS, NAMES, PLUTCHIK, Concept
from mm2music.emotion.fusion import (
    VisualEmotionConsumer,
    VisualTrack,
    scene_emotions,
    segment_emotions,
    text_emotion,
)
from mm2music.emotion.scoring import ConceptScorer, make_emotion, neutral_emotion

__all__ = [
    "CONCEPTS", "COORDS", "NAMES", "PLUTCHIK", "Concept", "ConceptScorer", "VisualEmotionConsumer", "VisualTrack",
    "make_emotion", "neutral_emotion", "scene_emotions", "segment_emotions", "text_emotion",
]
