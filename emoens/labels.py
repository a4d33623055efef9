"""The 7 emotion classes in canonical order, their Korean names, and input aliases (DESIGN §3)."""

from __future__ import annotations

from emoens.errors import EmoensError

LABELS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
LABELS_KO: dict[str, str] = {
    "angry": "분노",
    "disgust": "혐오",
    "fear": "공포",
    "happy": "기쁨",
    "neutral": "중립",
    "sad": "슬픔",
    "surprise": "놀람",
}
LABEL_TO_ID: dict[str, int] = {label: i for i, label in enumerate(LABELS)}
ID_TO_LABEL: dict[int, str] = dict(enumerate(LABELS))

_ALIASES: dict[str, str] = {
    "anger": "angry", "화남": "angry", "분노": "angry",
    "disqust": "disgust", "역겨움": "disgust", "혐오": "disgust",
    "fearful": "fear", "두려움": "fear", "공포": "fear",
    "happiness": "happy", "joy": "happy", "행복": "happy", "기쁨": "happy",
    "none": "neutral", "중립": "neutral",
    "sadness": "sad", "슬픔": "sad",
    "surprised": "surprise", "놀람": "surprise",
}


class LabelError(EmoensError):
    """A label that is not one of the 7 classes or their aliases."""


def normalize_label(raw: str) -> str:
    """Map a label or alias (any case, surrounding spaces) to its canonical name.

    Raises :class:`LabelError` naming the label when it is unknown.
    """
    key = str(raw).strip().lower()
    if key in LABEL_TO_ID:
        return key
    if key in _ALIASES:
        return _ALIASES[key]
    raise LabelError(
        f"unknown emotion label {raw!r}: expected one of {', '.join(LABELS)} "
        f"(or an alias such as {', '.join(sorted(_ALIASES)[:4])}, …)"
    )


def is_label(raw: str) -> bool:
    """True when ``raw`` normalises to one of the 7 classes."""
    try:
        normalize_label(raw)
    except LabelError:
        return False
    return True
