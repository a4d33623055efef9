"""What every kind of member shares: the model error type and the mapping of a model's output
classes onto emoens' canonical label order. Light (numpy only): speech, text and ONNX members
and the exporter use it without importing torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from emoens.errors import EmoensError
from emoens.labels import ID_TO_LABEL, LABEL_TO_ID, LABELS, LabelError, normalize_label


class ModelError(EmoensError):
    """A model directory or base that cannot be loaded or built (missing files, wrong labels)."""


def label_kwargs() -> dict[str, Any]:
    """``num_labels``/``id2label``/``label2id`` for a config, in canonical order."""
    return {"num_labels": len(LABELS), "id2label": dict(ID_TO_LABEL), "label2id": dict(LABEL_TO_ID)}


def label_permutation(config, where: str | Path) -> np.ndarray:
    """Column indices that reorder the model's logits into canonical label order.

    A model trained elsewhere may list the classes in another order or with aliases; every one of
    the 7 classes must be present exactly once.
    """
    id2label = {int(k): v for k, v in (getattr(config, "id2label", None) or {}).items()}
    if len(id2label) != len(LABELS):
        raise ModelError(
            f"model at {where} has {len(id2label)} output classes; emoens needs the 7 classes "
            f"{', '.join(LABELS)} in id2label"
        )
    try:
        by_label = {normalize_label(name): idx for idx, name in id2label.items()}
    except LabelError as exc:
        raise ModelError(f"model at {where}: {exc}") from exc
    missing = [label for label in LABELS if label not in by_label]
    if missing:
        raise ModelError(f"model at {where} lacks the classes {', '.join(missing)} in id2label")
    return np.array([by_label[label] for label in LABELS], dtype=np.int64)


def load_pretrained(auto_class, path: str | Path, modality: str):
    """``auto_class.from_pretrained(path)`` offline, for a model directory saved by emoens (or any
    transformers model directory); a :class:`ModelError` naming ``path`` when it is not one."""
    path = Path(path)
    if not (path / "config.json").is_file():
        raise ModelError(f"{path} is not a {modality} model directory (no config.json); "
                         f"train one with `emoens train {modality}` or pass a transformers model "
                         "directory")
    try:
        return auto_class.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load the {modality} model in {path}: {exc}") from exc


def pretrained_from_base(auto_class, base, overrides: dict, *, local_files_only: bool,
                         modality: str):
    """A new classifier from ``base`` (Hub id or directory) with the config ``overrides`` (the 7
    labels, training options); a :class:`ModelError` naming the base when it cannot be loaded."""
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(str(base), local_files_only=local_files_only, **overrides)
        return auto_class.from_pretrained(str(base), config=config, local_files_only=local_files_only)
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load the {modality} base {base!r}: {exc}") from exc
