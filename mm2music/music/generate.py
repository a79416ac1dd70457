"""Generation: conditions + number of bars (+ an optional primer) -> REMI tokens -> MIDI (symusic Score).

Sampling is constrained by a small grammar state machine over miditok's REMI token types, so every output
is valid (miditok's ``tokens_errors`` is 0) and holds exactly the requested number of bars:

- types follow REMI's order: ``Bar -> TimeSig -> Position -> [Tempo] -> Program -> Pitch|PitchDrum ->
  Velocity -> Duration -> (Program | Position | Bar)``; the first new token is a ``Bar``;
- ``Position`` values move forward inside a bar and stay inside the bar of the current ``TimeSig``;
- a pitch sounds at most once per (position, program), and a program is offered only while one of its
  pitches is free there; drums (``Program_-1``) take ``PitchDrum``;
- a sequence stops when it would start bar n+1 (that ``Bar`` is not kept); a bar longer than
  ``max_bar_tokens`` is closed as soon as the grammar allows a ``Bar``;
- optionally the conditions are enforced where the REMI stream states them outright: ``TimeSig`` =
  the requested meter, ``Tempo`` inside the requested band, ``Program`` in the requested families.
  Key, density, register and polyphony are left to the model.

The state lives in tensors (one row per sequence) and the mask is a handful of vectorised ops per step.
The cache is a :class:`~mm2music.music.model.KVCache`; when a sequence reaches the model's block size the
context is cut back to the prefix + the most recent whole bars (at most half the block) and refilled,
with the same cut in cached and uncached mode, so both give the same tokens.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from mm2music.errors import ConfigError, Mm2MusicError
from mm2music.music.attributes import TEMPO_BANDS, TEMPO_EDGES, tonic_name
from mm2music.music.model import KVCache, MusicTransformer
from mm2music.music.tokenizer import Conditions, MusicTokenizer, program_family

log = logging.getLogger(__name__)

# grammar states = the type of the last token; START = right after the prefix / primer
TYPES = ("START", "Bar", "TimeSig", "Position", "Tempo", "Program", "Pitch", "PitchDrum", "Velocity", "Duration")
FOLLOW = {
    "START": {"Bar"},
    "Bar": {"TimeSig"},
    "TimeSig": {"Position", "Bar"},
    "Position": {"Tempo", "Program"},
    "Tempo": {"Program", "Position", "Bar"},
    "Program": {"Pitch", "PitchDrum"},
    "Pitch": {"Velocity"},
    "PitchDrum": {"Velocity"},
    "Velocity": {"Duration"},
    "Duration": {"Program", "Position", "Bar"},
}
_T = {t: i for i, t in enumerate(TYPES)}
_DRUM_ROW = 128  # row of the drum program in the per-program pitch bookkeeping


@dataclass
class GenerationConfig:
    temperature: float = 1.0
    top_p: float = 0.95  # nucleus sampling; 1.0 = plain sampling
    seed: int = 0
    max_bar_tokens: int = 384  # a bar longer than this is closed at the next chance
    force_meter: bool = True  # TimeSig tokens = the requested time signature (when the vocabulary has it)
    force_tempo_band: bool = True  # Tempo tokens inside the requested band
    force_families: bool = True  # Program tokens in the requested instrument families
    use_cache: bool = True  # False recomputes the whole context every step (for tests)
    # torch threads while sampling (restored after); 0 = leave as is. One thread: a decoding step is too
    # small to split, and on a busy 2-core machine 2 threads spin (measured 1,160 vs 81 tokens/s at batch 16)
    threads: int = 1
    # Key guidance (contrastive, like classifier-free guidance with the keys most often confused with the asked
    # one as the negative): next-token log-probabilities lp + w * (lp - mean(lp under the relative, dominant
    # and subdominant key)). The contrast rows read the same tokens: a batch 4x as wide. 0 = off.
    key_guidance: float = 0.0

    def __post_init__(self) -> None:
        if not self.temperature > 0:
            raise ConfigError(f"generation temperature {self.temperature} must be > 0")
        if not 0 < self.top_p <= 1:
            raise ConfigError(f"generation top_p {self.top_p} must be in (0, 1]")
        if not self.key_guidance >= 0:
            raise ConfigError(f"key guidance {self.key_guidance} must be >= 0 (0 = off)")


CONTRAST_KEYS = ("relative", "dominant", "subdominant")


def contrast_conditions(conditions: Conditions) -> list[Conditions]:
    """The conditions with the key moved to those most often confused with it in analysis: the relative,
    the dominant and the subdominant key (unchanged conditions when there is no key: no guidance). The
    parallel key as a fourth contrast did worse on the valid split (more relative-key answers)."""
    if conditions.key is None:
        return [conditions] * len(CONTRAST_KEYS)
    pc, mode = conditions.key_pc, conditions.key_mode
    other = "minor" if mode == "major" else "major"
    keys = [(pc + (9 if mode == "major" else 3), other), (pc + 7, mode), (pc + 5, mode)]
    return [dataclasses.replace(conditions, key=f"{tonic_name(p, m)} {m}") for p, m in keys]


class Grammar:
    """Static per-vocabulary tables for the REMI grammar of one tokenizer."""

    def __init__(self, tokenizer: MusicTokenizer):
        self.tokenizer = tokenizer
        V = tokenizer.vocab_size
        types = tokenizer.token_types()
        self.type_of = torch.tensor([_T.get(t, -1) for t in types])  # (V,) state index, -1: never sampled
        self.pos_val = torch.full((V,), -1, dtype=torch.long)
        self.pitch_val = torch.zeros(V, dtype=torch.long)
        self.prog_row = torch.zeros(V, dtype=torch.long)
        self.bar_positions = torch.zeros(V, dtype=torch.long)  # positions per bar of TimeSig tokens
        self.tempo_bpm = torch.zeros(V)
        self.family_of: list[str | None] = [None] * V  # General MIDI family of Program tokens
        ppb = tokenizer.remi.config.max_num_pos_per_beat
        for i, t in enumerate(types):
            value = tokenizer.token(i).split("_", 1)[-1]
            if t == "Position":
                self.pos_val[i] = int(value)
            elif t in ("Pitch", "PitchDrum"):
                self.pitch_val[i] = int(value)
            elif t == "Program":
                self.prog_row[i] = _DRUM_ROW if int(value) == -1 else int(value)
                self.family_of[i] = program_family(int(value))
            elif t == "TimeSig":
                self.bar_positions[i] = int(value.split("/")[0]) * ppb
            elif t == "Tempo":
                self.tempo_bpm[i] = float(value)
        n = len(TYPES)
        follow = torch.zeros(n, n, dtype=torch.bool)
        for a, bs in FOLLOW.items():
            for b in bs:
                follow[_T[a], _T[b]] = True
        known = self.type_of >= 0
        self.type_mask = follow[:, self.type_of.clamp(min=0)] & known[None]  # (states, V)
        self.is_pos = self.pos_val >= 0
        self.is_pitch = self.type_of == _T["Pitch"]
        self.is_drum_pitch = self.type_of == _T["PitchDrum"]
        self.is_bar = self.type_of == _T["Bar"]
        self.is_prog = self.type_of == _T["Program"]
        # pitches a program row can take: the Pitch tokens, the PitchDrum tokens for drums
        self.capacity = torch.full((129,), len(self.pitch_val[self.is_pitch].unique()), dtype=torch.long)
        self.capacity[_DRUM_ROW] = len(self.pitch_val[self.is_drum_pitch].unique())

    @classmethod
    @functools.lru_cache(maxsize=4)
    def of(cls, tokenizer: MusicTokenizer) -> Grammar:
        """The grammar tables of ``tokenizer``, built once."""
        return cls(tokenizer)

    def condition_mask(self, conditions: Conditions, programs: Sequence[int] | None, gen: GenerationConfig) -> torch.Tensor:
        """(V,) tokens allowed by the conditions (meter, tempo band, instruments)."""
        tok = self.tokenizer
        allowed = torch.ones(tok.vocab_size, dtype=torch.bool)
        ts = f"TimeSig_{conditions.time_signature}"
        if gen.force_meter and ts in tok.remi.vocab:
            allowed &= self.type_of != _T["TimeSig"]
            allowed[tok.id(ts)] = True
        if gen.force_tempo_band:
            band = TEMPO_BANDS.index(conditions.tempo_band)
            lo = TEMPO_EDGES[band - 1] if band > 0 else 0.0
            hi = TEMPO_EDGES[band] if band < len(TEMPO_EDGES) else float("inf")
            in_band = (self.tempo_bpm >= lo) & (self.tempo_bpm < hi)
            if in_band[self.type_of == _T["Tempo"]].any():
                allowed &= (self.type_of != _T["Tempo"]) | in_band
        if programs:
            keep = torch.zeros_like(allowed)
            for p in programs:
                if f"Program_{p}" not in tok.remi.vocab:
                    raise ConfigError(f"program {p} is not in the tokenizer's vocabulary; use 0-127 or -1 for drums")
                keep[tok.id(f"Program_{p}")] = True
            allowed &= ~self.is_prog | keep
        elif gen.force_families and conditions.families:
            keep = torch.tensor([f in conditions.families for f in self.family_of])
            allowed &= ~self.is_prog | keep
        return allowed


class _State:
    """Grammar state of B sequences (tensors, one row each)."""

    def __init__(self, B: int):
        self.prev = torch.full((B,), _T["START"], dtype=torch.long)
        self.pos = torch.full((B,), -1, dtype=torch.long)  # current position in the bar
        self.bar_positions = torch.full((B,), 1 << 30, dtype=torch.long)
        self.prog = torch.zeros(B, dtype=torch.long)  # row of the current program
        self.used = torch.zeros(B, 129, 128, dtype=torch.bool)  # pitches sounded at this position, per program
        self.n_used = torch.zeros(B, 129, dtype=torch.long)  # how many, per program
        self.bars = torch.zeros(B, dtype=torch.long)  # Bar tokens so far
        self.bar_tokens = torch.zeros(B, dtype=torch.long)

    def select(self, index: torch.Tensor) -> None:
        for name, value in vars(self).items():
            setattr(self, name, value[index])


def _allowed(g: Grammar, s: _State, cond_mask: torch.Tensor, max_bar_tokens: int) -> torch.Tensor:
    B = s.prev.shape[0]
    m = g.type_mask[s.prev] & cond_mask  # (B, V)
    pos_ok = (g.pos_val[None] > s.pos[:, None]) & (g.pos_val[None] < s.bar_positions[:, None])
    m &= ~g.is_pos[None] | pos_ok
    used = s.used[torch.arange(B), s.prog]  # (B, 128)
    m &= ~((g.is_pitch | g.is_drum_pitch)[None] & used[:, g.pitch_val])
    drum = s.prog == _DRUM_ROW
    m &= ~(g.is_pitch[None] & drum[:, None]) & ~(g.is_drum_pitch[None] & ~drum[:, None])
    # a program whose every pitch already sounds at this position would be a dead end (no Pitch can follow)
    full = s.n_used >= g.capacity[None]  # (B, 129)
    m &= ~(g.is_prog[None] & full[:, g.prog_row])
    close = (s.bar_tokens >= max_bar_tokens) & (m & g.is_bar[None]).any(1)
    return torch.where(close[:, None], m & g.is_bar[None], m)


def _advance(g: Grammar, s: _State, tok: torch.Tensor) -> None:
    ty = g.type_of[tok]
    bar = ty == _T["Bar"]
    position = ty == _T["Position"]
    s.prev = ty
    s.bars += bar
    s.bar_tokens = torch.where(bar, 0, s.bar_tokens + 1)
    s.pos = torch.where(bar, -1, torch.where(position, g.pos_val[tok], s.pos))
    s.bar_positions = torch.where(ty == _T["TimeSig"], g.bar_positions[tok], s.bar_positions)
    s.prog = torch.where(ty == _T["Program"], g.prog_row[tok], s.prog)
    s.used &= ~(bar | position)[:, None, None]
    s.n_used *= ~(bar | position)[:, None]
    note = (ty == _T["Pitch"]) | (ty == _T["PitchDrum"])
    rows = torch.nonzero(note).flatten()
    s.used[rows, s.prog[rows], g.pitch_val[tok[rows]]] = True
    s.n_used[rows, s.prog[rows]] += 1  # the mask never offers a used pitch again, so this counts distinct pitches


def _sample(logits: torch.Tensor, allowed: torch.Tensor, gen: GenerationConfig, rng: torch.Generator) -> torch.Tensor:
    logits = (logits / gen.temperature).masked_fill(~allowed, float("-inf"))
    probs = torch.softmax(logits, dim=-1)  # (B, V)
    if gen.top_p < 1.0:
        sp, si = probs.sort(dim=-1, descending=True)
        drop = sp.cumsum(-1) - sp > gen.top_p  # keep the smallest set whose mass reaches top_p
        sp = sp.masked_fill(drop, 0.0)
        return si.gather(-1, torch.multinomial(sp, 1, generator=rng)).squeeze(1)
    return torch.multinomial(probs, 1, generator=rng).squeeze(1)


def _crop(seq: list[int], prefix_len: int, keep: int, bar_id: int) -> list[int]:
    """Prefix + the most recent whole bars that fit in ``keep`` tokens (a bar start is where training
    windows start); if even the current bar is longer, its last tokens."""
    body = seq[prefix_len:]
    room = keep - prefix_len
    for i, t in enumerate(body):
        if t == bar_id and len(body) - i <= room:
            return seq[:prefix_len] + body[i:]
    return seq[:prefix_len] + body[-room:]


def _left_pad(rows: list[list[int]], pad_id: int, width: int | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    L = width or max(len(r) for r in rows)
    pad = torch.tensor([L - len(r) for r in rows])
    idx = torch.tensor([[pad_id] * (L - len(r)) + r for r in rows])
    return idx, (pad if bool(pad.any()) else None)


@torch.inference_mode()
def generate_tokens(
    model: MusicTransformer,
    tokenizer: MusicTokenizer,
    conditions: Conditions | Sequence[Conditions],
    n_bars: int,
    *,
    num_samples: int = 1,
    primer: Sequence[int] | Sequence[Sequence[int]] | None = None,
    programs: Sequence[int] | None = None,
    config: GenerationConfig | None = None,
    accept: Callable[[int, list[int]], bool] | None = None,
) -> list[list[int]]:
    """Sample REMI token ids of exactly ``n_bars`` bars for each of the sequences.

    ``conditions`` is one :class:`Conditions` (repeated ``num_samples`` times) or one per sequence.
    ``primer``: REMI ids of whole bars to continue (the previous scene's tokens), one list for all or one
    per sequence. ``programs`` restricts the instruments to these General MIDI programs. Returns, per
    sequence, only the new tokens (starting with ``Bar``); pass them as the next scene's primer.
    ``accept(i, tokens)`` is called as each sequence ``i`` finishes; when it returns True the sequences
    still running are stopped and come back empty (``[]``): best-of-N sampling that stops at a good one.
    """
    gen = config or GenerationConfig()
    if n_bars < 1:
        raise ConfigError(f"number of bars {n_bars} must be >= 1")
    if model.config.vocab_size != tokenizer.vocab_size:
        raise Mm2MusicError(f"model vocab size {model.config.vocab_size} differs from the tokenizer's {tokenizer.vocab_size}; load both from one checkpoint")
    per_sequence_primers = primer is not None and len(primer) > 0 and not (isinstance(primer[0], int) or hasattr(primer[0], "item"))
    if isinstance(conditions, Conditions):
        conds = [conditions] * (len(primer) if per_sequence_primers and num_samples == 1 else num_samples)
    else:
        conds = list(conditions)
    B = len(conds)
    if B == 0:
        raise ConfigError("nothing to generate: give at least one set of conditions")
    if primer is None or len(primer) == 0:
        primers = [[] for _ in range(B)]
    elif not per_sequence_primers:
        primers = [[int(t) for t in primer]] * B
    else:
        primers = [[int(t) for t in p] for p in primer]
        if len(primers) != B:
            raise ConfigError(f"{len(primers)} primers for {B} sequences; give one primer or one per sequence")
    for p in primers:
        bad = [t for t in p if not 0 <= t < tokenizer.remi_vocab_size]
        if bad:
            raise ConfigError(f"primer token {bad[0]} is not a REMI token id (0-{tokenizer.remi_vocab_size - 1})")

    threads = torch.get_num_threads()
    if gen.threads:
        torch.set_num_threads(gen.threads)
    try:
        return _sample_loop(model, tokenizer, conds, primers, n_bars, programs, gen, accept)
    finally:
        torch.set_num_threads(threads)


def _sample_loop(model: MusicTransformer, tokenizer: MusicTokenizer, conds: list[Conditions], primers: list[list[int]],
                 n_bars: int, programs: Sequence[int] | None, gen: GenerationConfig,
                 accept: Callable[[int, list[int]], bool] | None = None) -> list[list[int]]:
    B = len(conds)
    grammar = Grammar.of(tokenizer)
    masks = {c: grammar.condition_mask(c, programs, gen) for c in set(conds)}  # candidates share their conditions
    cond_masks = torch.stack([masks[c] for c in conds])  # (B, V)
    P = tokenizer.prefix_length
    block = model.config.block_size
    # rows of the model batch: the B sequences, then (with key guidance) K contrast rows per sequence, which
    # read the same tokens under another key: sequence r's contrast k is row B + r * K + k
    K = len(CONTRAST_KEYS) if gen.key_guidance > 0 else 0
    row_conds = conds + [c for cond in conds for c in contrast_conditions(cond)][: B * K]
    row_primers = primers + [p for p in primers for _ in range(K)]
    seqs = [tokenizer.prefix(c) + p for c, p in zip(row_conds, row_primers)]
    seqs = [s if len(s) < block else _crop(s, P, block // 2, tokenizer.bar_id) for s in seqs]
    new_tokens: list[list[int]] = [[] for _ in range(B)]
    rows = torch.arange(B)  # which original sequence each active row is
    state = _State(B)
    rng = torch.Generator().manual_seed(gen.seed)
    model.eval()

    def with_contrasts(index: torch.Tensor, n: int) -> torch.Tensor:
        """``index`` into ``n`` sequences, then the matching contrast rows (stored after the ``n``)."""
        return torch.cat([index, (n + index[:, None] * K + torch.arange(K)).flatten()]) if K else index

    def model_rows(active: torch.Tensor) -> torch.Tensor:
        """Rows of ``seqs`` of the active sequences: the sequences, then their contrasts."""
        return with_contrasts(active, B)

    def refill() -> tuple[KVCache | None, torch.Tensor | None, torch.Tensor, int]:
        idx, pad = _left_pad([seqs[int(r)] for r in model_rows(rows)], tokenizer.pad_id)
        cache = KVCache(model.config, len(idx), dtype=next(model.parameters()).dtype) if gen.use_cache else None
        return cache, pad, model.next_logits(idx, cache, pad), idx.shape[1]

    def guided(logits: torch.Tensor) -> torch.Tensor:
        if not K:
            return logits
        n = len(rows)
        lp = torch.log_softmax(logits[:n], -1)
        contrast = torch.log_softmax(logits[n:].view(n, K, -1), -1).mean(1)
        return lp + gen.key_guidance * (lp - contrast)

    # ``width``: padded context length; rows that finish leave their padding in place in both modes
    cache, pad, logits, width = refill()
    while len(rows):
        tok = _sample(guided(logits), _allowed(grammar, state, cond_masks, gen.max_bar_tokens), gen, rng)
        finished = (grammar.type_of[tok] == _T["Bar"]) & (state.bars >= n_bars)
        _advance(grammar, state, tok)
        for r, t, done in zip(rows.tolist(), tok.tolist(), finished.tolist()):  # plain ints: no tensor op per row
            if not done:
                new_tokens[r].append(t)
                for k in range(K + 1):
                    seqs[r if k == 0 else B + r * K + k - 1].append(t)
        if finished.any():
            if accept is not None and any(accept(int(rows[j]), new_tokens[int(rows[j])]) for j in torch.nonzero(finished).flatten().tolist()):
                for j in torch.nonzero(~finished).flatten().tolist():
                    new_tokens[int(rows[j])] = []
                return new_tokens
            keep = torch.nonzero(~finished).flatten()
            keep_rows = with_contrasts(keep, len(rows))  # rows of the model batch (and cache) to keep
            rows, tok = rows[keep], tok[keep]
            state.select(keep)
            cond_masks = cond_masks[keep]
            pad = pad[keep_rows] if pad is not None else None
            if cache is not None:
                cache.select(keep_rows)
            if not len(rows):
                break
        width += 1
        if width > block:  # context full: keep the prefix and the latest bars, refill
            for r in model_rows(rows).tolist():
                seqs[r] = _crop(seqs[r], P, block // 2, tokenizer.bar_id)
            cache, pad, logits, width = refill()
        elif cache is not None:
            fed = torch.cat([tok, tok.repeat_interleave(K)]) if K else tok  # contrast rows read the same token
            logits = model.next_logits(fed[:, None], cache, pad)
        else:
            idx, pad = _left_pad([seqs[int(r)] for r in model_rows(rows)], tokenizer.pad_id, width)
            logits = model.next_logits(idx, None, pad)
    return new_tokens


def bars_length_quarters(tokenizer: MusicTokenizer, ids: Sequence[int]) -> float:
    """Length of the bars in ``ids`` in quarter notes, from their ``TimeSig`` tokens."""
    total = 0.0
    for i in ids:
        tok = tokenizer.token(i)
        if tok.startswith("TimeSig_"):
            num, den = tok.split("_")[1].split("/")
            total += int(num) * 4.0 / int(den)
    return total


def generate(
    model: MusicTransformer,
    tokenizer: MusicTokenizer,
    conditions: Conditions | Sequence[Conditions],
    n_bars: int,
    **kwargs,
):
    """Like :func:`generate_tokens` but returns symusic ``Score`` objects (one per sequence, 480 tpq).

    Notes still sounding at the end of bar ``n_bars`` are cut there, so the music lasts exactly the
    requested bars (a last bar may be silent at its end; the Score's length is then shorter).
    """
    scores = []
    for ids in generate_tokens(model, tokenizer, conditions, n_bars, **kwargs):
        score = tokenizer.decode(ids, tpq=480)
        end = round(bars_length_quarters(tokenizer, ids) * 480)
        for track in score.tracks:
            for note in track.notes:
                if note.time + note.duration > end:
                    note.duration = max(1, end - note.time)
        scores.append(score)
    return scores
