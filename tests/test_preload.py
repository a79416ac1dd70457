"""The preload: the decoder loading (and the writers' libraries importing) on a thread while a run decodes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mm2music.errors import CheckpointError
from mm2music.music.checkpoint import load_music_model
from mm2music.preload import Preload


def test_the_preloaded_decoder_is_the_one_the_process_keeps(tiny_checkpoint):
    preload = Preload(str(tiny_checkpoint), "none", modules=())
    model, tokenizer = preload.model()
    assert load_music_model(str(tiny_checkpoint), "none") == (model, tokenizer)  # loaded once, shared


def test_a_decoder_that_fails_to_load_is_raised_by_check_and_model(tiny_checkpoint, tmp_path):
    import torch
    from safetensors.torch import load_file, save_file

    bad = tmp_path / "nan"
    bad.mkdir()
    for f in tiny_checkpoint.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    tensors = load_file(str(bad / "model.safetensors"))
    tensors["wte.weight"][0, 0] = torch.nan
    save_file(tensors, str(bad / "model.safetensors"))
    preload = Preload(str(bad), "none", modules=())
    with pytest.raises(CheckpointError, match="holds NaN or infinite values"):
        preload.model()
    with pytest.raises(CheckpointError, match="holds NaN or infinite values"):
        preload.check()  # done by now: raises at once, as the decoding loop calls it between chunks


def test_a_module_that_cannot_be_imported_is_left_to_the_code_that_needs_it(tiny_checkpoint):
    preload = Preload(str(tiny_checkpoint), "none", modules=("mm2music_no_such_module", "json"))
    preload.model()  # no error: preloading is only a head start
    preload.check()


def test_reading_a_checkpoint_config_imports_no_torch():
    """The settings check reads the checkpoint's config before anything slow: torch comes with the weights."""
    code = ("import sys; from mm2music.checks import check_checkpoint; check_checkpoint(None); "
            "sys.exit(1 if 'torch' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
