"""The KoBERT tokenizer (SentencePiece), usable wherever a ``transformers`` tokenizer is expected.

``kobert-transformers`` pins transformers<5 and downloads at import, so this is a small subclass of
transformers' slow-tokenizer base class: ``__call__`` (ids, attention mask, token types, truncation
to ``max_length``, padding, batches, ``return_tensors``), ``decode``, ``save_pretrained`` and
``from_pretrained`` all come from transformers. Two layouts are read:

- the Hub layout of ``skt/kobert-base-v1``: ``spiece.model`` whose piece ids are the model's ids
  (``[UNK]`` 0, ``[PAD]`` 1, ``[CLS]`` 2, ``[SEP]`` 3, ``[MASK]`` 4 as user-defined pieces);
- the older layout (``monologg/kobert``, gluonnlp): a SentencePiece model plus ``vocab.txt``, one
  token per line, whose line number is the id.

Importing this module registers the class with ``AutoTokenizer``, so a saved model directory whose
``tokenizer_config.json`` names ``KoBERTTokenizer`` loads with ``AutoTokenizer``/``pipeline()``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import sentencepiece as spm
from transformers import PreTrainedTokenizer
from transformers.models.auto import tokenization_auto

from emoens.errors import EmoensError
from emoens.models.sentencepiece_rules import SPIECE_UNDERLINE, normalize_text, split_pieces

VOCAB_FILES_NAMES = {"vocab_file": "spiece.model", "vocab_txt": "vocab.txt"}
SPECIAL_TOKENS = {"unk_token": "[UNK]", "pad_token": "[PAD]", "cls_token": "[CLS]",
                  "sep_token": "[SEP]", "mask_token": "[MASK]"}


class KoBERTTokenizerError(EmoensError):
    """A KoBERT tokenizer directory that lacks its SentencePiece model or has a broken vocab."""


def find_sentencepiece_model(directory: str | os.PathLike) -> Path | None:
    """The SentencePiece model file of a KoBERT-style directory, or None when there is none."""
    directory = Path(directory)
    if (directory / "spiece.model").is_file():
        return directory / "spiece.model"
    candidates = sorted(p for p in directory.glob("*.model") if p.is_file())
    return candidates[0] if candidates else None


def is_kobert_dir(directory: str | os.PathLike) -> bool:
    """True when ``directory`` holds KoBERT's SentencePiece files (and no fast ``tokenizer.json``
    that would say otherwise)."""
    directory = Path(directory)
    if not directory.is_dir() or find_sentencepiece_model(directory) is None:
        return False
    config = directory / "tokenizer_config.json"
    if config.is_file():
        import json

        try:
            declared = json.loads(config.read_text(encoding="utf-8")).get("tokenizer_class")
        except (ValueError, OSError):
            declared = None
        if declared and declared not in ("KoBERTTokenizer", "XLNetTokenizer", "KoBertTokenizer"):
            return False
    return True


class KoBERTTokenizer(PreTrainedTokenizer):
    """KoBERT's SentencePiece tokenizer: ``[CLS] tokens [SEP]``, right padding with ``[PAD]``."""

    vocab_files_names = VOCAB_FILES_NAMES
    model_input_names = ["input_ids", "token_type_ids", "attention_mask"]
    padding_side = "right"

    def __init__(self, vocab_file: str, vocab_txt: str | None = None, do_lower_case: bool = False,
                 remove_space: bool = True, keep_accents: bool = False, sp_model_kwargs: dict | None = None,
                 **kwargs):
        if not vocab_file or not Path(vocab_file).is_file():
            raise KoBERTTokenizerError(f"KoBERT SentencePiece model not found: {vocab_file!r}")
        self.vocab_file = str(vocab_file)
        self.vocab_txt = str(vocab_txt) if vocab_txt and Path(vocab_txt).is_file() else None
        self.do_lower_case = do_lower_case
        self.remove_space = remove_space
        self.keep_accents = keep_accents
        self.sp_model_kwargs = sp_model_kwargs or {}
        self.sp_model = spm.SentencePieceProcessor(**self.sp_model_kwargs)
        self.sp_model.Load(self.vocab_file)
        if self.vocab_txt:
            tokens = Path(self.vocab_txt).read_text(encoding="utf-8").splitlines()
            self.vocab = {tok: i for i, tok in enumerate(tokens)}
            if len(self.vocab) != len(tokens):
                raise KoBERTTokenizerError(f"duplicate tokens in KoBERT vocab file {self.vocab_txt}")
        else:
            self.vocab = {self.sp_model.IdToPiece(i): i for i in range(self.sp_model.GetPieceSize())}
        self.ids_to_tokens = {i: tok for tok, i in self.vocab.items()}
        for key, value in SPECIAL_TOKENS.items():
            kwargs.setdefault(key, value)
        kwargs.setdefault("special_tokens_pattern", "cls_sep")
        kwargs.setdefault("token_type_ids_pattern", "bert_style")
        super().__init__(do_lower_case=do_lower_case, remove_space=remove_space, keep_accents=keep_accents,
                         sp_model_kwargs=self.sp_model_kwargs, **kwargs)

    # -- vocabulary ---------------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def get_vocab(self) -> dict[str, int]:
        vocab = dict(self.vocab)
        vocab.update(self.added_tokens_encoder)
        return vocab

    def _convert_token_to_id(self, token: str) -> int:
        return self.vocab.get(token, self.vocab.get(str(self.unk_token), 0))

    def _convert_id_to_token(self, index: int) -> str:
        return self.ids_to_tokens.get(index, str(self.unk_token))

    # -- text -> pieces -----------------------------------------------------------------------
    def preprocess_text(self, text: str) -> str:
        """Whitespace and accent normalisation as XLNet/KoBERT do before SentencePiece."""
        return normalize_text(text, remove_space=self.remove_space, keep_accents=self.keep_accents,
                              do_lower_case=self.do_lower_case)

    def _tokenize(self, text: str, **kwargs) -> list[str]:
        return split_pieces(self.sp_model, self.preprocess_text(text))

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        return "".join(tokens).replace(SPIECE_UNDERLINE, " ").strip()

    # -- saving -------------------------------------------------------------------------------
    def save_vocabulary(self, save_directory: str, filename_prefix: str | None = None) -> tuple[str, ...]:
        prefix = f"{filename_prefix}-" if filename_prefix else ""
        out_model = os.path.join(save_directory, prefix + VOCAB_FILES_NAMES["vocab_file"])
        if os.path.abspath(self.vocab_file) != os.path.abspath(out_model):
            shutil.copyfile(self.vocab_file, out_model)
        saved = [out_model]
        if self.vocab_txt:
            out_txt = os.path.join(save_directory, prefix + VOCAB_FILES_NAMES["vocab_txt"])
            if os.path.abspath(self.vocab_txt) != os.path.abspath(out_txt):
                shutil.copyfile(self.vocab_txt, out_txt)
            saved.append(out_txt)
        return tuple(saved)

    @classmethod
    def from_directory(cls, directory: str | os.PathLike, **kwargs) -> "KoBERTTokenizer":
        """Load from a directory in either layout (Hub ``spiece.model`` or model + ``vocab.txt``)."""
        directory = Path(directory)
        if (directory / "tokenizer_config.json").is_file() and (directory / "spiece.model").is_file():
            return cls.from_pretrained(str(directory), **kwargs)
        model = find_sentencepiece_model(directory)
        if model is None:
            raise KoBERTTokenizerError(
                f"no SentencePiece model (*.model) in {directory}: a KoBERT tokenizer directory needs "
                "spiece.model (skt/kobert-base-v1 layout) or a .model file plus vocab.txt"
            )
        txt = directory / "vocab.txt"
        return cls(vocab_file=str(model), vocab_txt=str(txt) if txt.is_file() else None, **kwargs)


