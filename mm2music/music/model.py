"""The music decoder: a compact causal Transformer with its own KV cache (nanoGPT-style).

Why not transformers' ``GPT2LMHeadModel`` / ``LlamaForCausalLM`` + ``generate``? Measured on this project's
2-core CPU (torch 2.14.1, 2 threads, d=256, 4 layers, 8 heads, vocab 600, top-p 0.95 sampling of 256 new
tokens after a 12-token prompt, AdamW training on 16 x 512 windows; best of two runs on an otherwise idle
machine, 2026-11-22), tokens per second:

==============================  ===========  ===========  ==========  ===========  ===========
decoder                         train fp32   train bf16   sample b=1  sample b=16  sample b=32
==============================  ===========  ===========  ==========  ===========  ===========
transformers GPT-2 + generate      2,910        7,140         325        2,210        2,740
transformers Llama + generate      3,550        6,570         262        1,890        1,270
this module + own KV cache         4,030        7,500         502        2,560        3,460
==============================  ===========  ===========  ==========  ===========  ===========

Training speed is about the same under bf16 autocast (the matmuls dominate). Sampling is where they differ:
each decoding step costs a few hundred microseconds of matmul, and ``generate``'s per-step Python (logits
processors, stopping criteria, cache objects, attention-mask bookkeeping) costs as much again; a
preallocated KV cache written in place and a sampling loop of a few tensor ops is 1.5x faster at batch 1
and 15-25% faster batched, before adding our grammar constraint, which here is one vectorised mask per step
(``generate.py``) rather than a ``LogitsProcessor`` per step. Llama's batched sampling misses the
2,000 tokens/s target. So: this module, with checkpoints as plain safetensors + JSON.

Sampling is bound by memory traffic, not arithmetic: each step reads every weight (13 MB in fp32) for a
handful of rows. :func:`for_inference` with ``"int8"`` (torch's dynamic int8 quantisation of the linear
layers, fbgemm/oneDNN VNNI kernels) reads a quarter of that: measured here at 1 thread, 8 bars, steps per
second 601 -> 693 at batch 1, 293 -> 458 at batch 4, 72 -> 93 at batch 32, for a KL divergence of 0.004 nats
per token from the fp32 model's next-token distribution (bf16 weights were slower than fp32 on this CPU).

Shapes: B batch, T time, C = n_embd, H heads, D = C / H.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from mm2music.errors import ConfigError
from mm2music.vocab import QUANTIZE

QUANTIZE_CHOICES = QUANTIZE


@dataclass
class ModelConfig:
    vocab_size: int = 0  # set from the tokenizer
    block_size: int = 512  # maximum context, tokens (condition prefix included)
    n_layer: int = 6
    n_head: int = 8
    n_embd: int = 256
    dropout: float = 0.0  # 0 keeps training bit-reproducible without saving dropout RNG streams
    bias: bool = False

    def __post_init__(self) -> None:
        if self.n_embd % self.n_head:
            raise ConfigError(f"model.n_embd {self.n_embd} is not divisible by model.n_head {self.n_head}; pick a multiple")
        for name in ("block_size", "n_layer", "n_head", "n_embd"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"model.{name} is {getattr(self, name)}; it must be positive")

    def to_dict(self) -> dict:
        return asdict(self)


class KVCache:
    """Preallocated keys/values for every layer: (n_layer, 2, B, H, block_size, D), written in place."""

    def __init__(self, config: ModelConfig, batch_size: int, dtype: torch.dtype = torch.float32, device=None):
        hd = config.n_embd // config.n_head
        # never read beyond ``length``, so no need to zero it
        self.kv = torch.empty(config.n_layer, 2, batch_size, config.n_head, config.block_size, hd, dtype=dtype, device=device)
        self.length = 0  # tokens already stored

    def select(self, index: torch.Tensor) -> None:
        """Keep only the batch rows in ``index`` (finished sequences are dropped); copies the filled part only."""
        L, two, _, H, S, D = self.kv.shape
        kv = torch.empty(L, two, len(index), H, S, D, dtype=self.kv.dtype, device=self.kv.device)
        kv[:, :, :, :, : self.length] = self.kv[:, :, index, :, : self.length]
        self.kv = kv


class CausalSelfAttention(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.n_head = config.n_head
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = config.dropout

    def forward(self, x: torch.Tensor, kv: Optional[torch.Tensor], start: int, mask: Optional[torch.Tensor]) -> torch.Tensor:
        B, T, C = x.shape
        H = self.n_head
        q, k, v = self.c_attn(x).split(C, dim=2)  # (B, T, C) each
        q = q.view(B, T, H, C // H).transpose(1, 2)  # (B, H, T, D)
        k = k.view(B, T, H, C // H).transpose(1, 2)
        v = v.view(B, T, H, C // H).transpose(1, 2)
        if kv is not None:  # kv: (2, B, H, block_size, D), this layer's slice of the cache
            kv[0, :, :, start : start + T] = k
            kv[1, :, :, start : start + T] = v
            k, v = kv[0, :, :, : start + T], kv[1, :, :, : start + T]  # (B, H, start+T, D)
        causal = mask is None and T > 1 and start == 0  # else: explicit mask, or one query that sees all keys
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=causal, dropout_p=self.dropout if self.training else 0.0
        )  # (B, H, T, D)
        return self.c_proj(y.transpose(1, 2).reshape(B, T, C))


class MLP(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))
        return self.dropout(y) if self.training else y  # dropout is the identity in eval: one call less per layer and step


class Block(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor, kv: Optional[torch.Tensor], start: int, mask: Optional[torch.Tensor]) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), kv, start, mask)
        return x + self.mlp(self.ln_2(x))


class BlockStack(nn.Module):
    """The decoder's blocks and final norm over embedded tokens (``kv``: the cache's (n_layer, 2, B, H, S, D)
    tensor, or None): the part of every step that :func:`for_inference` compiles with TorchScript."""

    def __init__(self, blocks: nn.ModuleList, norm: nn.LayerNorm):
        super().__init__()
        self.h = blocks
        self.ln_f = norm

    def forward(self, x: torch.Tensor, kv: Optional[torch.Tensor], start: int, mask: Optional[torch.Tensor]) -> torch.Tensor:
        i = 0
        for block in self.h:
            x = block(x, kv[i] if kv is not None else None, start, mask)
            i += 1
        return self.ln_f(x)


class MusicTransformer(nn.Module):
    """Decoder-only Transformer over token ids (condition prefix + REMI tokens)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        if config.vocab_size <= 0:
            raise ConfigError(f"model.vocab_size is {config.vocab_size}; build the model from a tokenizer's vocabulary")
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.block_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.h = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying
        self.compiled: Optional[nn.Module] = None  # the blocks compiled for sampling (set by for_inference)
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2's scaled init of residual projections
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())  # tied weights counted once

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        cache: KVCache | None = None,
        pad: torch.Tensor | None = None,
        ignore_index: int = -100,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``idx`` (B, T) -> logits (B, T, V) and the mean cross-entropy per target token (or None).

        With ``cache``, ``idx`` continues the cached tokens (positions ``cache.length ...``) and the cache
        grows by T; the caller keeps ``cache.length + T <= block_size``. ``pad`` (B,) says how many tokens
        at the start of each row are left padding: they are never attended to, and positions count from
        the first real token, so rows of different lengths batch together (generation only).
        """
        B, T = idx.shape
        start = cache.length if cache is not None else 0
        if start + T > self.config.block_size:
            raise ValueError(f"sequence of {start + T} tokens exceeds block_size {self.config.block_size}")
        pos = torch.arange(start, start + T, dtype=torch.long, device=idx.device)  # (T,)
        mask = None
        if pad is not None and T == 1:  # one new token (a sampling step): it sees every real key and itself
            pos = (pos - pad).clamp(min=0)[:, None]  # (B, 1)
            keys = torch.arange(start + 1, device=idx.device)  # (S,)
            mask = ((keys[None, :] >= pad[:, None]) | (keys == start)[None, :])[:, None, None, :]  # (B, 1, 1, S)
        elif pad is not None:
            pos = (pos[None, :] - pad[:, None]).clamp(min=0)  # (B, T)
            keys = torch.arange(start + T, device=idx.device)  # (S,)
            visible = keys[None, :] <= torch.arange(start, start + T, device=idx.device)[:, None]  # (T, S) causal
            real = keys[None, :] >= pad[:, None]  # (B, S)
            own = keys[None, :] == torch.arange(start, start + T, device=idx.device)[:, None]  # padding sees itself
            mask = ((visible[None] & real[:, None, :]) | own[None])[:, None]  # (B, 1, T, S)
        elif T > 1 and start > 0:  # a chunk appended after cached tokens: query i sees keys <= start + i
            mask = torch.ones(T, start + T, dtype=torch.bool, device=idx.device).tril(diagonal=start)
        x = self.wte(idx) + self.wpe(pos)  # (B, T, C)
        if self.training:
            x = self.drop(x)
        kv = cache.kv if cache is not None else None
        if self.compiled is not None and not self.training:
            x = self.compiled(x, kv, start, mask)
        else:
            for i, block in enumerate(self.h):
                x = block(x, kv[i] if kv is not None else None, start, mask)
            x = self.ln_f(x)
        if cache is not None:
            cache.length += T
        logits = self.lm_head(x)  # (B, T, V)
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.float().view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=ignore_index)
        return logits, loss

    @torch.inference_mode()
    def next_logits(self, idx: torch.Tensor, cache: KVCache | None = None, pad: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (B, V) of the token after ``idx``: with a cache, ``idx`` holds only the new tokens."""
        logits, _ = self.forward(idx, cache=cache, pad=pad)
        return logits[:, -1, :].float()

    def configure_optimizer(self, lr: float, weight_decay: float, betas: tuple[float, float]) -> torch.optim.AdamW:
        """AdamW with decay on matrices only (not on norms, biases); fixed parameter order for checkpoints."""
        decay = [p for _, p in self.named_parameters() if p.dim() >= 2]
        no_decay = [p for _, p in self.named_parameters() if p.dim() < 2]
        groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        return torch.optim.AdamW(groups, lr=lr, betas=betas, fused=False, foreach=False)


