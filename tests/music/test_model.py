"""The decoder (cache, padding) and checkpoint I/O (round trip, one-line errors)."""

from __future__ import annotations

import json

import pytest
import torch

from mm2music.errors import CheckpointError, ConfigError
from mm2music.music.checkpoint import load_checkpoint, save_checkpoint
from mm2music.music.model import KVCache, ModelConfig, MusicTransformer, for_inference
from mm2music.music.tokenizer import MusicTokenizer, TokenizerSettings


pytestmark = pytest.mark.usefixtures("one_thread")




def tiny(vocab: int, block: int = 64) -> MusicTransformer:
    torch.manual_seed(0)
    return MusicTransformer(ModelConfig(vocab_size=vocab, block_size=block, n_layer=2, n_head=2, n_embd=32)).eval()


def test_cached_forward_equals_full_forward():
    m = tiny(50)
    x = torch.randint(0, 50, (3, 40))
    full, _ = m(x)
    cache = KVCache(m.config, 3)
    parts = [m(x[:, :9], cache=cache)[0], m(x[:, 9:17], cache=cache)[0]]  # prefill, then a chunk
    parts += [m(x[:, i : i + 1], cache=cache)[0] for i in range(17, 40)]  # then one token at a time
    assert cache.length == 40
    torch.testing.assert_close(torch.cat(parts, 1), full, atol=1e-5, rtol=1e-5)


