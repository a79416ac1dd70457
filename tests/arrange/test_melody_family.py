"""The theme writer asks the decoder for an instrument family its training pieces carried."""

from __future__ import annotations

import pytest

from mm2music.arrange.compose import melody_density, melody_family, theme_conditions, write_theme
from mm2music.config import MusicConfig
from tests.arrange.test_realise import cue

OPEN = {"strings": 4120, "piano": 3}  # what a checkpoint trained on the fiddle-tune books records
FULL = {"pipe": 7700, "strings": 4100, "ensemble": 1700, "piano": 90}


def test_lively_cues_ask_for_a_fiddle_tune_and_calm_ones_for_a_song():
    lively, calm = cue(arousal=0.7, valence=0.5), cue(arousal=0.1, valence=-0.3)
    assert (melody_family(lively), melody_family(calm)) == ("strings", "pipe")  # nothing recorded: as trained on all
    assert (melody_family(lively, FULL), melody_family(calm, FULL)) == ("strings", "pipe")


def test_a_family_the_checkpoint_never_saw_is_not_asked_for():
    calm = cue(arousal=0.1, valence=-0.3, density="sparse")
    assert melody_family(calm, OPEN) == "strings"
    assert melody_family(cue(arousal=0.7), {"pipe": 50}) == "pipe"
    assert melody_family(calm, {"ensemble": 5, "piano": 9}) == "piano"  # neither: the family most pieces carry
    # the calm tune keeps its own density whatever family it is written as (a fiddle tune's bin under is for reels)
    assert melody_density(calm) == "sparse"
    conditions = theme_conditions(calm, seen=OPEN)
    assert conditions.families == ("strings",) and conditions.polyphony == "monophonic" and conditions.density == "sparse"


@pytest.fixture
def open_checkpoint(tmp_path):
    import torch

    from mm2music.music.checkpoint import save_checkpoint
    from mm2music.music.model import ModelConfig, MusicTransformer
    from mm2music.music.tokenizer import MusicTokenizer, TokenizerSettings

    torch.manual_seed(0)
    tokenizer = MusicTokenizer(TokenizerSettings(positions_per_beat=4, num_velocities=8, max_families=3))
    model = MusicTransformer(ModelConfig(vocab_size=tokenizer.vocab_size, block_size=256, n_layer=2, n_head=2, n_embd=32))
    return save_checkpoint(tmp_path / "open", model, tokenizer, {"families": OPEN})


def test_write_theme_asks_what_the_loaded_checkpoint_was_trained_on(open_checkpoint, monkeypatch):
    from mm2music.music import generate
    from mm2music.music.checkpoint import load_checkpoint

    model, tokenizer, _ = load_checkpoint(open_checkpoint)
    assert tokenizer.families_seen == OPEN
    asked = []

    def spy(model, tokenizer, conditions, bars, num_samples=1, **kw):
        asked.append(conditions)
        return [[] for _ in range(num_samples)]

    monkeypatch.setattr(generate, "generate_tokens", spy)
    write_theme(cue(arousal=0.1, valence=-0.3), model, tokenizer, MusicConfig(theme_candidates=2), seed=1)
    assert len(asked) == 3 and {c.families for c in asked} == {("strings",)}