# AutoTokenizer resolves `tokenizer_class` names through this registry (transformers 5).
tokenization_auto.REGISTERED_TOKENIZER_CLASSES.setdefault("KoBERTTokenizer", KoBERTTokenizer)


def train_sentencepiece(texts: list[str], out_dir: str | os.PathLike, vocab_size: int = 200) -> Path:
    """Train a small KoBERT-style SentencePiece model on ``texts`` (tests, tiny configs).

    The five special tokens get ids 0-4 as in KoBERT; every character seen gets a piece, so the
    vocabulary grows beyond ``vocab_size`` when the texts hold more distinct characters (Korean
    easily has hundreds). Returns the path of ``spiece.model``.
    """
    import io

    chars = {c for t in texts for c in t if not c.isspace()}
    vocab_size = max(int(vocab_size), len(chars) + 8)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts), model_writer=buffer, vocab_size=vocab_size,
        model_type="unigram", character_coverage=1.0, unk_id=0, bos_id=-1, eos_id=-1, pad_id=1,
        unk_piece="[UNK]", pad_piece="[PAD]", user_defined_symbols=["[CLS]", "[SEP]", "[MASK]"],
        hard_vocab_limit=False, minloglevel=2, num_threads=1,
    )
    from emoens.files import write_bytes

    target = out_dir / "spiece.model"
    write_bytes(target, buffer.getvalue())
    return target
