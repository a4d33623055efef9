"""emoens.splits: the seed split reproduced, held-out sessions, folds, validation by session."""

from __future__ import annotations

import pandas as pd
import pytest

from emoens.corpora import collect
from emoens.splits import (SplitError, fold_split, group_keys, make_split, normalize_session,
                           seed_split)
from tests.fixtures.corpora import make_kemdy20_sessions

SEED_TEST = ["Sess05", "Sess13", "Sess16", "Sess17", "Sess20", "Sess27", "Sess28", "Sess38"]


@pytest.fixture(scope="module")
def forty(tmp_path_factory) -> pd.DataFrame:
    corpus = make_kemdy20_sessions(tmp_path_factory.mktemp("k40"), sessions=40)
    frame, skipped = collect([("kemdy20", corpus.root)], progress=False)
    assert skipped.empty and len(frame) == 80
    return frame


def _synthetic(corpus: str, sessions: list[str], per: int = 3, speakers: bool = True) -> pd.DataFrame:
    rows = []
    for s in sessions:
        for i in range(per):
            rows.append({"utt_id": f"{corpus}_{s}_{i}", "corpus": corpus, "session": s,
                         "speaker": f"{s}_spk{i % 2}" if speakers else "", "label": "neutral"})
    return pd.DataFrame(rows)


def test_seed_split_on_forty_sessions(forty):
    out = seed_split(forty)
    test = sorted(set(out.loc[out["split"] == "test", "session"]))
    assert test == SEED_TEST
    assert set(out["split"]) == {"train", "test"}
    # with a validation part, the test sessions do not move and valid is whole sessions of train
    with_valid = make_split(forty, "seed", valid_size=0.1)
    assert sorted(set(with_valid.loc[with_valid["split"] == "test", "session"])) == SEED_TEST
    valid = set(with_valid.loc[with_valid["split"] == "valid", "session"])
    assert len(valid) == 3 and not valid & set(SEED_TEST)
    for session, group in with_valid.groupby("session"):
        assert group["split"].nunique() == 1, session


def test_seed_split_utterance_level_for_corpora_without_sessions():
    frame = pd.DataFrame({"utt_id": [f"a{i}" for i in range(50)], "corpus": "aihub", "session": "",
                          "speaker": "", "label": "neutral"})
    out = seed_split(frame)
    assert (out["split"] == "test").sum() == 10
    from sklearn.model_selection import train_test_split

    _, expected = train_test_split(list(range(50)), test_size=0.2, random_state=42)
    assert sorted(out.index[out["split"] == "test"]) == sorted(expected)
    with pytest.raises(SplitError, match="corpus 'kemdy20' has only Sess01"):
        seed_split(_synthetic("kemdy20", ["Sess01"]))


def test_named_test_sessions_and_corpus_qualifier():
    frame = pd.concat([_synthetic("kemdy20", ["Sess01", "Sess02", "Sess03"]),
                       _synthetic("kemdy19", ["Sess01", "Sess02"])], ignore_index=True)
    out = make_split(frame, "session", test_sessions=["kemdy19:Sess02"], valid_size=0)
    assert set(out.loc[out["split"] == "test", "utt_id"].str[:10]) == {"kemdy19_Se"}
    assert (out["split"] == "test").sum() == 3
    both = make_split(frame, "session", test_sessions=["1"], valid_size=0)
    assert set(zip(both.loc[both["split"] == "test", "corpus"], both.loc[both["split"] == "test", "session"])) \
        == {("kemdy20", "Sess01"), ("kemdy19", "Sess01")}
    with pytest.raises(SplitError, match=r"test session 'Sess09' is not in the manifest \(sessions: "):
        make_split(frame, "session", test_sessions=["Sess09"])


def test_random_held_out_sessions_and_validation_never_from_test():
    frame = _synthetic("kemdy20", [f"Sess{i:02d}" for i in range(1, 11)])
    out = make_split(frame, "session", test_size=0.2, valid_size=0.25, seed=3)
    per_session = out.groupby("session")["split"].agg(set)
    assert all(len(s) == 1 for s in per_session)
    counts = per_session.map(lambda s: next(iter(s))).value_counts()
    assert counts["test"] == 2 and counts["valid"] == 2 and counts["train"] == 6
    again = make_split(frame, "session", test_size=0.2, valid_size=0.25, seed=3)
    assert again["split"].tolist() == out["split"].tolist()  # reproducible


def test_folds():
    frame = _synthetic("kemdy20", [f"Sess{i:02d}" for i in range(1, 7)])
    out = make_split(frame, "session", folds=3, valid_size=0)
    assert sorted(out["fold"].unique().tolist()) == [0, 1, 2]
    assert out.groupby("session")["fold"].nunique().max() == 1
    assert (out.groupby("fold")["session"].nunique() == 2).all()
    assert set(out.loc[out["fold"] == 0, "split"]) == {"test"}
    assert set(out.loc[out["fold"] != 0, "split"]) == {"train"}
    f2 = fold_split(out, 2, valid_size=0)
    assert set(f2.loc[f2["split"] == "test", "fold"]) == {2}
    with pytest.raises(SplitError, match="fold 7 is not in the manifest"):
        fold_split(out, 7)
    with pytest.raises(SplitError, match="only 6 session group"):
        make_split(frame, "session", folds=7)
    held = make_split(frame, "session", test_sessions=["Sess01"], folds=2, valid_size=0)
    assert held.loc[held["session"] == "Sess01", "fold"].isna().all()
    assert set(held.loc[held["session"] == "Sess01", "split"]) == {"test"}


def test_speaker_split_and_groups():
    frame = _synthetic("aihub", [""] * 1, per=10)
    frame["speaker"] = [f"spk{i % 5}" for i in range(10)]
    out = make_split(frame, "speaker", test_size=0.2, valid_size=0)
    assert out.groupby("speaker")["split"].nunique().max() == 1
    assert out.loc[out["split"] == "test", "speaker"].nunique() == 1
    keys = group_keys(pd.DataFrame({"utt_id": ["a", "b"], "corpus": ["c", "c"], "session": ["", "S1"],
                                    "speaker": ["", "x"]}))
    assert keys.tolist() == ["c/utt:a", "c/S1"]


def test_misc():
    assert normalize_session("5") == "Sess05"
    assert normalize_session("Session12") == "Sess12"
    assert normalize_session("sess3") == "Sess03"
    assert normalize_session("custom") == "custom"
    frame = _synthetic("kemdy20", ["Sess01", "Sess02"])
    assert set(make_split(frame, "none")["split"]) == {""}
    with pytest.raises(SplitError, match="unknown split"):
        make_split(frame, "random")
    with pytest.raises(SplitError, match="fixes its own test sessions"):
        make_split(frame, "seed", test_sessions=["Sess01"])
    with pytest.raises(SplitError, match="single session"):
        make_split(_synthetic("kemdy20", ["Sess01"]), "session")
