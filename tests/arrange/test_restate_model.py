"""music.restate=model: a restating cue asks the decoder for its restatement, primed by the statement; the rules
restate it where no sample keeps the tune, and stay the default."""

from __future__ import annotations

import dataclasses

import pytest

from mm2music.arrange.compose import compose
from mm2music.arrange.theme import scale_intervals, steps_of
from mm2music.config import MusicConfig
from mm2music.errors import ConfigError
from mm2music.key import Key
from tests.arrange.test_realise import cue

pytestmark = pytest.mark.usefixtures("one_thread")


def cues():
    first = cue(bars=8, index=0, start=0.0, end=16.0, key="G", mode="major", cadence="half", valence=0.5, arousal=0.2)
    later = dataclasses.replace(first, index=1, start=16.0, end=40.0, tempo_bpm=80.0, register="high", cadence="authentic",
                                bar_intensity=(0.5,) * 8)
    return [first, dataclasses.replace(later, end=16.0 + 8 * 4 * 60.0 / 80.0)]


@pytest.fixture(scope="module")
def tiny(tiny_checkpoint):
    from mm2music.music.checkpoint import load_checkpoint

    model, tokenizer, _ = load_checkpoint(tiny_checkpoint)
    return model.eval(), tokenizer


def test_rules_stay_the_default_and_the_fallback(tiny):
    model, tokenizer = tiny
    rules = compose(cues(), model, tokenizer, MusicConfig(theme_candidates=2), seed=5)
    asked = compose(cues(), model, tokenizer, MusicConfig(theme_candidates=2, restate="model"), seed=5)
    assert MusicConfig().restate == "rules" and "restated_by" not in rules[1].report
    assert asked[0].notes == rules[0].notes  # the statement is not touched
    report = asked[1].report
    assert report["restate_candidates"] == 2 and report["restated_by"] in ("model", "rules")
    if report["restated_by"] == "rules":  # no sample of the random decoder kept the tune: the rules' restatement
        assert asked[1].notes == rules[1].notes
        assert report["restate_kept"] == 0


def test_a_sample_that_keeps_the_tune_is_laid_out(tiny, monkeypatch):
    """A decoder that plays the statement back (in the same key) is kept: its notes make the cue's melody."""
    import mm2music.music.generate as generate

    model, tokenizer = tiny
    real = generate.generate_tokens
    calls = []

    def echo(model_, tokenizer_, conditions, n_bars, *, num_samples=1, primer=None, config=None, **kw):
        if conditions.register == "high":  # the later cue's restatement: the statement's own tokens, each sample
            calls.append((conditions, n_bars, list(primer)))
            return [list(primer)] * num_samples
        return real(model_, tokenizer_, conditions, n_bars, num_samples=num_samples, primer=primer, config=config, **kw)

    monkeypatch.setattr(generate, "generate_tokens", echo)
    first_cue, later = cues()
    out = compose([first_cue, later], model, tokenizer, MusicConfig(theme_candidates=2, restate="model"), seed=5)
    restated = calls
    assert len(restated) == 1 and restated[0][0].key == "G major" and restated[0][0].tempo_band == "moderate"
    primer, statement = restated[0][2], out[0].tokens
    assert len(primer) == len(statement)  # primed by the statement's tokens, moved by octaves into the cue's register
    moved = {int(tokenizer.token(a)[6:]) - int(tokenizer.token(b)[6:]) for a, b in zip(primer, statement)
             if tokenizer.token(a).startswith("Pitch_")}
    assert len(moved) == 1 and next(iter(moved)) % 12 == 0
    assert all(a == b for a, b in zip(primer, statement) if not tokenizer.token(a).startswith("Pitch_"))
    report = out[1].report
    assert report["restated_by"] == "model" and report["restate_shared"] >= 6
    tonic, mode = Key.of("G", "major")
    a, b = (scale_intervals(steps_of(m.notes, tonic, mode))[:8] for m in out)
    assert sum(x == y for x, y in zip(a, b)) >= 6


def test_an_unknown_restate_mode_is_refused():
    with pytest.raises(ConfigError, match="music.restate='decoder' is not one of"):
        MusicConfig(restate="decoder")