def test_left_padding_is_invisible():
    m = tiny(50)
    x = torch.randint(1, 50, (2, 30))
    padded = x.clone()
    padded[0, :5] = 0
    logits, _ = m(padded, pad=torch.tensor([5, 0]))
    alone, _ = m(x[:1, 5:])
    torch.testing.assert_close(logits[0, 5:], alone[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(logits[1], m(x[1:])[0][0], atol=1e-5, rtol=1e-5)


def test_padded_rows_fed_one_token_at_a_time_equal_the_full_forward():
    """Sampling's step: one new token per row over a cache of left-padded rows (the step builds its own mask)."""
    m = tiny(50)
    x = torch.randint(1, 50, (2, 30))
    x[0, :5] = 0
    pad = torch.tensor([5, 0])
    full, _ = m(x, pad=pad)
    cache = KVCache(m.config, 2)
    parts = [m(x[:, :10], cache=cache, pad=pad)[0]] + [m(x[:, i : i + 1], cache=cache, pad=pad)[0] for i in range(10, 30)]
    torch.testing.assert_close(torch.cat(parts, 1), full, atol=1e-5, rtol=1e-5)


def test_loss_and_config_checks():
    m = tiny(50)
    x = torch.randint(0, 50, (2, 16))
    _, loss = m(x[:, :-1], x[:, 1:])
    assert abs(float(loss.detach()) - torch.log(torch.tensor(50.0)).item()) < 0.5  # ~uniform at init
    with pytest.raises(ConfigError, match="n_embd 30 is not divisible by model.n_head 4"):
        ModelConfig(vocab_size=10, n_embd=30, n_head=4)
    with pytest.raises(ConfigError, match="vocab_size is 0"):
        MusicTransformer(ModelConfig())


def test_checkpoint_round_trip(tok, tmp_path):
    m = tiny(tok.vocab_size)
    save_checkpoint(tmp_path / "ckpt", m, tok, {"step": 3})
    loaded, tok2, config = load_checkpoint(tmp_path / "ckpt")
    assert tok2.hash == tok.hash and config["training"] == {"step": 3} and config["format_version"] == 1
    x = torch.randint(0, tok.vocab_size, (1, 20))
    torch.testing.assert_close(loaded(x)[0], m(x)[0])
    assert loaded.lm_head.weight is loaded.wte.weight  # tying survives the round trip
    assert load_checkpoint(tmp_path / "ckpt" / "model.safetensors")[0].config == m.config


def test_checkpoint_errors_are_one_line(tok, tmp_path):
    folder = tmp_path / "ckpt"
    save_checkpoint(folder, tiny(tok.vocab_size), tok)

    bigger = MusicTokenizer(TokenizerSettings(max_families=3, num_velocities=16))
    with pytest.raises(CheckpointError, match=(
        rf"^vocab size {tok.vocab_size} in 'model.safetensors' differs from the tokenizer's {bigger.vocab_size}; "
        r"load the tokenizer saved with this checkpoint\.$"
    )):
        load_checkpoint(folder, tokenizer=bigger)

    weights = folder / "model.safetensors"
    good = weights.read_bytes()
    weights.write_bytes(good[: len(good) // 2])
    with pytest.raises(CheckpointError, match=r"cannot read '.*model.safetensors': .*; the file is corrupt or not safetensors") as exc:
        load_checkpoint(folder)
    assert "\n" not in str(exc.value)
    weights.write_bytes(good)

    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "format_version": 7}))
    with pytest.raises(CheckpointError, match="has format version 7, this code reads 1"):
        load_checkpoint(folder)
    (folder / "config.json").write_text(json.dumps({**config, "model": {**config["model"], "n_layer": 3}}))
    with pytest.raises(CheckpointError, match=r"tensor 'h\.2\.ln_1\.weight' is missing from 'model.safetensors'"):
        load_checkpoint(folder)
    (folder / "config.json").unlink()
    with pytest.raises(CheckpointError, match="no config.json in"):
        load_checkpoint(folder)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nowhere")


def test_int8_inference_model_keeps_the_distribution_and_the_cache_contract():
    m = tiny(50)
    q = for_inference(m, "int8")
    assert q is not m and for_inference(m, "none") is m
    assert type(m.h[0].mlp.c_fc).__name__ == "Linear"  # the trained model itself is left alone
    x = torch.randint(0, 50, (2, 30))
    with torch.no_grad():
        p, lq = m(x)[0].log_softmax(-1), q(x)[0].log_softmax(-1)
    assert float((p.exp() * (p - lq)).sum(-1).mean()) < 0.01  # KL in nats per token
    cache = KVCache(q.config, 2)
    steps = [q.next_logits(x[:, :10], cache)] + [q.next_logits(x[:, i : i + 1], cache) for i in range(10, 30)]
    # activations are quantised per call (per-tensor scale), so cached steps match the full pass closely, not exactly
    torch.testing.assert_close(steps[-1], q(x)[0][:, -1], atol=0.02, rtol=0.02)
    with pytest.raises(ConfigError, match="music.quantize"):
        for_inference(m, "int4")


def test_the_compiled_blocks_give_the_eager_logits_bit_for_bit():
    """for_inference compiles the blocks (TorchScript, run outside the interpreter's lock): the same numbers as the
    quantized model's own blocks, a whole pass and step by step through the cache with left padding."""
    q = for_inference(tiny(50), "int8")
    x = torch.randint(0, 50, (3, 24))
    pad = torch.tensor([0, 2, 5])

    def outputs():
        cache = KVCache(q.config, 3)
        with torch.no_grad():
            steps = [q.next_logits(x[:, :8], cache, pad)] + [q.next_logits(x[:, i : i + 1], cache, pad) for i in range(8, 24)]
            return [q(x)[0], *steps]

    class Counted(torch.nn.Module):  # the compiled blocks, counting the calls the model makes to them
        def __init__(self, inner):
            super().__init__()
            self.inner, self.calls = inner, 0

        def forward(self, *args):
            self.calls += 1
            return self.inner(*args)

    assert isinstance(q.compiled, torch.jit.ScriptModule)
    q.compiled = counted = Counted(q.compiled)
    compiled = outputs()
    assert counted.calls == 1 + 1 + 16  # the whole pass, the primed cache, each step: all through the compiled blocks
    q.compiled = None
    eager = outputs()
    assert all(torch.equal(a, b) for a, b in zip(compiled, eager))
