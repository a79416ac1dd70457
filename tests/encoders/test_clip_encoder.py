"""CLIP backend: the real loading and encoding path, run on a tiny open_clip config with random weights.

No pretrained CLIP weights exist on test machines, so the tests write a randomly initialised tiny model to a
safetensors file and load it exactly as a user's ``--clip-weights`` file would be loaded.
"""

from pathlib import Path

import numpy as np
import pytest

from mm2music.config import EncoderConfig
from mm2music.encoders import clip_encoder, resolve_backend
from mm2music.encoders.clip import TINY_MODEL, ClipEncoder, find_clip_weights, register_configs
from mm2music.errors import ConfigError, ModelWeightsError

LAION_REPO = "laion/CLIP-ViT-B-32-laion2B-s34B-b79K"


def make_tiny_clip_weights(path: Path, seed: int = 0) -> Path:
    """Write a randomly initialised tiny CLIP (tests only) as safetensors."""
    import open_clip
    import torch
    from safetensors.torch import save_file

    register_configs()
    torch.manual_seed(seed)
    model = open_clip.create_model(TINY_MODEL)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return path


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Path:
    return make_tiny_clip_weights(tmp_path_factory.mktemp("clip") / "tiny.safetensors")


@pytest.fixture
def empty_hf_cache(tmp_path, monkeypatch) -> Path:
    from huggingface_hub import constants

    cache = tmp_path / "hf"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


def frames(n=5, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 144, 256, 3), dtype=np.uint8)


def test_tiny_clip_encodes_frames_and_text(tiny_weights):
    enc = ClipEncoder(TINY_MODEL, tiny_weights)
    img = enc.encode_frames(frames())
    txt = enc.encode_text(["a joyful wedding", "a funeral in the rain"])
    assert img.shape == (5, 64) and txt.shape == (2, 64) and enc.dim == 64
    assert np.allclose(np.linalg.norm(img, axis=1), 1, atol=1e-5)
    assert np.allclose(np.linalg.norm(txt, axis=1), 1, atol=1e-5)
    assert np.allclose(enc.encode_frames(frames()), img, atol=1e-5)  # deterministic
    assert enc.encode_frames(frames(0)).shape == (0, 64)
    assert enc.logit_scale > 1


def test_frames_of_any_aspect_are_cropped_to_the_model_input(tiny_weights):
    enc = ClipEncoder(TINY_MODEL, tiny_weights)
    x = enc._preprocess(np.zeros((2, 64, 300, 3), np.uint8))
    assert tuple(x.shape) == (2, 3, 64, 64)


def test_missing_pretrained_weights_name_the_file_and_the_fix(empty_hf_cache):
    with pytest.raises(ModelWeightsError, match=rf"open_clip_model\.safetensors from the Hugging Face repo {LAION_REPO} and pass --clip-weights PATH"):
        find_clip_weights("ViT-B-32", "laion2b_s34b_b79k", None)


def test_missing_weights_file_is_a_one_line_error(tmp_path):
    with pytest.raises(ModelWeightsError, match=r"CLIP weights file '.*nope\.safetensors' not found") as info:
        find_clip_weights("ViT-B-32", None, tmp_path / "nope.safetensors")
    assert "\n" not in str(info.value)


def test_unknown_tag_and_weightless_model(empty_hf_cache):
    with pytest.raises(ModelWeightsError, match=r"tag 'nope'; its open_clip tags include openai"):
        find_clip_weights("ViT-B-32", "nope", None)
    with pytest.raises(ModelWeightsError, match=rf"no CLIP weights for {TINY_MODEL}"):
        find_clip_weights(TINY_MODEL, "laion2b_s34b_b79k", None)


def test_weights_are_found_in_the_hugging_face_cache(empty_hf_cache):
    repo = empty_hf_cache / ("models--" + LAION_REPO.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    snapshot = repo / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "open_clip_model.safetensors").write_bytes(b"x")
    assert find_clip_weights("ViT-B-32", "laion2b_s34b_b79k", None) == snapshot / "open_clip_model.safetensors"
    assert resolve_backend(EncoderConfig()) == "clip"  # --encoder auto looks in the cache past its quick check


def test_weights_of_another_architecture_are_refused(tmp_path):
    import torch
    from safetensors.torch import save_file

    path = tmp_path / "other.safetensors"
    save_file({"something.else": torch.zeros(3)}, str(path))
    with pytest.raises(ModelWeightsError, match=rf"do not load into {TINY_MODEL}.*--clip-model"):
        ClipEncoder(TINY_MODEL, path)


@pytest.mark.parametrize("name", ["bad.safetensors", "bad.bin"])
def test_unreadable_weights_file_is_a_one_line_error(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"garbage")
    with pytest.raises(ModelWeightsError, match=r"cannot read CLIP weights .*give a \.safetensors") as info:
        ClipEncoder(TINY_MODEL, path)
    assert "\n" not in str(info.value)


def test_unknown_model_name_suggests_the_closest():
    with pytest.raises(ConfigError, match=r"unknown CLIP model 'ViT-B-3'.*did you mean"):
        ClipEncoder("ViT-B-3", "unused")


def test_backend_auto_picks_clip_only_when_weights_exist(tiny_weights, empty_hf_cache):
    assert resolve_backend(EncoderConfig()) == "affect"
    assert resolve_backend(EncoderConfig(clip_model=TINY_MODEL, clip_weights=str(tiny_weights))) == "clip"
    assert resolve_backend(EncoderConfig(backend="affect", clip_weights=str(tiny_weights))) == "affect"
    with pytest.raises(ModelWeightsError, match="not on this machine"):
        resolve_backend(EncoderConfig(backend="clip"))
    with pytest.raises(ConfigError, match="did you mean 'clip'"):
        resolve_backend(EncoderConfig(backend="clips"))


def test_clip_encoder_is_loaded_once_per_process(tiny_weights):
    config = EncoderConfig(backend="clip", clip_model=TINY_MODEL, clip_weights=str(tiny_weights))
    assert clip_encoder(config) is clip_encoder(config)
