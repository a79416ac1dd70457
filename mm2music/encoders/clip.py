"""CLIP (open_clip) image and text embeddings from local weights only.

Weights come from a file (``encoder.clip_weights``) or from the local Hugging Face / open_clip cache for the
``clip_model`` + ``clip_pretrained`` tag; nothing is downloaded. When neither is there, a one-line
:class:`ModelWeightsError` names the file to obtain and where to put it. Radford et al. (2021), CLIP;
Cherti et al. (2023), OpenCLIP.

Frames arrive as small uint8 arrays (~144 px on the short side), so preprocessing is done on tensors (resize
the short side to the model's input size, centre crop, normalise) instead of through PIL one image at a time.
"""

from __future__ import annotations

import difflib
import logging
import os
import time
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from mm2music.encoders.base import l2_normalize
from mm2music.errors import ConfigError, ModelWeightsError

log = logging.getLogger(__name__)

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
TINY_MODEL = "mm2music-tiny-clip"  # 64-d, 2+2 layers, 64 px: the debug/test architecture (no weights exist for it)


@lru_cache(maxsize=1)
def register_configs() -> None:
    """Make our model configs (the tiny debug CLIP) known to open_clip."""
    import open_clip

    open_clip.add_model_config(CONFIG_DIR)


def _cache_candidates(model_name: str, tag: str) -> tuple[list[Path], str]:
    """Where ``model_name``/``tag`` weights would sit in the local caches, and a description of the file."""
    import open_clip
    from open_clip.constants import HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME

    cfg = open_clip.get_pretrained_cfg(model_name, tag)
    found: list[Path] = []
    described = ""
    if cfg.get("hf_hub"):
        from huggingface_hub import try_to_load_from_cache

        # open_clip's convention: 'org/repo/file.bin', or 'org/repo/' for the default file name
        repo_id, filename = os.path.split(cfg["hf_hub"])
        filename = filename or HF_WEIGHTS_NAME
        names = [filename]
        if filename == HF_WEIGHTS_NAME:
            names.insert(0, HF_SAFE_WEIGHTS_NAME)
        elif filename.endswith((".bin", ".pth")):
            names.insert(0, filename[:-4] + ".safetensors")
        for name in names:
            hit = try_to_load_from_cache(repo_id, name)
            if isinstance(hit, str) and Path(hit).is_file():
                found.append(Path(hit))
        described = f"{names[0]} from the Hugging Face repo {repo_id}"
    if cfg.get("url"):
        target = Path("~/.cache/clip").expanduser() / os.path.basename(cfg["url"])
        # OpenAI's own files are TorchScript archives, which a weights-only load refuses: use their HF copies
        if target.is_file() and "openaipublic" not in cfg["url"]:
            found.append(target)
        described = described or f"{os.path.basename(cfg['url'])} ({cfg['url']})"
    return found, described


def caches_hold_any_weights() -> bool:
    """Whether the local Hugging Face hub cache or ``~/.cache/clip`` holds any model at all: a quick
    check (no ``import open_clip``, ~2 s) that lets ``--encoder auto`` settle on a fresh machine."""
    from huggingface_hub import constants

    hub = Path(constants.HF_HUB_CACHE)
    if hub.is_dir() and any(p.name.startswith("models--") for p in hub.iterdir()):
        return True
    clip_dir = Path("~/.cache/clip").expanduser()
    return clip_dir.is_dir() and any(clip_dir.iterdir())


def find_clip_weights(model_name: str, tag: str | None, weights: str | os.PathLike | None) -> Path:
    """The local weights file for ``model_name``: ``weights`` if given, else the cached file of ``tag``.

    Raises :class:`ModelWeightsError` (one line: what is missing, where to get it, where to put it).
    """
    if weights:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise ModelWeightsError(f"CLIP weights file '{path}' not found; check --clip-weights (encoder.clip_weights) or use --encoder affect")
        return path
    register_configs()
    import open_clip

    tags = open_clip.list_pretrained_tags_by_model(model_name)
    if not tag or not open_clip.get_pretrained_cfg(model_name, tag):
        shown = ", ".join(tags[:6]) + (", ..." if len(tags) > 6 else "")
        known = f"; its open_clip tags include {shown}" if tags else ""
        raise ModelWeightsError(f"no CLIP weights for {model_name} tag '{tag}'{known}: pass a weights file with --clip-weights PATH or use --encoder affect")
    found, described = _cache_candidates(model_name, tag)
    if found:
        return found[0]
    from huggingface_hub import constants

    raise ModelWeightsError(
        f"CLIP weights for {model_name} '{tag}' are not on this machine (nothing is downloaded): get {described} and pass "
        f"--clip-weights PATH, or put it in the Hugging Face cache ({constants.HF_HUB_CACHE}); or use --encoder affect"
    )