def for_inference(model: MusicTransformer, quantize: str = "int8") -> MusicTransformer:
    """The model to sample from: ``"int8"`` = dynamic int8 linear layers (a new module, ~1.3-1.6x faster
    sampling, see the module docstring) whose blocks run compiled by TorchScript (:class:`BlockStack`);
    ``"none"`` = the model itself, as trained. Training always uses fp32 weights.

    A sampling step is a few dozen small tensor operations; run one by one from Python, each pays for the
    interpreter and takes its lock, so two threads sampling at once (two themes) spent 45-55% more CPU than
    one thread doing both, in the same wall time. Compiled, the blocks run as one call outside the lock: the
    same logits, bit for bit, at ~2.2x the speed on one thread, and two threads now run side by side
    (measured here, 200 steps at batch 6: 0.99 s eager, 0.45 s compiled; two threads at once 1.17 s, 0.34 s).
    ``torch.jit.script`` is deprecated in favour of ``torch.compile``, which needs a C++ toolchain and tens of
    seconds at startup; the pinned torch 2.14.1 keeps it."""
    if quantize not in QUANTIZE_CHOICES:
        raise ConfigError(f"music.quantize={quantize!r} is not one of {list(QUANTIZE_CHOICES)}")
    if quantize == "none":
        return model.eval()
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():  # torch 2.14 marks quantized tensors and TorchScript deprecated (pyproject pins it)
        warnings.simplefilter("ignore")
        quantized = quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8, inplace=False).eval()
        quantized.compiled = torch.jit.script(BlockStack(quantized.h, quantized.ln_f))
    return quantized
