"""Model members: the speech and text classifiers an ensemble is made of.

Every member, whatever its kind, answers one call with probabilities over the 7 classes in
canonical order (:data:`emoens.labels.LABELS`), one row per input, each row summing to 1:

- a speech member (``modality == "speech"``): ``predict_proba(waveforms)`` where ``waveforms`` is
  a list of float32 mono 16 kHz numpy arrays;
- a text member (``modality == "text"``): ``predict_proba(texts)`` where ``texts`` is a list of str.

A bundle names each member's ``kind``; :func:`load_member` maps the kind to its loader, imported
only when used (so an ONNX bundle never imports torch).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from emoens.errors import EmoensError

# kind -> "module:function"; the function is called as loader(path: Path, **options) -> member.
MEMBER_LOADERS: dict[str, str] = {
    "hf-speech": "emoens.models.speech:load_speech_member",
    "hf-text": "emoens.models.text:load_text_member",
    "whisper-head": "emoens.models.light:load_whisper_head",
    "text-head": "emoens.models.light:load_text_head",
    "onnx-speech": "emoens.onnx.runtime:load_onnx_speech_member",
    "onnx-text": "emoens.onnx.runtime:load_onnx_text_member",
}


class MemberError(EmoensError):
    """A member that cannot be loaded (unknown kind, missing files)."""


def load_member(kind: str, path: str | Path, **options: Any):
    """Load one member of the given ``kind`` from directory ``path``."""
    if kind not in MEMBER_LOADERS:
        raise MemberError(
            f"unknown member kind {kind!r} in the bundle: known kinds are {', '.join(MEMBER_LOADERS)}"
        )
    module_name, func_name = MEMBER_LOADERS[kind].split(":")
    loader = getattr(importlib.import_module(module_name), func_name)
    return loader(Path(path), **options)