class ClipEncoder:
    """open_clip model on the CPU: ``encode_frames`` and ``encode_text`` give unit vectors of ``dim``.

    ``logit_scale`` is the model's learned inverse temperature for image-text similarities.
    """

    def __init__(self, model_name: str, weights: str | os.PathLike, tag: str | None = None, batch_size: int = 32):
        import open_clip
        import torch

        register_configs()
        models = open_clip.list_models()
        if model_name not in models:
            close = difflib.get_close_matches(model_name, models, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ConfigError(f"unknown CLIP model '{model_name}' (encoder.clip_model){hint}")
        tag_cfg = open_clip.get_pretrained_cfg(model_name, tag) if tag else {}
        preprocess = {k: tag_cfg[k] for k in ("mean", "std", "interpolation", "resize_mode") if k in tag_cfg}
        t0 = time.perf_counter()
        try:
            model = open_clip.create_model(model_name, pretrained=str(weights), force_quick_gelu=bool(tag_cfg.get("quick_gelu")),
                                           force_preprocess_cfg=preprocess or None, weights_only=True)
        except Exception as exc:  # the loader's errors vary by file format; all mean "this file is unusable"
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
            if isinstance(exc, RuntimeError) and ("state_dict" in str(exc) or "size mismatch" in str(exc)):
                raise ModelWeightsError(f"CLIP weights '{weights}' do not load into {model_name} ({first}); pass the matching --clip-model") from None
            raise ModelWeightsError(f"cannot read CLIP weights '{weights}' ({type(exc).__name__}: {first}); "
                                    "give a .safetensors or a plain PyTorch state-dict file") from None
        model.eval()
        self._torch = torch
        self.model = model
        self.tokenizer = open_clip.get_tokenizer(model_name)
        cfg = open_clip.get_model_preprocess_cfg(model)
        size = cfg.get("size", 224)
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.mean = torch.tensor(cfg.get("mean", (0.48145466, 0.4578275, 0.40821073))).view(1, 3, 1, 1)
        self.std = torch.tensor(cfg.get("std", (0.26862954, 0.26130258, 0.27577711))).view(1, 3, 1, 1)
        self.logit_scale = float(model.logit_scale.exp().item())
        self.batch_size = batch_size
        self.name = f"clip:{model_name}"
        with torch.inference_mode():
            self.dim = int(model.encode_text(self.tokenizer(["a"])).shape[-1])
        log.info("loaded CLIP %s from %s in %.2f s", model_name, weights, time.perf_counter() - t0)

    def _preprocess(self, frames: np.ndarray):
        """(M, H, W, 3) uint8 -> (M, 3, S, S) normalised: short side resized to S (bicubic), centre crop."""
        torch = self._torch
        import torch.nn.functional as F

        x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float().div_(255.0)  # (M, 3, H, W)
        h, w = x.shape[-2:]
        th, tw = self.size
        scale = max(th / h, tw / w)
        nh, nw = max(th, round(h * scale)), max(tw, round(w * scale))
        x = F.interpolate(x, size=(nh, nw), mode="bicubic", align_corners=False, antialias=True).clamp_(0.0, 1.0)
        top, left = (nh - th) // 2, (nw - tw) // 2
        x = x[..., top : top + th, left : left + tw]
        return (x - self.mean) / self.std

    def encode_frames(self, frames: np.ndarray) -> np.ndarray:
        torch = self._torch
        out = []
        with torch.inference_mode():
            for i in range(0, len(frames), self.batch_size):
                out.append(self.model.encode_image(self._preprocess(frames[i : i + self.batch_size])).float().numpy())
        if not out:
            return np.zeros((0, self.dim), np.float32)
        return l2_normalize(np.concatenate(out))

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        torch = self._torch
        texts = list(texts)
        out = []
        with torch.inference_mode():
            for i in range(0, len(texts), 256):
                out.append(self.model.encode_text(self.tokenizer(texts[i : i + 256])).float().numpy())
        if not out:
            return np.zeros((0, self.dim), np.float32)
        return l2_normalize(np.concatenate(out))
