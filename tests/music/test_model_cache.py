"""The decoder cache (one load per process) is keyed by the checkpoint's files, not its path: a checkpoint
retrained in place while the studio runs is loaded again, an unchanged one is not."""

import torch

from mm2music.music.checkpoint import load_music_model, save_checkpoint
from mm2music.music.model import ModelConfig, MusicTransformer
from mm2music.music.tokenizer import MusicTokenizer, TokenizerSettings


def save(folder, seed):
    torch.manual_seed(seed)
    tokenizer = MusicTokenizer(TokenizerSettings(positions_per_beat=4, num_velocities=8, max_families=3))
    model = MusicTransformer(ModelConfig(vocab_size=tokenizer.vocab_size, block_size=64, n_layer=1, n_head=2, n_embd=16))
    return save_checkpoint(folder, model, tokenizer)


def test_a_checkpoint_replaced_in_place_is_loaded_again(tmp_path):
    folder = save(tmp_path / "ckpt", 0)
    first, _ = load_music_model(str(folder), "none")
    assert load_music_model(str(folder), "none")[0] is first  # unchanged: the cached model
    save(folder, 1)  # retrained in place
    second, _ = load_music_model(str(folder), "none")
    assert second is not first
    assert not torch.equal(first.wte.weight, second.wte.weight)
