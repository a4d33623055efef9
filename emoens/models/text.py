"""Text members: a ``transformers`` sequence classifier (KoBERT, KLUE-BERT, KcELECTRA, …) over the 7 classes.

The model is an ordinary ``AutoModelForSequenceClassification`` saved with ``save_pretrained``
(safetensors) next to its tokenizer. A directory that holds KoBERT's SentencePiece files is read
with :class:`emoens.models.kobert.KoBERTTokenizer`; anything else with ``AutoTokenizer``. The maximum
token length used in training is stored in ``config.json`` as ``emoens_max_length``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from emoens.labels import LABELS
from emoens.models.common import (ModelError, label_kwargs, label_permutation, load_pretrained,
                                  pretrained_from_base)
from emoens.models.speech import pick_device

DEFAULT_TEXT_BASE = "skt/kobert-base-v1"
DEFAULT_MAX_LENGTH = 64


def load_tokenizer(source: str | Path, *, local_files_only: bool = False):
    """The tokenizer of a model directory or Hub id (KoBERT's SentencePiece one when present)."""
    from transformers import AutoTokenizer

    from emoens.models.kobert import KoBERTTokenizer, is_kobert_dir

    if Path(str(source)).is_dir() and is_kobert_dir(source):
        return KoBERTTokenizer.from_directory(source)
    if str(source).rstrip("/").lower().endswith("kobert-base-v1"):
        # The Hub's skt/kobert-base-v1 declares XLNetTokenizer, whose special tokens are wrong for it.
        return KoBERTTokenizer.from_pretrained(str(source), local_files_only=local_files_only)
    try:
        return AutoTokenizer.from_pretrained(str(source), local_files_only=local_files_only)
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load a tokenizer from {source}: {exc}") from exc


def build_text_model(base: str | Path | None = DEFAULT_TEXT_BASE, *, model_config: dict | None = None,
                     tokenizer: str | Path | None = None, config_overrides: dict | None = None,
                     local_files_only: bool = False):
    """A fresh sequence classifier over the 7 classes, and its tokenizer.

    ``base``: Hub id or directory of a pretrained encoder. With ``base=None``, ``model_config`` (dict
    with ``model_type``) builds a random-weight model and ``tokenizer`` names the tokenizer directory
    (its vocabulary size sets the embedding size).
    """
    from transformers import AutoConfig, AutoModelForSequenceClassification

    overrides = dict(config_overrides or {})
    overrides.update(label_kwargs())
    if base is None:
        if not model_config or "model_type" not in model_config or tokenizer is None:
            raise ModelError("a text model needs a `base` (Hub id or directory), or a `model_config` "
                             "with a `model_type` and a `tokenizer` directory")
        tok = load_tokenizer(tokenizer, local_files_only=True)
        cfg = dict(model_config)
        cfg.setdefault("vocab_size", len(tok))
        cfg.setdefault("pad_token_id", tok.pad_token_id)
        config = AutoConfig.for_model(cfg.pop("model_type"), **cfg, **overrides)
        model = AutoModelForSequenceClassification.from_config(config)
        return model, tok
    tok = load_tokenizer(tokenizer or base, local_files_only=local_files_only)
    model = pretrained_from_base(AutoModelForSequenceClassification, base, overrides,
                                 local_files_only=local_files_only, modality="text")
    return model, tok


class TextMember:
    """A loaded text classifier: ``predict_proba(list of str) -> (n, 7)``."""

    modality = "text"

    def __init__(self, model, tokenizer, *, path: str | Path = "", device: str | None = None,
                 batch_size: int = 32, max_length: int | None = None):
        self.path = Path(path)
        self.device = pick_device(device)
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.batch_size = max(1, int(batch_size))
        self.max_length = int(max_length or getattr(model.config, "emoens_max_length", None) or DEFAULT_MAX_LENGTH)
        self.permutation = label_permutation(model.config, self.path or "<in memory>")

    @torch.inference_mode()
    def predict_proba(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Probabilities over the 7 classes (canonical order), one row per text."""
        texts = ["" if t is None else str(t) for t in texts]
        out = np.zeros((len(texts), len(LABELS)), dtype=np.float32)
        starts = range(0, len(texts), self.batch_size)
        if progress:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="text", unit="batch")
        for start in starts:
            enc = self.tokenizer(texts[start:start + self.batch_size], padding=True, truncation=True,
                                 max_length=self.max_length, return_tensors="pt")
            enc = {k: v.to(self.device) for k, v in enc.items()}
            logits = self.model(**enc).logits.float()
            out[start:start + len(enc["input_ids"])] = (
                torch.softmax(logits, dim=-1).cpu().numpy()[:, self.permutation])
        return out


def load_text_model(path: str | Path):
    """The ``AutoModelForSequenceClassification`` and tokenizer saved in ``path``."""
    from transformers import AutoModelForSequenceClassification

    model = load_pretrained(AutoModelForSequenceClassification, path, "text")
    return model, load_tokenizer(path, local_files_only=True)


def load_text_member(path: Path, **options: Any) -> TextMember:
    """Member loader for kind ``hf-text``; options: ``device``, ``batch_size``, ``max_length``."""
    model, tokenizer = load_text_model(path)
    return TextMember(model, tokenizer, path=path, **options)
