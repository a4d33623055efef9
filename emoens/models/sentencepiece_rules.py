"""KoBERT's text rules around SentencePiece, without transformers (so without torch).

Shared by the transformers tokenizer (:mod:`emoens.models.kobert`) and the torch-free ONNX path
(:mod:`emoens.onnx.runtime`), so both tokenise identically.
"""

from __future__ import annotations

import unicodedata

SPIECE_UNDERLINE = "▁"


def normalize_text(text: str, *, remove_space: bool = True, keep_accents: bool = False,
                   do_lower_case: bool = False) -> str:
    """Whitespace and accent normalisation as XLNet/KoBERT do before SentencePiece."""
    out = " ".join(text.strip().split()) if remove_space else text
    out = out.replace("``", '"').replace("''", '"')
    if not keep_accents:
        out = unicodedata.normalize("NFKD", out)
        out = "".join(c for c in out if not unicodedata.combining(c))
        # NFKD splits Hangul syllables into jamo; compose them back.
        out = unicodedata.normalize("NFC", out)
    if do_lower_case:
        out = out.lower()
    return out


def split_pieces(sp_model, text: str) -> list[str]:
    """SentencePiece pieces of already normalised ``text``, with XLNet's rule kept by KoBERT:
    a piece like ``123,`` is split into ``123`` and ``,``."""
    out: list[str] = []
    for piece in sp_model.encode(text, out_type=str):
        if len(piece) > 1 and piece[-1] == "," and piece[-2].isdigit():
            sub = sp_model.encode(piece[:-1].replace(SPIECE_UNDERLINE, ""), out_type=str)
            if piece[0] != SPIECE_UNDERLINE and sub and sub[0][0] == SPIECE_UNDERLINE:
                sub = sub[1:] if len(sub[0]) == 1 else [sub[0][1:], *sub[1:]]
            out.extend(sub)
            out.append(piece[-1])
        else:
            out.append(piece)
    return out
