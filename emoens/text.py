"""Transcripts: reading them in whatever encoding the corpus used, and removing ETRI tags.

ETRI transcription conventions (KEMDy19/KEMDy20): event tags ``b/`` breath, ``l/`` laughter,
``o/`` overlap, ``n/`` noise, ``u/`` unintelligible, ``c/`` cough, ``N/``, ``s/`` (also seen
reversed, ``/n``); ``(A+B)`` two readings of what was said, keep ``B``; ``(A)`` keeps ``A``;
stray ``+`` and ``/`` are noise.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from emoens.errors import EmoensError

_GROUP = re.compile(r"\(([^()]*)\)")
_TAG = re.compile(r"(?<![A-Za-z])(?:[blounNcs]/|/[blounNcs](?![A-Za-z]))")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,?!])")
_KEEP_PUNCT = set(".,?!~'\"%:;-…·")


MAX_TRANSCRIPT_CHARS = 2000
"""Longest transcript classified (far past any text model's 512 tokens); the rest is dropped."""


class TextError(EmoensError):
    """A transcript that cannot be read (missing, a directory, or in an unknown encoding)."""


def _resolve_group(match: re.Match) -> str:
    inner = match.group(1)
    if "+" in inner:
        inner = inner.rsplit("+", 1)[1]  # (A+B): the second reading
    return inner.strip()


def clean_transcript(raw: str) -> str:
    """Remove ETRI tags and noise characters; keep words, digits and sentence punctuation.

    ``"(감사합니다+음) 근데 b/ 그래요."`` -> ``"음 근데 그래요."``. Returns ``""`` when no word is left.
    """
    if raw is None:
        return ""
    text = unicodedata.normalize("NFC", str(raw))
    previous = None
    while previous != text:  # innermost groups first, should they ever nest
        previous = text
        text = _GROUP.sub(_resolve_group, text)
    text = _TAG.sub(" ", text)
    text = "".join(
        ch if (ch.isalnum() or ch in _KEEP_PUNCT) else " "
        for ch in text
    )
    text = " ".join(text.split())
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    if not any(ch.isalnum() for ch in text):
        return ""
    return text


def read_transcript(path, encodings=("utf-8", "cp949")) -> str:
    """Read a transcript file, trying ``encodings`` in order; returns the text stripped of outer
    whitespace (a UTF-8 byte-order mark is dropped). Raises :class:`TextError` naming the file."""
    p = Path(path)
    if p.is_dir():
        raise TextError(f"transcript {p} is a directory, not a text file")
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise TextError(f"transcript not found: {p}") from None
    except OSError as exc:
        raise TextError(f"cannot read transcript {p}: {exc.strerror or exc}") from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
        return text.replace("\r\n", "\n").strip()
    raise TextError(
        f"cannot decode transcript {p}: it is not valid {' or '.join(encodings)} text"
    )


def limit_transcript(text: str, name: str = "the input") -> tuple[str, str | None]:
    """``text`` cut to :data:`MAX_TRANSCRIPT_CHARS` characters, and a warning when it was cut."""
    if len(text) <= MAX_TRANSCRIPT_CHARS:
        return text, None
    return text[:MAX_TRANSCRIPT_CHARS], (
        f"the transcript given for {name} has {len(text):,} characters: only the first "
        f"{MAX_TRANSCRIPT_CHARS:,} were classified")
