"""Checkpoint I/O: ``model.safetensors`` + ``config.json`` (+ ``tokenizer.json``) in one folder, no pickle.

``config.json`` holds the format and its version, the model config, the tokenizer (settings, version and
vocabulary) and a training summary. :func:`load_checkpoint` rebuilds the model from the stored config and
checks that the weights, the config and the tokenizer agree on the vocabulary before loading anything;
every way a checkpoint can be wrong is a one-line :class:`~mm2music.errors.CheckpointError`.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING

from mm2music.errors import CheckpointError
from mm2music.resources import resource_path
from mm2music.music.tokenizer import MusicTokenizer

if TYPE_CHECKING:  # torch is imported where weights are handled: reading a checkpoint's config needs none of it
    from mm2music.music.model import ModelConfig, MusicTransformer

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "mm2music-music-decoder"
FORMAT_VERSION = 1
WEIGHTS = "model.safetensors"
CONFIG = "config.json"
TOKENIZER = "tokenizer.json"
PROBE = "probe.json"  # for weights saved without their config: a fingerprint of what they compute (see write_probe)
PROBE_TOLERANCE = 1e-3  # nats per token; float noise across machines is ~1e-6, a wrong n_head moves it by ~0.1
_TIED = "lm_head.weight"  # tied to wte.weight: stored once
DEFAULT_CHECKPOINT = resource_path("music21")  # the shipped one (package data; checkpoints/music21 in the repository)
SHIPPED = ("music21", "music21-open")  # checkpoints shipped with the package, named by --checkpoint NAME anywhere


def resolve_checkpoint(value: str | None) -> str | None:
    """``--checkpoint``'s value as a path: a folder or file that exists as given, else a shipped checkpoint by its
    name (``music21-open`` from any folder, installed or in the checkout); None (the default) stays None."""
    if not value or Path(value).exists() or value not in SHIPPED:
        return value
    return str(resource_path(value))


def save_checkpoint(directory: str | Path, model: MusicTransformer, tokenizer: MusicTokenizer, training: dict | None = None) -> Path:
    """Write weights (fp32 safetensors), config.json and tokenizer.json into ``directory`` atomically."""
    import torch
    from safetensors.torch import save_file

    if model.config.vocab_size != tokenizer.vocab_size:
        raise CheckpointError(f"model vocab size {model.config.vocab_size} differs from the tokenizer's {tokenizer.vocab_size}; save the tokenizer the model was built with")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items() if k != _TIED}
    meta = {"format": CHECKPOINT_FORMAT, "format_version": str(FORMAT_VERSION), "vocab_size": str(tokenizer.vocab_size),
            "model": json.dumps(model.config.to_dict(), sort_keys=True)}  # what the weights were made with (see _check_saved_config)
    config = {
        "format": CHECKPOINT_FORMAT,
        "format_version": FORMAT_VERSION,
        "model": model.config.to_dict(),
        "tokenizer": tokenizer.to_dict(),
        "training": training or {},
    }
    tmp = directory / f".{WEIGHTS}.{os.getpid()}.tmp"
    save_file(tensors, str(tmp), metadata=meta)
    os.replace(tmp, directory / WEIGHTS)
    _write_json(directory / CONFIG, config)
    tokenizer.save(directory / TOKENIZER)
    return directory


def _write_json(path: Path, obj: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_config(path: str | Path) -> dict:
    """The ``config.json`` of a checkpoint folder (or of the folder holding ``path``)."""
    path = Path(path)
    directory = path if path.is_dir() else path.parent
    cfg_path = directory / CONFIG
    if not cfg_path.exists():
        if not path.exists():
            raise CheckpointError(f"checkpoint '{path}' does not exist; give a checkpoint folder such as checkpoints/music21")
        raise CheckpointError(f"no {CONFIG} in '{directory}'; a checkpoint folder holds {WEIGHTS} and {CONFIG}")
    try:
        config = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"cannot read '{cfg_path}': {str(exc).splitlines()[0]}; the file is corrupt") from None
    if not isinstance(config, dict) or config.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"'{cfg_path}' is not an mm2music music-decoder checkpoint config (format {CHECKPOINT_FORMAT!r} expected)")
    if config.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"'{cfg_path}' has format version {config.get('format_version')}, this code reads {FORMAT_VERSION}; use the matching mm2music release")
    return config


def _check_saved_config(weights: Path, model_cfg: ModelConfig, config_path: Path) -> None:
    """The weights file records the model config it was saved with; ``config.json`` must agree. Shapes alone cannot
    tell 8 attention heads from 4 (the same matrices), and the wrong one loads and generates noise."""
    from safetensors import safe_open

    try:
        with safe_open(str(weights), framework="pt") as f:
            saved = json.loads((f.metadata() or {}).get("model") or "null")
    except (OSError, ValueError, RuntimeError):
        return  # unreadable: reported by the load that follows
    if not isinstance(saved, dict):
        return  # saved before this was recorded: the probe (if any) checks what the model computes
    current = model_cfg.to_dict()
    for key in sorted(set(saved) & set(current)):
        if saved[key] != current[key]:
            raise CheckpointError(f"{key} is {current[key]!r} in '{config_path}' but the weights in '{weights.name}' were saved "
                                  f"with {saved[key]!r}; restore the checkpoint's own {CONFIG}")


def load_checkpoint(
    path: str | Path | None = None, tokenizer: MusicTokenizer | None = None, device: str = "cpu"
) -> tuple[MusicTransformer, MusicTokenizer, dict]:
    """Load (model in eval mode, tokenizer, config dict) from a checkpoint folder or its weights file.

    ``path`` defaults to the shipped checkpoint (``checkpoints/music21``). Without ``tokenizer`` the one
    stored in the checkpoint is used; with one, its vocabulary must match.
    """
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from mm2music.music.model import ModelConfig, MusicTransformer

    path = Path(path) if path is not None else DEFAULT_CHECKPOINT
    directory = path if path.is_dir() else path.parent
    weights = path if path.is_file() else directory / WEIGHTS
    config = read_config(path)
    if tokenizer is None:
        tokenizer = MusicTokenizer.from_dict(config.get("tokenizer"), where=f"the tokenizer in '{directory / CONFIG}'")
        tokenizer.families_seen = families_seen(config)
    try:
        known = {f.name for f in fields(ModelConfig)}
        model_cfg = ModelConfig(**{k: v for k, v in config["model"].items() if k in known})
    except (KeyError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"model config in '{directory / CONFIG}' is invalid ({exc}); re-export the checkpoint") from None
    if not weights.exists():
        raise CheckpointError(f"weights file '{weights}' does not exist; a checkpoint folder holds {WEIGHTS} and {CONFIG}")
    try:
        tensors = load_file(str(weights), device=device)
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"cannot read '{weights}': {str(exc).splitlines()[0]}; the file is corrupt or not safetensors") from None
    emb = tensors.get("wte.weight")
    if emb is None:
        raise CheckpointError(f"'{weights.name}' has no 'wte.weight' tensor; it is not an mm2music music decoder")
    if emb.shape[0] != tokenizer.vocab_size:
        raise CheckpointError(f"vocab size {emb.shape[0]} in '{weights.name}' differs from the tokenizer's {tokenizer.vocab_size}; load the tokenizer saved with this checkpoint.")
    if model_cfg.vocab_size != emb.shape[0]:
        raise CheckpointError(f"vocab size {model_cfg.vocab_size} in '{CONFIG}' differs from {emb.shape[0]} in '{weights.name}'; the checkpoint files come from different models")
    model = MusicTransformer(model_cfg)
    expected = {k: v.shape for k, v in model.state_dict().items() if k != _TIED}
    for k, shape in expected.items():
        if k not in tensors:
            raise CheckpointError(f"tensor '{k}' is missing from '{weights.name}'; the weights do not match the model config in '{CONFIG}'")
        if tensors[k].shape != shape:
            raise CheckpointError(f"tensor '{k}' has shape {tuple(tensors[k].shape)} in '{weights.name}', the config expects {tuple(shape)}; the files come from different models")
    for k, t in tensors.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise CheckpointError(f"tensor '{k}' in '{weights}' holds NaN or infinite values; the training diverged or the "
                                  "file is damaged: use an earlier checkpoint or retrain")
    extra = sorted(set(tensors) - set(expected))
    if extra:
        raise CheckpointError(f"'{weights.name}' has unexpected tensor '{extra[0]}'; the weights do not match the model config in '{CONFIG}'")
    _check_saved_config(weights, model_cfg, directory / CONFIG)  # what the shapes cannot tell (e.g. n_head)
    model.load_state_dict(tensors, strict=False)  # lm_head.weight is tied to wte.weight
    model.to(device).eval()
    _check_probe(model, directory)
    log.info("loaded music decoder from %s (%.2f M parameters, vocab %d)", directory, model.num_params() / 1e6, tokenizer.vocab_size)
    return model, tokenizer, config


def families_seen(config: dict) -> dict[str, int] | None:
    """The instrument families (family -> train pieces) the checkpoint's training data carried, from its
    ``config.json`` (``training.families``, recorded by training runs since it was added); None if not recorded."""
    fams = (config.get("training") or {}).get("families")
    if not isinstance(fams, dict) or not fams:
        return None
    return {str(k): int(v) for k, v in fams.items() if isinstance(v, (int, float)) and v > 0} or None


def _probe_logprobs(model: MusicTransformer, tokens: list[int]) -> list[float]:
    """The log-probability the model gives each next token of ``tokens``."""
    import torch

    with torch.no_grad():
        idx = torch.tensor([tokens], dtype=torch.long, device=next(model.parameters()).device)
        logits, _ = model(idx[:, :-1])  # (1, T-1, V)
        return torch.log_softmax(logits.float(), -1)[0].gather(1, idx[0, 1:, None])[:, 0].tolist()


def probe_tokens(vocab_size: int, n: int = 32) -> list[int]:
    """A fixed token sequence (not music: any sequence fingerprints what the weights compute under a config)."""
    return [(i * 7919 + 13) % vocab_size for i in range(n)]


def write_probe(directory: str | Path) -> Path:
    """Record what the checkpoint in ``directory`` computes on :func:`probe_tokens` (each next token's
    log-probability), for weights saved without their model config: a ``config.json`` edited later (8 heads over
    weights trained with 4: the same shapes) is then refused at load instead of generating noise."""
    directory = Path(directory)
    (directory / PROBE).unlink(missing_ok=True)  # a new probe says the config as it is now is the right one
    model, _, _ = load_checkpoint(directory)
    tokens = probe_tokens(model.config.vocab_size, min(32, model.config.block_size))
    _write_json(directory / PROBE, {"tokens": tokens, "logprobs": _probe_logprobs(model, tokens), "model": model.config.to_dict()})
    return directory / PROBE


def _check_probe(model: MusicTransformer, directory: Path) -> None:
    path = directory / PROBE
    if not path.is_file():
        return
    try:
        probe = json.loads(path.read_text(encoding="utf-8"))
        tokens, expected, saved = list(probe["tokens"]), [float(x) for x in probe["logprobs"]], dict(probe.get("model", {}))
        got = _probe_logprobs(model, tokens)
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise CheckpointError(f"cannot use '{path}' ({' '.join(str(exc).split())}); restore the checkpoint's own {PROBE}") from None
    drift = max((abs(a - b) for a, b in zip(got, expected)), default=0.0)
    if len(got) != len(expected) or drift > PROBE_TOLERANCE:
        current = model.config.to_dict()
        differ = [k for k in sorted(set(saved) & set(current)) if saved[k] != current[k]]
        what = (f"{differ[0]} is {current[differ[0]]!r} in '{directory / CONFIG}' but the weights were saved with {saved[differ[0]]!r}"
                if differ else f"the model in '{directory / CONFIG}' does not compute what its weights did (probe off by {drift:.3g})")
        raise CheckpointError(f"{what}; restore the checkpoint's own {CONFIG}")


_DECODERS: dict = {}  # (folder, quantize) -> (files' signature, (model, tokenizer))


def _signature(folder: Path) -> tuple:
    """What identifies a checkpoint's content cheaply: each file's size and modification time."""
    out = []
    for name in (WEIGHTS, CONFIG, TOKENIZER, PROBE):
        try:
            st = (folder / name).stat()
            out.append((name, st.st_size, st.st_mtime_ns, st.st_ino))
        except OSError:
            out.append((name, None))
    return tuple(out)


def load_music_model(checkpoint: str | Path | None, quantize: str = "int8"):
    """The decoder (ready to sample, see :func:`~mm2music.music.model.for_inference`) and its tokenizer, loaded
    once per process and again only when the checkpoint's files change (one retrained in place while the
    studio runs is not served from memory)."""
    from mm2music.music.model import for_inference

    path = Path(checkpoint) if checkpoint else DEFAULT_CHECKPOINT
    if not path.exists():
        raise CheckpointError(f"music checkpoint '{path}' does not exist; pass --checkpoint DIR with a trained checkpoint "
                              "(python run_pipeline.py train --config configs/train/music21.yaml makes one) or use --analyze-only")
    folder = path.resolve() if path.is_dir() else path.resolve().parent
    key, signature = (str(path.resolve()), quantize), _signature(folder)
    cached = _DECODERS.get(key)
    if cached is None or cached[0] != signature:
        model, tokenizer, _ = load_checkpoint(path)
        _DECODERS[key] = (signature, (for_inference(model, quantize), tokenizer))
    return _DECODERS[key][1]
