"""Generation: exact bar counts, a valid REMI grammar, enforced meter/tempo/instruments, determinism,
cached == uncached (also across a context refill), primers."""

from __future__ import annotations

import pytest
import torch

from mm2music.errors import ConfigError
from mm2music.music.attributes import TEMPO_EDGES, extract_attributes
from mm2music.music.generate import GenerationConfig, generate, generate_tokens
from mm2music.music.model import ModelConfig, MusicTransformer
from mm2music.music.tokenizer import Conditions, MusicTokenizer, program_family

FAST = dict(max_bar_tokens=48)  # a random model writes long bars: keep them short


pytestmark = pytest.mark.usefixtures("one_thread")




@pytest.fixture(scope="module")
def model(tok) -> MusicTransformer:
    torch.manual_seed(0)
    return MusicTransformer(ModelConfig(vocab_size=tok.vocab_size, block_size=96, n_layer=2, n_head=2, n_embd=32)).eval()


def count(tok, ids, prefix):
    return sum(1 for i in ids if tok.token(i).startswith(prefix))


@pytest.mark.parametrize("meter,n_bars", [("4/4", 1), ("3/4", 3), ("6/8", 4)])
def test_exact_bars_valid_grammar_and_enforced_conditions(tok, model, meter, n_bars):
    cond = Conditions(key="D minor", time_signature=meter, tempo_band="slow", families=("strings", "reed"))
    outs = generate_tokens(model, tok, cond, n_bars, num_samples=3, config=GenerationConfig(seed=3, **FAST))
    for ids in outs:
        assert tok.token(ids[0]) == "Bar_None"
        assert count(tok, ids, "Bar_") == n_bars
        assert tok.grammar_errors(ids) == 0.0
        assert {tok.token(i) for i in ids if tok.token(i).startswith("TimeSig_")} == {f"TimeSig_{meter}"}
        assert all(float(tok.token(i).split("_")[1]) < TEMPO_EDGES[0] for i in ids if tok.token(i).startswith("Tempo_"))
        programs = {int(tok.token(i).split("_")[1]) for i in ids if tok.token(i).startswith("Program_")}
        assert programs and {program_family(p) for p in programs} <= {"strings", "reed"}
        tok.decode(ids)  # decodes to a Score


def test_same_seed_same_output_and_cache_changes_nothing(tok, model):
    cond = [Conditions(time_signature="4/4"), Conditions(time_signature="3/4", families=("piano",))]
    # 6 bars of up to 48 tokens overflow the 96-token context: the refill must match too
    a = generate_tokens(model, tok, cond, 6, config=GenerationConfig(seed=7, **FAST))
    b = generate_tokens(model, tok, cond, 6, config=GenerationConfig(seed=7, **FAST))
    c = generate_tokens(model, tok, cond, 6, config=GenerationConfig(seed=7, use_cache=False, **FAST))
    d = generate_tokens(model, tok, cond, 6, config=GenerationConfig(seed=8, **FAST))
    assert a == b == c
    assert a != d
    assert max(len(x) for x in a) + tok.prefix_length > model.config.block_size


def test_primer_continues_and_rows_of_different_lengths_batch(tok, model):
    cond = Conditions(time_signature="2/4")
    first = generate_tokens(model, tok, cond, 2, num_samples=2, config=GenerationConfig(seed=1, **FAST))
    primers = [first[0], first[1][: first[1].index(tok.bar_id, 1)]]  # 2 bars and 1 bar
    cfg = dict(seed=2, temperature=0.8, top_p=0.9, **FAST)
    cached = generate_tokens(model, tok, cond, 2, primer=primers, config=GenerationConfig(**cfg))
    uncached = generate_tokens(model, tok, cond, 2, primer=primers, config=GenerationConfig(use_cache=False, **cfg))
    assert cached == uncached
    for ids in cached:
        assert count(tok, ids, "Bar_") == 2 and tok.grammar_errors(ids) == 0.0
    scores = generate(model, tok, cond, 3, num_samples=2, programs=[0], config=GenerationConfig(**FAST))
    assert len(scores) == 2 and all(t.program == 0 for s in scores for t in s.tracks)
    assert all(n.time + n.duration <= 3 * 2 * 480 for s in scores for t in s.tracks for n in t.notes)  # 3 bars of 2/4


