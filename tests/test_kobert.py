"""The KoBERT SentencePiece tokenizer behaves like a transformers tokenizer and round-trips."""

from __future__ import annotations

import pytest

from emoens.models.kobert import KoBERTTokenizer, KoBERTTokenizerError, is_kobert_dir


@pytest.fixture(scope="module")
def tok(tiny_kobert_tokenizer_dir):
    return KoBERTTokenizer.from_directory(tiny_kobert_tokenizer_dir)


def test_special_tokens_have_kobert_ids(tok):
    assert (tok.unk_token_id, tok.pad_token_id, tok.cls_token_id, tok.sep_token_id, tok.mask_token_id) == (
        0, 1, 2, 3, 4)


def test_encode_wraps_with_cls_sep_and_decodes_back(tok):
    text = "오늘 날씨가 정말 좋아요"
    ids = tok(text)["input_ids"]
    assert ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id
    assert tok.unk_token_id not in ids
    assert tok.decode(ids, skip_special_tokens=True) == text


def test_batch_padding_truncation_and_mask(tok):
    enc = tok(["화가 나", "오늘 날씨가 정말 좋아서 기분이 좋아요 " * 5], padding=True, truncation=True,
              max_length=16, return_tensors="pt")
    assert tuple(enc["input_ids"].shape) == (2, 16)
    assert enc["input_ids"][1, -1].item() == tok.sep_token_id  # truncated but still closed
    short_len = int(enc["attention_mask"][0].sum())
    assert short_len < 16
    assert (enc["input_ids"][0, short_len:] == tok.pad_token_id).all()
    assert set(enc.keys()) >= {"input_ids", "attention_mask", "token_type_ids"}


def test_save_and_load_round_trip_through_autotokenizer(tok, tmp_path):
    from transformers import AutoTokenizer

    tok.save_pretrained(str(tmp_path))
    assert (tmp_path / "spiece.model").is_file() and is_kobert_dir(tmp_path)
    again = AutoTokenizer.from_pretrained(str(tmp_path))
    assert isinstance(again, KoBERTTokenizer)
    texts = ["너무 슬퍼서 눈물이 나요", "숫자 123, 456"]
    assert again(texts)["input_ids"] == tok(texts)["input_ids"]


def test_vocab_txt_layout_maps_tokens_by_line(tok, tmp_path, tiny_kobert_tokenizer_dir):
    import shutil

    shutil.copy(tiny_kobert_tokenizer_dir / "spiece.model", tmp_path / "tokenizer_78b3253a26.model")
    pieces = [tok.sp_model.IdToPiece(i) for i in range(tok.sp_model.GetPieceSize())]
    reordered = pieces[:5] + pieces[5:][::-1]  # a vocab whose ids differ from the piece ids
    (tmp_path / "vocab.txt").write_text("\n".join(reordered) + "\n", encoding="utf-8")
    other = KoBERTTokenizer.from_directory(tmp_path)
    text = "그냥 평범한 하루였어요"
    assert other.tokenize(text) == tok.tokenize(text)
    ids = other(text)["input_ids"]
    assert ids != tok(text)["input_ids"]
    assert [reordered[i] for i in ids[1:-1]] == tok.tokenize(text)


def test_directory_without_model_is_a_clear_error(tmp_path):
    with pytest.raises(KoBERTTokenizerError, match=str(tmp_path)):
        KoBERTTokenizer.from_directory(tmp_path)
