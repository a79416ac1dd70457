"""Per-scene fusion of frames, captions and audio."""

import numpy as np
import pytest

from mm2music.config import Config
from mm2music.emotion import NAMES, VisualEmotionConsumer, make_emotion, scene_emotions, segment_emotions
from mm2music.emotion.fusion import cut_rates
from mm2music.encoders.clip import TINY_MODEL
from mm2music.media.sampling import FrameSampler
from mm2music.types import AudioEnvelope, Emotion, FrameChunk, Scene, TextSegment
from tests.encoders.test_affect_encoder import bright_fast, dark_still
from tests.encoders.test_clip_encoder import make_tiny_clip_weights


def config(**encoder) -> Config:
    c = Config()
    c.encoder.backend = "affect"
    for k, v in encoder.items():
        setattr(c.encoder, k, v)
    return c


def track_of(frames, fps=2.0, cfg=None):
    consumer = VisualEmotionConsumer(cfg or config())
    consumer(frames, np.arange(len(frames)) / fps)
    return consumer.track()


def fixed(name: str) -> Emotion:
    return make_emotion(np.eye(len(NAMES))[NAMES.index(name)], ("test",))


def test_dark_still_video_reads_lower_than_bright_fast_cut_video():
    dark = track_of(dark_still(20))
    bright = track_of(bright_fast(20))
    (calm,) = scene_emotions([Scene(0, 0.0, 10.0)], dark, config=config())
    busy = scene_emotions([Scene(i, i * 0.5, (i + 1) * 0.5) for i in range(20)], bright, config=config())
    assert all(e.valence > calm.valence and e.arousal > calm.arousal for e in busy)
    for e in [calm, *busy]:
        assert sum(e.concepts.values()) == pytest.approx(1.0, abs=1e-6) and e.sources == ("affect",)
    assert len(dark) == 20 and dark.embeddings is None and dark.features.shape == (20, 8)


def test_consumer_rides_the_frame_sampler():
    consumer = VisualEmotionConsumer(config())
    sampler = FrameSampler(2.0, consumer)
    frames = dark_still(25)
    sampler.update(FrameChunk(frames, np.arange(25), np.arange(25) / 25.0))
    assert np.allclose(consumer.track().times, [0.0, 0.52])


def test_caption_blocks_weigh_by_overlap():
    joy, grief = fixed("joy"), fixed("grief")
    scene = [Scene(0, 0.0, 10.0)]
    mostly_joy = [TextSegment("a", 0.0, 8.0), TextSegment("b", 8.0, 12.0)]
    (e,) = scene_emotions(scene, None, mostly_joy, config=config(), segment_readings=[joy, grief])
    assert e.valence == pytest.approx(0.8 * joy.valence + 0.2 * grief.valence, abs=1e-6)
    assert e.concepts["joy"] == pytest.approx(0.8) and e.concepts["grief"] == pytest.approx(0.2)
    outside = [TextSegment("c", 20.0, 30.0)]
    (n,) = scene_emotions(scene, None, outside, config=config(), segment_readings=[joy])
    assert n.confidence == 0 and n.sources == ()


def test_caption_coverage_sets_its_weight_against_the_frames():
    dark = track_of(dark_still(20))
    joy = fixed("joy")
    scene = [Scene(0, 0.0, 10.0)]
    (brief,) = scene_emotions(scene, dark, [TextSegment("a", 0.0, 1.0)], config=config(), segment_readings=[joy])
    (full,) = scene_emotions(scene, dark, [TextSegment("a", 0.0, 10.0)], config=config(), segment_readings=[joy])
    (frames_only,) = scene_emotions(scene, dark, config=config())
    assert frames_only.valence < brief.valence < full.valence
    assert full.sources == ("affect", "test")


def test_captions_are_scored_as_text():
    segments = [TextSegment("Children laugh and dance at the party.", 0.0, 5.0),
                TextSegment("She weeps alone by the grave.", 5.0, 10.0)]
    happy, sad = scene_emotions([Scene(0, 0.0, 5.0), Scene(1, 5.0, 10.0)], None, segments, config=config())
    assert happy.valence > sad.valence
    assert segment_emotions([], config()) == []


def test_louder_scene_reads_more_aroused():
    dark = track_of(dark_still(20))
    hop = 0.05
    rms = np.concatenate([np.full(100, -40.0), np.full(100, -12.0)])
    audio = AudioEnvelope(16000, hop, 10.0, rms, rms - 3)
    scenes = [Scene(0, 0.0, 5.0), Scene(1, 5.0, 10.0)]
    quiet, loud = scene_emotions(scenes, dark, audio=audio, config=config())
    assert loud.arousal > quiet.arousal and "audio" in loud.sources
    c = config()
    c.emotion.audio_arousal = 0.0
    q0, l0 = scene_emotions(scenes, dark, audio=audio, config=c)
    assert "audio" not in l0.sources and abs(l0.arousal - q0.arousal) < abs(loud.arousal - quiet.arousal)


def test_cutting_rate_counts_boundaries_near_the_scene():
    many = [Scene(i, float(i), float(i + 1)) for i in range(60)]
    assert cut_rates(many)[30] == pytest.approx(63.0, abs=4)  # 21 boundaries in a 20 s window
    few = [Scene(0, 0.0, 30.0), Scene(1, 30.0, 60.0)]
    assert np.all(cut_rates(few) == 2.0)  # one boundary in each 30 s scene
    assert len(cut_rates([])) == 0


def test_clip_path_end_to_end_with_a_tiny_model(tmp_path):
    weights = make_tiny_clip_weights(tmp_path / "tiny.safetensors")
    cfg = config(backend="clip", clip_model=TINY_MODEL, clip_weights=str(weights))
    track = track_of(bright_fast(6), cfg=cfg)  # sampled at 2 fps, CLIP reads 1 fps
    assert track.embeddings.shape == (3, 64) and track.encoder == f"clip:{TINY_MODEL}"
    assert np.allclose(track.embedding_times, [0.0, 1.0, 2.0]) and len(track) == 6
    (e,) = scene_emotions([Scene(0, 0.0, 3.0)], track, [TextSegment("a happy day", 0.0, 3.0)], config=cfg)
    assert set(e.sources) == {"clip", "affect", "minilm", f"clip:{TINY_MODEL}"}
    assert sum(e.concepts.values()) == pytest.approx(1.0, abs=1e-6) and -1 <= e.valence <= 1
    assert track.scene_embedding(0.0, 3.0).shape == (64,)