def test_bad_requests_raise(tok, model):
    with pytest.raises(ConfigError, match="number of bars 0 must be >= 1"):
        generate_tokens(model, tok, Conditions(), 0)
    with pytest.raises(ConfigError, match="generation top_p 0 must be in"):
        GenerationConfig(top_p=0)
    with pytest.raises(ConfigError, match="primer token 9999 is not a REMI token id"):
        generate_tokens(model, tok, Conditions(), 1, primer=[9999])
    with pytest.raises(ConfigError, match="program 200 is not in the tokenizer's vocabulary"):
        generate_tokens(model, tok, Conditions(), 1, programs=[200])


@pytest.mark.real
def test_shipped_checkpoint_generates_valid_music():
    from mm2music.music.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint

    if not (DEFAULT_CHECKPOINT / "model.safetensors").exists():
        pytest.skip("no shipped checkpoint in checkpoints/music21 yet")
    model, tok, _ = load_checkpoint()
    cond = Conditions(key="G major", time_signature="3/4", density="medium", families=("piano",))
    outs = generate_tokens(model, tok, cond, 4, num_samples=4, config=GenerationConfig(seed=0))
    for ids in outs:
        assert count(tok, ids, "Bar_") == 4 and tok.grammar_errors(ids) == 0.0
        assert tok.decode(ids).note_num() > 0
    for score in generate(model, tok, cond, 4, num_samples=2):
        assert extract_attributes(score).bars == 4


def test_key_guidance_contrasts_confusable_keys_and_keeps_every_guarantee(tok, model):
    from mm2music.music.generate import contrast_conditions

    keys = [c.key for c in contrast_conditions(Conditions(key="A minor"))]
    assert keys == ["C major", "E minor", "D minor"]  # relative, dominant, subdominant
    assert contrast_conditions(Conditions(key=None)) == [Conditions(key=None)] * 3  # nothing to contrast

    cond = [Conditions(key="D minor"), Conditions(key="Bb major", time_signature="3/4")]
    guided = GenerationConfig(seed=5, key_guidance=1.5, **FAST)
    # 6 bars overflow the 96-token context: the contrast rows are cropped and refilled with their sequences
    a = generate_tokens(model, tok, cond, 6, config=guided)
    b = generate_tokens(model, tok, cond, 6, config=GenerationConfig(seed=5, key_guidance=1.5, use_cache=False, **FAST))
    plain = generate_tokens(model, tok, cond, 6, config=GenerationConfig(seed=5, **FAST))
    assert a == b and a != plain
    for ids in a:
        assert count(tok, ids, "Bar_") == 6 and tok.grammar_errors(ids) == 0.0
    with pytest.raises(ConfigError, match="key guidance"):
        GenerationConfig(key_guidance=-1)


def test_a_program_with_every_pitch_taken_at_this_position_is_not_offered(tok):
    """A degenerate sample once wrote all 88 pitches of one program at one position: the next Program token
    of that program had no Pitch to follow (a dead end, 'probability tensor contains nan')."""
    from mm2music.music.generate import _T, Grammar, _State, _allowed

    g = Grammar(tok)
    state = _State(1)
    state.prev[0], state.pos[0], state.bar_positions[0] = _T["Duration"], 0, 32
    pitches = [int(tok.token(i).split("_")[1]) for i in range(tok.vocab_size) if tok.token(i).startswith("Pitch_")]
    state.used[0, 68, pitches] = True  # program 68 (oboe): every pitch sounds at this position
    state.n_used[0, 68] = len(pitches)
    allowed = _allowed(g, state, torch.ones(1, tok.vocab_size, dtype=torch.bool), 384)[0]
    assert not allowed[tok.id("Program_68")]
    assert allowed[tok.id("Program_69")] and allowed[tok.id("Bar_None")]


def test_accept_stops_the_other_samples_at_the_first_good_one(tok, model):
    cond = Conditions(key="D minor")
    full = generate_tokens(model, tok, cond, 3, num_samples=4, config=GenerationConfig(seed=2, **FAST))
    never = generate_tokens(model, tok, cond, 3, num_samples=4, config=GenerationConfig(seed=2, **FAST), accept=lambda i, t: False)
    assert never == full  # asking changes nothing
    seen = []
    first = generate_tokens(model, tok, cond, 3, num_samples=4, config=GenerationConfig(seed=2, **FAST),
                            accept=lambda i, t: seen.append(i) or True)
    assert len(seen) == 1 and first[seen[0]] == full[seen[0]]  # the accepted one is complete
    assert min(len(t) for t in full) == len(full[seen[0]])  # ... and was the first to finish
    assert all(t == [] or t == full[i] for i, t in enumerate(first))  # the others stopped (or finished with it)
