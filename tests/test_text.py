"""emoens.text: ETRI tag cleaning and transcript decoding."""

from __future__ import annotations

import re

import pytest

from emoens.text import TextError, clean_transcript, read_transcript

_RESIDUE = re.compile(r"[/+()]|(?<![A-Za-z])[blounNcs](?![A-Za-z])")


@pytest.mark.parametrize("raw,clean", [
    ("(감사합니다+음) 근데 이게 장점이면서도 단점이군요.", "음 근데 이게 장점이면서도 단점이군요."),
    ("네 (감사합니다)", "네 감사합니다"),
    ("b/ 어 l/ 그래? o/ n/ u/ c/ N/ s/", "어 그래?"),
    ("(고+지)섭씨 사람", "지섭씨 사람"),
    ("(좀+ 아이) 됐구요.", "아이 됐구요."),
    ("(u/+지금) 뭐라하셨어요?", "지금 뭐라하셨어요?"),
    ("신상(구두 u/)", "신상구두"),
    ("네. n/ 뭐 그렇게 됐습니다. /n", "네. 뭐 그렇게 됐습니다."),
    ("아 + 그래 / 응", "아 그래 응"),
    ("  c/ AI 스피커   MT 때 \n", "AI 스피커 MT 때"),
    ("BTS가 오빠냐? 3개월.", "BTS가 오빠냐? 3개월."),
    ("어 b/ .", "어."),
    ("b/ o/", ""),
    ("", ""),
])
def test_clean_transcript(raw, clean):
    assert clean_transcript(raw) == clean


def test_latin_words_ending_in_tag_letters_are_kept():
    assert clean_transcript("pub/ club l/ bus") == "pub club bus"


def test_read_transcript_encodings(tmp_path):
    utf8 = tmp_path / "u.txt"
    utf8.write_bytes("\ufeffb/ 안녕하세요.\r\n".encode("utf-8"))
    assert read_transcript(utf8) == "b/ 안녕하세요."
    cp = tmp_path / "c.txt"
    cp.write_bytes("(어+아) 엄마 죄송해요.\n".encode("cp949"))
    assert read_transcript(cp) == "(어+아) 엄마 죄송해요."
    with pytest.raises(TextError) as err:
        read_transcript(cp, encodings=("utf-8",))
    assert str(err.value) == f"cannot decode transcript {cp}: it is not valid utf-8 text"


def test_read_transcript_errors(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe\xfa\xff\x80\x80\xff")
    with pytest.raises(TextError, match=r"cannot decode transcript .*bad\.txt: it is not valid utf-8 or cp949 text"):
        read_transcript(bad)
    with pytest.raises(TextError, match=r"^transcript not found: .*missing\.txt$"):
        read_transcript(tmp_path / "missing.txt")
    with pytest.raises(TextError, match="is a directory"):
        read_transcript(tmp_path)


@pytest.mark.data
def test_every_real_transcript_cleans(shared_data):
    files = sorted((shared_data / "KEMDy20" / "wav").rglob("*.txt"))
    files += sorted((shared_data / "KEMDy19" / "wav").rglob("*.txt"))
    assert len(files) > 1000
    tags_seen = 0
    for path in files:
        raw = read_transcript(path)
        clean = clean_transcript(raw)
        tags_seen += len(re.findall(r"[blounNcs]/", raw))
        assert not _RESIDUE.search(clean), (path.name, raw, clean)
        has_words = re.search(r"[가-힣A-Za-z0-9]", _RESIDUE.sub("", re.sub(r"[blounNcs]/", "", raw)))
        assert bool(clean) == bool(has_words), (path.name, raw, clean)
        assert "  " not in clean and clean == clean.strip()
    assert tags_seen > 1000  # the README counts ~1,200 tags: the test did see them
